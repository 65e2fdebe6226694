"""Personal data found and replaced in what Whisper writes: each kind, its checks, and what is left alone."""

from __future__ import annotations

import pytest

from appliance.errors import InvalidInput
from appliance.privacy.pii import KINDS, check_kinds, find, luhn, redact, redact_result, redact_values


@pytest.mark.parametrize(
    ("said", "kinds", "written"),
    [
        ("My card is 4111 1111 1111 1111, expiry next May.", ["card"], "My card is [card], expiry next May."),
        ("It's 4111-1111-1111-1111.", ["card"], "It's [card]."),
        ("Call me back on (415) 555-2671 please.", ["phone"], "Call me back on [phone] please."),
        ("My number is 415 555 2671.", ["phone"], "My number is [phone]."),
        ("Send it to tom.becker@example.com.", ["email"], "Send it to [email]."),
        ("It's tom dot becker at example dot com.", ["email"], "It's [email]."),
        ("anna underscore lee at mail dot co dot uk", ["email"], "[email]"),
        ("My social is 123-45-6789.", ["ssn"], "My social is [ssn]."),
        ("My social security number is 123456789.", ["ssn"], "My social security number is [ssn]."),
        ("I was born on March 3rd, 1985.", ["dob"], "I was born on [dob]."),
        ("My date of birth is the 3rd of March 1985.", ["dob"], "My date of birth is [dob]."),
        ("Date of birth 03/03/1985.", ["dob"], "Date of birth [dob]."),
        ("I live at 42 Elm Street, Apt 3B.", ["address"], "I live at [address]."),
        ("It's 1600 Pennsylvania Avenue.", ["address"], "It's [address]."),
        ("Hi, my name is Alex Kim.", ["name"], "Hi, my name is [name]."),
        ("Yes, this is Alex.", ["name"], "Yes, this is [name]."),
        # As Whisper tiny.en wrote them from Piper reading the numbers (tests/unit/test_recording_redaction.py):
        ("My card number is 4,111,111,111,111,111,111.", ["card"], "My card number is [card]."),
        ("My Card number is 4,111,111, 1,111.", ["card"], "My Card number is [card]."),  # digits Whisper lost
        ("My email is tom. beccoret example. com.", ["email"], "My email is [email]."),
        ("You can reach me at 450,55257671.", ["phone"], "You can reach me at [phone]."),
    ],
)
def test_each_kind_is_replaced_by_its_label(said: str, kinds: list[str], written: str) -> None:
    assert redact(said, kinds) == written


@pytest.mark.parametrize(
    ("said", "kinds"),
    [
        ("Order 4111 1111 1111 1112 is on its way.", ["card"]),  # fails the Luhn check: not a card
        ("I'll see you on March 3rd.", ["dob"]),  # an appointment, not a birth date
        ("Tuesday at 10:30 works.", ["phone", "card", "ssn", "dob"]),
        ("I'm sorry, I'm busy.", ["name"]),
        ("I am at the office, dot com or not.", ["email"]),
        ("Yes, this is fine.", ["name"]),
        ("Order 41 1111 1111 1111 is on its way.", ["card", "phone"]),  # no card, no phone talk: a reference
    ],
)
def test_what_is_not_personal_data_is_left_alone(said: str, kinds: list[str]) -> None:
    assert redact(said, kinds) == said


def test_only_the_kinds_asked_for_are_redacted() -> None:
    said = "Card 4111 1111 1111 1111, mail tom@example.com."
    assert redact(said, ["email"]) == "Card 4111 1111 1111 1111, mail [email]."
    assert redact(said, []) == said
    assert redact(said, list(KINDS)) == "Card [card], mail [email]."


def test_a_card_number_is_not_also_a_phone_number() -> None:
    assert [s.kind for s in find("4111 1111 1111 1111", ["card", "phone"])] == ["card"]


def test_luhn() -> None:
    assert luhn("4111111111111111") and luhn("79927398713")
    assert not luhn("4111111111111112")


def test_unknown_kinds_are_refused_naming_the_entry() -> None:
    assert check_kinds(["card", "email", "card"]) == ["card", "email"]
    with pytest.raises(InvalidInput) as caught:
        check_kinds(["card", "passport"])
    assert caught.value.field == "redact[1]"
    with pytest.raises(InvalidInput):
        check_kinds("card")


def test_event_data_and_results_are_redacted_but_exempt_fields_kept() -> None:
    data = {"user": "Mail tom@example.com", "latency_ms": 420, "parts": ["tom@example.com"]}
    assert redact_values(data, ["email"]) == {"user": "Mail [email]", "latency_ms": 420, "parts": ["[email]"]}
    result = {"email": "tom@example.com", "note": "wrote to tom@example.com", "ok": True}
    assert redact_result(result, ["email"], ["email"]) == {
        "email": "tom@example.com",
        "note": "wrote to [email]",
        "ok": True,
    }
    assert redact_result(None, ["email"], []) is None
