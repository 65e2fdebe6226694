"""Agents and their numbers. Rule: a number has at most one (live) inbound agent."""

from __future__ import annotations

import uuid
from typing import Any

import sqlite_utils

from appliance.clock import now_iso
from appliance.errors import Conflict, InvalidInput, NotFound
from appliance.store import questions
from appliance.store.db import transaction
from appliance.store.jsoncol import dumps, loads
from appliance.store.numbers import numbers_by_ids, owned_agent_id
from appliance.store.paging import page_clause
from appliance.store.records import Agent

DEFAULTS: dict[str, Any] = {
    "persona": None,
    "instructions": None,
    "voice": None,
    "language": "en",
    "returns": None,
    "tools": [],
    "webhook_url": None,
    "voicemail_action": "hangup",
    "first_message": None,
    "voicemail_message": None,
    "max_duration_seconds": 1800,
    "silence_timeout_seconds": 20,
    "ring_timeout_seconds": 30,
    "analysis": None,
    "redact": [],
    "redact_exempt_fields": [],
    "recording_retention_days": None,
    "transcript_retention_days": None,
    "recording": "on",
    "recording_notice": None,
}
JSON_FIELDS = ("returns", "tools", "analysis", "redact", "redact_exempt_fields")


def create_agent(db: sqlite_utils.Database, fields: dict[str, Any], owner_number_id: str | None = None) -> str:
    """Insert an agent with its numbers in one transaction. `fields` is already type-checked;
    `owner_number_id` marks the inbound agent a number's legacy inbound config makes."""
    now = now_iso()
    agent_id = str(uuid.uuid4())
    row = {
        "id": agent_id,
        "name": fields["name"],
        "type": fields["type"],
        "owner_number_id": owner_number_id,
        "created_at": now,
        "updated_at": now,
    }
    for key, default in DEFAULTS.items():
        value = fields.get(key, default)
        row[key] = dumps(value) if key in JSON_FIELDS else value
    row["primary_number_id"] = None
    number_ids = fields.get("number_ids") or []
    primary = fields.get("primary_number_id")
    with transaction(db):
        db["agents"].insert(row)
        _set_numbers(db, agent_id, fields["type"], number_ids, "number_ids")
        if primary is not None:
            _set_primary(db, agent_id, primary)
    return agent_id


def update_agent(db: sqlite_utils.Database, agent_id: str, fields: dict[str, Any]) -> None:
    with transaction(db):
        row = _live_row(db, agent_id)
        update = {k: (dumps(v) if k in JSON_FIELDS else v) for k, v in fields.items() if k in DEFAULTS or k == "name"}
        update["updated_at"] = now_iso()
        db["agents"].update(agent_id, update)
        changed = {k for k in questions.WRITTEN_FROM if k in update and update[k] != row[k]}
        questions.written_from_changed(db, agent_id, changed)
        if "number_ids" in fields:
            db.execute("DELETE FROM agent_numbers WHERE agent_id = ?", [agent_id])
            _set_numbers(db, agent_id, row["type"], fields["number_ids"] or [], "number_ids")
            if row["primary_number_id"] not in (fields["number_ids"] or []):
                db.execute("UPDATE agents SET primary_number_id = NULL WHERE id = ?", [agent_id])
        if "primary_number_id" in fields:
            if fields["primary_number_id"] is None:
                db.execute("UPDATE agents SET primary_number_id = NULL WHERE id = ?", [agent_id])
            else:
                _set_primary(db, agent_id, fields["primary_number_id"])


def archive_agent(db: sqlite_utils.Database, agent_id: str) -> None:
    """Soft delete: history is kept, the agent takes no more calls, its numbers are free again."""
    with transaction(db):
        row = _row(db, agent_id)
        if row["archived_at"] is None:
            db.execute(
                "UPDATE agents SET archived_at = ?, updated_at = ? WHERE id = ?", [now_iso(), now_iso(), agent_id]
            )


