"""Piper synthesis for the phone line, and the short phrases kept once synthesised."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance import models
from appliance.voice.tts import Synthesizer


@pytest.fixture(scope="module")
def voice_path() -> Path:
    try:
        return Path(models.resolve("voice", None).path)
    except models.ModelMissing as exc:
        pytest.skip(str(exc))


def counting(synth: Synthesizer) -> list[str]:
    said: list[str] = []
    piper = synth.voice.synthesize

    def synthesize(text: str, *args: object, **kwargs: object) -> object:
        said.append(text)
        return piper(text, *args, **kwargs)

    synth.voice.synthesize = synthesize  # type: ignore[method-assign]
    return said


def test_line_audio_is_8_khz_pcm16_of_about_the_spoken_length(voice_path: Path) -> None:
    pcm = Synthesizer(voice_path).synthesize("Hello, this is Sam from Bright Smile Dental.")
    seconds = len(pcm) / 2 / 8000
    assert 1.5 < seconds < 5, seconds


def test_a_short_phrase_is_synthesised_once_and_a_sentence_every_time(voice_path: Path) -> None:
    synth = Synthesizer(voice_path, phrases=2)
    piper = counting(synth)
    first = synth.synthesize("Great!")
    assert synth.synthesize("Great!") is first
    sentence = "Your appointment is tomorrow at three."
    synth.synthesize(sentence)
    synth.synthesize(sentence)
    assert piper == ["Great!", sentence, sentence]


def test_the_least_recently_used_phrase_goes_first(voice_path: Path) -> None:
    synth = Synthesizer(voice_path, phrases=2)
    piper = counting(synth)
    for phrase in ("I see.", "Great!", "I see.", "You're welcome!", "I see.", "Great!"):
        synth.synthesize(phrase)
    assert piper == ["I see.", "Great!", "You're welcome!", "Great!"]


def test_without_a_phrase_store_nothing_is_kept(voice_path: Path) -> None:
    synth = Synthesizer(voice_path)
    piper = counting(synth)
    synth.synthesize("Great!")
    synth.synthesize("Great!")
    assert piper == ["Great!", "Great!"]
