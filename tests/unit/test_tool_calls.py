"""Tool calls in the reply loop: announcements taken as calls, the call's grammar, the confirm_first_write
policy, and a reply that calls a tool against a scripted model (one that calls nothing streams as before).
How a call is told from speech in the stream: test_tool_markup.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from appliance.voice import tool_calls
from appliance.voice.tool_calls import (
    FILLER,
    ToolResult,
    ToolTurns,
    after_calls,
    announces,
    clear_yes,
    confirmed,
    unfounded,
)
from appliance.voice.tool_grammar import call_grammar, call_schema, callable_tools

SLOTS = {
    "type": "http",
    "name": "find_slots",
    "description": "Free times on a day",
    "url": "http://127.0.0.1:9/slots",
    "policy": "read",
    "parameters": {
        "type": "object",
        "properties": {"day": {"type": "string"}},
        "required": ["day"],
        "additionalProperties": False,
    },
}
BOOK = {
    **SLOTS,
    "name": "book",
    "policy": "confirm_first_write",
    "parameters": {
        "type": "object",
        "properties": {"day": {"type": "string"}, "time": {"type": "string"}},
        "required": ["day", "time"],
        "additionalProperties": False,
    },
}
END = {"type": "builtin", "name": "end_call", "builtin": "end_call", "parameters": {"type": "object"}}


ORDER = {**SLOTS, "name": "order_status", "description": "The delivery status of an order by its number"}


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Sure, I can look up the free appointment times on Friday.", True),  # the default model's own words
        ("Let me check that for you.", True),
        ("One moment, I'll pull up your order.", True),
        ("I\u2019ll look that up.", True),
        ("Let me see the delivery status of your order.", True),  # two of the tool's own words
        ("I'll see you on Friday then. Goodbye!", False),
        ("Our opening hours are nine to five.", False),  # no intent: an answer (invented or not), not a call
        ("Your order status is on its way.", False),  # the tool's words, but no intent to use it
        ("I'll let you go. Have a good day.", False),
        ("I can help with your delivery.", False),  # one word of the tool's is not enough
        ("Sure, Alex. Looking up the free appointment times on Friday.", True),  # no subject (a CI run)
        ("Checking that now.", True),
        ("Sure, Alex. I'm looking for the delivery status of your order.", True),  # a CI run's words
        ("I'm looking forward to it.", False),
        ("We are looking forward to seeing you.", False),
    ],
)
def test_an_announced_lookup_is_told_from_an_answer(said: str, expected: bool) -> None:
    assert announces(said, [ORDER]) is expected


def test_a_booking_said_as_done_is_a_call_only_while_no_tool_has_done_any() -> None:
    claim = "Great, Alex. I've booked the cleaning on Friday at 2:30 PM."
    assert announces(claim, [BOOK], claims=True) and not announces(claim, [BOOK])
    assert not announces("Your cleaning is on Friday at 2:30.", [BOOK], claims=True)


async def test_a_booking_claimed_without_a_call_is_made_the_call() -> None:
    written = '{"name": "book", "arguments": {"day": "Friday", "time": "2:30"}}'
    model = Model([["Great. I've booked", " Friday at 2:30."], ["You are all set."]], [written])
    runner = Runner(ToolResult("ok", {"booked": True}))
    turns = ToolTurns("c", [BOOK], model, runner, Sink())
    await reply(turns, [*ASKED, {"role": "user", "content": "Yes, please."}])
    assert [name for name, _, _ in runner.ran] == ["book"] and turns.succeeded == {"book"}
    # Once it ran, the same words in a later reply are a report of it, not another booking.
    model.replies = [["Sure. I've booked Friday at 2:30."]]
    await reply(turns, [*ASKED, {"role": "user", "content": "Yes, please."}])
    assert len(runner.ran) == 1


def test_the_call_schema_allows_only_the_offered_names_with_their_arguments() -> None:
    import jsonschema

    schema = call_schema([SLOTS, BOOK])
    jsonschema.validate({"name": "find_slots", "arguments": {"day": "Friday"}}, schema)
    jsonschema.validate({"name": "book", "arguments": {"day": "Friday", "time": "2:30"}}, schema)
    for wrong in (
        {"name": "delete_all", "arguments": {}},
        {"name": "find_slots", "arguments": {}},  # day is required
        {"name": "find_slots", "arguments": {"day": "Friday", "extra": 1}},
        {"name": "book", "arguments": {"day": "Friday"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, schema)
    assert call_schema([SLOTS])["properties"]["name"] == {"const": "find_slots"}


def test_the_call_grammar_allows_each_tool() -> None:
    rules = call_grammar([SLOTS, BOOK])
    assert '\\"find_slots\\"' in rules and '\\"book\\"' in rules and "root ::= alternative-0 | alternative-1" in rules


@pytest.mark.parametrize(
    ("said", "yes"),
    [
        ("Yes.", True),
        ("Yes, please book it.", True),
        ("Sure, that's fine.", True),
        ("No.", False),
        ("No, not that one.", False),
        ("Hmm, wait.", False),
        ("Yes, but wait a second.", False),
        ("Maybe.", False),
        ("What time was that?", False),
    ],
)
def test_only_a_clear_yes_confirms(said: str, yes: bool) -> None:
    assert clear_yes(said) is yes


def test_confirmation_is_a_yes_to_a_question_the_agent_asked_on_the_turn_before() -> None:
    asked = [{"role": "system", "content": "..."}, {"role": "assistant", "content": "Shall I book Friday at 2:30?"}]
    assert confirmed([*asked, {"role": "user", "content": "Yes, please."}])
    assert not confirmed([*asked, {"role": "user", "content": "Hmm, wait."}])
    assert not confirmed([*asked, {"role": "user", "content": "No."}])
    told = [{"role": "assistant", "content": "Friday at 2:30 is free."}, {"role": "user", "content": "Yes."}]
    assert not confirmed(told)  # no question was asked: a yes to nothing confirms nothing
    # The calls and results of this reply do not count as the agent's turn.
    call = {"role": "assistant", "content": '<tool_call>\n{"name": "find_slots"}\n</tool_call>'}
    assert confirmed([*asked, {"role": "user", "content": "Yes."}, call, {"role": "tool", "content": "{}"}])
    # Told to confirm, the agent said what it would do instead of asking: a clear yes to that confirms it.
    required = {"role": "tool", "content": '{"error": "confirmation_required"}'}
    booking = {"role": "assistant", "content": "I'll book Friday at 2:30.\n<tool_call>\n{}\n</tool_call>"}
    said = [{"role": "user", "content": "Book Friday."}, booking, required, {"role": "assistant", "content": "Okay."}]
    assert confirmed([*said, {"role": "user", "content": "Yes, please."}])
    assert not confirmed([*said, {"role": "user", "content": "Hmm, wait."}])
    assert not confirmed([*said[:1], {"role": "assistant", "content": "Okay."}, {"role": "user", "content": "Yes."}])


class Model:
    """Scripted replies: each stream yields the next list of pieces; a call is written as `calls` says."""

    def __init__(self, replies: list[list[str]], calls: list[str]) -> None:
        self.replies = replies
        self.calls = calls
        self.offered: list[dict[str, Any]] = []
        self.seen: list[list[dict[str, str]]] = []
        self.openings: list[str] = []
        self.words_only: list[bool] = []

    def offer(self, call_id: str, tools: list[dict[str, Any]]) -> bool:
        self.offered = tools
        return True

    async def stream(
        self, call_id: str, messages: list[dict[str, str]], *, words_only: bool = False
    ) -> AsyncIterator[str]:
        self.seen.append(messages)
        self.words_only.append(words_only)
        for piece in self.replies.pop(0):
            yield piece

    async def complete(self, call_id: str, messages: Any, opening: str, grammar: str, max_tokens: int) -> str:
        assert opening.endswith("<tool_call>\n") and grammar is not None
        self.openings.append(opening)
        return self.calls.pop(0)


class Runner:
    def __init__(self, result: ToolResult, delay: float = 0.0) -> None:
        self.result = result
        self.delay = delay
        self.ran: list[tuple[str, dict[str, Any], str]] = []

    async def run(self, tool: dict[str, Any], arguments: dict[str, Any], call_key: str) -> ToolResult:
        self.ran.append((tool["name"], arguments, call_key))
        await asyncio.sleep(self.delay)
        return self.result


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.segments: list[tuple[str, str]] = []

    def segment(self, role: str, said: str, started: datetime, ended: datetime, source: str) -> None:
        self.segments.append((role, said))

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))


async def reply(turns: ToolTurns, messages: list[dict[str, str]]) -> tuple[str, list[dict[str, str]]]:
    released, record = asyncio.Event(), []
    released.set()
    pieces = [piece async for piece in turns.stream(messages, released, record)]
    return "".join(pieces).replace(tool_calls.SAY_NOW, " "), record


ASKED = [{"role": "assistant", "content": "Shall I book Friday at 2:30?"}]


async def test_a_reply_that_calls_nothing_is_the_models_stream_piece_for_piece() -> None:
    model = Model([["Sure", ",", " we", " open", " at", " 8."]], [])
    turns = ToolTurns("c", [SLOTS, END], model, Runner(ToolResult("ok")), Sink())
    assert turns.active and [s["function"]["name"] for s in model.offered] == ["find_slots"]
    released, record = asyncio.Event(), []
    released.set()
    pieces = [piece async for piece in turns.stream([{"role": "user", "content": "When?"}], released, record)]
    assert pieces == ["Sure", ",", " we", " open", " at", " 8."] and record == []


async def test_a_call_is_written_under_the_grammar_run_and_its_result_read_back() -> None:
    written = '{"name": "find_slots", "arguments": {"day": "Friday"}}'
    model = Model([["<", "tool", "_call", ">", "\n{"], ["Friday", " has", " 9", " and", " 2:30."]], [written])
    runner, sink = Runner(ToolResult("ok", {"free": ["9:00", "14:30"]})), Sink()
    turns = ToolTurns("c", [SLOTS], model, runner, sink)
    said, record = await reply(turns, [{"role": "user", "content": "Anything Friday?"}])
    assert said == "Friday has 9 and 2:30."
    assert runner.ran[0][:2] == ("find_slots", {"day": "Friday"}) and runner.ran[0][2].startswith("c:")
    assert record == [
        {"role": "assistant", "content": f"<tool_call>\n{written}\n</tool_call>"},
        {"role": "tool", "content": '{"free": ["9:00", "14:30"]}'},
    ]
    assert model.seen[1][-2:] == record  # the model spoke with the result before it
    ((kind, event),) = sink.events
    assert kind == "tool_call" and event["name"] == "find_slots" and event["outcome"] == "ok"
    assert sink.segments == []  # written with the caller's turn, after it
    turns.write_segments()
    assert sink.segments[0][0] == "tool" and json.loads(sink.segments[0][1])["arguments"] == {"day": "Friday"}


async def test_an_announcement_is_spoken_then_taken_as_the_call_once_per_reply() -> None:
    written = '{"name": "find_slots", "arguments": {"day": "Friday"}}'
    announcement = ["Sure", ", I can", " look up", " the free times on Friday."]
    # After the result the model announces again: that is not a second call.
    model = Model([announcement, ["Let me check:", " Friday has 9 and 2:30."]], [written])
    runner = Runner(ToolResult("ok", {"free": ["9:00", "14:30"]}), delay=0.01)
    turns = ToolTurns("c", [SLOTS], model, runner, Sink())
    said, record = await reply(turns, [{"role": "user", "content": "Anything Friday?"}])
    assert said == "Sure, I can look up the free times on Friday. Let me check: Friday has 9 and 2:30."  # no filler
    assert model.openings == ["Sure, I can look up the free times on Friday.\n<tool_call>\n"]
    assert len(runner.ran) == 1 and record[0]["content"].startswith("Sure, I can look up")
    assert model.words_only == [False, True]  # after the result: words for the caller, no mark
    assert after_calls(said, record) == "Let me check: Friday has 9 and 2:30."  # the history keeps each word once


async def test_a_lookup_announced_again_after_its_result_is_not_spoken_and_the_model_is_asked_to_answer() -> None:
    written = '{"name": "find_slots", "arguments": {"day": "Friday"}}'
    announcement = ["Sure", ", I can", " look up", " the free times on Friday."]
    model = Model([announcement, ["Let me", " look that up."], ["Friday has 9", " and 2:30."]], [written])
    turns = ToolTurns("c", [SLOTS], model, Runner(ToolResult("ok", {"free": ["9:00", "14:30"]})), Sink())
    said, record = await reply(turns, [{"role": "user", "content": "Anything Friday?"}])
    assert said == "Sure, I can look up the free times on Friday. Friday has 9 and 2:30."
    assert model.seen[2] == [*model.seen[1], tool_calls.NUDGE] and model.words_only == [False, True, True]
    assert record[-1]["role"] == "tool"  # the history has the call and its result, not the nudge


async def test_words_after_a_result_that_tell_none_of_it_and_announce_again_are_followed_by_the_answer() -> None:
    """A CI run: "Great, Alex. I've found the free appointment times for Friday. Let me look up the next
    available time." and nothing more: the caller never heard the times."""
    written = '{"name": "find_slots", "arguments": {"day": "Friday"}}'
    announcement = ["Sure", ", I can", " look up", " the free times on Friday."]
    claimed = ["Great, Alex.", " I've found the free times for Friday.", " Let me look up the next one."]
    model = Model([announcement, claimed, ["Friday has 9", " and 2:30."]], [written])
    turns = ToolTurns("c", [SLOTS], model, Runner(ToolResult("ok", {"free": ["9:00", "14:30"]})), Sink())
    said, _ = await reply(turns, [{"role": "user", "content": "Anything Friday?"}])
    assert said.endswith("Let me look up the next one. Friday has 9 and 2:30."), said
    told = {
        "role": "assistant",
        "content": "Great, Alex. I've found the free times for Friday. Let me look up the next one.",
    }
    assert model.seen[2] == [*model.seen[1], told, tool_calls.NUDGE]
    model = Model([announcement, ["It's on its way", " and arrives Friday."]], [written])  # an answer: no nudge
    turns = ToolTurns("c", [SLOTS], model, Runner(ToolResult("ok", {"status": "in transit"})), Sink())
    said, _ = await reply(turns, [{"role": "user", "content": "Anything Friday?"}])
    assert said.endswith("It's on its way and arrives Friday.") and len(model.seen) == 2


