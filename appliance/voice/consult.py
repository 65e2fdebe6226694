"""A word with a third party the line now carries: a warm transfer's destination, asked to take the call
while the caller holds. Their turns are the consultation's, not the conversation's: the session hands it
each turn's words, and nothing replies to them, interrupts for them or reads them ahead."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from appliance.voice import text
from appliance.voice.call_audio import CallMedia
from appliance.voice.reply import ReplyVoice
from appliance.voice.transcript import CallSink
from appliance.voice.tts import Synthesizer
from appliance.voice.turns import Turn


class Consultation:
    def __init__(self) -> None:
        self._answers: asyncio.Queue[str] = asyncio.Queue()
        self._open: tuple[Turn, str] | None = None  # a turn read at its pause, not yet over
        self.heard_any = False

    def heard(self, turn: Turn, said: str, ended: bool) -> None:
        """A turn's words, read at a pause (`ended`: the turn was already over then)."""
        if not text.words(said):
            return
        self.heard_any = True
        if ended:
            self._answers.put_nowait(said)
        else:
            self._open = (turn, said)

    def turn_ended(self, turn: Turn) -> None:
        if self._open is not None and self._open[0] is turn:
            self._answers.put_nowait(self._open[1])
            self._open = None

    def fresh(self) -> None:
        """Forget what was said so far (their greeting): the answer is what comes after the question."""
        while not self._answers.empty():
            self._answers.get_nowait()
        self._open = None

    async def ask(
        self,
        line: str,
        listen_s: float,
        *,
        tts: Synthesizer,
        voice: ReplyVoice,
        greeted: Callable[[Callable[[], bool]], Awaitable[None]],
        play: Callable[[str, bytes], float],
        media: CallMedia,
        sink: CallSink,
    ) -> str:
        """Say `line` once they have greeted (`greeted(heard)` waits for that), and return their answer ('' if
        none within `listen_s`; 0: say it, listen not)."""
        voice.fillers = False  # "One moment." is for the caller, not for the person asked
        try:
            pcm = await asyncio.to_thread(tts.synthesize, line)
            await greeted(lambda: self.heard_any)  # "Front desk, Dana speaking."
            self.fresh()
            play(line, pcm)
            await media.drained()
            heard = await self.answer(listen_s) if listen_s > 0 else ""
            sink.event("consult", {"said": line, "heard": heard})
            return heard
        finally:
            voice.fillers = True

    async def answer(self, within_s: float) -> str:
        """Their next finished turn's words ('' if none within `within_s`)."""
        try:
            async with asyncio.timeout(within_s):
                return await self._answers.get()
        except TimeoutError:
            return ""