def attach_number(db: sqlite_utils.Database, agent_id: str, number_id: str, set_as_primary: bool) -> None:
    with transaction(db):
        row = _live_row(db, agent_id)
        attached = db.execute(
            "SELECT 1 FROM agent_numbers WHERE agent_id = ? AND number_id = ?", [agent_id, number_id]
        ).fetchone()
        if not attached:
            _set_numbers(db, agent_id, row["type"], [number_id], "number_id")
        if set_as_primary:
            _set_primary(db, agent_id, number_id)
        db.execute("UPDATE agents SET updated_at = ? WHERE id = ?", [now_iso(), agent_id])


def detach_number(db: sqlite_utils.Database, agent_id: str, number_id: str) -> None:
    with transaction(db):
        _live_row(db, agent_id)
        cur = db.execute("DELETE FROM agent_numbers WHERE agent_id = ? AND number_id = ?", [agent_id, number_id])
        if cur.rowcount == 0:
            raise NotFound(f"number {number_id!r} is not attached to agent {agent_id!r}", code="number_not_attached")
        db.execute(
            "UPDATE agents SET primary_number_id = NULL WHERE id = ? AND primary_number_id = ?", [agent_id, number_id]
        )
        db.execute("UPDATE agents SET updated_at = ? WHERE id = ?", [now_iso(), agent_id])


def set_primary_number(db: sqlite_utils.Database, agent_id: str, number_id: str) -> None:
    with transaction(db):
        _live_row(db, agent_id)
        _set_primary(db, agent_id, number_id)
        db.execute("UPDATE agents SET updated_at = ? WHERE id = ?", [now_iso(), agent_id])


def configure_number_inbound(db: sqlite_utils.Database, number_id: str, fields: dict[str, Any], enabled: bool) -> None:
    """The hosted service's per-number inbound config: written to an inbound agent the number owns (made on
    first use), attached while `enabled`, detached (calls rejected again) otherwise. `fields` are checked."""
    with transaction(db):
        row = db.execute("SELECT e164 FROM numbers WHERE id = ?", [number_id]).fetchone()
        if row is None:
            raise NotFound(f"no number {number_id!r}", code="number_not_found")
        owned_id = owned_agent_id(db, number_id)
        other = db.execute(
            """SELECT a.id FROM agent_numbers an JOIN agents a ON a.id = an.agent_id WHERE an.number_id = ?
               AND a.type = 'inbound' AND a.archived_at IS NULL AND a.id IS NOT ?""",
            [number_id, owned_id],
        ).fetchone()
        if other:
            raise Conflict(
                f"number {row[0]} is answered by inbound agent {other[0]}: detach it from that agent first",
                code="number_has_inbound_agent",
            )
        if owned_id is None:
            owned_id = create_agent(db, {"name": f"Inbound {row[0]}", "type": "inbound", **fields}, number_id)
        else:
            update_agent(db, owned_id, fields)
        attached = db.execute(
            "SELECT 1 FROM agent_numbers WHERE agent_id = ? AND number_id = ?", [owned_id, number_id]
        ).fetchone()
        if enabled and not attached:
            attach_number(db, owned_id, number_id, set_as_primary=True)
        elif not enabled and attached:
            detach_number(db, owned_id, number_id)


def _set_numbers(db: sqlite_utils.Database, agent_id: str, agent_type: str, number_ids: list[str], field: str) -> None:
    if len(set(number_ids)) != len(number_ids):
        raise InvalidInput(f"{field} lists a number twice", field=field)
    for i, number_id in enumerate(number_ids):
        where = field if field == "number_id" else f"{field}[{i}]"
        if not db.execute("SELECT 1 FROM numbers WHERE id = ?", [number_id]).fetchone():
            raise InvalidInput(f"{where}: {number_id!r} is not a registered number", field=where)
        if agent_type == "inbound":
            other = db.execute(
                """SELECT a.id FROM agent_numbers an JOIN agents a ON a.id = an.agent_id
                   WHERE an.number_id = ? AND a.type = 'inbound' AND a.archived_at IS NULL AND a.id != ?""",
                [number_id, agent_id],
            ).fetchone()
            if other:
                raise Conflict(
                    f"{where}: number {number_id} already has inbound agent {other[0]}", code="number_has_inbound_agent"
                )
        db["agent_numbers"].insert({"agent_id": agent_id, "number_id": number_id, "attached_at": now_iso()})