async def test_a_made_up_tool_response_is_not_spoken_and_the_tool_is_called() -> None:
    written = '{"name": "find_slots", "arguments": {"day": "Friday"}}'
    made_up = ["Friday", " is", " open.", " <", "tool", "_response", ">", '{"day"']
    model = Model([made_up, ["Friday has 9."]], [written])
    runner = Runner(ToolResult("ok", {"free": ["9:00"]}))
    said, _ = await reply(ToolTurns("c", [SLOTS], model, runner, Sink()), [{"role": "user", "content": "Friday?"}])
    assert "<" not in said and '"day"' not in said and said.endswith("Friday has 9.")
    assert len(runner.ran) == 1 and model.openings == ["Friday is open.\n<tool_call>\n"]


async def test_an_announcement_that_ends_the_call_is_taken_as_the_call_and_does_not_end_it() -> None:
    written = '{"name": "find_slots", "arguments": {"day": "Friday"}}'
    model = Model([["Sure, I can look up the free times on Friday.", " <end", "_call>"], ["Friday has 9."]], [written])
    runner = Runner(ToolResult("ok", {"free": ["9:00"]}))
    said, _ = await reply(ToolTurns("c", [SLOTS], model, runner, Sink()), [{"role": "user", "content": "Friday?"}])
    assert "<end_call>" not in said and said.endswith("Friday has 9.") and len(runner.ran) == 1


