"""Reading ahead: while the line is otherwise idle, the model evaluates the next reply's prompt as far as it
is known — once the agent's reply is in the history, and as the caller speaks (their turn transcribed every
600 ms of speech, less often in a long one) — so that at the end of the turn only its last words are left."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from appliance.voice import text
from appliance.voice.engine import VoiceEngine
from appliance.voice.turns import Turn

log = structlog.get_logger(__name__)

READ_AHEAD_EVERY_MS = 600  # of the caller's speech between two early reads of their turn, at least…
READ_AHEAD_GROWTH = 1.5  # …and a long turn is read at 1.5 times the speech of the last read: Whisper reads the
# whole turn each time, so a monologue costs a bounded multiple of one read of it


class ReadAhead:
    def __init__(self, call_id: str, language: str, engine: VoiceEngine) -> None:
        self.call_id = call_id
        self.language = language
        self.engine = engine
        self.task: asyncio.Task[None] | None = None
        self.last_read: tuple[Turn | None, int] = (None, 0)  # the turn last read ahead, and its speech then

    def due(self, turn: Turn | None) -> bool:
        """Time to read the caller's turn so far: enough new speech since the last read, no read running, and
        no other call's speech or generation wanting the CPU. (The conversation checks its own state first.)"""
        llm = self.engine.llm
        if turn is None or llm is None or (self.task is not None and not self.task.done()):
            return False
        last, spoken = self.last_read
        spoken = spoken if turn is last else 0
        if turn.speech_ms < max(spoken + READ_AHEAD_EVERY_MS, spoken * READ_AHEAD_GROWTH):
            return False
        return not self.engine.priority.busy and llm.can_prefill(self.call_id)

    async def prefill(
        self, messages: Callable[[], list[dict[str, str]]], turn: Turn | None, moot: Callable[[Turn], bool]
    ) -> None:
        """Evaluate the prompt (`messages()`, as it is once the words are read) and, when `turn` is given, the
        caller's words so far (≈ 100 ms of Whisper on the idle CPU); `moot(turn)`: their turn is over meanwhile,
        and the reply reads it all."""
        assert self.engine.llm is not None and self.engine.stt is not None
        try:
            so_far = ""
            if turn is not None:
                self.last_read = (turn, turn.speech_ms)
                said = await asyncio.to_thread(self.engine.stt.transcribe, bytes(turn.audio), self.language)
                so_far = said.rstrip(" .?!…")  # Whisper ends a cut-off phrase with a stop the whole turn lacks
                if not text.words(so_far) or moot(turn):
                    return
            await self.engine.llm.prefill(self.call_id, messages(), so_far)
        except Exception as exc:  # only time is lost: the reply reads the whole prompt itself
            log.warning("voice.read_ahead_failed", call_id=self.call_id, error=f"{type(exc).__name__}: {exc}")
