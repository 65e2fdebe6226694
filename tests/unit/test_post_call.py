"""The post-call steps' bookkeeping in the store: `call.completed` is queued once, by the last step to finish,
and a step that is no longer pending changes nothing."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from appliance.store import calls, post_call
from appliance.store.db import open_db
from tests.unit.test_extraction_worker import ended_call


def completed_events(db: sqlite_utils.Database, call_id: str) -> int:
    return [e["type"] for e in calls.webhook_events(db, call_id)].count("call.completed")


def test_call_completed_waits_for_the_recording_redaction_after_the_extraction(tmp_path: Path) -> None:
    db = open_db(tmp_path / "x.db")
    call_id = ended_call(db, "Yes.", redact=["email"], recording="on")
    assert post_call.pending_extractions(db) == [call_id]
    call = post_call.finish_extraction(db, call_id, {"confirmed": True}, "completed", None)
    assert call is not None and call.result == {"confirmed": True}
    assert completed_events(db, call_id) == 0  # the recording is still to be redacted
    post_call.finish_recording_redaction(db, call_id, "done", {"spans": 2})
    assert completed_events(db, call_id) == 1
    assert post_call.pending_extractions(db) == []
    post_call.finish_recording_redaction(db, call_id, "failed", {})  # no longer pending: nothing changes
    assert calls.call_row(db, call_id)["recording_redaction"] == "done"
    assert completed_events(db, call_id) == 1


def test_a_finished_extraction_is_not_finished_again(tmp_path: Path) -> None:
    db = open_db(tmp_path / "x.db")
    call_id = ended_call(db, "Yes.")
    assert post_call.finish_extraction(db, call_id, {"confirmed": True}, "completed", None) is not None
    assert post_call.finish_extraction(db, call_id, {"confirmed": False}, "failed", "late") is None
    assert calls.get_call(db, call_id).result == {"confirmed": True}
    assert completed_events(db, call_id) == 1
    assert post_call.finish_extraction(db, "no-such-call", None, "failed", None) is None


def test_an_attempt_stopped_cleanly_is_given_back_and_the_last_error_is_kept(tmp_path: Path) -> None:
    db = open_db(tmp_path / "x.db")
    call_id = ended_call(db, "Yes.")
    for kind, data in (
        ("extraction_attempt", {"attempt": 1}),
        ("extraction_error", {"error": "first"}),
        ("extraction_attempt", {"attempt": 2}),
        ("extraction_interrupted", {}),
        ("extraction_attempt", {"attempt": 2}),
        ("extraction_error", {"error": "second"}),
    ):
        calls.add_event(db, call_id, kind, data)
    assert post_call.extraction_attempts(db, call_id) == (2, "second")
