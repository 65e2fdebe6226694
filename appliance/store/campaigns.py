"""Campaigns: the campaign rows, their status changes and events. Contacts and attempts: campaign_contacts."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import sqlite_utils

from appliance.clock import now, now_iso
from appliance.errors import Conflict, InvalidInput, NotFound
from appliance.store import calls, webhooks
from appliance.store import campaign_contacts as contacts
from appliance.store.campaign_records import (
    CallingWindow,
    Campaign,
    CampaignCounters,
    CampaignEvent,
    CampaignEvents,
    RetryRule,
)
from appliance.store.db import transaction
from appliance.store.jsoncol import dumps, loads

ACTIVE = ("scheduled", "running", "paused")
# What a user may ask for, from which statuses. The runner moves scheduled → running → completed.
MOVES = {
    "paused": ("scheduled", "running"),
    "resumed": ("paused",),
    "canceled": ACTIVE,
}


def create_campaign(
    db: sqlite_utils.Database,
    *,
    name: str | None,
    agent_id: str,
    from_number: str | None,
    status: str,
    max_concurrent: int,
    window: dict[str, Any],
    start_at: str | None,
    retry: dict[str, dict[str, int]],
    rows: list[contacts.NewContact],
) -> Campaign:
    """The campaign and all its contacts in one transaction: created whole, or not at all."""
    campaign_id = str(uuid.uuid4())
    stamp = now_iso()
    with transaction(db):
        db["campaigns"].insert(
            {
                "id": campaign_id,
                "name": name,
                "agent_id": agent_id,
                "from_number": from_number,
                "status": status,
                "max_concurrent": max_concurrent,
                "calling_window": dumps(window),
                "start_at": start_at,
                "retry": dumps(retry),
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
        contacts.insert(db, campaign_id, rows)
        add_event(db, campaign_id, "campaign.created", {"contacts": len(rows), "status": status})
    return get_campaign(db, campaign_id)


def campaign_row(db: sqlite_utils.Database, campaign_id: str) -> dict[str, Any]:
    row = next(db.query("SELECT * FROM campaigns WHERE id = ?", [campaign_id]), None)
    if row is None:
        raise NotFound(f"no campaign {campaign_id!r}", code="campaign_not_found")
    row["calling_window"] = loads(row["calling_window"])
    row["retry"] = loads(row["retry"])
    return row


def get_campaign(db: sqlite_utils.Database, campaign_id: str) -> Campaign:
    return _record(db, campaign_row(db, campaign_id))


def list_campaigns(db: sqlite_utils.Database, limit: int, starting_after: str | None) -> tuple[list[Campaign], bool]:
    where, params = "1=1", []
    if starting_after is not None:
        cursor = db.execute("SELECT seq FROM campaigns WHERE id = ?", [starting_after]).fetchone()
        if cursor is None:
            raise InvalidInput(f"starting_after {starting_after!r} is not a known campaign", field="starting_after")
        where, params = "seq < ?", [cursor[0]]
    ids = [
        r[0]
        for r in db.execute(f"SELECT id FROM campaigns WHERE {where} ORDER BY seq DESC LIMIT ?", [*params, limit + 1])
    ]
    return [get_campaign(db, i) for i in ids[:limit]], len(ids) > limit


def active_ids(db: sqlite_utils.Database) -> list[str]:
    marks = ",".join("?" * len(ACTIVE))
    return [r[0] for r in db.execute(f"SELECT id FROM campaigns WHERE status IN ({marks}) ORDER BY seq", ACTIVE)]


def move(
    db: sqlite_utils.Database, campaign_id: str, action: str, *, status: str, reason: str | None = None
) -> Campaign:
    """A user's pause / resume / cancel: 409 when the campaign is not in a status it applies to."""
    with transaction(db):
        row = campaign_row(db, campaign_id)
        if row["status"] not in MOVES[action]:
            raise Conflict(
                f"campaign {campaign_id} is {row['status']}: it cannot be {action}", code=f"campaign_{row['status']}"
            )
        set_status(db, campaign_id, status, reason=reason, event=f"campaign.{action}")
        if action == "resumed":
            # The failure breaker looks only at attempts made after the resume.
            db.execute(
                "UPDATE campaigns SET breaker_after = ? WHERE id = ?",
                [contacts.last_attempt_seq(db, campaign_id), campaign_id],
            )
        if action == "canceled":
            contacts.cancel_pending(db, campaign_id)
            for call_id in contacts.queued_call_ids(db, campaign_id):  # not dialled yet: ended with the campaign
                calls.transition(db, call_id, "canceled", end_reason="canceled")
    return get_campaign(db, campaign_id)


def set_status(
    db: sqlite_utils.Database, campaign_id: str, status: str, *, reason: str | None = None, event: str, **data: Any
) -> None:
    stamp = now_iso()
    ended = stamp if status in ("completed", "canceled") else None
    db.execute(
        "UPDATE campaigns SET status = ?, paused_reason = ?, updated_at = ?, ended_at = COALESCE(ended_at, ?) "
        "WHERE id = ?",
        [status, reason if status == "paused" else None, stamp, ended, campaign_id],
    )
    add_event(db, campaign_id, event, {"status": status, **({"reason": reason} if reason else {}), **data})


def add_event(db: sqlite_utils.Database, campaign_id: str, kind: str, data: dict[str, Any]) -> None:
    db["campaign_events"].insert({"campaign_id": campaign_id, "type": kind, "at": now_iso(), "data": dumps(data)})


def queue_webhook(db: sqlite_utils.Database, campaign_id: str, kind: str, call_id: str) -> None:
    """A campaign event into the outbox, for the webhook endpoints that want it. The outbox orders and
    keys deliveries by call, so the event rides on the call that caused it (the one that tripped a pause)."""
    event_id = str(uuid.uuid4())
    created = int(now().timestamp())
    campaign = get_campaign(db, campaign_id)
    payload = {
        "id": event_id,
        "type": kind,
        "created": created,
        "api_version": "2026-04",
        "data": {"campaign": campaign},
    }
    db["webhook_events"].insert(
        {"id": event_id, "call_id": call_id, "type": kind, "created": created, "payload": dumps(payload)}
    )
    webhooks.enqueue(db, event_id, call_id, kind, None)


def events(db: sqlite_utils.Database, campaign_id: str) -> CampaignEvents:
    campaign_row(db, campaign_id)
    rows = db.query("SELECT type, at, data FROM campaign_events WHERE campaign_id = ? ORDER BY seq", [campaign_id])
    return CampaignEvents(campaign_id, [CampaignEvent(r["type"], r["at"], loads(r["data"])) for r in rows])


def _record(db: sqlite_utils.Database, row: dict[str, Any]) -> Campaign:
    return Campaign(
        id=row["id"],
        name=row["name"],
        agent_id=row["agent_id"],
        from_number=row["from_number"],
        status=row["status"],
        max_concurrent=row["max_concurrent"],
        window=msgspec.convert(row["calling_window"], CallingWindow),
        start_at=row["start_at"],
        retry={k: msgspec.convert(v, RetryRule) for k, v in row["retry"].items()},
        paused_reason=row["paused_reason"],
        counters=CampaignCounters(**contacts.counters(db, row["id"])),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        ended_at=row["ended_at"],
    )
