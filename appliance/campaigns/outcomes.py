"""A campaign contact's outcome from its call, and what follows it: another attempt after a back-off, or the end.

`attempts` in a retry rule counts every dial of the contact, the first included. The outcomes are listed, with
what each means, in appliance.store.campaign_records.ContactOutcome."""

from __future__ import annotations

from typing import Any

RETRYABLE = ("busy", "no_answer", "voicemail", "failed")
DEFAULT_RETRY: dict[str, dict[str, int]] = {
    "busy": {"attempts": 3, "backoff_minutes": 10},
    "no_answer": {"attempts": 3, "backoff_minutes": 30},
    "voicemail": {"attempts": 2, "backoff_minutes": 60},
    "failed": {"attempts": 2, "backoff_minutes": 5},
}
INVALID_NUMBER_CODES = frozenset({"invalid_number"})
OWN_STOP_CODES = frozenset({"appliance_restart", "appliance_stopped"})
RULE_OF = {"restarted": "failed"}  # the retry rule an outcome without its own follows


def outcome_of(call: dict[str, Any]) -> str:
    """The outcome of a terminal call row."""
    status = call["status"]
    if call["answered_by"] == "machine":  # whether the agent hung up at once or talked to the box till its end
        return "voicemail"
    if status == "completed":
        if call["end_reason"] == "opted_out":
            return "opted_out"
        # Answered, then cut by a restart, Asterisk going down, a media failure: someone may have talked.
        return "interrupted" if call["error_code"] else "completed"
    if status == "no_answer":
        return "voicemail" if call["end_reason"] == "voicemail" else "no_answer"
    if status == "failed":
        if call["error_code"] in INVALID_NUMBER_CODES:
            return "invalid"
        # Cut before an answer by the appliance's own stop or crash: not the line's fault, so the failure
        # breaker leaves it out (a restart would otherwise pause every campaign), but retried as `failed`.
        return "restarted" if call["error_code"] in OWN_STOP_CODES else "failed"
    return status  # busy, canceled


def backoff_seconds(outcome: str, attempts: int, retry: dict[str, dict[str, int]]) -> float | None:
    """Seconds until the next attempt after `attempts` dials ended with `outcome`, or None: the contact is done."""
    rule = retry.get(RULE_OF.get(outcome, outcome))
    if rule is None or attempts >= rule["attempts"]:
        return None
    return rule["backoff_minutes"] * 60.0
