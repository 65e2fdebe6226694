"""The grounding post-check (results/grounding.py): a value is kept only when what was said holds it."""

from __future__ import annotations

import pytest

from appliance.results.extraction import nullable_schema
from appliance.results.grounding import Sources, drop_unfounded, written_address
from appliance.results.schema import returns_to_schema
from appliance.spoken_numbers import numbers_in


def target(returns: dict) -> dict:
    return nullable_schema(returns_to_schema(returns))


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("about twelve hundred dollars a month", {1200.0}),
        ("your balance is $240.50, or 1,200 with fees", {240.5, 1200.0}),
        ("on the fifteenth, or the 11th", {15.0, 11.0}),
        ("three fifty tops", {350.0}),
        ("two thousand five hundred", {2500.0}),
        ("twenty-first", {21.0}),
    ],
)
def test_numbers_are_found_in_digits_and_words(text: str, numbers: set[float]) -> None:
    assert numbers <= numbers_in(text)


CALL = [
    ("agent", "Your balance of $240.50 is due. Can you come on Thursday March 5th at 10:30?"),
    ("user", "I can pay 100 on the tenth. Friday at 2:15 works. Call me on 555 013 2288, I'm Tom Becker."),
]
FIELDS = {
    "type": "object",
    "properties": {
        "amount": {"type": "number"},
        "day": {"type": "string", "format": "date"},
        "time": {"type": "string"},
        "phone": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": ["card", "cash"]},
        "agreed": {"type": "boolean"},
    },
}


def founded_result(result: dict, context: dict | None = None) -> dict:
    return drop_unfounded(result, target(FIELDS), Sources(CALL, context))


def test_values_said_in_the_call_are_kept() -> None:
    said = {
        "amount": 100,
        "day": "2026-03-10",  # "the tenth"
        "time": "14:15",  # "2:15"
        "phone": "5550132288",
        "name": "Tom Becker",
        "kind": "cash",  # enums and booleans are judgements, never dropped
        "agreed": False,
    }
    assert founded_result(said) == said
    assert founded_result({**said, "day": "2026-03-06"})["day"] == "2026-03-06"  # "Friday"


def test_values_nobody_said_are_dropped() -> None:
    invented = {"amount": 75, "day": "2026-03-21", "time": "09:00", "phone": "1234567890", "name": "John Doe"}
    result = founded_result({**invented, "kind": None, "agreed": None})
    assert all(result[name] is None for name in invented)


def test_a_value_known_before_the_call_needs_the_persons_own_words() -> None:
    context = {"balance_usd": 240.50, "appointment": "2026-03-05 10:30"}
    copied = {"amount": 240.5, "day": "2026-03-05", "time": "10:30", "phone": None, "name": None}
    result = founded_result({**copied, "kind": None, "agreed": None}, context)
    assert result["amount"] is None and result["day"] is None and result["time"] is None
    # Said only by the agent, and not in the context: the agent proposed it, the model may take it.
    assert (
        founded_result(
            {"amount": 240.5, "day": None, "time": "10:30", "phone": None, "name": None, "kind": None, "agreed": None}
        )["time"]
        == "10:30"
    )


def test_nested_fields_are_checked_too() -> None:
    schema = target(
        {
            "type": "object",
            "properties": {
                "contact": {"type": "object", "properties": {"name": {"type": "string"}, "email": {"type": "string"}}}
            },
        }
    )
    result = drop_unfounded(
        {"contact": {"name": "Tom Becker", "email": "john@example.com"}}, schema, Sources(CALL, None)
    )
    assert result == {"contact": {"name": "Tom Becker", "email": None}}


@pytest.mark.parametrize(
    ("said", "written"),
    [
        ("tom dot becker at example dot com", "tom.becker@example.com"),
        ("Tom.Becker at example.com.", "tom.becker@example.com"),
        ("anna underscore lee at mail dot co dot uk", "anna_lee@mail.co.uk"),
        ("j dash smith at acme-corp dot io", "j-smith@acme-corp.io"),
        ("jo@example.com", "jo@example.com"),
        ("I'd rather not say", "I'd rather not say"),  # not an address: left for the grounding check
        ("at the office", "at the office"),
    ],
)
def test_an_email_address_read_out_is_written_as_an_address(said: str, written: str) -> None:
    assert written_address(said) == written


@pytest.mark.parametrize(
    ("said", "value", "kept"),
    [
        ("My email is tom dot becker at example dot com.", "tom.becker@example.com", True),
        ("My email is tom. beccaretexample. com", "tom.beccaret@example.com", True),  # as Whisper wrote it once
        ("It's anna underscore lee at mail dot co dot uk", "anna_lee@mail.co.uk", True),
        # The callee's name and a domain said apart are not an address anyone gave.
        ("Yes, this is Alex.\nMy email is tom dot becker at example dot com.", "alex@example.com", False),
        # An example the agent gave is not the person's address.
        ("agent: Your e-mail, like john.doe@example.com?\nMy email is tom dot becker.", "john.doe@example.com", False),
    ],
)
def test_an_email_address_is_founded_on_its_spelling(said: str, value: str, kept: bool) -> None:
    schema = target({"type": "object", "properties": {"email": {"type": "string"}}})
    turns = [("agent", line[7:]) if line.startswith("agent: ") else ("user", line) for line in said.splitlines()]
    result = drop_unfounded({"email": value}, schema, Sources(turns, None))
    assert (result["email"] == value) is kept, result
