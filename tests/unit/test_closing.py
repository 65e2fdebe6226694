"""A caller's goodbye closes the call: told apart from other words, and acted on by the conversation (no models:
a model that writes the given reply, a voice that makes silence)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from appliance.telephony.browser_media import BrowserMedia
from appliance.voice.brief import CallBrief
from appliance.voice.closing import caller_leaves, says_goodbye
from appliance.voice.reply import Reply
from appliance.voice.session import ConversationSession
from appliance.voice.speech_first import SpeechFirst
from appliance.voice.tool_calls import ToolTurns
from appliance.voice.turns import Turn


@pytest.mark.parametrize(
    "said",
    ["No, bye.", "No, that's all, bye.", "Thanks. Goodbye!", "Okay, bye-bye.", "Sorry, I don't do surveys, bye.",
     "He's not here and I'm busy by.", "I'm not paying that. The bill is wrong. No, bye.", "Sorry, I have to go."],
)  # fmt: skip
def test_a_goodbye_is_the_caller_leaving(said: str) -> None:
    assert caller_leaves(said)


@pytest.mark.parametrize(
    "said",
    ["Yes, that works for me.", "Could you stop by tomorrow?", "I'll drop by.", "By Friday, I think.",
     "Bye. Oh wait, what time was it again?", "No, I can't make it. I will call you to book another day.",
     "Pay by card.", "Bye is not what I meant. Tell me the time first. And the place."],
)  # fmt: skip
def test_other_words_are_not(said: str) -> None:
    assert not caller_leaves(said)


def test_the_agents_goodbye_in_its_usual_words() -> None:
    assert all(map(says_goodbye, ["Goodbye!", "Thank you, bye.", "Take care.", "Have a great day!"]))
    assert not says_goodbye("If you have any other questions, feel free to ask.")


class Line(BrowserMedia):
    async def drained(self) -> None:  # nothing plays the audio out here
        return


class Model:
    def __init__(self, reply: str) -> None:
        self.reply = reply

    async def stream(
        self, call_id: str, messages: list[dict[str, str]], *, words_only: bool = False
    ) -> AsyncIterator[str]:
        for i, word in enumerate(self.reply.split(" ")):
            yield f" {word}" if i else word

    async def prefill(self, call_id: str, messages: list[dict[str, str]], so_far: str) -> None: ...


class Voice:
    def synthesize(self, said: str) -> bytes:
        return bytes(1600)


class Sink:
    def __init__(self) -> None:
        self.segments: list[tuple[str, str]] = []

    def segment(self, role: str, said: str, started: datetime, ended: datetime, source: str) -> None:
        self.segments.append((role, said))

    def event(self, kind: str, data: dict[str, Any]) -> None: ...
    def answered(self, verdict: Any, at_ms: int) -> None: ...
    def finish(self, latencies_ms: list[int], recording: Path | None) -> None: ...
    def recording_path(self) -> Path | None:
        return None


async def answer(caller: str, model_reply: str) -> tuple[ConversationSession, Sink]:
    sink, model = Sink(), Model(model_reply)
    engine = SimpleNamespace(llm=model, priority=SpeechFirst(), stt=object())
    conversation = ConversationSession(CallBrief("call-1", "outbound"), Line(), engine, sink)  # type: ignore[arg-type]
    conversation.voice.tts = Voice()  # type: ignore[assignment]
    conversation.replies.tools = ToolTurns("call-1", [], model, None, sink)  # type: ignore[arg-type]
    conversation.ended = asyncio.get_running_loop().create_future()
    reply = Reply(caller, Turn(), asyncio.get_running_loop().time())
    reply.released.set()
    await conversation.replies._generate(reply)
    return conversation, sink


async def test_a_reply_to_a_goodbye_that_does_not_take_leave_gets_a_goodbye_and_ends_the_call() -> None:
    conversation, sink = await answer("No, bye.", "If you have any other questions, feel free to ask.")
    assert sink.segments[-1] == ("agent", "If you have any other questions, feel free to ask. Goodbye.")
    assert conversation.ended is not None and conversation.ended.result() == "agent_ended"


async def test_a_reply_to_a_goodbye_that_takes_leave_ends_the_call_as_it_is() -> None:
    conversation, sink = await answer("Thanks, bye.", "You're welcome! Have a great day.")
    assert sink.segments[-1] == ("agent", "You're welcome! Have a great day.")
    assert conversation.ended is not None and conversation.ended.result() == "agent_ended"


async def test_a_reply_that_ends_the_call_without_taking_leave_gets_a_goodbye() -> None:
    ended_so = "Great! Let me know if you need anything else.<end_call>"  # the model's own end
    conversation, sink = await answer("Yes, that works for me.", ended_so)
    assert sink.segments[-1] == ("agent", "Great! Let me know if you need anything else. Goodbye.")
    assert conversation.ended is not None and conversation.ended.result() == "agent_ended"


async def test_a_reply_to_other_words_leaves_the_call_open() -> None:
    conversation, sink = await answer("Yes, that works for me.", "Great, thank you.")
    assert sink.segments[-1] == ("agent", "Great, thank you.")
    assert conversation.ended is not None and not conversation.ended.done()
    for task in list(conversation.tasks):
        task.cancel()
