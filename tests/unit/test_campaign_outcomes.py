"""A contact's outcome from its call, and the retry rule: `attempts` counts every dial, invalid numbers never
retry, an answered call cut by a restart is not dialled again (it ends `interrupted`)."""

from __future__ import annotations

from typing import Any

from appliance.campaigns.outcomes import DEFAULT_RETRY, backoff_seconds, outcome_of


def call(
    status: str, end_reason: str | None = None, error_code: str | None = None, answered_by: str | None = None
) -> dict[str, Any]:
    return {"status": status, "end_reason": end_reason, "error_code": error_code, "answered_by": answered_by}


def test_outcomes_from_calls() -> None:
    assert outcome_of(call("completed", "agent_ended", answered_by="human")) == "completed"
    assert outcome_of(call("completed", "opted_out", answered_by="human")) == "opted_out"
    assert outcome_of(call("no_answer", "voicemail", answered_by="machine")) == "voicemail"
    assert outcome_of(call("completed", "caller_hangup", answered_by="machine")) == "voicemail"  # a late verdict
    assert outcome_of(call("no_answer")) == "no_answer"
    assert outcome_of(call("busy")) == "busy"
    assert outcome_of(call("failed", error_code="invalid_number")) == "invalid"
    assert outcome_of(call("failed", error_code="carrier_unavailable")) == "failed"
    assert outcome_of(call("failed", error_code="appliance_restart")) == "restarted"
    assert outcome_of(call("failed", error_code="telephony_down")) == "failed"
    assert outcome_of(call("completed", "error", error_code="appliance_restart", answered_by="human")) == "interrupted"
    assert outcome_of(call("canceled", "canceled")) == "canceled"


def test_attempts_count_every_dial_including_the_first() -> None:
    retry = {**DEFAULT_RETRY, "busy": {"attempts": 3, "backoff_minutes": 10}}
    assert backoff_seconds("busy", 1, retry) == 600
    assert backoff_seconds("busy", 2, retry) == 600
    assert backoff_seconds("busy", 3, retry) is None


def test_a_call_cut_by_a_restart_before_the_answer_is_retried_by_the_failed_rule() -> None:
    retry = {**DEFAULT_RETRY, "failed": {"attempts": 2, "backoff_minutes": 1}}
    assert backoff_seconds("restarted", 1, retry) == 60
    assert backoff_seconds("restarted", 2, retry) is None


def test_final_outcomes_are_never_retried() -> None:
    for outcome in ("completed", "invalid", "interrupted", "opted_out", "canceled"):
        assert backoff_seconds(outcome, 1, DEFAULT_RETRY) is None
