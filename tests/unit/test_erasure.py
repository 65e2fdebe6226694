"""Deletion and retention: what is deleted is gone from the bytes of the database, its WAL and the disk."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlite_utils

from appliance.clock import now
from appliance.errors import Conflict
from appliance.results.retention import purge_expired
from appliance.store import agents, calls, erasure
from appliance.store.db import open_db
from appliance.store.records import TranscriptSegment

SECRET = "zebra-quartz-4417"  # a token that can only be in the files if the transcript is


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "t.db")


def raw(tmp_path: Path) -> bytes:
    """Every byte SQLite keeps on disk for the store."""
    return b"".join(p.read_bytes() for p in tmp_path.glob("t.db*"))


def ended_call(db: sqlite_utils.Database, tmp_path: Path, **agent: object) -> str:
    agent_id = agents.create_agent(db, {"name": "a", "type": "outbound", **agent})
    call, _ = calls.create_call(
        db,
        agent=agents.agent_row(db, agent_id),
        direction="outbound",
        to_number="+12025550101",
        from_number=None,
        trunk_id=None,
        instructions=None,
        context={},
        metadata={},
        webhook_url=None,
    )
    for status in ("initiated", "ringing", "in_progress"):
        calls.transition(db, call.id, status)
    for i, role in enumerate(("agent", "user"), start=1):
        segment = TranscriptSegment(
            sequence_no=i,
            role=role,  # type: ignore[arg-type]
            text=f"my passphrase is {SECRET}",
            started_at="2026-01-01T00:00:00.000Z",
            ended_at="2026-01-01T00:00:01.000Z",
            duration_ms=1000,
            source="stt",
        )
        calls.add_segment(db, call.id, segment)
    calls.add_event(db, call.id, "turn", {"latency_ms": 500, "user": f"it is {SECRET}", "agent": "noted"})
    calls.add_event(db, call.id, "reply_cut", {"said": "Noted.", "written": f"Noted: {SECRET}.", "at_ms": 9})
    calls.add_event(db, call.id, "field_answered", {"field": "phrase", "answer": f"It is {SECRET}.", "at_ms": 9})
    calls.add_event(db, call.id, "dtmf", {"digits": "4271#", "at_ms": 9})
    calls.add_event(db, call.id, "tool_call", {"name": "look_up", "arguments": {"phrase": SECRET}, "ms": 40})
    recording = tmp_path / "recordings" / f"{call.id}.wav"
    recording.parent.mkdir(exist_ok=True)
    recording.write_bytes(b"RIFF" + SECRET.encode() * 100)
    calls.set_fields(db, call.id, recording_path=str(recording))
    calls.transition(db, call.id, "completed")
    return call.id


def test_deleting_the_transcript_removes_its_words_from_the_files(db: sqlite_utils.Database, tmp_path: Path) -> None:
    call_id = ended_call(db, tmp_path)
    assert SECRET.encode() in raw(tmp_path)
    erasure.delete_transcript(db, call_id, "request")
    assert calls.transcript(db, call_id).segments == []
    events = calls.events(db, call_id).events
    turn = next(e for e in events if e.type == "turn")
    assert turn.data == {"latency_ms": 500}  # the timing stays, the words go
    kept = {e.type: e.data for e in events}
    assert kept["reply_cut"] == {"at_ms": 9} and kept["field_answered"] == {"field": "phrase", "at_ms": 9}
    assert kept["dtmf"] == {"at_ms": 9} and kept["tool_call"] == {"name": "look_up", "ms": 40}
    assert events[-1].type == "transcript_deleted" and events[-1].data == {"reason": "request"}
    assert calls.get_call(db, call_id).transcript_deleted_at is not None
    assert SECRET.encode() not in raw(tmp_path)


def test_deleting_the_recording_overwrites_and_unlinks_it(db: sqlite_utils.Database, tmp_path: Path) -> None:
    call_id = ended_call(db, tmp_path)
    path = Path(calls.call_row(db, call_id)["recording_path"])
    erasure.delete_recording(db, call_id, "request")
    assert not path.exists()
    call = calls.get_call(db, call_id)
    assert call.recording_url is None and call.recording_deleted_at is not None
    assert calls.events(db, call_id).events[-1].type == "recording_deleted"


def test_erase_file_zeroes_the_bytes_before_unlinking(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    path.write_bytes(b"x" * 200_000)
    with path.open("rb") as still_open:  # a reader that had the file open sees what the disk now holds
        erasure.erase_file(path)
        assert still_open.read() == bytes(200_000)
    assert not path.exists()


def test_deleting_the_call_removes_every_row_and_byte(db: sqlite_utils.Database, tmp_path: Path) -> None:
    call_id = ended_call(db, tmp_path)
    erasure.delete_call(db, call_id)
    for table in ("calls", "call_events", "transcript_segments", "webhook_events"):
        column = "id" if table == "calls" else "call_id"
        assert db.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", [call_id]).fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM webhook_deliveries").fetchone()[0] == 0
    assert SECRET.encode() not in raw(tmp_path)
    assert not list((tmp_path / "recordings").iterdir())


def test_a_live_call_cannot_be_deleted(db: sqlite_utils.Database) -> None:
    agent_id = agents.create_agent(db, {"name": "a", "type": "outbound"})
    call, _ = calls.create_call(
        db,
        agent=agents.agent_row(db, agent_id),
        direction="outbound",
        to_number="+12025550101",
        from_number=None,
        trunk_id=None,
        instructions=None,
        context={},
        metadata={},
        webhook_url=None,
    )
    for delete in (erasure.delete_call, lambda d, c: erasure.delete_transcript(d, c, "request")):
        with pytest.raises(Conflict):
            delete(db, call.id)


def test_retention_deletes_each_part_when_its_days_have_run_out(db: sqlite_utils.Database, tmp_path: Path) -> None:
    kept = ended_call(db, tmp_path)  # no retention: kept for ever
    call_id = ended_call(db, tmp_path, recording_retention_days=0, transcript_retention_days=2)
    forgotten: list[str] = []
    assert purge_expired(db, now(), forgotten.append) == (1, 0)
    assert calls.get_call(db, call_id).recording_url is None
    assert calls.transcript(db, call_id).segments
    assert purge_expired(db, now() + timedelta(days=1), forgotten.append) == (0, 0)
    assert purge_expired(db, now() + timedelta(days=2, minutes=1), forgotten.append) == (0, 1)
    assert forgotten == [call_id]
    assert calls.transcript(db, call_id).segments == []
    reasons = [(e.type, e.data) for e in calls.events(db, call_id).events if e.type.endswith("_deleted")]
    assert reasons == [("recording_deleted", {"reason": "retention"}), ("transcript_deleted", {"reason": "retention"})]
    assert calls.transcript(db, kept).segments and calls.get_call(db, kept).recording_url
    assert purge_expired(db, now() + timedelta(days=3650)) == (0, 0)  # nothing is deleted twice
