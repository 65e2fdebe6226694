"""Deleting a call's recording, its transcript, or the whole call, so that the bytes are gone from the disk.

A recording is overwritten with zeros (and synced) before it is unlinked. In SQLite, `secure_delete` (set
when the store is opened) zeroes what a DELETE frees, and a TRUNCATE checkpoint then folds the WAL into
the database and empties it, so no older copy of a page survives in either file. Each deletion is a call
event (`recording_deleted`, `transcript_deleted`) saying why: a request or the agent's retention.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from appliance.call_status import TERMINAL
from appliance.clock import iso, now_iso
from appliance.errors import Conflict
from appliance.store import calls
from appliance.store.db import transaction
from appliance.store.jsoncol import dumps, loads

# Event data keys that hold what was said or typed: turns, backchannels, barge-ins, the AMD's greeting words,
# cut replies and consultations (said, written), answers (to the recording notice, to a field's question),
# keys pressed, and tool calls' arguments and results (drawn from the caller's words).
SPOKEN_KEYS = ("user", "agent", "text", "heard", "detail", "said", "written", "answer", "digits", "arguments", "result")
CHUNK = 1 << 16


def erase_file(path: Path) -> None:
    """Overwrite a file with zeros, sync it, unlink it: the old blocks no longer hold the audio."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with path.open("r+b") as f:
        for _ in range(0, size, CHUNK):
            f.write(bytes(min(CHUNK, size - f.tell())))
        f.flush()
        os.fsync(f.fileno())
    path.unlink()


def compact(db: sqlite_utils.Database) -> None:
    """Fold the WAL into the database file and empty it: deleted rows leave no copy in the WAL's frames."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _ended(db: sqlite_utils.Database, call_id: str) -> dict[str, Any]:
    row = calls.call_row(db, call_id)
    if row["status"] not in TERMINAL:
        raise Conflict(f"call {call_id} is still {row['status']}: delete it once it has ended", code="call_in_progress")
    return row


def delete_recording(db: sqlite_utils.Database, call_id: str, reason: str) -> None:
    row = _ended(db, call_id)
    if row["recording_path"]:
        erase_file(Path(row["recording_path"]))
    with transaction(db):
        calls.set_fields(db, call_id, recording_path=None, recording_expires_at=None, recording_deleted_at=now_iso())
        calls.add_event(db, call_id, "recording_deleted", {"reason": reason})
    compact(db)


def delete_transcript(db: sqlite_utils.Database, call_id: str, reason: str) -> None:
    """The transcript's segments, and the words in the call's events."""
    _ended(db, call_id)
    with transaction(db):
        db.execute("DELETE FROM transcript_segments WHERE call_id = ?", [call_id])
        for seq, data in db.execute("SELECT seq, data FROM call_events WHERE call_id = ?", [call_id]).fetchall():
            fields = loads(data)
            if any(key in fields for key in SPOKEN_KEYS):
                kept = {k: v for k, v in fields.items() if k not in SPOKEN_KEYS}
                db.execute("UPDATE call_events SET data = ? WHERE seq = ?", [dumps(kept), seq])
        calls.set_fields(db, call_id, transcript_expires_at=None, transcript_deleted_at=now_iso())
        calls.add_event(db, call_id, "transcript_deleted", {"reason": reason})
    compact(db)


def delete_call(db: sqlite_utils.Database, call_id: str) -> None:
    """The call and everything about it: recording, transcript, events, webhook events and deliveries."""
    row = _ended(db, call_id)
    if row["recording_path"]:
        erase_file(Path(row["recording_path"]))
    with transaction(db):
        db.execute(
            "DELETE FROM webhook_deliveries WHERE event_id IN (SELECT id FROM webhook_events WHERE call_id = ?)",
            [call_id],
        )
        for table in ("webhook_events", "call_events", "transcript_segments"):
            db.execute(f"DELETE FROM {table} WHERE call_id = ?", [call_id])
        db.execute("DELETE FROM calls WHERE id = ?", [call_id])
    compact(db)


def expired(db: sqlite_utils.Database, at: datetime) -> tuple[list[str], list[str]]:
    """(calls whose recording expired, calls whose transcript expired) at `at`."""
    stamp = iso(at)
    recordings = [
        r[0]
        for r in db.execute(
            "SELECT id FROM calls WHERE recording_expires_at <= ? AND recording_path IS NOT NULL ORDER BY seq", [stamp]
        )
    ]
    transcripts = [
        r[0]
        for r in db.execute(
            "SELECT id FROM calls WHERE transcript_expires_at <= ? AND transcript_deleted_at IS NULL "
            "AND EXISTS (SELECT 1 FROM transcript_segments s WHERE s.call_id = calls.id) ORDER BY seq",
            [stamp],
        )
    ]
    return recordings, transcripts
