"""In-call opt-out: the caller asks to be called no more, in words ("stop calling me", "take me off your
list") or with the opt-out key. The conversation reports what the caller said; the dialer, which owns the
call, watches each live call and puts the number on the do-not-call list at once, then ends the call."""

from __future__ import annotations

import re
from collections.abc import Callable

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
