"""Keys the caller presses: gathered into runs (voice/keypad.py), and a run as a turn of the conversation,
answered like a spoken one; a key while the agent talks stops it (no models: a scripted model and voice)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

from appliance.telephony.browser_media import BrowserMedia
from appliance.voice.brief import CallBrief
from appliance.voice.keypad import Entry, Keypad, as_turn
from appliance.voice.reply import Reply
from appliance.voice.session import ConversationSession
from appliance.voice.tool_calls import ToolTurns
from appliance.voice.turns import Turn
from tests.fakes import RecordingSink


async def test_a_run_ends_at_the_hash_key_at_once() -> None:
    runs: list[str] = []
    keypad = Keypad(runs.append, timeout_s=60)
    for key in "42":
        keypad.press(key)
    assert runs == []
    keypad.press("#")
    assert runs == ["42#"]  # no wait for the timeout
    keypad.press("7")
    keypad.press("#")
    assert runs == ["42#", "7#"]  # the next run starts afresh


async def test_a_run_ends_when_no_key_follows_for_the_timeout_counted_from_the_last_key() -> None:
    runs: list[str] = []
    keypad = Keypad(runs.append, timeout_s=0.1)
    keypad.press("1")
    await asyncio.sleep(0.06)
    keypad.press("2")
    await asyncio.sleep(0.06)  # 0.12 s after the first key, 0.06 s after the second: not over
    assert runs == []
    await asyncio.sleep(0.08)
    assert runs == ["12"]
    await asyncio.sleep(0.15)
    assert runs == ["12"]  # once


async def test_a_run_cut_by_the_end_of_the_call_is_no_turn_and_stray_events_are_no_keys() -> None:
    runs: list[str] = []
    keypad = Keypad(runs.append, timeout_s=0.05)
    keypad.press("x")
    keypad.press("")
    assert keypad.keys == ""
    keypad.press("5")
    keypad.close()
    await asyncio.sleep(0.1)
    assert runs == []


async def test_an_entry_ends_at_its_count_its_terminator_or_its_timeout_and_is_no_turn() -> None:
    runs: list[str] = []
    keypad = Keypad(runs.append, timeout_s=0.05)
    entry = keypad.collect(4, "", timeout_s=1)
    for key in "42719":
        keypad.press(key)
    assert entry.result() == Entry("4271", "count") and runs == []
    assert not keypad.collecting
    await asyncio.sleep(0.1)
    assert runs == ["9"]  # the key after the entry: a run again

    entry = keypad.collect(None, "#", timeout_s=1)
    for key in "0012#":
        keypad.press(key)
    assert entry.result() == Entry("0012", "terminator")

    entry = keypad.collect(6, "#", timeout_s=0.1, first_wait_s=0.3)
    await asyncio.sleep(0.2)  # the ask still plays: past the timeout, within the first wait
    keypad.press("5")
    await asyncio.sleep(0.05)
    keypad.press("6")
    assert not entry.done()
    await asyncio.sleep(0.15)
    assert entry.result() == Entry("56", "timeout")  # 0.1 s after the last key
    entry = keypad.collect(4, "#", timeout_s=0.05)
    await asyncio.sleep(0.1)
    assert entry.result() == Entry("", "timeout") and runs == ["9"]  # nothing typed


async def test_an_entry_is_given_up_when_its_wait_is_cancelled_or_the_call_ends() -> None:
    runs: list[str] = []
    keypad = Keypad(runs.append, timeout_s=0.05)
    keypad.press("1")  # a run begun before the agent asked is dropped, not answered later
    entry = keypad.collect(4, "#", timeout_s=1)
    entry.cancel()  # as when the reply waiting on it is cancelled: the caller spoke instead
    await asyncio.sleep(0)
    assert not keypad.collecting
    keypad.press("2")
    await asyncio.sleep(0.1)
    assert runs == ["2"]
    entry = keypad.collect(4, "#", timeout_s=1)
    keypad.close()
    assert entry.cancelled()


def test_a_run_reads_as_its_keys_one_by_one() -> None:
    assert as_turn("4271#") == "(pressed keys: 4 2 7 1 #)"
    assert as_turn("*1") == "(pressed keys: * 1)"


class Model:
    """Answers every prompt with `answer`, and keeps what it was asked."""

    def __init__(self, answer: str = "Thank you, Alex.") -> None:
        self.answer = answer
        self.asked: list[list[dict[str, str]]] = []
        self.go = asyncio.Event()
        self.go.set()

    async def stream(
        self, call_id: str, messages: list[dict[str, str]], *, words_only: bool = False
    ) -> AsyncIterator[str]:
        self.asked.append(messages)
        await self.go.wait()
        for i, word in enumerate(self.answer.split(" ")):
            yield f" {word}" if i else word

    async def prefill(self, call_id: str, messages: list[dict[str, str]], so_far: str) -> None: ...


class Voice:
    def synthesize(self, said: str) -> bytes:
        return bytes(1600)  # 100 ms


def conversation(model: Model | None = None) -> tuple[ConversationSession, BrowserMedia, RecordingSink, Model]:
    media, sink, model = BrowserMedia(), RecordingSink(), model or Model()
    engine = SimpleNamespace(llm=model, stt=object())
    session = ConversationSession(CallBrief("call-1", "inbound"), media, engine, sink)  # type: ignore[arg-type]
    session.voice.tts = Voice()  # type: ignore[assignment]
    session.replies.tools = ToolTurns("call-1", [], model, None, sink)  # type: ignore[arg-type]
    session.ended = asyncio.get_running_loop().create_future()
    return session, media, sink, model


async def settle(session: ConversationSession) -> None:
    while session.replies.running:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def test_a_run_of_keys_is_a_caller_turn_the_agent_answers_with_a_dtmf_segment_and_event() -> None:
    session, _media, sink, model = conversation()
    for key in "4271#":
        session.keys(key)
    await settle(session)
    assert model.asked and model.asked[-1][-1] == {"role": "user", "content": "(pressed keys: 4 2 7 1 #)"}
    assert sink.segments == [("user", "(pressed keys: 4 2 7 1 #)", "dtmf"), ("agent", "Thank you, Alex.", "tts")]
    assert [data["digits"] for kind, data in sink.events if kind == "dtmf"] == ["4271#"]
    turn = next(data for kind, data in sink.events if kind == "turn")
    assert turn["user"] == "(pressed keys: 4 2 7 1 #)" and session.replies.latencies == [turn["latency_ms"]]
    assert session.history[-2:] == [
        {"role": "user", "content": "(pressed keys: 4 2 7 1 #)"},
        {"role": "assistant", "content": "Thank you, Alex."},
    ]


async def test_a_key_while_the_agent_talks_stops_it_and_keeps_only_what_was_heard() -> None:
    session, media, sink, _model = conversation()
    reply = Reply("Yes, this is Alex.", None, 0.0)
    reply.task = asyncio.get_running_loop().create_future()  # type: ignore[assignment]  # still generating
    session.replies.current = reply
    session.speaker.say("Please type your PIN now, then press the hash key.", bytes(16000))  # 1 s on the line
    assert session.speaker.audible
    session.keys("4")
    assert not session.speaker.audible and not media.sending  # silenced at once, before the run is over
    assert reply.task.cancelled()  # the rest of the reply is dropped
    assert [kind for kind, _ in sink.events] == ["barge_in"]
    assert session.keypad.keys == "4"  # and the key still counts
    assert session.history[-1]["role"] == "assistant" and "hash key" not in session.history[-1]["content"]


async def test_keys_while_a_reply_is_still_being_written_hold_it_and_are_answered_with_it() -> None:
    """The caller's words and then their keys, before the agent said anything: one answer to both."""
    held = Model()
    held.go.clear()
    session, media, sink, model = conversation(held)
    session.replies.start("My PIN is", Turn(), release=True)  # their turn is over: the reply is released
    await asyncio.sleep(0.01)
    session.keys("1")
    assert not session.replies.current.released.is_set()  # type: ignore[union-attr]
    held.go.set()
    await asyncio.sleep(0.05)
    assert not media.sending  # written, but not spoken while the keys are gathered
    session.keys("#")
    await settle(session)
    assert model.asked[-1][-1]["content"] == "My PIN is (pressed keys: 1 #)"
    assert [s for s in sink.segments if s[0] == "user"] == [("user", "My PIN is (pressed keys: 1 #)", "dtmf")]


