"""The collect_digits built-in in a reply: the model asks, calls it, the caller's keys (the real keypad) are its
result, with no "One moment." over the typing, and the keys are recorded (no models: a scripted model)."""

from __future__ import annotations

import asyncio
import json

from appliance.tools import validate_tools
from appliance.voice import tool_calls
from appliance.voice.key_entry import KeyEntry
from appliance.voice.keypad import Keypad
from appliance.voice.tool_calls import ToolResult, ToolTurns
from tests.unit.test_tool_calls import Model, Runner, Sink

PIN = validate_tools([{"type": "builtin", "name": "collect_digits", "config": {"count": 4, "timeout_seconds": 1}}])


class Voice:
    fillers = True


class Line:
    queued_samples = 8000  # one second of the ask still to play


def entry(keypad: Keypad, sink: Sink) -> tuple[KeyEntry, Voice]:
    voice = Voice()
    return KeyEntry(keypad, voice, Line(), sink, ms=lambda: 1234), voice  # type: ignore[arg-type]


async def test_the_keys_typed_are_the_tools_result_and_nothing_fills_the_wait() -> None:
    written = '{"name": "collect_digits", "arguments": {}}'
    model = Model([["Please type your PIN.", "<tool_call>"], ["Thank you."]], [written])
    keypad, sink = Keypad(lambda keys: None), Sink()
    keys, voice = entry(keypad, sink)
    turns = ToolTurns("c", PIN, model, Runner(ToolResult("ok")), sink, keys=keys)
    released, record = asyncio.Event(), []
    released.set()
    pieces: list[str] = []

    async def speak() -> None:
        async for piece in turns.stream([{"role": "user", "content": "Yes, this is Alex."}], released, record):
            pieces.append(piece)

    replying = asyncio.create_task(speak())
    while not keypad.collecting:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    assert not voice.fillers
    await asyncio.sleep(1.2)  # past tool_calls' filler time
    for key in "42719":
        keypad.press(key)
    await replying
    said = "".join(pieces).replace(tool_calls.SAY_NOW, " ")
    assert said.split() == ["Please", "type", "your", "PIN.", "Thank", "you."]  # no filler
    assert json.loads(record[1]["content"]) == {"digits": "4271", "ended_by": "count"}
    assert voice.fillers  # back for the next tool
    assert ("dtmf", {"digits": "4271", "at_ms": 1234, "collected": "count"}) in sink.events
    turns.write_segments()
    (tool,) = [json.loads(text) for role, text in sink.segments if role == "tool"]
    assert tool["name"] == "collect_digits" and tool["result"]["digits"] == "4271"  # the extraction reads it here


async def test_no_key_in_time_is_the_tools_error_for_the_model_to_word() -> None:
    keypad, sink = Keypad(lambda keys: None), Sink()
    keys, _ = entry(keypad, sink)
    started = asyncio.get_running_loop().time()
    result = await keys.collect(PIN[0]["config"])
    waited = asyncio.get_running_loop().time() - started
    assert result.outcome == "error" and "no digits" in (result.error or "")
    assert 1.9 < waited < 2.5  # the second of the ask still to play, then the timeout


async def test_a_reply_thrown_away_before_it_waited_for_keys_leaves_the_fillers_on() -> None:
    """The reply was speculative: the caller went on talking before its turn was over, so it never ran."""
    written = '{"name": "collect_digits", "arguments": {}}'
    model = Model([["Please type your PIN.", "<tool_call>"]], [written])
    keypad, sink = Keypad(lambda keys: None), Sink()
    keys, voice = entry(keypad, sink)
    turns = ToolTurns("c", PIN, model, Runner(ToolResult("ok")), sink, keys=keys)

    async def speak() -> None:  # never released
        async for _ in turns.stream([{"role": "user", "content": "Yes, this is"}], asyncio.Event(), []):
            pass

    replying = asyncio.create_task(speak())
    async with asyncio.timeout(5):
        while voice.fillers:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    replying.cancel()
    await asyncio.gather(replying, return_exceptions=True)
    assert voice.fillers and not keypad.collecting
