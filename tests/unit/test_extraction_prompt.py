"""The extraction's prompt (results/extraction_prompt.py)."""

from __future__ import annotations

from appliance.results.extraction_prompt import SYSTEM_PROMPT, build_messages, describe_fields
from appliance.results.schema import returns_to_schema
from tests.unit.test_extraction import NESTED


def test_prompt_holds_instructions_context_transcript_fields_and_what_null_means() -> None:
    messages = build_messages(
        returns_to_schema(NESTED),
        [("agent", "Can you come Thursday?"), ("user", "No, Friday."), ("tool", "slot booked")],
        "Confirm the appointment.",
        {"patient": "Dana"},
    )
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert "null means the conversation did not settle" in SYSTEM_PROMPT and "Never guess" in SYSTEM_PROMPT
    user = messages[1]["content"]
    assert "Confirm the appointment." in user and '{"patient": "Dana"}' in user
    assert "Agent: Can you come Thursday?\nPerson: No, Friday.\nTool result: slot booked" in user
    assert '- outcome: one of "confirmed", "cancelled", or null. their decision' in user
    assert "  - day: a date YYYY-MM-DD, or null" in user and "- score: a whole number from 1 to 5, or null" in user
    assert '- tags: a list, each item one of "billing", "upgrade", or null' in user
    assert "(none)" in build_messages(returns_to_schema({"a": "boolean"}), [("user", "hi")], None, None)[1]["content"]


def test_describe_fields_lists_nested_fields_indented() -> None:
    lines = describe_fields(returns_to_schema(NESTED))
    assert lines[1] == "- slot: an object with these fields" and lines[2].startswith("  - day:")
