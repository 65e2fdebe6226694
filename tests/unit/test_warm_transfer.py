"""The pieces of a warm transfer that need no line: what the agent asks the destination, how their answer is
read, the consultation that takes their turns, and the hold music."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from appliance.telephony.hold_music import RATE, hold_tune, write_hold_music
from appliance.telephony.line_tools import destination_answer, warm_intro
from appliance.voice.consult import Consultation
from appliance.voice.turns import Turn


def test_the_question_says_who_calls_why_and_how_to_take_the_call() -> None:
    row = {"agent_snapshot": {"name": "Sam"}, "context": {"name": "Alex"}}
    said = warm_intro(row, "a question about a bill.")
    assert said == (
        "Hello, this is Sam, an automated assistant. I have Alex on the line about a question about a bill. "
        "Say yes or press 1 to take the call."
    )
    assert "I have a caller on the line. Say yes" in warm_intro({"agent_snapshot": {}, "context": {}}, " ")
    # The caller's own words, as the model often passes them on, are quoted, not made "about I would like…".
    quoted = warm_intro({"agent_snapshot": {"name": "Sam"}, "context": {}}, "I would like to talk to a person.")
    assert "I have a caller on the line. They say: I would like to talk to a person. Say yes" in quoted


@pytest.mark.parametrize(
    ("said", "answer"),
    [
        ("Yes, sure, put them through.", "accepted"),
        ("Okay.", "accepted"),
        ("No, sorry, I can't take a call right now.", "declined"),
        ("Hmm, wait, who is it?", "declined"),
        ("Hi, you've reached Dana. Please leave a message after the tone.", "voicemail"),
        ("", "no_reply"),
    ],
)
def test_the_destinations_answer_is_a_clear_yes_or_not(said: str, answer: str) -> None:
    assert destination_answer(said) == answer


async def test_the_consultation_answer_is_the_next_whole_turn_after_the_question() -> None:
    consultation = Consultation()
    greeting, partial, whole = Turn(), Turn(), Turn()
    consultation.heard(greeting, "Front desk, Dana speaking.", ended=True)
    assert consultation.heard_any
    consultation.fresh()  # the question is asked now: the greeting is not the answer
    consultation.heard(partial, "Yes", ended=False)  # read at a pause: they may go on
    consultation.heard(partial, "Yes, sure, put them through.", ended=False)
    assert await consultation.answer(0.05) == ""
    consultation.turn_ended(partial)
    assert await consultation.answer(0.05) == "Yes, sure, put them through."
    consultation.heard(whole, "...", ended=True)  # no words: nothing
    assert await asyncio.wait_for(consultation.answer(0.05), 1) == ""


def test_the_hold_music_is_a_quiet_tune_that_loops_without_a_click(tmp_path: Path) -> None:
    tune = hold_tune().astype(np.float64) / 32768
    assert len(tune) == 5 * RATE
    assert 0.1 < np.abs(tune).max() < 0.25  # heard, never loud
    assert abs(tune[0]) < 0.01 and abs(tune[-1]) < 0.01  # starts and ends quiet: the loop does not click
    path = write_hold_music(tmp_path / "moh")
    assert path.stat().st_size > 2 * len(tune)
