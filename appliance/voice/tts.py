"""Piper text-to-speech, resampled to the 8 kHz of the phone line (soxr)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import soxr
from piper import PiperVoice

from appliance.voice.speech_first import SpeechFirst

LINE_RATE = 8000


class Synthesizer:
    """One loaded Piper voice. onnxruntime releases the GIL: call `synthesize` from a worker thread."""

    def __init__(self, onnx_path: Path, priority: SpeechFirst | None = None) -> None:
        self.voice = PiperVoice.load(str(onnx_path))
        self._lock = threading.Lock()  # one onnx session per voice; runs are short, so serialise them
        self._priority = priority or SpeechFirst()  # alone (a console voice sample): nobody waits on it

    def synthesize(self, text: str) -> bytes:
        """PCM16 at 8 kHz for `text`."""
        with self._priority.speech(), self._lock:
            chunks = [(c.audio_int16_array, c.sample_rate) for c in self.voice.synthesize(text)]
        if not chunks:
            return b""
        audio = np.concatenate([a for a, _ in chunks]).astype(np.float32) / 32768.0
        line = soxr.resample(audio, chunks[0][1], LINE_RATE, quality="HQ")
        return (np.clip(line, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
