"""Webhook endpoints and the delivery outbox. A delivery row is written in the same transaction as its
event, so an event can never exist without its deliveries; its id is the `webhook-id`, stable across
retries and replays."""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlite_utils

from appliance.clock import iso, now_iso
from appliance.errors import InvalidInput, NotFound
from appliance.store.db import transaction
from appliance.store.jsoncol import dumps, loads
from appliance.store.paging import page_clause
from appliance.store.sealed import sealer
from appliance.store.secrets import stored_secret

EVENT_TYPES = (
    "call.queued",
    "call.ringing",
    "call.answered",
    "call.completed",
    "call.failed",
    "call.no_answer",
    "call.busy",
    "call.canceled",
    "campaign.paused",
)
MAX_ATTEMPTS = 8
DISABLE_AFTER_EXHAUSTED = 10
INLINE_SECRET = "inline_signing_secret"


class WebhookEndpoint(msgspec.Struct, kw_only=True):
    id: str
    url: str
    description: str | None
    enabled_events: list[str]
    status: str
    disabled_reason: str | None
    disabled_at: str | None
    consecutive_failures: int
    created_at: str
    updated_at: str
    signing_secret: str | None = None  # only on create and rotate_secret


class WebhookEndpointList(msgspec.Struct):
    data: list[WebhookEndpoint]


class WebhookDelivery(msgspec.Struct, kw_only=True):
    id: str
    event_id: str
    endpoint_id: str | None
    call_id: str | None
    event_type: str
    url: str
    status: str
    attempt_count: int
    manual_retry_count: int
    next_attempt_at: str | None
    last_error: str | None
    last_response_status: int | None
    delivered_at: str | None
    created_at: str
    updated_at: str


class WebhookDeliveryList(msgspec.Struct):
    data: list[WebhookDelivery]
    has_more: bool


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def inline_secret(db: sqlite_utils.Database) -> str:
    """The default signing secret of inline (call / agent `webhook_url`) deliveries, made on first use."""
    return stored_secret(db, INLINE_SECRET, new_secret)


def check_events(events: list[str]) -> list[str]:
    if not events:
        raise InvalidInput('enabled_events must list at least one event (or "*")', field="enabled_events")
    for i, kind in enumerate(events):
        if kind != "*" and kind not in EVENT_TYPES:
            raise InvalidInput(
                f"enabled_events[{i}]: {kind!r} is not an event; events are {', '.join(EVENT_TYPES)} or *",
                field=f"enabled_events[{i}]",
            )
    return events


def create_endpoint(db: sqlite_utils.Database, url: str, description: str | None, events: list[str]) -> WebhookEndpoint:
    now = now_iso()
    secret = new_secret()
    row = {
        "id": str(uuid.uuid4()),
        "url": url,
        "description": description,
        "enabled_events": dumps(check_events(events)),
        "status": "enabled",
        "secret": sealer(db).seal(secret),
        "disabled_reason": None,
        "disabled_at": None,
        "consecutive_failures": 0,
        "created_at": now,
        "updated_at": now,
    }
    db["webhook_endpoints"].insert(row)
    return _endpoint({**row, "secret": secret}, show_secret=True)


def update_endpoint(db: sqlite_utils.Database, endpoint_id: str, fields: dict[str, Any]) -> WebhookEndpoint:
    with transaction(db):
        _endpoint_row(db, endpoint_id)
        update: dict[str, Any] = {"updated_at": now_iso()}
        for key in ("url", "description"):
            if key in fields:
                update[key] = fields[key]
        if "enabled_events" in fields:
            update["enabled_events"] = dumps(check_events(fields["enabled_events"]))
        if "status" in fields:
            update["status"] = fields["status"]
            if fields["status"] == "enabled":  # re-enabling clears the failure streak
                update.update(disabled_reason=None, disabled_at=None, consecutive_failures=0)
            else:
                update.update(disabled_reason="manual", disabled_at=now_iso())
        db["webhook_endpoints"].update(endpoint_id, update)
    return get_endpoint(db, endpoint_id)


def rotate_secret(db: sqlite_utils.Database, endpoint_id: str) -> WebhookEndpoint:
    _endpoint_row(db, endpoint_id)
    secret = new_secret()
    db["webhook_endpoints"].update(endpoint_id, {"secret": sealer(db).seal(secret), "updated_at": now_iso()})
    return _endpoint({**_endpoint_row(db, endpoint_id), "secret": secret}, show_secret=True)


