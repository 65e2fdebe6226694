"""In-call opt-out: the caller asks to be called no more, in words ("stop calling me", "take me off your
list") or with the opt-out key. The conversation reports what the caller said; the dialer, which owns the
call, watches each live call, puts the number on the do-not-call list at once, then ends the call with a
goodbye."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable

import sqlite_utils
import structlog

from appliance.store import calls as call_store
from appliance.store import dnc
from appliance.telephony.ari import AriClient
from appliance.telephony.ari_errors import AriError
from appliance.telephony.ari_events import PlaybackFinished
from appliance.voice.keypad import GATHER_TIMEOUT_S

log = structlog.get_logger(__name__)
GOODBYE = "sound:goodbye"  # Asterisk's own "Goodbye" (core sounds)
GOODBYE_TIMEOUT_S = 5.0

# Requests to stop, not mentions of calling: "don't call me again", "remove me from your list", "unsubscribe".
PHRASES = re.compile(
    r"\b(stop (calling|ringing|phoning|contacting)"
    r"|(do not|don'?t|never) (call|ring|phone|contact) (me|us|this number|here)"
    r"|take (me|us|this number|my number) off"
    r"|(remove|delete) (me|us|this number|my number)"
    r"|(put|add) (me|us|this number|my number) on (your|the) do not call"
    r"|do not call list|unsubscribe|opt (me )?out)\b",
    re.IGNORECASE,
)


def asks_to_opt_out(said: str) -> bool:
    """Whether a caller's words ask to be called no more (a keyword rule on the transcript)."""
    return PHRASES.search(said.replace("\u2019", "'")) is not None


class OptOuts:
    """Live calls being watched for an opt-out, by call id: the dialer watches, the conversation reports."""

    def __init__(self) -> None:
        self._watchers: dict[str, Callable[[str], None]] = {}

    def watch(self, call_id: str, on_opt_out: Callable[[str], None]) -> None:
        self._watchers[call_id] = on_opt_out

    def forget(self, call_id: str) -> None:
        self._watchers.pop(call_id, None)

    def heard(self, call_id: str, said: str) -> None:
        """The caller said `said` (a finished turn)."""
        on_opt_out = self._watchers.get(call_id)
        if on_opt_out is not None and asks_to_opt_out(said):
            on_opt_out("speech")


class OptOutKey:
    """The opt-out key counts pressed alone: after a quiet spell, and with no key after it for the keypad's
    gather time (voice/keypad.py). Inside a run of keys (a PIN with a 9 in it) it is a key like any other,
    handed on with the rest; a key that begins a run is held back that long to tell."""

    def __init__(
        self, key: str, on_opt_out: Callable[[], None], forward: Callable[[str], None], gap_s: float = GATHER_TIMEOUT_S
    ) -> None:
        self.key = key
        self.on_opt_out = on_opt_out
        self.forward = forward
        self.gap_s = gap_s
        self._last: float | None = None  # when the previous key came
        self._held: asyncio.TimerHandle | None = None

    def press(self, digit: str) -> None:
        loop = asyncio.get_running_loop()
        now, last = loop.time(), self._last
        self._last = now
        if self._held is not None:  # a key after the held one: it began a run
            self.close()
            self.forward(self.key)
        elif digit == self.key and (last is None or now - last >= self.gap_s):
            self._held = loop.call_later(self.gap_s, self._alone)
            return
        self.forward(digit)

    def _alone(self) -> None:
        self._held = None
        self.on_opt_out()

    def close(self) -> None:
        if self._held is not None:
            self._held.cancel()
            self._held = None


def list_caller(db: sqlite_utils.Database, call_id: str, source: str) -> None:
    """Put the other party of a call on the do-not-call list (the callee of an outbound call, the caller of an
    inbound one) and record it on the call."""
    row = call_store.call_row(db, call_id)
    number = row["to_number"] if row["direction"] == "outbound" else row["from_number"]
    if number:
        dnc.add(db, number, "asked to be called no more during a call", source, call_id)
    call_store.add_event(db, call_id, "opt_out", {"source": source, "number": number})
    log.info("opt_out.listed", call_id=call_id, source=source)


async def say_goodbye(ari: AriClient, channel_id: str, bridge_id: str | None, media_channel_id: str | None) -> None:
    """Take the agent off the line (it may be mid-sentence), play a goodbye, hang up."""
    with contextlib.suppress(AriError, TimeoutError):
        if bridge_id and media_channel_id:
            await ari.remove_channel(bridge_id, media_channel_id)
        playback_id = f"goodbye-{channel_id}"
        with ari.subscribe(playback_id) as events:
            await ari.play(channel_id, GOODBYE, playback_id=playback_id)
            async with asyncio.timeout(GOODBYE_TIMEOUT_S):
                await events.wait_for(PlaybackFinished)
    with contextlib.suppress(AriError):
        await ari.hangup(channel_id)
