"""Answering-machine signals: the beep detector and the greeting classifier."""

from __future__ import annotations

import numpy as np
import pytest

from appliance.voice.amd import (
    PROBE_WINDOW_MS,
    BeepDetector,
    GreetingProbes,
    classify_greeting,
    phrase_verdict,
    voicemail_phrase,
)


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


def test_a_held_hmm_whose_400_hz_harmonic_is_strongest_is_not_a_beep() -> None:
    t = np.arange(8000) / 8000
    pitch = 100 * (1 + 0.01 * np.sin(2 * np.pi * 3 * t))  # a voice's slight wobble around 100 Hz
    phase = 2 * np.pi * np.cumsum(pitch) / 8000
    hum = 6000 * sum(w * np.sin((k + 1) * phase) for k, w in enumerate([0.2, 0.3, 0.5, 1.0, 0.4, 0.2]))
    detector = BeepDetector()
    assert not any(detector.feed(f) for f in frames(hum))


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


def test_carrier_announcements_are_voicemail_from_their_first_words() -> None:
    for said in (
        "The wireless customer you are calling",
        "The subscriber you are calling is not available",
        "The party you are calling",
    ):
        assert voicemail_phrase(said, strong_only=True) is not None, said


def test_once_a_person_seemed_to_answer_only_strong_phrases_make_it_a_machine() -> None:
    first = phrase_verdict("Hi, it's Mike. Leave a message.", decided=False)
    assert first is not None and first.answered_by == "machine" and first.signal == "greeting_phrase"
    late = phrase_verdict("I'm sorry I can't take your call right now", decided=True)
    assert late is not None and late.signal == "late_greeting_phrase"
    assert phrase_verdict("He is not available right now", decided=True) is None  # a person says that too
    assert phrase_verdict("Hello? Who is this?", decided=False) is None


def test_a_greeting_in_progress_is_read_every_300_ms_of_new_speech_one_read_at_a_time() -> None:
    probes = GreetingProbes()
    assert not probes.due(580, reading=False)  # too short to hold a phrase
    assert probes.due(600, reading=False)
    assert not probes.due(880, reading=False)
    assert not probes.due(900, reading=True)  # the previous read is still running: wait for it
    assert probes.due(960, reading=False)
    assert not probes.due(1240, reading=False)
    assert probes.due(1260, reading=False)


def test_only_the_last_seconds_of_a_long_greeting_are_read() -> None:
    audio = bytes(range(256)) * 500  # 4 s of 8 kHz PCM16
    window = GreetingProbes.window(audio)
    assert len(window) == PROBE_WINDOW_MS * 16 and audio.endswith(window)
    assert GreetingProbes.window(audio[:1600]) == audio[:1600]


def test_misheard_voicemail_words_still_match() -> None:
    from appliance.voice.amd import voicemail_phrase

    assert voicemail_phrase("The male box is full.") == "mailbox"  # Metaphone: MLBKS either way
    assert voicemail_phrase("Please leave me a massage.") == "leave me a message"
    assert voicemail_phrase("I did not need my message.") == "message"  # in the greeting only
    assert voicemail_phrase("I did not need my message.", strong_only=True) is None
    assert voicemail_phrase("Sorry, but the user's mailbox can't accept more messages.")
    for person in ("Hello?", "Yes, this is Alex.", "Hi, who is this?", "Good morning, Bright Smile Dental."):
        assert voicemail_phrase(person) is None, person