def _set_primary(db: sqlite_utils.Database, agent_id: str, number_id: str) -> None:
    if not db.execute(
        "SELECT 1 FROM agent_numbers WHERE agent_id = ? AND number_id = ?", [agent_id, number_id]
    ).fetchone():
        raise InvalidInput(
            f"primary number {number_id!r} must be attached to the agent first", field="primary_number_id"
        )
    db.execute("UPDATE agents SET primary_number_id = ? WHERE id = ?", [number_id, agent_id])


def _row(db: sqlite_utils.Database, agent_id: str) -> dict[str, Any]:
    row = next(db.query("SELECT * FROM agents WHERE id = ?", [agent_id]), None)
    if row is None:
        raise NotFound(f"no agent {agent_id!r}", code="agent_not_found")
    return row


def _live_row(db: sqlite_utils.Database, agent_id: str) -> dict[str, Any]:
    row = _row(db, agent_id)
    if row["archived_at"] is not None:
        raise Conflict(f"agent {agent_id} is archived", code="agent_archived")
    return row


def get_agent(db: sqlite_utils.Database, agent_id: str) -> Agent:
    return _record(db, _row(db, agent_id))


def agent_row(db: sqlite_utils.Database, agent_id: str) -> dict[str, Any] | None:
    row = next(db.query("SELECT * FROM agents WHERE id = ?", [agent_id]), None)
    if row is not None:
        for key in JSON_FIELDS:
            row[key] = loads(row[key])
    return row


def list_agents(
    db: sqlite_utils.Database, agent_type: str | None, limit: int = 50, starting_after: str | None = None
) -> list[Agent]:
    where, params = page_clause(db, "agents", starting_after, alias="a")
    if agent_type:
        where += " AND a.type = ?"
        params.append(agent_type)
    rows = db.query(f"SELECT a.* FROM agents a WHERE {where} ORDER BY a.rowid DESC LIMIT ?", [*params, limit])
    return [_record(db, r) for r in rows]


def _record(db: sqlite_utils.Database, row: dict[str, Any]) -> Agent:
    ids = [
        r[0]
        for r in db.execute(
            "SELECT number_id FROM agent_numbers WHERE agent_id = ? ORDER BY attached_at, rowid", [row["id"]]
        )
    ]
    return Agent(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        persona=row["persona"],
        instructions=row["instructions"],
        voice=row["voice"],
        language=row["language"],
        returns=loads(row["returns"]),
        tools=loads(row["tools"]),
        webhook_url=row["webhook_url"],
        voicemail_action=row["voicemail_action"],
        first_message=row["first_message"],
        voicemail_message=row["voicemail_message"],
        max_duration_seconds=row["max_duration_seconds"],
        silence_timeout_seconds=row["silence_timeout_seconds"],
        ring_timeout_seconds=row["ring_timeout_seconds"],
        analysis=loads(row["analysis"]),
        redact=loads(row["redact"]),
        redact_exempt_fields=loads(row["redact_exempt_fields"]),
        recording_retention_days=row["recording_retention_days"],
        transcript_retention_days=row["transcript_retention_days"],
        recording=row["recording"],
        recording_notice=row["recording_notice"],
        number_ids=ids,
        primary_number_id=row["primary_number_id"],
        numbers=numbers_by_ids(db, ids),
        owner_number_id=row["owner_number_id"],
        archived_at=row["archived_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