def delete_endpoint(db: sqlite_utils.Database, endpoint_id: str) -> WebhookEndpoint:
    """Pending deliveries to it are dropped (exhausted with a reason); the log is kept. Returns the endpoint
    as it was."""
    with transaction(db):
        gone = _endpoint(_endpoint_row(db, endpoint_id))
        db.execute(
            "UPDATE webhook_deliveries SET status = 'exhausted', last_error = 'endpoint deleted', updated_at = ? "
            "WHERE endpoint_id = ? AND status = 'pending'",
            [now_iso(), endpoint_id],
        )
        db.execute("UPDATE webhook_deliveries SET endpoint_id = NULL WHERE endpoint_id = ?", [endpoint_id])
        db.execute("DELETE FROM webhook_endpoints WHERE id = ?", [endpoint_id])
    return gone


def get_endpoint(db: sqlite_utils.Database, endpoint_id: str) -> WebhookEndpoint:
    return _endpoint(_endpoint_row(db, endpoint_id))


def list_endpoints(db: sqlite_utils.Database) -> list[WebhookEndpoint]:
    return [_endpoint(r) for r in db.query("SELECT * FROM webhook_endpoints ORDER BY rowid DESC")]


def _endpoint_row(db: sqlite_utils.Database, endpoint_id: str) -> dict[str, Any]:
    row = next(db.query("SELECT * FROM webhook_endpoints WHERE id = ?", [endpoint_id]), None)
    if row is None:
        raise NotFound(f"no webhook endpoint {endpoint_id!r}", code="webhook_endpoint_not_found")
    return row


def _endpoint(row: dict[str, Any], show_secret: bool = False) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row["id"],
        url=row["url"],
        description=row["description"],
        enabled_events=loads(row["enabled_events"]),
        status=row["status"],
        disabled_reason=row["disabled_reason"],
        disabled_at=row["disabled_at"],
        consecutive_failures=row["consecutive_failures"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        signing_secret=row["secret"] if show_secret else None,
    )


# --- the outbox -------------------------------------------------------------------------------------


def enqueue(db: sqlite_utils.Database, event_id: str, call_id: str, event_type: str, inline_url: str | None) -> None:
    """Deliveries for one event: the call's inline URL and every enabled endpoint that wants this type.
    Called inside the transaction that writes the event."""
    now, due = now_iso(), time.time()
    targets: list[tuple[str | None, str, str]] = []
    if inline_url:
        targets.append((None, "inline:" + inline_url, inline_url))
    for row in db.query("SELECT id, url, enabled_events FROM webhook_endpoints WHERE status = 'enabled'"):
        events = loads(row["enabled_events"])
        if "*" in events or event_type in events:
            targets.append((row["id"], "endpoint:" + row["id"], row["url"]))
    for endpoint_id, destination, url in targets:
        db["webhook_deliveries"].insert(
            {
                "id": str(uuid.uuid4()),
                "event_id": event_id,
                "call_id": call_id,
                "endpoint_id": endpoint_id,
                "destination": destination,
                "url": url,
                "event_type": event_type,
                "status": "pending",
                "attempt_count": 0,
                "max_attempts": MAX_ATTEMPTS,
                "manual_retry_count": 0,
                "next_attempt_at": due,
                "created_at": now,
                "updated_at": now,
            }
        )


def due_deliveries(db: sqlite_utils.Database, now: float, limit: int = 20) -> list[dict[str, Any]]:
    """Pending deliveries whose time has come and that are first in line for their call and destination
    (events of one call reach one destination in order)."""
    return list(
        db.query(
            """
            SELECT d.*, e.payload FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
            WHERE d.status = 'pending' AND d.next_attempt_at <= ?
              AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.status = 'pending'
                              AND p.call_id = d.call_id AND p.destination = d.destination AND p.seq < d.seq)
            ORDER BY d.next_attempt_at, d.seq LIMIT ?
            """,
            [now, limit],
        )
    )


def next_due_at(db: sqlite_utils.Database) -> float | None:
    row = db.execute("SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending'").fetchone()
    return row[0]


def secret_for(db: sqlite_utils.Database, delivery: dict[str, Any]) -> str:
    if delivery["endpoint_id"] is None:
        return inline_secret(db)
    return sealer(db).open(_endpoint_row(db, delivery["endpoint_id"])["secret"]) or ""


