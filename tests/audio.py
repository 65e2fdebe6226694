"""Audio checks for tests and benchmarks: tones, the dominant frequency of PCM16 audio, reply gaps in a
call's stereo recording."""

from __future__ import annotations

import io
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


def recording_gaps(wav: bytes, quiet_s: float = 0.5) -> list[int]:
    """Reply gaps (ms) in a call's stereo WAV (caller left), read as a wire meter reads RTP: from the caller's
    last loud 20 ms frame before `quiet_s` of their silence to the agent's next loud frame, if the agent was
    quiet then."""
    with wave.open(io.BytesIO(wav)) as w:
        stereo = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, 2).astype(np.float32)
    frames = len(stereo) // 160
    levels = np.sqrt(np.mean(stereo[: frames * 160].reshape(frames, 160, 2) ** 2, axis=1))
    caller, agent = levels[:, 0] >= 300, levels[:, 1] >= 300
    quiet = round(quiet_s / 0.02)
    gaps = []
    for i in np.nonzero(caller)[0]:
        if i + quiet < frames and not caller[i + 1 : i + 1 + quiet].any() and not agent[max(0, i - 10) : i + 1].any():
            onset = np.nonzero(agent[i + 1 :])[0]
            if len(onset):
                gaps.append(int(onset[0]) * 20)  # from the end of the caller's frame to the start of the agent's
    return gaps
