"""A scripted phone line and a stub voice engine, for whole conversations in unit tests without aiortc,
Asterisk or models (the voice loop's ports: call_audio.CallMedia, transcript.CallSink, the engine's parts).

The caller's words travel as sound the stubs can read: each line the caller says is frames of one constant
sample value (its index in the script), the stub VAD hears any non-zero frame as speech, and the stub
Whisper reads the value back as the line's words. The agent's audio plays out in real time, as a line would."""

from __future__ import annotations

import array
import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from appliance.voice.call_audio import (
    FRAME_BYTES,
    FRAME_SECONDS,
    SAMPLE_BYTES,
    SAMPLE_RATE,
    AudioFrame,
    MediaClosed,
)
from appliance.voice.questions import QuestionBook
from appliance.voice.speech_first import SpeechFirst

VALUE_BASE = 1000  # line i of the script is sounded as samples of VALUE_BASE + i


class ScriptedLine:
    """A CallMedia whose far end is a scripted caller: `say(i, ms)` sends line i as `ms` of speech."""

    def __init__(self) -> None:
        self._frames: asyncio.Queue[AudioFrame | None] = asyncio.Queue()
        self._sequence = 0
        self._queued = 0  # samples the agent sent, in all
        self._started: float | None = None  # when the audio now queued began to play
        self._played_before = 0  # samples played before that
        self.closed = False
        self.agent_audio: list[bytes] = []

    # --- the caller's side ----------------------------------------------------------------------
    async def say(self, line: int, ms: int) -> None:
        value = array.array("h", [VALUE_BASE + line] * (FRAME_BYTES // SAMPLE_BYTES)).tobytes()
        loop = asyncio.get_running_loop()
        for _ in range(ms // 20):
            self._sequence += 1
            self._frames.put_nowait(AudioFrame(value, self._sequence * 160, self._sequence, loop.time()))
            await asyncio.sleep(FRAME_SECONDS)

    async def agent_speaks(self, timeout: float = 10) -> None:
        """Until the agent's audio is playing."""
        async with asyncio.timeout(timeout):
            while not self.sending:  # noqa: ASYNC110
                await asyncio.sleep(0.02)

    async def agent_quiet(self, for_s: float = 0.3, timeout: float = 10) -> None:
        """Until the agent has said something and then nothing for `for_s`."""
        async with asyncio.timeout(timeout):
            while not self.agent_audio or self.sending:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await asyncio.sleep(for_s)

    def hang_up(self) -> None:
        self.closed = True
        self._frames.put_nowait(None)

    # --- CallMedia --------------------------------------------------------------------------------
    async def recv(self) -> AudioFrame:
        if self.closed and self._frames.empty():
            raise MediaClosed()
        frame = await self._frames.get()
        if frame is None:
            raise MediaClosed()
        return frame

    def send(self, pcm: bytes) -> int:
        if self.closed:
            raise MediaClosed()
        now = asyncio.get_running_loop().time()
        if not self.sending:
            self._played_before, self._started = self._queued, now
        self._queued += len(pcm) // SAMPLE_BYTES
        self.agent_audio.append(pcm)
        return self._queued

    def clear(self) -> int:
        dropped = self._queued - self.samples_sent
        self._queued = self._played_before = self.samples_sent
        self._started = None
        return dropped

    async def drained(self) -> None:
        while self.sending:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    @property
    def samples_sent(self) -> int:
        if self._started is None:
            return self._queued
        played = int((asyncio.get_running_loop().time() - self._started) * SAMPLE_RATE)
        return min(self._queued, self._played_before + played)

    @property
    def queued_samples(self) -> int:
        return self._queued - self.samples_sent

    @property
    def sending(self) -> bool:
        return self.queued_samples > 0


class HearsAnySound:
    """The stub VAD: a frame with any non-zero sample is speech."""

    def is_speech(self, pcm: bytes) -> bool:
        return any(array.array("h", pcm))


@dataclass
class ScriptedWhisper:
    """Reads a caller's line back from its sample value."""

    lines: list[str]
    heard: list[str] = field(default_factory=list)

    def transcribe(self, pcm: bytes, language: str = "en") -> str:
        values = {v for v in array.array("h", pcm) if v}
        said = " ".join(self.lines[v - VALUE_BASE] for v in sorted(values) if 0 <= v - VALUE_BASE < len(self.lines))
        self.heard.append(said)
        return said


@dataclass
class ScriptedModel:
    """Writes its replies in order, word by word, whatever it is asked; keeps each prompt it was given."""

    replies: list[str]
    prompts: list[list[dict[str, str]]] = field(default_factory=list)

    async def stream(
        self, call_id: str, messages: list[dict[str, str]], *, words_only: bool = False
    ) -> AsyncIterator[str]:
        self.prompts.append(messages)
        reply = self.replies[min(len(self.prompts), len(self.replies)) - 1]
        for i, word in enumerate(reply.split(" ")):
            await asyncio.sleep(0.01)
            yield f" {word}" if i else word

    async def warm(self, call_id: str, messages: list[dict[str, str]]) -> None: ...
    async def prefill(self, call_id: str, messages: list[dict[str, str]], so_far: str) -> None: ...
    def can_prefill(self, call_id: str) -> bool:
        return False

    def forget(self, call_id: str) -> None: ...
    def offer(self, call_id: str, specs: list[dict[str, Any]]) -> bool:
        return False


class SilentVoice:
    """A voice whose every word is 100 ms of silence."""

    def synthesize(self, said: str) -> bytes:
        return bytes(SAMPLE_RATE // 10 * SAMPLE_BYTES * max(1, len(said.split())))


class NothingRinging:
    def take(self, call_id: str) -> None:
        return None


class StubEngine:
    """The VoiceEngine's surface a conversation uses, over the scripted parts."""

    def __init__(self, model: ScriptedModel, whisper: ScriptedWhisper) -> None:
        self.llm = model
        self.stt = whisper
        self.priority = SpeechFirst()
        self.ringing = NothingRinging()
        self.questions = QuestionBook(None)  # no model: only the questions an agent's `returns` states
        self.conversations: dict[str, Any] = {}
        self.error: str | None = None

    async def ready(self) -> bool:
        return True

    async def voice(self, voice_id: str | None) -> SilentVoice:
        return SilentVoice()


@dataclass
class RecordingSink:
    """A CallSink that keeps everything it is told."""

    segments: list[tuple[str, str, str]] = field(default_factory=list)  # role, words, source
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    latencies: list[int] | None = None

    def segment(self, role: str, said: str, started: datetime, ended: datetime, source: str) -> None:
        self.segments.append((role, said, source))

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    def answered(self, verdict: Any, at_ms: int) -> None:
        self.verdicts.append(verdict.answered_by)

    def voicemail_left(self) -> None:
        self.events.append(("voicemail_left", {}))

    def finish(self, latencies_ms: list[int], recording: Path | None) -> None:
        self.latencies = latencies_ms

    def recording_path(self) -> Path | None:
        return None
