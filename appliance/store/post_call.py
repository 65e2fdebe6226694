"""The post-call steps of an answered call (extraction, analysis, recording redaction): which calls wait for
them, the attempts used so far, and each step's outcome; the last step to finish queues `call.completed`."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from appliance.store import calls
from appliance.store.db import transaction
from appliance.store.jsoncol import dumps, loads
from appliance.store.records import Call


def pending_extractions(db: sqlite_utils.Database, limit: int = 10) -> list[str]:
    """Ended calls waiting for a post-call step (extraction, analysis, recording redaction), oldest first."""
    pending = " OR ".join(f"{step} = 'pending'" for step in calls.POST_CALL)
    sql = f"SELECT id FROM calls WHERE ({pending}) AND status = 'completed' ORDER BY seq LIMIT ?"
    return [r[0] for r in db.execute(sql, [limit])]


def extraction_attempts(db: sqlite_utils.Database, call_id: str) -> tuple[int, str | None]:
    """Extraction attempts used on a call so far, from its events (so they survive a crash), and the last
    error seen. An attempt interrupted by a clean stop does not count; one the process died in does."""
    used, error = 0, None
    sql = (
        "SELECT type, data FROM call_events WHERE call_id = ? AND type IN "
        "('extraction_attempt', 'extraction_interrupted', 'extraction_error') ORDER BY seq"
    )
    for kind, data in db.execute(sql, [call_id]):
        if kind == "extraction_attempt":
            used += 1
        elif kind == "extraction_interrupted":
            used -= 1
        elif kind == "extraction_error":
            error = loads(data)["error"]
    return used, error


def finish_extraction(
    db: sqlite_utils.Database,
    call_id: str,
    result: dict[str, Any] | None,
    status: str,
    error: str | None,
    analysis: dict[str, Any] | None = None,
) -> Call | None:
    """Store the extraction's outcome (result and analysis) and queue `call.completed` in the same
    transaction, so the event carries them and a crash cannot leave one without the other. None (nothing
    changed) when the call is no longer pending."""
    with transaction(db):
        row = calls.find_row(db, call_id)
        if (
            row is None
            or "pending" not in (row["result_status"], row["analysis_status"])
            or row["status"] != "completed"
        ):
            return None
        update: dict[str, Any] = {}
        if row["result_status"] == "pending":
            update |= {"result": dumps(result), "result_status": status, "result_error": error}
        if row["analysis_status"] == "pending":
            update |= {"analysis": dumps(analysis), "analysis_status": status}
        calls.set_fields(db, call_id, **update)
        calls.add_event(db, call_id, "extraction", {"result_status": status, **({"error": error} if error else {})})
        if row["recording_redaction"] != "pending":
            calls.queue_webhook_event(db, call_id, "completed")
    return calls.get_call(db, call_id)


def finish_recording_redaction(db: sqlite_utils.Database, call_id: str, status: str, data: dict[str, Any]) -> None:
    """Record the recording's redaction (`done`, `skipped` when there is no recording, `failed`); the last
    post-call step to finish queues `call.completed`."""
    with transaction(db):
        row = calls.find_row(db, call_id)
        if row is None or row["recording_redaction"] != "pending":  # deleted meanwhile, or done
            return
        calls.set_fields(db, call_id, recording_redaction=status)
        calls.add_event(db, call_id, "recording_redaction", {"status": status, **data})
        if row["status"] == "completed" and "pending" not in (row["result_status"], row["analysis_status"]):
            calls.queue_webhook_event(db, call_id, "completed")
