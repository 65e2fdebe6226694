"""The opening of an outbound call without a `first_message`, written and synthesised while the line rings.

Written after the callee's "Hello?", the model's opening made a softphone's callee wait 2.5 s in silence:
the system prompt still had to be read, then the words written and synthesised. Ringing lasts seconds and
the CPU is idle then, so the dialer asks for the opening when the call starts ringing; the conversation
takes it when the callee has spoken (waiting for the rest if it is not ready yet), and the LLM context
already holds the call's system prompt for the replies after it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from appliance.voice import prompt, text
from appliance.voice.goal import goal_fields

if TYPE_CHECKING:
    from appliance.voice.engine import VoiceEngine

log = structlog.get_logger(__name__)
KEEP_S = 180.0  # an opening nobody took (the call was not answered) is dropped after this


@dataclass(frozen=True)
class Opening:
    system: str  # the system prompt it was written under: the conversation goes on with the same one
    text: str
    pcm: bytes


def wants_written_opening(call: dict[str, Any]) -> bool:
    return call.get("direction") == "outbound" and not (call.get("first_message") or "").strip()


async def write_opening(engine: VoiceEngine, call: dict[str, Any], now: datetime) -> Opening:
    assert engine.llm is not None
    goal = goal_fields(call.get("returns"))
    system = prompt.system_prompt(call, now, goal)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt.open_call(call, goal)}]
    written = "".join([piece async for piece in engine.llm.stream(call["id"], messages)])
    said, _end = text.strip_marks(written)  # an opening never ends the call
    if not text.words(said):
        raise ValueError("the model wrote an empty opening")
    tts = await engine.voice(call.get("voice"))
    return Opening(system, said, await asyncio.to_thread(tts.synthesize, said))


class Openings:
    """Openings being written for calls that ring, by call id."""

    def __init__(self, engine: VoiceEngine) -> None:
        self._engine = engine
        self._tasks: dict[str, asyncio.Task[Opening]] = {}

    def prepare(self, call: dict[str, Any]) -> None:
        if not wants_written_opening(call) or not self._engine.loaded or call["id"] in self._tasks:
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(write_opening(self._engine, call, datetime.now()), name=f"opening-{call['id']}")
        task.add_done_callback(_logged)
        self._tasks[call["id"]] = task
        loop.call_later(KEEP_S, self._drop, call["id"], task)

    def take(self, call_id: str) -> asyncio.Task[Opening] | None:
        return self._tasks.pop(call_id, None)

    def _drop(self, call_id: str, task: asyncio.Task[Opening]) -> None:
        if self._tasks.get(call_id) is task:
            del self._tasks[call_id]
            task.cancel()
            if self._engine.llm is not None:
                self._engine.llm.forget(call_id)


def _logged(task: asyncio.Task[Opening]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("voice.opening_failed", error=f"{type(exc).__name__}: {exc}")