async def test_a_goodbye_is_not_taken_for_a_call() -> None:
    model = Model([["I'll check nothing more. Goodbye! <end_call>"]], [])
    turns = ToolTurns("c", [SLOTS], model, Runner(ToolResult("ok")), Sink())
    said, record = await reply(turns, [{"role": "user", "content": "Bye."}])
    assert said.endswith("<end_call>") and record == [] and model.openings == []


async def test_a_confirmation_counts_across_an_announced_call() -> None:
    written = '{"name": "book", "arguments": {"day": "Friday", "time": "2:30"}}'
    model = Model([["Great, I'll book it now."], ["Done."]], [written])
    runner = Runner(ToolResult("ok", {"booked": True}))
    turns = ToolTurns("c", [BOOK], model, runner, Sink())
    await reply(turns, [*ASKED, {"role": "user", "content": "Yes, please."}])
    assert len(runner.ran) == 1  # the yes was to the question before it, whatever the reply began with


async def test_a_slow_tool_gets_the_filler_and_a_failure_is_told_to_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tool_calls, "FILLER_AFTER_S", 0.05)
    written = '{"name": "find_slots", "arguments": {"day": "Friday"}}'
    model = Model([["{"], ["Sorry", ",", " I", " could", " not", " check."]], [written])
    runner = Runner(ToolResult("timeout", error="no answer within 0.5 s"), delay=0.2)
    turns = ToolTurns("c", [SLOTS], model, runner, Sink())
    said, record = await reply(turns, [{"role": "user", "content": "Anything Friday?"}])
    assert said.startswith(FILLER) and said.endswith("could not check.")
    assert json.loads(record[1]["content"])["error"] == "timeout"


