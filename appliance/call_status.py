"""Call statuses and their transitions: the one source of truth."""

from __future__ import annotations

ORDER = {"queued": 0, "initiated": 1, "ringing": 2, "in_progress": 3}
TERMINAL = frozenset({"completed", "busy", "no_answer", "failed", "canceled"})
STATUSES = (*ORDER, *sorted(TERMINAL))
# Terminal statuses reachable before an answer; `completed` and `failed` are the only ways out of
# `in_progress` (voicemail is the exception: an answered machine ends `no_answer`).
PRE_ANSWER_TERMINAL = frozenset({"busy", "no_answer", "failed", "canceled"})
WEBHOOK_EVENT = {
    "queued": "call.queued",
    "ringing": "call.ringing",
    "in_progress": "call.answered",
    "completed": "call.completed",
    "busy": "call.busy",
    "no_answer": "call.no_answer",
    "failed": "call.failed",
    "canceled": "call.canceled",
}


def can_move(current: str, new: str) -> bool:
    """True when `current → new` is allowed: forward only, and never out of a terminal status."""
    if current in TERMINAL:
        return False
    if new in TERMINAL:
        if current == "in_progress":
            return new in ("completed", "failed", "no_answer")
        return new in PRE_ANSWER_TERMINAL
    return ORDER[new] > ORDER[current]
