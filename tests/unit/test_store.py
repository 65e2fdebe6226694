from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from appliance import call_status
from appliance.errors import Conflict, InvalidInput
from appliance.store import agents, calls, keys, numbers
from appliance.store.db import open_db, schema_version, transaction
from appliance.store.migrations import MIGRATIONS


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "t.db")


def _call(db: sqlite_utils.Database, **kw: object) -> calls.Call:
    agent_id = agents.create_agent(db, {"name": "a", "type": "outbound", "returns": {"ok": "boolean"}})
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
        **kw,
    )
    return call


def test_open_applies_every_migration_once_in_wal_mode(tmp_path: Path) -> None:
    db = open_db(tmp_path / "x.db")
    assert schema_version(db) == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = open_db(tmp_path / "x.db")
    assert again.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)


def test_transaction_rolls_back_everything_on_error(db: sqlite_utils.Database) -> None:
    with pytest.raises(RuntimeError), transaction(db):
        numbers.register_number(db, "+14155550123", None, None)
        raise RuntimeError("boom")
    assert numbers.list_numbers(db).data == []


def test_inbound_conflict_leaves_no_half_written_agent(db: sqlite_utils.Database) -> None:
    n = numbers.register_number(db, "+14155550123", None, None)
    agents.create_agent(db, {"name": "a", "type": "inbound", "number_ids": [n]})
    with pytest.raises(Conflict):
        agents.create_agent(db, {"name": "b", "type": "inbound", "number_ids": [n]})
    assert db.execute("SELECT COUNT(*) FROM agents").fetchone()[0] == 1


def test_unknown_number_on_create_names_its_index(db: sqlite_utils.Database) -> None:
    n = numbers.register_number(db, "+14155550123", None, None)
    with pytest.raises(InvalidInput) as info:
        agents.create_agent(db, {"name": "a", "type": "outbound", "number_ids": [n, "ghost"]})
    assert info.value.field == "number_ids[1]"
    assert db.execute("SELECT COUNT(*) FROM agent_numbers").fetchone()[0] == 0


def test_terminal_status_never_changes(db: sqlite_utils.Database) -> None:
    call = _call(db)
    assert calls.transition(db, call.id, "initiated") is not None
    assert calls.transition(db, call.id, "busy", hangup_cause="17") is not None
    assert calls.transition(db, call.id, "completed") is None
    assert calls.transition(db, call.id, "ringing") is None
    final = calls.get_call(db, call.id)
    assert final.status == "busy" and final.billed_duration_seconds == 0
    assert final.result == {"ok": None} and final.result_status == "skipped"


def test_billing_counts_answered_time_at_the_configured_rate(db: sqlite_utils.Database) -> None:
    call = _call(db)
    calls.transition(db, call.id, "initiated")
    calls.transition(db, call.id, "in_progress")
    db.execute("UPDATE calls SET answered_at = '2000-01-01T00:00:00.000Z' WHERE id = ?", [call.id])
    done = calls.transition(db, call.id, "completed", price_per_minute=600)
    assert done is not None and done.billed_duration_seconds > 60
    assert done.billing_amount_milli_cents == round(done.billed_duration_seconds * 10)
    assert done.result_status == "pending"  # extraction still to run


def test_webhook_outbox_gets_one_event_per_step_and_one_terminal(db: sqlite_utils.Database) -> None:
    call = _call(db)
    for status in ("initiated", "ringing", "in_progress"):
        calls.transition(db, call.id, status)
    calls.transition(db, call.id, "failed", error_code="telephony_down")
    calls.transition(db, call.id, "completed")
    kinds = [e["type"] for e in calls.webhook_events(db, call.id)]
    assert kinds == ["call.queued", "call.ringing", "call.answered", "call.failed"]


@pytest.mark.parametrize(
    ("current", "new", "ok"),
    [
        ("queued", "initiated", True),
        ("ringing", "initiated", False),
        ("in_progress", "busy", False),
        ("in_progress", "completed", True),
        ("queued", "canceled", True),
        ("completed", "failed", False),
    ],
)
def test_status_transitions(current: str, new: str, ok: bool) -> None:
    assert call_status.can_move(current, new) is ok


def test_idempotency_key_returns_the_first_call(db: sqlite_utils.Database) -> None:
    first = _call(db, idempotency_key="k1", request_hash="h")
    agent = agents.agent_row(db, first.agent_id)
    again, created = calls.create_call(
        db,
        agent=agent,
        direction="outbound",
        to_number="+12025550101",
        from_number=None,
        trunk_id=None,
        instructions=None,
        context={},
        metadata={},
        webhook_url=None,
        idempotency_key="k1",
        request_hash="h",
    )
    assert not created and again.id == first.id
    with pytest.raises(Conflict):
        calls.create_call(
            db,
            agent=agent,
            direction="outbound",
            to_number="+12025550101",
            from_number=None,
            trunk_id=None,
            instructions=None,
            context={},
            metadata={},
            webhook_url=None,
            idempotency_key="k1",
            request_hash="other",
        )


def test_keys_are_stored_hashed_and_revocation_is_immediate(db: sqlite_utils.Database) -> None:
    record, key = keys.create_key(db, "ci")
    assert key not in str(list(db.query("SELECT * FROM api_keys")))
    cache = keys.KeyCache()
    assert cache.verify(db, key) == record.id
    other = sqlite3.connect(db.conn.execute("PRAGMA database_list").fetchone()[2])
    other.execute("UPDATE api_keys SET revoked_at = 'now' WHERE id = ?", [record.id])
    other.commit()
    assert cache.verify(db, key) is None
    assert cache.verify(db, "sk_wrong") is None
