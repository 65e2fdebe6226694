"""The agent's reply in flight: generated, held back until the caller's turn is over (released), spoken chunk
by chunk as the model streams, and what the caller heard of it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from appliance.voice import text
from appliance.voice.agenda import Step
from appliance.voice.call_audio import CallMedia
from appliance.voice.speaker import Speaker
from appliance.voice.tool_calls import HOLD_QUIET_S, HOLDING, SAY_NOW
from appliance.voice.tts import Synthesizer
from appliance.voice.turns import Turn, lead_quiet, lead_trimmed

RUNNING_DRY_SAMPLES = 2400  # 300 ms of audio left to play: about what a chunk's synthesis takes


@dataclass
class Reply:
    """An agent reply being generated (and maybe held back until the caller's turn is over)."""

    user_text: str
    turn: Turn | None  # the caller turn it answers (None: the agent opens or prompts)
    turn_end_at: float  # arrival (loop time) of the caller's last voiced frame
    released: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    spoken: list[str] = field(default_factory=list)
    full_text: str = ""
    end_call: bool = False
    first_audio_at: float | None = None
    first_token_at: float | None = None
    first_chunk_at: float | None = None  # the first speakable words were complete
    first_tts_ms: int | None = None
    started_at: float = 0.0
    committed: bool = False
    tool_messages: list[dict[str, str]] = field(default_factory=list)  # its tool calls and their results
    source: str = "stt"  # "dtmf": it answers keys the caller pressed (a turn with no audio)
    stt_ms: int = 0
    tts_ms: int = 0  # synthesis time of its chunks
    step: Step | None = None  # the field it asks about next, in its prepared words (agenda.py)
    grounds: str = ""  # all the model was given for it: a number it states must be in there (or a tool's result)
    withheld: list[str] = field(default_factory=list)  # its sentences not spoken: they stated a number nobody gave

    @property
    def answers_caller(self) -> bool:
        return self.turn is not None or self.source == "dtmf"

    @property
    def latency_ms(self) -> int:
        """What the caller waited: from the end of their turn to the first loud frame of the reply."""
        assert self.first_audio_at is not None
        return int((self.first_audio_at - self.turn_end_at) * 1000)

    def turn_record(self, said: str, now: float) -> dict[str, Any]:
        """The call's `turn` event for this reply, once committed (cut short by the caller or not, they heard
        it: the recording shows that wait too)."""
        return {
            "latency_ms": self.latency_ms,
            "stt_ms": self.stt_ms,
            "llm_first_token_ms": int(((self.first_token_at or now) - self.started_at) * 1000),
            "first_chunk_ms": int(((self.first_chunk_at or now) - self.started_at) * 1000),
            "first_tts_ms": self.first_tts_ms or 0,
            "tts_ms": self.tts_ms,
            "user": self.user_text if self.answers_caller else None,
            "agent": said,
        }


class ReplyVoice:
    """Says replies on the call's line as the model streams them: each sentence (or first short chunk) is
    synthesised as soon as it is complete and played once the reply is released."""

    def __init__(
        self,
        speaker: Speaker,
        media: CallMedia,
        spawn: Callable[[Coroutine[Any, Any, None]], Any],
        tts: Synthesizer | None = None,
    ) -> None:
        self.speaker = speaker
        self.media = media
        self.spawn = spawn  # the conversation's tasks: cancelled with it
        self.tts = tts  # the call's voice, once loaded
        self.fillers = True  # whether a running tool's quiet gets "One moment." (not while a transfer asks)

    async def say(self, reply: Reply, pieces: AsyncGenerator[str, None]) -> None:
        """Speak the model's text pieces (`SAY_NOW`: a tool runs now) up to the end of the stream or the
        end-of-call mark; the stream is closed before its last words are synthesised."""
        loop = asyncio.get_running_loop()
        chunker = text.SentenceChunker()
        async with contextlib.aclosing(pieces):
            async for piece in pieces:
                if piece == SAY_NOW:  # what was said so far is not to wait for the tool
                    reply.full_text += " "
                    for chunk in chunker.flush():
                        reply.tts_ms += await self.speak(reply, chunk)
                    self.spawn(self.hold_the_line(reply))
                    continue
                if reply.first_token_at is None:
                    reply.first_token_at = loop.time()
                reply.full_text += piece
                for chunk in chunker.push(piece):
                    reply.tts_ms += await self.speak(reply, chunk)
                if self._running_dry(reply) and (words := chunker.words_so_far()):
                    reply.tts_ms += await self.speak(reply, words)
                if text.END_CALL_MARK in reply.full_text:
                    break
        for chunk in chunker.flush():
            reply.tts_ms += await self.speak(reply, chunk)

    def _running_dry(self, reply: Reply) -> bool:
        """The reply's words so far are nearly all played and its next sentence is not written yet: a pause
        there is long enough for the caller to take it for the end of the turn (the simulated person takes
        0.9 s: "Great!" then a long second sentence still being written was cut that way, bench/scenarios.py)."""
        return bool(reply.spoken) and reply.released.is_set() and self.media.queued_samples < RUNNING_DRY_SAMPLES

    async def hold_the_line(self, reply: Reply) -> None:
        """A tool is running: once the words before it have been heard, a short filler, so that the caller,
        who takes a second of quiet for their turn (the simulated person: 0.9 s), hears the agent is on it."""
        for filler in HOLDING:
            said = reply.full_text
            await self.media.drained()
            await asyncio.sleep(HOLD_QUIET_S)
            if not self.fillers or reply.full_text != said or reply.committed or not reply.task or reply.task.done():
                return
            reply.full_text += f"{filler} "
            await self.speak(reply, filler)

    @staticmethod
    def _founded(reply: Reply, said: str) -> str:
        """`said` without its sentences that state a number nobody gave (kept in `reply.withheld`)."""
        if not reply.grounds:
            return said  # not the model's words: a filler, the goodbye
        grounds = "\n".join([reply.grounds, *(m["content"] for m in reply.tool_messages)])
        kept = []
        for sentence in text.sentences(said):
            if text.unfounded_figure(sentence, grounds) is None:
                kept.append(sentence)
            else:
                reply.withheld.append(sentence)
        return " ".join(kept)

    async def speak(self, reply: Reply, chunk: str) -> int:
        """Synthesise one chunk, then play it once the reply is released; returns the synthesis time (ms)."""
        assert self.tts is not None
        clean, _ = text.strip_marks(chunk)
        if not text.words(clean):
            return 0
        if text.speaks_as_model(clean) or (founded := self._founded(reply, clean)) != clean:
            # Never said, nor kept as said: the agent is who its persona says, and states only what it was given.
            if text.speaks_as_model(clean) or not text.words(founded):
                reply.full_text = reply.full_text.replace(chunk, "", 1).replace("  ", " ")
                return 0
            reply.full_text = reply.full_text.replace(clean, founded, 1)
            chunk = clean = founded
        if reply.first_chunk_at is None:
            reply.first_chunk_at = asyncio.get_running_loop().time()
        started = time.perf_counter()
        pcm = await asyncio.to_thread(self.tts.synthesize, clean)
        tts_ms = int((time.perf_counter() - started) * 1000)
        if reply.first_tts_ms is None:
            reply.first_tts_ms = tts_ms  # 0 for a kept phrase
        await reply.released.wait()
        first = not reply.spoken
        if first:
            self.speaker.reset()
            pcm = lead_trimmed(pcm)  # the caller is waiting: Piper opens with ≈ 60 ms of near-silence
        lead = lead_quiet(pcm)

        def heard_from(at: float) -> None:
            # Latency ends where the caller hears the agent: its first loud frame, when it plays (behind audio
            # still on the line, or held by a pause, that is later than now).
            reply.first_audio_at = at + lead

        self.speaker.say(clean, pcm, on_start=heard_from if first else None)
        reply.spoken.append(clean)
        return tts_ms
