"""Where a conversation reports to (the `CallSink` port, which the store implements behind the telephony
side), and its transcript lines: times on the event loop's clock become wall-clock UTC, and an agent line
still playing ends when its queued audio will have played."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from appliance.voice.amd import Verdict
from appliance.voice.call_audio import SAMPLE_RATE, CallMedia


class CallSink(Protocol):
    def segment(self, role: str, said: str, started: datetime, ended: datetime, source: str) -> None: ...
    def event(self, kind: str, data: dict[str, Any]) -> None: ...
    def answered(self, verdict: Verdict, at_ms: int) -> None: ...
    def voicemail_left(self) -> None: ...
    def finish(self, latencies_ms: list[int], recording: Path | None) -> None: ...
    def recording_path(self) -> Path | None: ...  # None: this call keeps no recording


class Transcript:
    def __init__(self, sink: CallSink, media: CallMedia) -> None:
        self.sink = sink
        self.media = media

    def user(self, said: str, last_speech_at: float, source: str = "stt") -> None:
        ended = _utc(last_speech_at)
        self.sink.segment("user", said, ended, ended, source)

    def agent(self, said: str, started_at: float, seconds: float | None = None) -> None:
        """`seconds` of audio from `started_at`; None: what is still queued on the line plays to its end."""
        started = _utc(started_at)
        if seconds is None:
            seconds = (self.media.queued_samples / SAMPLE_RATE) + (asyncio.get_running_loop().time() - started_at)
        ended = datetime.fromtimestamp(started.timestamp() + seconds, UTC)
        self.sink.segment("agent", said, started, ended, "tts")


def _utc(loop_time: float) -> datetime:
    loop = asyncio.get_running_loop()
    return datetime.fromtimestamp(time.time() - (loop.time() - loop_time), UTC)
