"""The keyword rule for an in-call opt-out, and the watch that hands it to the call's owner."""

from __future__ import annotations

import pytest

from appliance.telephony.opt_out import OptOuts, asks_to_opt_out


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