def record_success(db: sqlite_utils.Database, delivery_id: str, status_code: int) -> None:
    with transaction(db):
        row = _delivery_row(db, delivery_id)
        db.execute(
            "UPDATE webhook_deliveries SET status = 'delivered', attempt_count = attempt_count + 1, "
            "last_response_status = ?, last_error = NULL, delivered_at = ?, updated_at = ? WHERE id = ?",
            [status_code, now_iso(), now_iso(), delivery_id],
        )
        if row["endpoint_id"]:
            db.execute("UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = ?", [row["endpoint_id"]])
        elif row["call_id"]:
            db.execute(
                "UPDATE calls SET webhook_status = 'delivered', webhook_error = NULL WHERE id = ?", [row["call_id"]]
            )


def record_failure(
    db: sqlite_utils.Database, delivery_id: str, error: str, status_code: int | None, retry_at: float | None
) -> str:
    """A failed attempt: pending again at `retry_at`, or exhausted when no attempts are left. Returns the status."""
    with transaction(db):
        row = _delivery_row(db, delivery_id)
        attempts = row["attempt_count"] + 1
        exhausted = attempts >= row["max_attempts"] or retry_at is None
        status = "exhausted" if exhausted else "pending"
        db.execute(
            "UPDATE webhook_deliveries SET status = ?, attempt_count = ?, last_error = ?, last_response_status = ?, "
            "next_attempt_at = ?, updated_at = ? WHERE id = ?",
            [
                status,
                attempts,
                error[:500],
                status_code,
                retry_at if not exhausted else row["next_attempt_at"],
                now_iso(),
                delivery_id,
            ],
        )
        if row["endpoint_id"] is None and row["call_id"]:
            db.execute(
                "UPDATE calls SET webhook_status = ?, webhook_error = ? WHERE id = ?",
                ["failed" if exhausted else "pending", error[:500], row["call_id"]],
            )
        if exhausted and row["endpoint_id"]:
            db.execute(
                "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1 WHERE id = ?",
                [row["endpoint_id"]],
            )
            db.execute(
                "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = 'too_many_failures', "
                "disabled_at = ? WHERE id = ? AND consecutive_failures >= ? AND status = 'enabled'",
                [now_iso(), row["endpoint_id"], DISABLE_AFTER_EXHAUSTED],
            )
    return status


def redeliver(db: sqlite_utils.Database, delivery_id: str) -> WebhookDelivery:
    """Back to pending for one more attempt, now, with the same webhook-id."""
    with transaction(db):
        row = _delivery_row(db, delivery_id)
        db.execute(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, manual_retry_count = "
            "manual_retry_count + 1, max_attempts = MAX(max_attempts, ?), updated_at = ? WHERE id = ?",
            [time.time(), row["attempt_count"] + 1, now_iso(), delivery_id],
        )
    return get_delivery(db, delivery_id)


def _delivery_row(db: sqlite_utils.Database, delivery_id: str) -> dict[str, Any]:
    row = next(db.query("SELECT * FROM webhook_deliveries WHERE id = ?", [delivery_id]), None)
    if row is None:
        raise NotFound(f"no webhook delivery {delivery_id!r}", code="webhook_delivery_not_found")
    return row


def get_delivery(db: sqlite_utils.Database, delivery_id: str) -> WebhookDelivery:
    return _delivery(_delivery_row(db, delivery_id))


def list_deliveries(
    db: sqlite_utils.Database,
    *,
    endpoint_id: str | None,
    call_id: str | None,
    status: str | None,
    limit: int,
    starting_after: str | None = None,
) -> list[WebhookDelivery]:
    where, params = page_clause(db, "webhook_deliveries", starting_after, alias="d", order_col="seq")
    for col, value in (("endpoint_id", endpoint_id), ("call_id", call_id), ("status", status)):
        if value is not None:
            where += f" AND d.{col} = ?"
            params.append(value)
    rows = db.query(f"SELECT d.* FROM webhook_deliveries d WHERE {where} ORDER BY d.seq DESC LIMIT ?", [*params, limit])
    return [_delivery(r) for r in rows]


def _delivery(row: dict[str, Any]) -> WebhookDelivery:
    pending = row["status"] == "pending"
    return WebhookDelivery(
        id=row["id"],
        event_id=row["event_id"],
        endpoint_id=row["endpoint_id"],
        call_id=row["call_id"],
        event_type=row["event_type"],
        url=row["url"],
        status=row["status"],
        attempt_count=row["attempt_count"],
        manual_retry_count=row["manual_retry_count"],
        next_attempt_at=iso(datetime.fromtimestamp(row["next_attempt_at"], UTC)) if pending else None,
        last_error=row["last_error"],
        last_response_status=row["last_response_status"],
        delivered_at=row["delivered_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
