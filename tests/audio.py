"""Audio checks for tests: tones, and the dominant frequency of PCM16 audio."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np


def tone(freq: float, seconds: float, rate: int = 8000, amplitude: float = 0.5) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype("<i2").tobytes()


def dominant_frequency(pcm: bytes, rate: int = 8000) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))])


def read_wav(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes()), w.getframerate()
