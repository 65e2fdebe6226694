"""Calls: the durable record of every call, written at each status change so a restart can tell what happened."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from appliance import call_status
from appliance.clock import iso, now, now_iso, parse_iso
from appliance.errors import Conflict, NotFound
from appliance.store import agents as agent_fields
from appliance.store import webhooks
from appliance.store.db import transaction
from appliance.store.jsoncol import dumps, loads
from appliance.store.paging import page, window
from appliance.store.records import (
    Call,
    CallEvent,
    CallEvents,
    CallList,
    LatencyStats,
    Transcript,
    TranscriptSegment,
)

IDEMPOTENCY_WINDOW = timedelta(hours=24)
# The post-call steps an answered call waits for before `call.completed` (each 'pending' until done).
POST_CALL = ("result_status", "analysis_status", "recording_redaction")
SNAPSHOT_FIELDS = ("name", *agent_fields.DEFAULTS)  # what a call keeps of its agent, as the agent was


def create_call(
    db: sqlite_utils.Database,
    *,
    agent: dict[str, Any],
    direction: str,
    to_number: str,
    from_number: str | None,
    trunk_id: str | None,
    instructions: str | None,
    context: dict[str, Any],
    metadata: dict[str, Any],
    webhook_url: str | None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    status: str = "queued",
) -> tuple[Call, bool]:
    """Insert a call with its agent snapshotted. Returns (call, created); an idempotent replay is (first, False)."""
    snapshot = {k: agent.get(k) for k in SNAPSHOT_FIELDS}
    stamp = now_iso()
    call_id = str(uuid.uuid4())
    returns = snapshot["returns"]
    row = {
        "id": call_id,
        "agent_id": agent["id"],
        "direction": direction,
        "to_number": to_number,
        "from_number": from_number,
        "trunk_id": trunk_id,
        "status": status,
        "agent_snapshot": dumps(snapshot),
        "instructions": instructions if instructions is not None else snapshot["instructions"],
        "context": dumps(context),
        "metadata": dumps(metadata),
        "result": None,
        "result_status": None,
        "created_at": stamp,
        "updated_at": stamp,
        "webhook_url": webhook_url if webhook_url is not None else snapshot["webhook_url"],
        "webhook_status": "none",
        "voicemail_left": 0,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
    }
    if returns is not None:
        row["result_status"] = "pending"
    if snapshot["analysis"] is not None:
        row["analysis_status"] = "pending"
    if snapshot["redact"] and snapshot["recording"] != "off":
        row["recording_redaction"] = "pending"
    if row["webhook_url"]:
        row["webhook_status"] = "pending"
    with transaction(db):
        if idempotency_key is not None:
            existing = db.execute(
                "SELECT id, request_hash, created_at FROM calls WHERE idempotency_key = ?", [idempotency_key]
            ).fetchone()
            if existing is not None:
                if parse_iso(existing[2]) > now() - IDEMPOTENCY_WINDOW:
                    if existing[1] != request_hash:
                        raise Conflict(
                            "Idempotency-Key was already used with a different request body",
                            code="idempotency_key_reused",
                        )
                    return get_call(db, existing[0]), False
                # An expired key may be reused: free it on the old row.
                db.execute("UPDATE calls SET idempotency_key = NULL WHERE id = ?", [existing[0]])
        db["calls"].insert(row)
        _event(db, call_id, "status", {"status": status})
        queue_webhook_event(db, call_id, status)
    return get_call(db, call_id), True


def has_idempotency_key(db: sqlite_utils.Database, key: str) -> bool:
    return db.execute("SELECT 1 FROM calls WHERE idempotency_key = ?", [key]).fetchone() is not None


def transition(
    db: sqlite_utils.Database, call_id: str, status: str, *, price_per_minute: int = 0, **fields: Any
) -> Call | None:
    """Move a call to `status`, setting `fields`. Returns None (and changes nothing) when not allowed,
    so a late or duplicate event can never change a terminal call."""
    with transaction(db):
        row = _row(db, call_id)
        if not call_status.can_move(row["status"], status):
            return None
        stamp = now()
        update: dict[str, Any] = {"status": status, "updated_at": iso(stamp), **fields}
        if status == "initiated":
            update.setdefault("started_at", iso(stamp))
        if status == "in_progress":
            update.setdefault("answered_at", iso(stamp))
        if status in call_status.TERMINAL:
            update.update(_closing_fields(row, stamp, status, fields, price_per_minute))
        _update(db, call_id, update)
        _event(db, call_id, "status", {"status": status, **{k: v for k, v in fields.items() if v is not None}})
        waits = any(update.get(step, row[step]) == "pending" for step in POST_CALL)
        if status != "completed" or not waits:
            # `call.completed` waits for extraction when there is something to extract.
            queue_webhook_event(db, call_id, status)
    return get_call(db, call_id)


def empty_result(returns: dict[str, Any] | None) -> dict[str, Any] | None:
    """Every field null: the result of a call with nothing to extract from. `returns` was checked when it was
    saved (appliance.results.schema): its fields are a JSON Schema's `properties`, or the shorthand's keys."""
    if returns is None:
        return None
    is_schema = returns.get("type") == "object" and isinstance(returns.get("properties"), dict)
    return dict.fromkeys(returns["properties"] if is_schema else returns)


def _closing_fields(
    row: dict[str, Any], stamp: datetime, status: str, fields: dict[str, Any], price_per_minute: int
) -> dict[str, Any]:
    out: dict[str, Any] = {"ended_at": iso(stamp)}
    start = parse_iso(row["started_at"] or row["created_at"])
    out["duration_seconds"] = max(0, math.ceil((stamp - start).total_seconds()))
    answered_by = fields.get("answered_by", row["answered_by"])
    billed = 0
    if row["answered_at"] and status == "completed" and answered_by != "machine":
        # Whole seconds, nearest, at least one: an answered call always costs something.
        billed = max(1, round((stamp - parse_iso(row["answered_at"])).total_seconds()))
    out["billed_duration_seconds"] = billed
    out["billing_amount_milli_cents"] = round(billed * price_per_minute / 60)
    snapshot = loads(row["agent_snapshot"])
    if status != "completed" or not row["answered_at"]:
        # Nothing to extract from: every field null, marked skipped.
        out["result"] = dumps(empty_result(snapshot["returns"]))
        out["result_status"] = "skipped" if snapshot["returns"] is not None else None
        if snapshot.get("analysis") is not None:
            out["analysis"] = dumps(dict.fromkeys(("summary", "outcome", "sentiment", "success")))
            out["analysis_status"] = "skipped"
        if row["recording_redaction"] == "pending":
            out["recording_redaction"] = "skipped"
    for kind in ("recording", "transcript"):
        days = snapshot.get(f"{kind}_retention_days")
        if days is not None:
            out[f"{kind}_expires_at"] = iso(stamp + timedelta(days=days))
    return out


def set_fields(db: sqlite_utils.Database, call_id: str, **fields: Any) -> None:
    """Update non-status fields (channel id, answered_by, latency…)."""
    fields["updated_at"] = now_iso()
    _update(db, call_id, fields)


def _update(db: sqlite_utils.Database, call_id: str, fields: dict[str, Any]) -> None:
    # Column names come from our own code, never from a request.
    assignments = ", ".join(f"{name} = ?" for name in fields)
    db.execute(f"UPDATE calls SET {assignments} WHERE id = ?", [*fields.values(), call_id])


def add_event(db: sqlite_utils.Database, call_id: str, kind: str, data: dict[str, Any]) -> None:
    with transaction(db):
        _event(db, call_id, kind, data)


def _event(db: sqlite_utils.Database, call_id: str, kind: str, data: dict[str, Any]) -> None:
    db["call_events"].insert({"call_id": call_id, "type": kind, "at": now_iso(), "data": dumps(data)})


def queue_webhook_event(db: sqlite_utils.Database, call_id: str, status: str) -> None:
    """Put the status's event (if it has one) into the outbox, with the call object as it is now (delivery is
    the webhook worker's job)."""
    kind = call_status.WEBHOOK_EVENT.get(status)
    if kind is None:
        return
    call = get_call(db, call_id)
    event_id = str(uuid.uuid4())
    created = int(now().timestamp())
    payload = {"id": event_id, "type": kind, "created": created, "api_version": "2026-04", "data": {"call": call}}
    db["webhook_events"].insert(
        {"id": event_id, "call_id": call_id, "type": kind, "created": created, "payload": dumps(payload)}
    )
    webhooks.enqueue(db, event_id, call_id, kind, call.webhook_url)


