"""How the console names a call's outcome: what a person running the box wants to read at a glance."""

from __future__ import annotations

from appliance.store.records import Call

_LABELS = {
    "queued": ("Queued", "neutral"),
    "initiated": ("Dialling", "live"),
    "ringing": ("Ringing", "live"),
    "in_progress": ("In progress", "live"),
    "completed": ("Completed", "good"),
    "busy": ("Busy", "warn"),
    "no_answer": ("No answer", "warn"),
    "canceled": ("Canceled", "neutral"),
}


def call_label(call: Call) -> tuple[str, str]:
    """(label, tone) for a call; tone is a CSS modifier: good, warn, bad, live or neutral."""
    if call.status == "no_answer" and call.answered_by == "machine":
        return ("Voicemail (message left)" if call.voicemail_left else "Voicemail", "warn")
    if call.status == "failed":
        reason = call.error_message or call.hangup_cause or call.error_code
        return (f"Failed: {reason}" if reason else "Failed", "bad")
    return _LABELS.get(call.status, (call.status, "neutral"))


OUTCOMES = ("answered", "voicemail", "busy", "no_answer", "failed")


def outcome(call_status: str, answered_by: str | None, answered_at: str | None) -> str | None:
    """The dashboard bucket of a finished call (None while it is live or when canceled)."""
    if call_status == "no_answer" and answered_by == "machine":
        return "voicemail"
    if call_status == "completed" or (call_status == "failed" and answered_at):
        return "answered"
    if call_status in ("busy", "no_answer", "failed"):
        return call_status
    return None
