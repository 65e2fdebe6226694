"""Answering-machine signals: the beep detector and the greeting classifier."""

from __future__ import annotations

import numpy as np
import pytest

from appliance.voice.amd import BeepDetector, classify_greeting, voicemail_phrase


def frames(signal: np.ndarray) -> list[bytes]:
    pcm = np.clip(signal, -32768, 32767).astype(np.int16)
    return [pcm[i : i + 160].tobytes() for i in range(0, len(pcm) - 159, 160)]


def tone(freq: float, seconds: float, amplitude: float = 8000) -> np.ndarray:
    t = np.arange(int(8000 * seconds)) / 8000
    return amplitude * np.sin(2 * np.pi * freq * t)


@pytest.mark.parametrize("freq", [440, 1000, 1400, 1950])
def test_a_steady_tone_of_200_ms_is_a_beep(freq: float) -> None:
    detector = BeepDetector()
    assert any(detector.feed(f) for f in frames(tone(freq, 0.2)))
    assert detector.frequency is not None and abs(detector.frequency - freq) <= 60


def test_short_tones_speech_like_sweeps_noise_and_low_hum_are_not() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(8000) / 8000
    sweep = 6000 * np.sin(2 * np.pi * (300 + 900 * t) * t * 3)  # pitch moving like a voice
    for signal in (tone(1000, 0.1), rng.normal(0, 3000, 8000), sweep, tone(120, 0.5), tone(1000, 0.5, 100)):
        detector = BeepDetector()
        assert not any(detector.feed(f) for f in frames(signal))


def test_voicemail_phrases_are_found_in_greetings() -> None:
    assert voicemail_phrase("Hi, you've reached Mike. Leave a message after the tone.") == "leave a message"
    assert voicemail_phrase("The person you are calling is not available.") is not None
    assert voicemail_phrase("Hello? This is Mike.") is None
    assert voicemail_phrase("Sorry, he is not available.", strong_only=True) is None


def test_greeting_shapes() -> None:
    assert classify_greeting("Hello?", 600, finished=True).answered_by == "human"
    assert classify_greeting("", 7000, finished=False).answered_by == "machine"
    assert classify_greeting("", 5000, finished=False) is None  # a receptionist can talk this long
    assert classify_greeting("", 2000, finished=False) is None  # too early to say
    verdict = classify_greeting("Please leave your message", 1500, finished=True)
    assert verdict.answered_by == "machine" and verdict.signal == "greeting_phrase"
