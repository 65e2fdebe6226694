"""Campaign contacts and their attempts. A contact is leased to a call: in one transaction the call row is
written, the contact marked `dialing` with that call's id and the attempt counted. The dialer closes every
call (after a restart too), so a lease always ends, and a contact is never dialled while its call lives."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from appliance.call_status import TERMINAL
from appliance.clock import iso, now_iso
from appliance.errors import InvalidInput
from appliance.store.campaign_records import CampaignContact
from appliance.store.jsoncol import dumps, loads


@dataclass
class NewContact:
    to: str
    columns: dict[str, Any]
    line: int | None
    trunk_id: str | None
    outcome: str | None = None  # set: the contact is done before any dial (a duplicate)


def insert(db: sqlite_utils.Database, campaign_id: str, rows: list[NewContact]) -> None:
    stamp = now_iso()
    db["campaign_contacts"].insert_all(
        {
            "id": str(uuid.uuid4()),
            "campaign_id": campaign_id,
            "line": r.line,
            "to_number": r.to,
            "trunk_id": r.trunk_id,
            "columns": dumps(r.columns),
            "state": "done" if r.outcome else "pending",
            "outcome": r.outcome,
            "attempts": 0,
            "next_attempt_at": 0,
            "updated_at": stamp,
        }
        for r in rows
    )


def counters(db: sqlite_utils.Database, campaign_id: str) -> dict[str, Any]:
    by_state = dict.fromkeys(("pending", "dialing", "done"), 0)
    outcomes: dict[str, int] = {}
    sql = "SELECT state, outcome, COUNT(*) FROM campaign_contacts WHERE campaign_id = ? GROUP BY state, outcome"
    for state, outcome, n in db.execute(sql, [campaign_id]):
        by_state[state] += n
        if state == "done":
            outcomes[outcome] = n
    return {
        "total": sum(by_state.values()),
        "pending": by_state["pending"],
        "in_progress": by_state["dialing"],
        "completed": by_state["done"],
        "outcomes": outcomes,
    }


def due(db: sqlite_utils.Database, campaign_id: str, limit: int) -> list[dict[str, Any]]:
    """Pending contacts whose time has come, in list order."""
    sql = (
        "SELECT * FROM campaign_contacts WHERE campaign_id = ? AND state = 'pending' AND next_attempt_at <= ? "
        "ORDER BY seq LIMIT ?"
    )
    return list(db.query(sql, [campaign_id, time.time(), limit]))


def lease(db: sqlite_utils.Database, contact: dict[str, Any], call_id: str) -> None:
    """Inside the transaction that wrote the call: the contact now belongs to it."""
    db.execute(
        "UPDATE campaign_contacts SET state = 'dialing', call_id = ?, attempts = attempts + 1, detail = NULL, "
        "updated_at = ? WHERE id = ? AND state = 'pending'",
        [call_id, now_iso(), contact["id"]],
    )
    db["campaign_attempts"].insert(
        {
            "campaign_id": contact["campaign_id"],
            "contact_id": contact["id"],
            "call_id": call_id,
            "created_at": now_iso(),
        }
    )


def defer(db: sqlite_utils.Database, contact_id: str, until: float, detail: str) -> None:
    db.execute(
        "UPDATE campaign_contacts SET next_attempt_at = ?, detail = ?, updated_at = ? WHERE id = ?",
        [until, detail, now_iso(), contact_id],
    )


def finish(db: sqlite_utils.Database, contact_id: str, outcome: str, detail: str | None = None) -> None:
    db.execute(
        "UPDATE campaign_contacts SET state = 'done', outcome = ?, detail = ?, updated_at = ? WHERE id = ?",
        [outcome, detail, now_iso(), contact_id],
    )


def ended_leases(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Dialing contacts whose call has ended, with the call's fields the outcome is read from."""
    marks = ",".join("?" * len(TERMINAL))
    sql = (
        "SELECT cc.*, c.status, c.end_reason, c.error_code, c.answered_by FROM campaign_contacts cc "
        f"JOIN calls c ON c.id = cc.call_id WHERE cc.state = 'dialing' AND c.status IN ({marks}) ORDER BY cc.seq"
    )
    return list(db.query(sql, list(TERMINAL)))


def settle(db: sqlite_utils.Database, lease_row: dict[str, Any], outcome: str, retry_in: float | None) -> None:
    """Record the attempt's outcome; the contact waits for its next attempt, or is done."""
    db.execute(
        "UPDATE campaign_attempts SET outcome = ?, ended_at = ? WHERE call_id = ?",
        [outcome, now_iso(), lease_row["call_id"]],
    )
    if retry_in is None:
        finish(db, lease_row["id"], outcome)
        return
    db.execute(
        "UPDATE campaign_contacts SET state = 'pending', outcome = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
        [outcome, time.time() + retry_in, now_iso(), lease_row["id"]],
    )


