"""Whisper on short recorded answers: one word in, that word out (the short window used to loop on
them: "nineteen" → "19, 19, 19, 19, 19, 19, 19", "six" → six 6s, "saved to" → "Save two" five times)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from appliance import models
from appliance.config import Settings
from appliance.telephony.asterisk_install import find_asterisk
from appliance.telephony.g711 import ulaw_decode, ulaw_encode
from appliance.voice.stt import Transcriber, collapse_repeats, cut_loop
from appliance.voice.text import words


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    return Transcriber(models.resolve("stt", None).path)


def recorded(name: str) -> bytes:
    """One of Asterisk's English prompts (a human recording, GSM at 8 kHz), through G.711 as on a call."""
    root = find_asterisk(Settings()).root or Path("/")
    gsm = root / "usr/share/asterisk/sounds/en_US_f_Allison" / f"{name}.gsm"
    pcm = subprocess.run(
        ["sox", "-t", "gsm", str(gsm), "-t", "raw", "-e", "signed", "-b", "16", "-r", "8000", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return ulaw_decode(ulaw_encode(pcm))


@pytest.mark.parametrize(
    ("prompt", "heard"),
    [
        ("digits/19", ["19"]),
        ("digits/6", ["6"]),
        ("digits/9", ["9"]),
        ("digits/mon-3", ["april"]),
        ("vm-savedto", ["save", "two"]),
    ],
)
def test_a_short_recorded_answer_is_read_once(transcriber: Transcriber, prompt: str, heard: list[str]) -> None:
    assert words(transcriber.transcribe(recorded(prompt))) == heard


def test_a_sentence_keeps_all_its_words(transcriber: Transcriber) -> None:
    said = transcriber.transcribe(recorded("vm-msgsaved"))
    assert words(said) == ["your", "message", "has", "been", "saved"]


def test_an_open_segment_is_cut_back_to_the_phrase_it_repeats() -> None:
    assert cut_loop("19, 19, 19, 19, 19, 19, 19") == "19"
    assert cut_loop("Save two. Save two. Save two. Save") == "Save two."
    assert cut_loop("My code is, 4, 4, 4, 4,") == "My code is, 4"
    assert cut_loop("Four, seven, two") == "Four, seven, two"
    assert cut_loop("Yes. No. Yes.") == "Yes. No. Yes."


def test_whisper_repeats_into_padding_are_collapsed() -> None:
    assert collapse_repeats("Hello? Hello? Hello? Hello") == "Hello?"
    assert collapse_repeats("Round 10 in the morning. Round 10 in the") == "Round 10 in the morning."
    assert collapse_repeats("Hello? Who is this? Hello? Who is this") == "Hello? Who is this?"
    assert collapse_repeats("Yes. No.") == "Yes. No."
    assert collapse_repeats("Yes. No. Yes.") == "Yes. No. Yes."