async def test_a_key_between_two_sentences_of_the_agent_stops_the_rest_and_keeps_the_first() -> None:
    session, media, sink, _model = conversation()
    reply = Reply("Yes, this is Alex.", None, 0.0)
    reply.task = asyncio.get_running_loop().create_future()  # type: ignore[assignment]  # the next sentence
    reply.first_audio_at = 0.0
    session.replies.current = reply
    session.speaker.say("Great.", bytes(160))
    media.clear()  # "Great." was played; the line is quiet while the model writes on
    session.speaker.heard.append("Great.")
    assert not session.speaker.audible
    session.keys("4")  # the agent was heard: its wait is a turn event
    assert reply.task.cancelled() and [kind for kind, _ in sink.events] == [
        "turn",
        "barge_in",
    ]  # it was heard: its wait counts
    assert session.history[-1] == {"role": "assistant", "content": "Great."}  # not held to merge with the keys


async def test_keys_the_agent_waits_for_are_its_entry_and_stop_nothing() -> None:
    session, media, sink, model = conversation()
    media.send(bytes(16000))  # the ask still plays
    entry = session.keypad.collect(4, "#", timeout_s=1)
    for key in "4271":
        session.keys(key)
    assert entry.result().digits == "4271"
    assert media.sending and not model.asked and sink.events == []  # no barge-in, no turn of their own
