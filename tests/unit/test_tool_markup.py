"""Tool-call markup in a streaming reply: a call told from speech by its opening, a tag never spoken, the
end-of-call mark left to speech, and the call the grammar wrote read back."""

from __future__ import annotations

import pytest

from appliance.voice.tool_markup import opens_call, parse_call, split_tag


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        (" ", None),
        ("<", None),
        ("<tool", True),  # "<tool" is a call tag already: the end-of-call mark is "<end"
        ("<tool_call>", True),
        ('\n{"name"', True),
        ("```json", True),
        ("`", None),
        ("Sure", False),
        ("<end_call>", False),  # the end-of-call mark is speech's business
        ("<e", False),
    ],
)
def test_a_reply_is_told_to_be_a_call_from_its_opening(text: str, expected: bool | None) -> None:
    assert opens_call(text) is expected


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        ("Friday has 9.", ("Friday has 9.", "", False)),
        ("Goodbye! <end_call>", ("Goodbye! <end_call>", "", False)),
        ("Goodbye! <end", ("Goodbye! ", "<end", False)),  # may still be the mark: held back
        ("Let me check. <tool_response>", ("Let me check. ", "", True)),
        ("Let me check.\n<tool_call>", ("Let me check.\n", "", True)),
        ("Bye <end_call> <x", ("Bye <end_call> ", "", True)),
    ],
)
def test_a_tag_after_words_is_never_spoken(held: str, expected: tuple[str, str, bool]) -> None:
    assert split_tag(held) == expected


def test_a_written_call_is_read_as_its_name_and_arguments() -> None:
    assert parse_call('{"name": "find_slots", "arguments": {"day": "Friday"}}') == ("find_slots", {"day": "Friday"})