async def test_a_write_without_a_clear_yes_is_not_run_and_the_model_is_told_to_ask() -> None:
    written = '{"name": "book", "arguments": {"day": "Friday", "time": "2:30"}}'
    for answer, runs in (("Yes, please.", True), ("No.", False), ("Hmm, wait.", False)):
        model = Model([["{"], ["Done."]], [written])
        runner = Runner(ToolResult("ok", {"booked": True}))
        turns = ToolTurns("c", [BOOK], model, runner, Sink())
        _said, record = await reply(turns, [*ASKED, {"role": "user", "content": answer}])
        assert bool(runner.ran) is runs, answer
        if not runs:
            assert json.loads(record[1]["content"])["error"] == "confirmation_required"


async def test_a_tool_waits_for_the_callers_turn_to_be_over() -> None:
    written = '{"name": "find_slots", "arguments": {"day": "Friday"}}'
    model = Model([["{"], ["Ok."]], [written])
    runner = Runner(ToolResult("ok", {}))
    turns = ToolTurns("c", [SLOTS], model, runner, Sink())
    released: asyncio.Event = asyncio.Event()
    task = asyncio.create_task(_drain(turns.stream([{"role": "user", "content": "Friday?"}], released, [])))
    await asyncio.sleep(0.05)
    assert runner.ran == []  # a speculative reply: the caller may go on talking
    released.set()
    await task
    assert len(runner.ran) == 1


