"""The call's system prompt, read by the model while an outbound call rings.

Reading the system prompt (a few hundred tokens) is the slow part of a call's first reply, and it used to
start when the callee answered: a model-written opening then came seconds after their "Hello?", and under
load the first reply after a `first_message` waited for it too. Ringing lasts seconds and the CPU is idle
then, so the dialer hands the call over at "ringing"; the conversation takes the prepared prompt on answer
(waiting for the rest of the reading if it is not done) and its opening streams from a context that already
holds the call. Writing the whole opening while ringing was tried: with a 3 s ring it was not ready in time
and, spoken only once whole, reached the callee 10-19 s after "Hello?" (bench/scenarios.py). An inbound call is
let ring while its prompt is read (at most `INBOUND_RING_S`, telephony/answering.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from appliance.voice import prompt, tool_calls
from appliance.voice.brief import CallBrief
from appliance.voice.goal import goal_fields

if TYPE_CHECKING:
    from appliance.voice.engine import VoiceEngine

log = structlog.get_logger(__name__)
KEEP_S = 180.0  # a prompt nobody took (the call was not answered) is dropped after this


@dataclass(frozen=True)
class Prepared:
    system: list[dict[str, str]]  # the system messages as read: the conversation goes on with the same ones
    read: asyncio.Task[None]


class Ringing:
    """Prompts being read for calls that ring, by call id."""

    def __init__(self, engine: VoiceEngine) -> None:
        self._engine = engine
        self._calls: dict[str, Prepared] = {}

    def prepare(self, call: CallBrief) -> asyncio.Task[None] | None:
        """Start reading the call's prompt; the reading (None: no model to read it, or read already)."""
        llm = self._engine.llm
        if llm is None or not self._engine.loaded or call.id in self._calls:
            return None
        tools = tool_calls.offer(llm, call.id, call.tools)  # before the read: the prompt has them
        system = prompt.system_messages(call, datetime.now(), goal_fields(call.returns), tools=tools)
        loop = asyncio.get_running_loop()
        read = loop.create_task(llm.warm(call.id, system))
        read.add_done_callback(_logged)
        self._calls[call.id] = Prepared(system, read)
        loop.call_later(KEEP_S, self._drop, call.id)
        return read

    def take(self, call_id: str) -> Prepared | None:
        return self._calls.pop(call_id, None)

    def _drop(self, call_id: str) -> None:
        if (prepared := self._calls.pop(call_id, None)) is not None:
            prepared.read.cancel()
            if self._engine.llm is not None:
                self._engine.llm.forget(call_id)


def _logged(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("voice.ringing_read_failed", error=f"{type(exc).__name__}: {exc}")
