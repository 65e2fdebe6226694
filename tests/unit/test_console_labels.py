"""How the console names call outcomes: the labels people read on the calls list and the dashboard."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from appliance.console.labels import call_label, outcome
from appliance.store.records import Call

BASE: dict[str, Any] = {
    "id": "c1", "agent_id": None, "direction": "outbound", "to_number": "+12025550101", "from_number": None,
    "status": "queued", "answered_by": None, "persona": None, "instructions": None, "prompt": None, "context": {},
    "returns": None, "tools": [], "language": "en", "voice": None, "metadata": {}, "result": None,
    "result_status": None, "reservation_status": "reserved",
    "result_error": None, "created_at": "2026-11-25T06:00:00.000Z", "started_at": None, "answered_at": None,
    "ended_at": None, "updated_at": "2026-11-25T06:00:00.000Z", "duration_seconds": None,
    "billed_duration_seconds": None, "billing_amount_milli_cents": None, "webhook_url": None,
    "webhook_status": "none", "webhook_error": None, "error_code": None, "error_message": None,
    "hangup_cause": None, "end_reason": None, "recording_url": None, "latency_ms": None,
    "voicemail_left": False, "trunk_id": None,
}  # fmt: skip


def call(**fields: Any) -> Call:
    return msgspec.convert({**BASE, **fields}, Call)


@pytest.mark.parametrize(
    ("fields", "label", "tone"),
    [
        ({"status": "no_answer", "answered_by": "machine"}, "Voicemail", "warn"),
        ({"status": "no_answer", "answered_by": "machine", "voicemail_left": True}, "Voicemail (message left)", "warn"),
        ({"status": "no_answer"}, "No answer", "warn"),
        ({"status": "busy"}, "Busy", "warn"),
        (
            {"status": "failed", "error_message": "the carrier is unavailable (503)"},
            "Failed: the carrier is unavailable (503)",
            "bad",
        ),
        (
            {"status": "failed", "hangup_cause": "34 Circuit/channel congestion"},
            "Failed: 34 Circuit/channel congestion",
            "bad",
        ),
        ({"status": "failed"}, "Failed", "bad"),
        ({"status": "in_progress"}, "In progress", "live"),
        ({"status": "completed"}, "Completed", "good"),
    ],
)
def test_each_outcome_has_the_label_people_expect(fields: dict[str, Any], label: str, tone: str) -> None:
    assert call_label(call(**fields)) == (label, tone)


def test_dashboard_buckets_count_a_machine_as_voicemail_and_a_dropped_answered_call_as_answered() -> None:
    assert outcome("no_answer", "machine", "2026-11-25T06:00:01Z") == "voicemail"
    assert outcome("failed", "human", "2026-11-25T06:00:01Z") == "answered"
    assert outcome("failed", None, None) == "failed"
    assert outcome("completed", "human", "2026-11-25T06:00:01Z") == "answered"
    assert outcome("canceled", None, None) is None
    assert outcome("ringing", None, None) is None