async def _drain(pieces: AsyncIterator[str]) -> None:
    async for _ in pieces:
        pass


async def test_without_a_runner_or_http_tools_nothing_is_offered() -> None:
    model = Model([["Hi."]], [])
    assert not ToolTurns("c", [END], model, Runner(ToolResult("ok")), Sink()).active
    assert not ToolTurns("c", [SLOTS], model, None, Sink()).active
    assert model.offered == []


def test_an_argument_with_digits_nobody_said_is_not_sent() -> None:
    asked = [{"role": "user", "content": "Where is my parcel?"}, {"role": "assistant", "content": "Let me check."}]
    assert unfounded({"order_number": "12345"}, asked) == "order number"
    told = [*asked, {"role": "user", "content": "It's 4 4 1 7."}]
    assert unfounded({"order_number": "4417"}, told) is None  # said digit by digit
    assert unfounded({"order_number": "4-4-1-7", "day": "Friday"}, told) is None
    assert unfounded({"time": "2:30 pm"}, [{"role": "user", "content": "Two thirty works."}]) == "time"
    free = {"role": "tool", "content": '{"free_times": ["9:00 am", "2:30 pm"]}'}  # read from a lookup: said
    assert unfounded({"time": "2:30 pm"}, [free, {"role": "user", "content": "Two thirty works."}]) is None


async def test_a_made_up_argument_is_told_to_the_model_and_no_request_is_made() -> None:
    written = '{"name": "find_slots", "arguments": {"day": "the 12th"}}'
    model = Model([["{"], ["Which day would you like?"]], [written])
    runner = Runner(ToolResult("ok", {}))
    _said, record = await reply(ToolTurns("c", [SLOTS], model, runner, Sink()), [{"role": "user", "content": "Hi."}])
    assert runner.ran == [] and "nobody said the day" in json.loads(record[1]["content"])["message"]