def recent_outcomes(db: sqlite_utils.Database, campaign_id: str, after_seq: int, limit: int) -> list[tuple[str, str]]:
    """(outcome, call_id) of the campaign's last ended attempts made after `after_seq`, newest first."""
    sql = (
        "SELECT outcome, call_id FROM campaign_attempts WHERE campaign_id = ? AND seq > ? AND outcome IS NOT NULL "
        "ORDER BY seq DESC LIMIT ?"
    )
    return [(r[0], r[1]) for r in db.execute(sql, [campaign_id, after_seq, limit])]


def last_attempt_seq(db: sqlite_utils.Database, campaign_id: str) -> int:
    row = db.execute("SELECT MAX(seq) FROM campaign_attempts WHERE campaign_id = ?", [campaign_id]).fetchone()
    return int(row[0] or 0)


def cancel_pending(db: sqlite_utils.Database, campaign_id: str) -> None:
    db.execute(
        "UPDATE campaign_contacts SET state = 'done', outcome = 'canceled', updated_at = ? "
        "WHERE campaign_id = ? AND state = 'pending'",
        [now_iso(), campaign_id],
    )


def queued_call_ids(db: sqlite_utils.Database, campaign_id: str) -> list[str]:
    """Calls of the campaign not handed to Asterisk yet (a cancel ends them; live ones finish)."""
    sql = (
        "SELECT c.id FROM campaign_contacts cc JOIN calls c ON c.id = cc.call_id "
        "WHERE cc.campaign_id = ? AND cc.state = 'dialing' AND c.status = 'queued'"
    )
    return [r[0] for r in db.execute(sql, [campaign_id])]


def has_live_call(db: sqlite_utils.Database, number: str) -> bool:
    """Whether a call to `number` is queued or up: a second one at once would ring the same person twice."""
    marks = ",".join("?" * len(TERMINAL))
    sql = f"SELECT 1 FROM calls WHERE to_number = ? AND direction = 'outbound' AND status NOT IN ({marks}) LIMIT 1"
    return db.execute(sql, [number, *TERMINAL]).fetchone() is not None


def dials_since(db: sqlite_utils.Database, number: str, since: datetime) -> list[str]:
    """Start times of the outbound calls to `number` dialled (or about to be) since `since`, oldest first."""
    sql = (
        "SELECT COALESCE(started_at, created_at) AS at FROM calls WHERE to_number = ? AND direction = 'outbound' "
        "AND (started_at >= ? OR status = 'queued') ORDER BY at"
    )
    return [r[0] for r in db.execute(sql, [number, iso(since)])]


def list_contacts(
    db: sqlite_utils.Database, campaign_id: str, *, state: str | None, limit: int, starting_after: str | None
) -> tuple[list[CampaignContact], bool]:
    """In list order; `starting_after` is a contact id."""
    where, params = "campaign_id = ?", [campaign_id]
    if state is not None:
        where += " AND state = ?"
        params.append(state)
    if starting_after is not None:
        cursor = db.execute("SELECT seq FROM campaign_contacts WHERE id = ?", [starting_after]).fetchone()
        if cursor is None:
            raise InvalidInput(f"starting_after {starting_after!r} is not a known contact", field="starting_after")
        where += " AND seq > ?"
        params.append(cursor[0])
    rows = list(db.query(f"SELECT * FROM campaign_contacts WHERE {where} ORDER BY seq LIMIT ?", [*params, limit + 1]))
    return [_record(db, r) for r in rows[:limit]], len(rows) > limit


def all_contacts(db: sqlite_utils.Database, campaign_id: str) -> list[CampaignContact]:
    rows = db.query("SELECT * FROM campaign_contacts WHERE campaign_id = ? ORDER BY seq", [campaign_id])
    return [_record(db, r) for r in rows]


def _record(db: sqlite_utils.Database, row: dict[str, Any]) -> CampaignContact:
    calls = [
        r[0] for r in db.execute("SELECT call_id FROM campaign_attempts WHERE contact_id = ? ORDER BY seq", [row["id"]])
    ]
    waiting = row["state"] == "pending" and row["next_attempt_at"] > time.time()
    return CampaignContact(
        id=row["id"],
        campaign_id=row["campaign_id"],
        line=row["line"],
        to=row["to_number"],
        columns=loads(row["columns"]),
        state=row["state"],
        outcome=row["outcome"],
        detail=row["detail"],
        attempts=row["attempts"],
        next_attempt_at=iso(datetime.fromtimestamp(row["next_attempt_at"], UTC)) if waiting else None,
        call_ids=calls,
        updated_at=row["updated_at"],
    )
