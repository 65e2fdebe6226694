"""The words after a tool's result, held until they answer: an announcement of the lookup said again, which
uses nothing the result says, is dropped; words that use the result pass at once."""

from __future__ import annotations

import pytest

from appliance.voice.announcements import Reannouncement

SLOTS = {"name": "find_slots", "description": "Free times on a day"}
RESULT = '{"day": "Friday", "free_times": ["9:00 am", "2:30 pm"]}'
CALL = '{"name": "find_slots", "arguments": {"day": "Friday"}}'


def spoken(pieces: list[str]) -> tuple[str, bool]:
    held = Reannouncement(RESULT, CALL, [SLOTS])
    said = "".join(held.feed(p) for p in pieces) + held.end()
    return said, held.dropped


@pytest.mark.parametrize(
    ("pieces", "said", "dropped"),
    [
        (["Let me", " look that", " up."], "", True),
        (["Let me", " check the free times", " on Friday."], "", True),  # the day was the call's, the keys no answer
        (["Let me check"], "", True),  # an announcement the reply ended in
        (["Let me check", " the times.", " Friday has 9", " and 2:30."], " Friday has 9 and 2:30.", True),
        (["Let me check:", " Friday has 9 and 2:30."], "Let me check: Friday has 9 and 2:30.", False),
        (["We have", " nine", " and two thirty."], "We have nine and two thirty.", False),  # no announcement
        (["Sorry", ", that did not work."], "Sorry, that did not work.", False),
    ],
)
def test_an_announcement_that_uses_nothing_of_the_result_is_dropped(
    pieces: list[str], said: str, dropped: bool
) -> None:
    assert spoken(pieces) == (said, dropped)


def test_words_that_use_the_result_pass_as_they_come() -> None:
    held = Reannouncement(RESULT, CALL, [SLOTS])
    assert held.feed("Let me see,") == ""
    assert held.feed(" 9") == "Let me see, 9"  # the result's time: an answer, spoken at once
    assert held.feed(" or 2:30.") == " or 2:30."