def webhook_events(db: sqlite_utils.Database, call_id: str) -> list[dict[str, Any]]:
    return list(db.query("SELECT id, type, created FROM webhook_events WHERE call_id = ? ORDER BY seq", [call_id]))


def find_row(db: sqlite_utils.Database, call_id: str) -> dict[str, Any] | None:
    """The raw row, or None when there is no such call (deleted meanwhile, say)."""
    return next(db.query("SELECT * FROM calls WHERE id = ?", [call_id]), None)


def _row(db: sqlite_utils.Database, call_id: str) -> dict[str, Any]:
    row = find_row(db, call_id)
    if row is None:
        raise NotFound(f"no call {call_id!r}", code="call_not_found")
    return row


def call_row(db: sqlite_utils.Database, call_id: str) -> dict[str, Any]:
    """The raw row with the agent snapshot decoded: what the dialer needs to place the call."""
    row = _row(db, call_id)
    row["agent_snapshot"] = loads(row["agent_snapshot"])
    row["context"] = loads(row["context"])
    row["metadata"] = loads(row["metadata"])
    return row


def get_call(db: sqlite_utils.Database, call_id: str) -> Call:
    return _record(_row(db, call_id))


def list_calls(
    db: sqlite_utils.Database,
    *,
    status: str | None = None,
    direction: str | None = None,
    agent_id: str | None = None,
    limit: int = 50,
    starting_after: str | None = None,
    ending_before: str | None = None,
) -> CallList:
    span = window(db, "calls", "c", starting_after, ending_before, order_col="seq")
    where, params = span.where, list(span.params)
    for col, value in (("status", status), ("direction", direction), ("agent_id", agent_id)):
        if value is not None:
            where += f" AND c.{col} = ?"
            params.append(value)
    rows = db.query(f"SELECT c.* FROM calls c WHERE {where} ORDER BY {span.order} LIMIT ?", [*params, limit + 1])
    calls, has_more = page([_record(r) for r in rows], limit, span.backward)
    return CallList(calls, has_more)


