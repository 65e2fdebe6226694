"""Bleeping the caller's channel: word spans → times, the in-place rewrite, and (with the real Piper voice and
the real Whisper model) a caller reading a card number, an e-mail address and a date of birth."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from appliance import models
from appliance.privacy.recording import TONE_HZ, Word, bleep, digit_runs, pii_times, redact_recording
from tests.audio import dominant_frequency

RATE = 8000


def write_stereo(path: Path, left: np.ndarray, right: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.stack([left, right], axis=1).astype(np.int16).tobytes())


def read_stereo(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, 2)


def test_the_words_of_each_span_give_its_times() -> None:
    words = [
        Word(0.0, 0.4, " My"),
        Word(0.4, 0.8, " email"),
        Word(0.8, 1.0, " is"),
        Word(1.0, 2.5, " tom@example.com."),
    ]
    assert pii_times([words], ["email"]) == [(1.0, 2.5)]
    assert pii_times([words], ["card"]) == []


def said(line: str, start: float = 0.0) -> list[Word]:
    """A line's words, a quarter second each."""
    return [Word(start + i / 4, start + (i + 1) / 4, f" {w}") for i, w in enumerate(line.split())]


def test_after_a_cue_the_rest_of_the_utterance_is_bleeped_when_its_words_no_longer_look_like_the_data() -> None:
    # Read a second time, the address lost its shape (a comma before "at"): "email" says what follows.
    misheard = said("My email is Tom Dot Becker, at example.com. Thanks.")
    assert pii_times([misheard], ["email"]) == [(0.5, 2.25)]
    assert pii_times([misheard], ["card"]) == []  # a cue only counts for a kind that is redacted
    # Data found after the cue is bleeped as found, not from the cue on; a cue with nothing after it is none.
    assert pii_times([said("My email is tom@example.com")], ["email"]) == [(0.75, 1.0)]
    assert pii_times([said("I'd rather not give my email."), said("Sorry.", 3)], ["email"]) == []
    # The rest of the cue's utterance only, not the next one.
    assert pii_times([said("Born in March three."), said("That is all.", 3)], ["dob"]) == [(0.25, 1.0)]


def test_long_runs_of_spoken_digits_are_bleeped_whatever_the_words_make_of_them() -> None:
    words = [Word(0, 1, " at"), Word(1, 2, " 450,"), Word(2, 3, " 555,"), Word(3, 4, " 671."), Word(4, 5, " thanks")]
    assert digit_runs(words) == [(1, 4)]
    assert digit_runs([Word(0, 1, " at"), Word(1, 2, " 10:30")]) == []  # a time is not a number to hide
    assert pii_times([words], ["phone"]) == [(1, 4)] and pii_times([words], ["email"]) == []


def test_bleeping_rewrites_the_callers_channel_in_place_and_leaves_the_agent_alone(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    rng = np.random.default_rng(1)
    left, right = rng.integers(-8000, 8000, RATE * 3), rng.integers(-8000, 8000, RATE * 3)
    write_stereo(path, left, right)
    inode, size = path.stat().st_ino, path.stat().st_size
    bleep(path, [(1.0, 1.5)])
    after = read_stereo(path)
    assert path.stat().st_ino == inode and path.stat().st_size == size  # the same file, the same blocks
    assert np.array_equal(after[:, 1], right)
    span = after[int(0.85 * RATE) : int(1.65 * RATE), 0]
    assert abs(dominant_frequency(span.tobytes(), RATE) - TONE_HZ) < 20 and np.abs(span).max() < 4000
    assert np.array_equal(after[: int(0.85 * RATE), 0], left[: int(0.85 * RATE)])
    assert np.array_equal(after[int(1.65 * RATE) :, 0], left[int(1.65 * RATE) :])


@pytest.fixture(scope="module")
def speech() -> tuple[object, object]:
    try:
        voice, stt = models.resolve("voice", None), models.resolve("stt", None)
    except models.ModelMissing as exc:
        pytest.skip(f"the default voice or Whisper model is not installed: {exc}")
    from appliance.voice.stt import Transcriber
    from appliance.voice.tts import Synthesizer

    return Synthesizer(Path(voice.path)), Transcriber(stt.path)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("My card number is 4111 1111 1111 1111.", "card"),
        ("My email is tom dot becker at example dot com.", "email"),
        ("My date of birth is March 3rd, 1985.", "dob"),
    ],
)
def test_a_caller_reading_personal_data_is_bleeped_in_the_recording(
    speech: tuple[object, object], tmp_path: Path, line: str, kind: str
) -> None:
    tts, stt = speech
    silence = np.zeros(RATE, np.int16)
    said = np.frombuffer(tts.synthesize(line), np.int16)  # type: ignore[attr-defined]
    left = np.concatenate([silence, said, silence])
    path = tmp_path / "call.wav"
    write_stereo(path, left, np.zeros_like(left))
    assert redact_recording(path, [kind], stt.whisper, "en") >= 1  # type: ignore[attr-defined]
    after = read_stereo(path)[:, 0]
    changed = np.flatnonzero(after != left) / RATE
    # The bleep covers the data, which comes after "My card number is" (≈ 1 s in), not the whole line.
    assert changed.size and changed[0] > 1.6 and changed[-1] - changed[0] > 0.8, (changed[0], changed[-1])
    assert np.array_equal(after[:RATE], left[:RATE])
    # What is left of the caller's words no longer holds the data: transcribed again, it is not there.
    heard = stt.transcribe(after.tobytes())  # type: ignore[attr-defined]
    for token in {"card": ["1111", "111"], "email": ["becker", "example"], "dob": ["1985", "March"]}[kind]:
        assert token not in heard, heard
