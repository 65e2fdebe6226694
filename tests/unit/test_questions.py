"""The questions prepared for an agent's `returns` fields (voice/questions.py), written by a fake model."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from appliance.voice.brief import CallBrief
from appliance.voice.goal import goal_fields
from appliance.voice.questions import ENGLISH_QUESTION, QuestionBook, acceptable, given

RETURNS = {
    "type": "object",
    "properties": {
        "gate_code": {"type": "string", "description": "What is the code of your gate?"},
        "window": {"type": "string", "enum": ["morning", "afternoon"], "description": "the delivery window"},
        "score": {"type": "integer", "description": "how likely they are to recommend us, 1 to 10"},
    },
}
FIELDS = goal_fields(RETURNS)
CALL = CallBrief("call-1", "outbound", agent_name="Sam", agent_id="agt_1", persona="You are Sam, from Acme.")


class WritingModel:
    """Writes `answer` (JSON) after `delay` seconds; keeps what it was asked."""

    templated = True

    def __init__(self, answer: dict[str, str] | Exception, delay: float = 0.0) -> None:
        self.answer, self.delay = answer, delay
        self.asked: list[list[dict[str, str]]] = []
        self.forgotten: list[str] = []

    async def complete_unless(
        self, call_id: str, messages: list[dict[str, str]], opening: str, grammar: Any, n: int, abandon: Any
    ) -> str | None:
        self.asked.append(messages)
        await asyncio.sleep(self.delay)
        if abandon is not None and abandon():
            return None
        if isinstance(self.answer, Exception):
            raise self.answer
        return json.dumps(self.answer)

    def forget(self, call_id: str) -> None:
        self.forgotten.append(call_id)


def test_a_description_that_is_a_question_is_the_fields_question() -> None:
    assert given(FIELDS) == {"gate_code": "What is the code of your gate?"}


@pytest.mark.parametrize(
    ("question", "label", "ok"),
    [
        ("Would you prefer a morning or an afternoon delivery?", "window (morning or afternoon)", True),
        ("Would you like it delivered tomorrow morning?", "window (morning or afternoon)", False),
        ("Can you come on Tuesday at ten?", "confirmed (a yes/no answer)", False),
        ("On a scale from 1 to 10, how likely are you to recommend us?", "score: 1 to 10 (a number)", True),
        ("On a scale from 0 to 5, how likely are you to recommend us?", "score: 1 to 10 (a number)", False),
        ("How likely are you to recommend us to a friend?", "score (a number)", True),
        ("Hello! How are you? What is your budget?", "budget", False),  # two questions
        ("Tell me your budget.", "budget", False),  # not a question
    ],
)
def test_a_written_question_stating_a_date_a_time_or_a_number_not_the_fields_is_refused(
    question: str, label: str, ok: bool
) -> None:
    assert acceptable(question, label) is ok


async def test_the_model_writes_the_other_fields_once_per_agent_and_refused_ones_are_left_to_it() -> None:
    written = {"window": "Would you like the delivery tomorrow morning or afternoon?",
               "score": "How likely are you to recommend us to a friend?"}  # fmt: skip
    model = WritingModel(written, delay=0.05)
    book = QuestionBook(model)
    task = book.prepare(CALL, FIELDS)
    assert task is not None and book.get(CALL, FIELDS) == given(FIELDS)  # being written: the stated ones
    assert book.prepare(CALL, FIELDS) is task  # a second call of the agent waits for the same writing
    await task
    assert book.get(CALL, FIELDS) == {
        "gate_code": "What is the code of your gate?",
        "score": "How likely are you to recommend us to a friend?",
    }
    # The model was asked once, for the two fields it had to write.
    assert len(model.asked) == 1 and "gate code" not in model.asked[0][1]["content"]
    assert "delivery window" in model.asked[0][1]["content"] and model.forgotten
    next_call = CallBrief("call-2", "outbound", agent_name="Sam", agent_id="agt_1", persona="You are Sam, from Acme.")
    assert book.prepare(next_call, FIELDS) is None and book.get(next_call, FIELDS) is not None
    other_brief = CallBrief("call-3", "outbound", agent_name="Sam", agent_id="agt_1",
                            persona="You are Sam, from Acme.", instructions="Call Jo about order 4471.")  # fmt: skip
    assert book.get(other_brief, FIELDS) == given(FIELDS)  # other instructions: written again, from them


async def test_a_failed_writing_leaves_the_stated_questions_and_no_model_writes_nothing() -> None:
    book = QuestionBook(WritingModel(RuntimeError("context full")))
    task = book.prepare(CALL, FIELDS)
    assert task is not None
    assert await task == {"gate_code": "What is the code of your gate?"}
    bare = QuestionBook(None)
    await bare.prepare(CALL, FIELDS)  # type: ignore[misc]
    assert bare.get(CALL, FIELDS) == {"gate_code": "What is the code of your gate?"}
    assert bare.get(CALL, []) == {} and bare.prepare(CALL, []) is None


async def test_a_writing_a_call_needs_the_model_for_keeps_nothing_and_the_next_prepare_writes_them() -> None:
    written = {"window": "Which delivery window suits you?", "score": "How likely are you to recommend us?"}
    book = QuestionBook(WritingModel(written, delay=0.05))
    busy = [True]
    task = book.prepare(CALL, FIELDS, yield_to=lambda: busy[0])
    assert task is not None and await task == given(FIELDS)
    assert book.get(CALL, FIELDS) == given(FIELDS)  # nothing kept: not written, only stated
    busy[0] = False
    again = book.prepare(CALL, FIELDS, yield_to=lambda: busy[0])
    assert again is not None and await again == given(FIELDS) | written
    assert book.get(CALL, FIELDS) == given(FIELDS) | written


@pytest.mark.parametrize(
    ("written", "ok"),
    [
        ("Will you be able to come to your appointment?", True),
        ("What is the code of your gate?", True),
        ("Yes, Alex can come to the appointment?", False),  # an answer, made to look like a question
        ("What works. Is it Friday?", False),  # two sentences
        ("What is your budget", False),
    ],
)
def test_the_grammar_lets_the_model_write_only_one_english_question_per_field(written: str, ok: bool) -> None:
    assert (re.fullmatch(ENGLISH_QUESTION, written) is not None) is ok
