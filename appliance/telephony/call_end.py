"""The one way a call in flight is closed in the store: its terminal status, end reason, billing and terminal
event, decided once from how it ended (the dialer's phone calls and the browser talks both end here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance.call_status import TERMINAL
from appliance.store import calls as store
from appliance.store.records import Call
from appliance.telephony.causes import Outcome


@dataclass(frozen=True)
class Ending:
    """How a call in flight ended, as its owner saw it."""

    answered: bool
    reason: str | None = None  # end_reason: caller_hangup, max_duration, voicemail, canceled, shutdown, error, ...
    canceled: bool = False  # a cancel was asked for (the API, shutdown): unanswered, the call is `canceled`
    outcome: Outcome | None = None  # never answered: what the network said (busy, no answer, a failure)
    error_code: str | None = None
    error_message: str | None = None
    hangup_cause: str | None = None


def record_end(db: sqlite_utils.Database, call_id: str, ending: Ending, price_per_minute: int) -> Call | None:
    """Give the call its terminal status; None when it already has one (a late or second ending changes nothing).

    Answered: `completed` and billed at `price_per_minute`, except an answering machine (`no_answer`, not billed).
    Not answered: `canceled` when asked, else the network's outcome, else `failed` with the error given.
    """
    if store.call_row(db, call_id)["status"] in TERMINAL:
        return None
    fields: dict[str, Any] = {
        key: value
        for key, value in (
            ("hangup_cause", ending.hangup_cause),
            ("error_code", ending.error_code or (ending.outcome.error_code if ending.outcome else None)),
            ("error_message", ending.error_message or (ending.outcome.error_message if ending.outcome else None)),
        )
        if value is not None
    }
    if ending.answered and ending.reason == "voicemail":
        # A machine answered: not a conversation, not billed, nothing to extract (API.md).
        return store.transition(db, call_id, "no_answer", end_reason="voicemail", answered_by="machine", **fields)
    if ending.answered:
        reason = ending.reason or ("canceled" if ending.canceled else "caller_hangup")
        return store.transition(
            db, call_id, "completed", end_reason=reason, price_per_minute=price_per_minute, **fields
        )
    if ending.canceled:
        return store.transition(db, call_id, "canceled", end_reason=ending.reason or "canceled", **fields)
    status = ending.outcome.status if ending.outcome is not None else "failed"
    return store.transition(db, call_id, status, **fields)