def ids_in_status(db: sqlite_utils.Database, statuses: tuple[str, ...], limit: int | None = None) -> list[str]:
    """Oldest first: the dispatch order."""
    marks = ",".join("?" * len(statuses))
    sql = f"SELECT id FROM calls WHERE status IN ({marks}) ORDER BY seq"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [r[0] for r in db.execute(sql, list(statuses))]


def count_in_status(db: sqlite_utils.Database, statuses: tuple[str, ...]) -> int:
    marks = ",".join("?" * len(statuses))
    return db.execute(f"SELECT COUNT(*) FROM calls WHERE status IN ({marks})", list(statuses)).fetchone()[0]


def transcript(db: sqlite_utils.Database, call_id: str) -> Transcript:
    _row(db, call_id)
    rows = db.query("SELECT * FROM transcript_segments WHERE call_id = ? ORDER BY sequence_no", [call_id])
    return Transcript(
        call_id=call_id,
        segments=[TranscriptSegment(**{k: v for k, v in r.items() if k != "call_id"}) for r in rows],
    )


def add_segment(db: sqlite_utils.Database, call_id: str, segment: TranscriptSegment) -> None:
    db["transcript_segments"].insert(
        {"call_id": call_id, **{f: getattr(segment, f) for f in segment.__struct_fields__}}
    )


def events(db: sqlite_utils.Database, call_id: str) -> CallEvents:
    _row(db, call_id)
    rows = db.query("SELECT type, at, data FROM call_events WHERE call_id = ? ORDER BY seq", [call_id])
    return CallEvents(call_id=call_id, events=[CallEvent(r["type"], r["at"], loads(r["data"])) for r in rows])


def _reservation(row: dict[str, Any]) -> str:
    if row["status"] not in call_status.TERMINAL:
        return "reserved"
    return "settled" if row["billed_duration_seconds"] else "released"


def _record(row: dict[str, Any]) -> Call:
    snapshot = loads(row["agent_snapshot"])
    latency = loads(row["latency"])
    # The hosted SDK reads the language from metadata; a key the client set itself is left as it sent it.
    metadata = {"language": snapshot["language"], **loads(row["metadata"])}
    return Call(
        id=row["id"],
        agent_id=row["agent_id"],
        direction=row["direction"],
        to_number=row["to_number"],
        from_number=row["from_number"],
        status=row["status"],
        answered_by=row["answered_by"],
        persona=snapshot["persona"],
        instructions=row["instructions"],
        prompt=row["instructions"],
        context=loads(row["context"]),
        returns=snapshot["returns"],
        tools=snapshot.get("tools") or [],
        language=snapshot["language"],
        voice=snapshot["voice"],
        metadata=metadata,
        result=loads(row["result"]),
        result_status=row["result_status"],
        result_error=row["result_error"],
        analysis=loads(row["analysis"]),
        analysis_status=row["analysis_status"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        answered_at=row["answered_at"],
        ended_at=row["ended_at"],
        updated_at=row["updated_at"],
        duration_seconds=row["duration_seconds"],
        billed_duration_seconds=row["billed_duration_seconds"],
        billing_amount_milli_cents=row["billing_amount_milli_cents"],
        reservation_status=_reservation(row),
        webhook_url=row["webhook_url"],
        webhook_status=row["webhook_status"],
        webhook_error=row["webhook_error"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        hangup_cause=row["hangup_cause"],
        end_reason=row["end_reason"],
        recording_url=f"/v1/calls/{row['id']}/recording" if row["recording_path"] else None,
        recording_deleted_at=row["recording_deleted_at"],
        transcript_deleted_at=row["transcript_deleted_at"],
        transferred_to=row["transferred_to"],
        latency_ms=LatencyStats(**latency) if latency else None,
        voicemail_left=bool(row["voicemail_left"]),
        trunk_id=row["trunk_id"],
    )
