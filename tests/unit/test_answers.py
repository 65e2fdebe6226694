"""A field settled by the person's answer to its own question (appliance/results/answers.py): what fills a
null, and what is refused as undecided, mixed or ambiguous."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from appliance.results.answers import settle, spoken_number

BOOLEAN = {"type": "boolean"}
SCORE = {"type": "integer", "minimum": 1, "maximum": 10}
BUDGET = {"type": "number"}
WINDOW = {"type": "string", "enum": ["morning", "afternoon", "all_day"]}
TEXT = {"type": "string"}
DATE = {"type": "string", "format": "date"}
THURSDAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    ("field", "answer", "value"),
    [
        (BOOLEAN, "Let me think. Yes, I think I can come.", True),
        (BOOLEAN, "Okay, yes, I'll be there.", True),
        (BOOLEAN, "Maybe, yes.", True),
        (BOOLEAN, "No, I can't make it. I will call you to book another day.", False),
        (BOOLEAN, "No thanks, we're not interested any more.", False),
        (BOOLEAN, "Maybe.", None),
        (BOOLEAN, "Yes, but not on Tuesday.", None),
        (BOOLEAN, "I'm not sure, I'd have to ask my husband.", None),
        (BOOLEAN, "I'd have to ask my boss, she decides.", None),
        (BOOLEAN, "Okay.", None),
        (SCORE, "Hmm. Maybe a seven.", 7),
        (SCORE, "I'd say 9.", 9),
        (SCORE, "Twelve.", None),  # out of the field's bounds
        (SCORE, "Seven or eight.", None),
        (SCORE, "Seven and a half.", None),
        (BUDGET, "Maybe a thousand a month.", 1000),
        (BUDGET, "Around five hundred a month.", 500),
        (BUDGET, "About two thousand dollars a month.", 2000),
        (BUDGET, "1,500 a month.", 1500),
        (BUDGET, "Three fifty.", None),  # 3.50, 350 or 3 and 50
        (BUDGET, "I can't share budget numbers, sorry.", None),
        (WINDOW, "The morning is better.", "morning"),
        (WINDOW, "All day, I'm home.", "all_day"),
        (WINDOW, "Not the morning.", None),
        (WINDOW, "Morning or afternoon, either.", None),
        (WINDOW, "Hmm, I'm not sure. The afternoon, I guess.", None),
        (DATE, "Alright, I'll pay it on Friday.", "2026-12-04"),
        (DATE, "Sorry, I was looking for my wallet. I can pay it today.", "2026-12-03"),
        (DATE, "Tomorrow.", "2026-12-04"),
        (DATE, "Next Monday.", None),  # the coming one or the week after's: people differ
        (DATE, "On Thursday.", None),  # today's weekday: today or in a week
        (DATE, "Friday or Saturday.", None),
        (DATE, "On the 5th, Friday.", None),  # a date in numbers is the model's to read
        (TEXT, "Friday.", None),  # a text field that is not a date keeps the model's reading
    ],
)
def test_an_answer_alone_settles_a_null_field_only_when_it_is_clear(
    field: dict[str, Any], answer: str, value: Any
) -> None:
    schema = {"type": "object", "properties": {"f": field}}
    assert settle({"f": None}, schema, {"f": answer}, THURSDAY) == {"f": value}


def test_a_text_field_named_for_a_date_is_a_date() -> None:
    schema = {"type": "object", "properties": {"pay_date": TEXT, "note": TEXT}}
    answers = {"pay_date": "I'll pay it on Friday.", "note": "On Friday."}
    assert settle({"pay_date": None, "note": None}, schema, answers, THURSDAY) == {
        "pay_date": "2026-12-04",
        "note": None,
    }


def test_a_value_the_model_gave_is_never_changed_and_unanswered_fields_stay_null() -> None:
    schema = {"type": "object", "properties": {"confirmed": BOOLEAN, "score": SCORE}}
    result = settle({"confirmed": False, "score": None}, schema, {"confirmed": "Yes, I'll be there."}, THURSDAY)
    assert result == {"confirmed": False, "score": None}
    assert settle(None, schema, {"confirmed": "Yes."}, THURSDAY) is None


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("twenty five", 25),
        ("one hundred twenty five dollars", 125),
        ("a hundred", 100),
        ("a seven", 7),
        ("nineteen ninety", None),
        ("none", None),
        ("It's 4 and 5", None),
    ],
)
def test_the_one_number_an_answer_says(said: str, number: float | None) -> None:
    assert spoken_number(said) == number