TRANSFER = {
    "type": "builtin",
    "name": "transfer_call",
    "builtin": "transfer_call",
    "description": "Transfer the caller to a person at the front desk",
    "parameters": {"type": "object", "properties": {}},
    "config": {"destination": "+12025550107", "mode": "cold"},
}


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Sure, let me transfer you to the front desk.", True),
        ("I'll put you through now.", True),
        ("I'll press 2 for support.", True),
        ("The front desk opens at nine.", False),
    ],
)
def test_an_announced_transfer_or_key_press_is_told_from_an_answer(said: str, expected: bool) -> None:
    assert announces(said, [TRANSFER]) is expected


def test_the_lines_built_ins_are_offered_to_the_model_and_end_call_is_not() -> None:
    dtmf = {**TRANSFER, "name": "keys", "builtin": "send_dtmf", "config": {}}
    assert [t["name"] for t in callable_tools([TRANSFER, dtmf, END, SLOTS])] == [
        "transfer_call",
        "keys",
        "find_slots",
    ]


def test_digits_spelled_out_by_the_speech_to_text_count_as_said() -> None:
    menu = [{"role": "user", "content": "For sales, press one. For support, press two."}]
    assert unfounded({"digits": "2"}, menu) is None
    assert unfounded({"digits": "3"}, menu) == "digits"


async def test_a_tool_that_puts_the_caller_through_ends_the_reply_and_the_agent_says_no_more() -> None:
    written = '{"name": "transfer_call", "arguments": {}}'
    model = Model([["Sure, let me transfer you to the front desk."], ["Never spoken."]], [written])
    runner = Runner(ToolResult("ok", {"transferred_to": "+12025550107"}, ends_call="transferred"))
    turns = ToolTurns("c", [TRANSFER], model, runner, Sink())
    said, record = await reply(turns, [{"role": "user", "content": "Can I talk to a person?"}])
    assert said.strip() == "Sure, let me transfer you to the front desk."
    assert turns.ends_call == "transferred" and runner.ran[0][0] == "transfer_call"
    assert len(model.seen) == 1 and record[1]["role"] == "tool"  # the model was not asked to speak again


async def test_a_phone_menu_gets_the_key_the_brief_asks_for_without_the_model() -> None:
    keys = {**TRANSFER, "name": "send_dtmf", "builtin": "send_dtmf", "config": {}}
    model, runner = Model([], []), Runner(ToolResult("ok", {"pressed": "2"}))
    turns = ToolTurns("c", [keys], model, runner, Sink(), brief="Reach support and ask about order 1042.")
    said, record = await reply(turns, [{"role": "user", "content": "Press 1 for sales. Press 2 for support."}])
    assert said == "" and runner.ran[0][:2] == ("send_dtmf", {"digits": "2"}) and model.seen == []
    assert record[1] == {"role": "tool", "content": '{"pressed": "2"}'}


async def test_a_menu_that_answered_the_call_gets_its_key_before_the_model_opens_the_call() -> None:
    keys = {**TRANSFER, "name": "send_dtmf", "builtin": "send_dtmf", "config": {}}
    runner = Runner(ToolResult("ok", {"pressed": "2"}))
    turns = ToolTurns("c", [keys], Model([], []), runner, Sink(), brief="Reach support.")
    menu = {"role": "user", "content": "Press 1 for sales. Press 2 for support."}
    opening = {"role": "user", "content": "(You placed this call and the person has just answered. Greet them.)"}
    await reply(turns, [menu, opening])
    assert runner.ran[0][1] == {"digits": "2"}
    keyed = ToolTurns("c", [keys], Model([["Thanks."]], []), Runner(ToolResult("ok")), Sink(), brief="Reach support.")
    said, _ = await reply(
        keyed, [menu, {"role": "assistant", "content": "Okay."}, {"role": "user", "content": "(pressed keys: 2)"}]
    )
    assert said == "Thanks."  # keys are no menu: the model answers
