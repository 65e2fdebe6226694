"""The `collect_digits` built-in: the agent waits for the caller to type digits, as one entry with the agent's
own end rules (a count, a terminator key, a timeout), instead of a keypad turn ended by `#` or a 2 s gap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from appliance.voice.call_audio import SAMPLE_RATE, CallMedia
from appliance.voice.keypad import Keypad
from appliance.voice.reply import ReplyVoice
from appliance.voice.tool_calls import ToolResult, ToolSink


class KeyEntry:
    def __init__(
        self, keypad: Keypad, voice: ReplyVoice, media: CallMedia, sink: ToolSink, ms: Callable[[], int]
    ) -> None:
        self.keypad = keypad
        self.voice = voice
        self.media = media
        self.sink = sink
        self.ms = ms  # the call's recording position

    def expect(self) -> None:
        self.voice.fillers = False  # the caller is about to type: "One moment." would talk over the ask

    def done(self) -> None:
        self.voice.fillers = True

    async def collect(self, config: dict[str, Any]) -> ToolResult:
        """Wait for the entry. The first key may come while the ask still plays: its wait counts from the end.
        (ToolTurns hushes the fillers around it: expect, done.)"""
        timeout = float(config["timeout_seconds"])
        still_to_play = self.media.queued_samples / SAMPLE_RATE
        entry = await self.keypad.collect(config["count"], config["terminator"], timeout, still_to_play + timeout)
        pressed = entry.digits + (config["terminator"] if entry.ended_by == "terminator" else "")
        self.sink.event("dtmf", {"digits": pressed, "at_ms": self.ms(), "collected": entry.ended_by})
        if not entry.digits:
            return ToolResult("error", error=f"the caller typed no digits within {timeout:g} s")
        return ToolResult("ok", result={"digits": entry.digits, "ended_by": entry.ended_by})
