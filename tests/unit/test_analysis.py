"""Post-call analysis: the `analysis` block's checks, its grammar and prompt beside `returns`, the summary's
number check, and (with the default model) that one pass gives both with their types."""

from __future__ import annotations

import jsonschema
import pytest

from appliance.errors import InvalidInput
from appliance.results.analysis import SENTIMENTS, check_analysis, grounded_summary, split
from appliance.results.extraction import Extractor, answer_schema, nullable_schema
from appliance.results.extraction_prompt import build_messages
from appliance.results.schema import returns_to_schema
from appliance.spoken_numbers import numbers_in

OUTCOMES = ["confirmed", "rescheduled", "declined", "no_decision"]
CONFIG = check_analysis({"outcomes": OUTCOMES, "success_rubric": "They keep the appointment."})


def test_an_empty_block_asks_for_summary_sentiment_and_success_and_outcomes_add_the_outcome() -> None:
    assert check_analysis(None) is None
    assert check_analysis({}) == {
        "summary": True,
        "sentiment": True,
        "success": True,
        "outcomes": None,
        "success_rubric": None,
    }
    assert CONFIG is not None and CONFIG["outcomes"] == OUTCOMES


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ({"outcomes": "confirmed"}, "analysis.outcomes"),
        ({"outcomes": [1, 2]}, "analysis.outcomes"),
        ({"outcomes": ["ok", "ok"]}, "analysis.outcomes"),
        ({"outcomes": ["no way!"]}, "analysis.outcomes[0]"),
        ({"sentiment": 1}, "analysis.sentiment"),
        ({"success_rubric": 5}, "analysis.success_rubric"),
        ({"tone": True}, "analysis.tone"),
        ({"summary": False, "sentiment": False, "success": False}, "analysis"),
        ("summary", "analysis"),
    ],
)
def test_a_bad_block_names_its_field(block: object, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_analysis(block)
    assert caught.value.field == field


def test_the_grammar_puts_the_analysis_first_never_null_and_the_fields_after_it() -> None:
    assert CONFIG is not None
    schema = returns_to_schema({"confirmed": "boolean"})
    target = answer_schema(schema, CONFIG)
    assert list(target["properties"]) == [
        "call-summary",
        "call-outcome",
        "caller-sentiment",
        "call-success",
        "confirmed",
    ]
    good = {
        "call-summary": "Alex kept it.",
        "call-outcome": "confirmed",
        "caller-sentiment": "positive",
        "call-success": True,
        "confirmed": None,
    }
    jsonschema.validate(good, target)
    for key, bad in (("call-outcome", "maybe"), ("call-outcome", None), ("caller-sentiment", "angry")):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**good, key: bad}, target)
    assert answer_schema(schema, None) == nullable_schema(schema)  # no analysis: the grammar is unchanged
    fields, analysis = split(good, CONFIG)
    assert fields == {"confirmed": None}
    assert analysis == {"summary": "Alex kept it.", "outcome": "confirmed", "sentiment": "positive", "success": True}


def test_the_prompt_lists_the_outcomes_and_the_rubric() -> None:
    messages = build_messages(None, [("user", "Yes.")], "Confirm.", None, CONFIG)
    asked = messages[1]["content"]
    assert '"confirmed", "rescheduled", "declined", "no_decision"' in asked
    assert "They keep the appointment." in asked and "Fields (null" not in asked


def test_summary_sentences_stating_numbers_nobody_said_are_dropped() -> None:
    said = "Can you come Friday at 10? Yes, Friday at 10 works."
    summary = "Alex will come on Friday at 10. The visit costs 80 dollars."
    assert grounded_summary(summary, numbers_in(said), numbers_in) == "Alex will come on Friday at 10."


def test_the_default_model_gives_result_and_analysis_in_one_pass_with_their_types(default_model: Extractor) -> None:
    turns = [
        ("agent", "Hi Alex, can you still make your cleaning on Thursday at 3 pm?"),
        ("user", "Thursday doesn't work. Could we do Friday at 10 instead?"),
        ("agent", "Friday at 10 is free, I've moved you."),
    ]
    outcome = default_model.extract({"confirmed": "boolean"}, turns, "Confirm the cleaning.", None, CONFIG)
    assert outcome.status == "completed", outcome.error
    assert outcome.analysis is not None and outcome.result is not None
    assert outcome.analysis["outcome"] in OUTCOMES and outcome.analysis["sentiment"] in SENTIMENTS
    assert isinstance(outcome.analysis["success"], bool)
    assert outcome.analysis["summary"] is None or isinstance(outcome.analysis["summary"], str)
