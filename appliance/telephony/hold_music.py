"""The box's own music on hold: a soft chime tune, generated once into Asterisk's run directory (no sound
package to install), played to a caller who waits while a warm transfer's destination is asked."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 8000
NOTE_S = 0.5
# C5 E5 G5 E5 D5 F5 A5 F5, then a held C5: a calm, obviously-music phrase that loops without a click.
TUNE_HZ = (523.25, 659.25, 783.99, 659.25, 587.33, 698.46, 880.0, 698.46, 523.25, 523.25)
PEAK = 0.18  # ≈ -15 dBFS: clearly there, never loud on a phone


def hold_tune() -> np.ndarray:
    """The tune as 16-bit samples at 8 kHz (5 s): each note a decaying chime with a quiet octave above."""
    t = np.arange(int(RATE * NOTE_S)) / RATE
    # A 10 ms attack and a 20 ms release: no click where one note (or the loop) meets the next.
    envelope = np.exp(-4.0 * t) * np.minimum(1.0, t / 0.01) * np.minimum(1.0, (NOTE_S - t) / 0.02)
    notes = [(np.sin(2 * np.pi * hz * t) + 0.25 * np.sin(4 * np.pi * hz * t)) * envelope for hz in TUNE_HZ]
    tune = np.concatenate(notes) / 1.25 * PEAK
    return (tune * 32767).astype(np.int16)


def write_hold_music(directory: Path) -> Path:
    """The tune as `directory`/hold.wav (kept if it is there); Asterisk's `default` class plays the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "hold.wav"
    if not path.exists():
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(hold_tune().tobytes())
    return path
