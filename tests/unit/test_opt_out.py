"""The keyword rule for an in-call opt-out, the watch that hands it to the call's owner, and the opt-out key."""

from __future__ import annotations

import asyncio

import pytest

from appliance.telephony.opt_out import OptOutKey, OptOuts, asks_to_opt_out


@pytest.mark.parametrize(
    "said",
    [
        "Stop calling me.",
        "Please take me off your list",
        "Don't call me again!",
        "don\u2019t call this number",  # a typographic apostrophe, as STT may write it
        "Remove my number, thanks.",
        "Put me on your do not call list.",
        "I want to opt out",
        "unsubscribe",
    ],
)
def test_requests_to_stop_are_opt_outs(said: str) -> None:
    assert asks_to_opt_out(said)


@pytest.mark.parametrize(
    "said",
    ["Yes, nine works for me.", "Can you call me back tomorrow?", "I'll stop by on Tuesday", "Who is calling?"],
)
def test_other_words_are_not(said: str) -> None:
    assert not asks_to_opt_out(said)


def test_only_a_watched_call_reports_and_only_for_an_opt_out() -> None:
    opt_outs, seen = OptOuts(), []
    opt_outs.heard("c1", "stop calling me")  # not watched: nobody to tell
    opt_outs.watch("c1", seen.append)
    opt_outs.heard("c1", "sure, Tuesday is fine")
    opt_outs.heard("c1", "actually, take me off your list")
    opt_outs.forget("c1")
    opt_outs.heard("c1", "stop calling me")
    assert seen == ["speech"]


class Keys:
    def __init__(self) -> None:
        self.opted_out = 0
        self.forwarded = ""
        self.key = OptOutKey("9", self.opt_out, self.forward, gap_s=0.05)

    def opt_out(self) -> None:
        self.opted_out += 1

    def forward(self, digit: str) -> None:
        self.forwarded += digit


async def test_the_opt_out_key_pressed_alone_opts_out_and_is_not_a_turn() -> None:
    keys = Keys()
    keys.key.press("9")
    await asyncio.sleep(0.1)
    assert (keys.opted_out, keys.forwarded) == (1, "")


async def test_a_9_inside_a_pin_or_beginning_one_is_a_key_like_any_other() -> None:
    keys = Keys()
    for digit in "4917":  # inside a run
        keys.key.press(digit)
    await asyncio.sleep(0.1)
    for digit in "92#":  # beginning one: held back, then handed on before the next key
        keys.key.press(digit)
    await asyncio.sleep(0.1)
    assert (keys.opted_out, keys.forwarded) == (0, "491792#")


async def test_no_opt_out_key_forwards_every_key() -> None:
    forwarded: list[str] = []
    key = OptOutKey("", lambda: None, forwarded.append)
    key.press("9")
    key.press("#")
    assert forwarded == ["9", "#"]
