"""Numbers: DIDs you own on your trunks ("purchase" registers one from a range a trunk offers)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlite_utils

from appliance import validation
from appliance.clock import now_iso
from appliance.errors import Conflict, InvalidInput, NotFound
from appliance.store.db import transaction
from appliance.store.jsoncol import loads
from appliance.store.paging import page, window
from appliance.store.records import Number, NumberList


def register_number(
    db: sqlite_utils.Database,
    e164: str,
    friendly_name: str | None,
    trunk_id: str | None,
    monthly_cost_cents: int = 0,
    field: str = "e164",
) -> str:
    e164 = validation.e164(e164, field)
    country, kind = validation.number_info(e164) if not validation.is_test_number(e164) else ("US", "local")
    row = {
        "id": str(uuid.uuid4()),
        "e164": e164,
        "friendly_name": friendly_name,
        "country_code": country,
        "number_type": kind,
        "status": "active",
        "trunk_id": trunk_id,
        "created_at": now_iso(),
        "monthly_cost_cents": monthly_cost_cents,
    }
    with transaction(db):
        if trunk_id is not None and not db.execute("SELECT 1 FROM trunks WHERE id = ?", [trunk_id]).fetchone():
            raise InvalidInput(f"trunk_id {trunk_id!r} is not a known trunk", field="trunk_id")
        if db.execute("SELECT 1 FROM numbers WHERE e164 = ?", [e164]).fetchone():
            raise Conflict(f"number {e164} is already registered", code="number_exists")
        db["numbers"].insert(row)
    return row["id"]


def release_number(db: sqlite_utils.Database, number_id: str) -> None:
    """Detach from every agent first (archiving the inbound agent the number owns), then forget the number."""
    with transaction(db):
        get_number(db, number_id)
        db.execute(
            "UPDATE agents SET owner_number_id = NULL, archived_at = COALESCE(archived_at, ?) "
            "WHERE owner_number_id = ?",
            [now_iso(), number_id],
        )
        db.execute("UPDATE agents SET primary_number_id = NULL WHERE primary_number_id = ?", [number_id])
        db.execute("DELETE FROM agent_numbers WHERE number_id = ?", [number_id])
        db.execute("DELETE FROM numbers WHERE id = ?", [number_id])


def get_number(db: sqlite_utils.Database, number_id: str) -> Number:
    rows = _records(db, "WHERE n.id = ?", [number_id])
    if not rows:
        raise NotFound(f"no number {number_id!r}", code="number_not_found")
    return rows[0]


def number_by_e164(db: sqlite_utils.Database, e164: str) -> Number | None:
    rows = _records(db, "WHERE n.e164 = ?", [e164])
    return rows[0] if rows else None


def list_numbers(
    db: sqlite_utils.Database, limit: int = 50, starting_after: str | None = None, ending_before: str | None = None
) -> NumberList:
    span = window(db, "numbers", "n", starting_after, ending_before)
    rows = _records(db, f"WHERE {span.where}", span.params, limit + 1, span.order)
    return NumberList(*page(rows, limit, span.backward))


def oldest_dialing_number(db: sqlite_utils.Database) -> Number | None:
    """The hosted service's default caller ID: the oldest active number that a trunk can dial out from."""
    rows = _records(db, "WHERE n.status = 'active' AND n.trunk_id IS NOT NULL", [], 1, "n.rowid ASC")
    return rows[0] if rows else None


def owned_agent_id(db: sqlite_utils.Database, number_id: str) -> str | None:
    """The live inbound agent this number's legacy inbound config made, attached or not."""
    row = db.execute("SELECT id FROM agents WHERE owner_number_id = ? AND archived_at IS NULL", [number_id]).fetchone()
    return row[0] if row else None


def numbers_by_ids(db: sqlite_utils.Database, ids: list[str]) -> list[Number]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    found = {n.id: n for n in _records(db, f"WHERE n.id IN ({marks})", ids)}
    return [found[i] for i in ids if i in found]


def _records(
    db: sqlite_utils.Database, where: str, params: list[Any], limit: int | None = None, order: str = "n.rowid DESC"
) -> list[Number]:
    sql = f"""
        SELECT n.*,
          (SELECT a.id FROM agent_numbers an JOIN agents a ON a.id = an.agent_id
            WHERE an.number_id = n.id AND a.type = 'inbound' AND a.archived_at IS NULL) AS inbound_agent_id,
          (SELECT json_group_array(a.id) FROM agent_numbers an JOIN agents a ON a.id = an.agent_id
            WHERE an.number_id = n.id AND a.type = 'outbound' AND a.archived_at IS NULL) AS outbound_ids,
          (SELECT a.id FROM agents a WHERE a.owner_number_id = n.id AND a.archived_at IS NULL) AS owned_agent_id
        FROM numbers n {where} ORDER BY {order} {"LIMIT " + str(int(limit)) if limit else ""}
    """
    out = []
    for r in db.query(sql, params):
        inbound = _inbound_config(db, r["inbound_agent_id"] or r["owned_agent_id"])
        out.append(
            Number(
                id=r["id"],
                e164=r["e164"],
                friendly_name=r["friendly_name"],
                country_code=r["country_code"],
                number_type=r["number_type"],
                status=r["status"],
                trunk_id=r["trunk_id"],
                inbound_agent_id=r["inbound_agent_id"],
                outbound_agent_ids=loads(r["outbound_ids"]),
                created_at=r["created_at"],
                purchased_at=r["created_at"],
                monthly_cost_cents=r["monthly_cost_cents"],
                inbound_enabled=r["inbound_agent_id"] is not None,
                **inbound,
            )
        )
    return out


def _inbound_config(db: sqlite_utils.Database, agent_id: str | None) -> dict[str, Any]:
    """The `inbound_*` fields of a number, from the agent that answers it (or the one it owns)."""
    row = next(db.query("SELECT * FROM agents WHERE id = ?", [agent_id]), None) if agent_id else None
    if row is None:
        return {
            "inbound_prompt": None,
            "inbound_returns": None,
            "inbound_webhook_url": None,
            "inbound_language": None,
            "inbound_tools": None,
            "inbound_voicemail_action": "hangup",
        }
    return {
        "inbound_prompt": row["instructions"],
        "inbound_returns": loads(row["returns"]),
        "inbound_webhook_url": row["webhook_url"],
        "inbound_language": row["language"],
        "inbound_tools": loads(row["tools"]),
        "inbound_voicemail_action": row["voicemail_action"],
    }
