"""The campaign runner on a real SQLite store. The dialer's part (a queued call ending busy, answered…) is
played by the store's own status transitions, exactly what the dialer writes; the telephony side is
tested whole in tests/integration/test_campaigns.py."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils

from appliance.campaigns.outcomes import DEFAULT_RETRY
from appliance.campaigns.runner import MAX_LOOKED_AT, CampaignRunner
from appliance.config import Settings
from appliance.store import agents, calls, campaigns, dnc
from appliance.store import campaign_contacts as contacts
from appliance.store.db import open_db
from appliance.store.trunks import ensure_loopback

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
OPEN = {"start": "00:00", "end": "23:59", "days": ALL_DAYS}
NOW_RETRY = {k: {"attempts": v["attempts"], "backoff_minutes": 0} for k, v in DEFAULT_RETRY.items()}


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    database = open_db(tmp_path / "a.db")
    ensure_loopback(database, 5062)
    return database


class Box:
    def __init__(self, db: sqlite_utils.Database, **settings: Any) -> None:
        self.db = db
        self.queued = 0
        self.runner = CampaignRunner(
            Settings(campaign_hours="00:00-23:59", **settings), db, ready=lambda: True, on_queued=self._queued
        )
        self.agent_id = agents.create_agent(db, {"name": "r", "type": "outbound"})

    def _queued(self) -> None:
        self.queued += 1

    def campaign(self, numbers: list[str], *, window: dict[str, Any] = OPEN, max_concurrent: int = 2,
                 retry: dict[str, Any] = NOW_RETRY, start_at: str | None = None) -> str:  # fmt: skip
        loopback = self.db.execute("SELECT id FROM trunks WHERE builtin = 1").fetchone()[0]
        seen: set[str] = set()
        rows = []
        for i, n in enumerate(numbers):
            rows.append(contacts.NewContact(n, {"row": i}, i + 2, loopback, "duplicate" if n in seen else None))
            seen.add(n)
        return campaigns.create_campaign(
            self.db, name=None, agent_id=self.agent_id, from_number=None,
            status="scheduled" if start_at else "running", max_concurrent=max_concurrent, window=window,
            start_at=start_at, retry=retry, rows=rows,
        ).id  # fmt: skip

    def live_calls(self) -> list[dict[str, Any]]:
        return [
            calls.call_row(self.db, i) for i in calls.ids_in_status(self.db, ("queued", "initiated", "in_progress"))
        ]

    def end(self, call_id: str, status: str, **fields: Any) -> None:
        """What the dialer writes for a call that ended `status`."""
        calls.transition(self.db, call_id, "initiated")
        if status == "completed" or fields.get("end_reason") == "voicemail":
            calls.transition(self.db, call_id, "in_progress")
        calls.transition(self.db, call_id, status, **fields)


def test_contacts_become_ordinary_calls_bounded_by_max_concurrent(db: sqlite_utils.Database) -> None:
    box = Box(db)
    campaign_id = box.campaign(["+12025550101", "+12025550102", "+12025550103"], max_concurrent=2)
    box.runner.tick()
    live = box.live_calls()
    assert len(live) == 2 and box.queued == 1
    first = live[0]
    contact = contacts.list_contacts(db, campaign_id, state=None, limit=10, starting_after=None)[0][0]
    assert first["metadata"] == {"campaign_id": campaign_id, "campaign_contact_id": contact.id}
    assert first["context"] == {"row": 0}
    box.runner.tick()
    assert len(box.live_calls()) == 2  # no third while two are up
    counters = campaigns.get_campaign(db, campaign_id).counters
    assert (counters.pending, counters.in_progress, counters.completed) == (1, 2, 0)


def test_the_box_capacity_bounds_every_campaign(db: sqlite_utils.Database) -> None:
    box = Box(db, max_concurrent_calls=3)
    box.campaign([f"+1202555{n:04d}" for n in range(110, 115)], max_concurrent=2)
    box.campaign([f"+1202555{n:04d}" for n in range(120, 125)], max_concurrent=2)
    box.runner.tick()
    assert len(box.live_calls()) == 3


def test_outcomes_retry_per_policy_and_attempts_count_every_dial(db: sqlite_utils.Database) -> None:
    box = Box(db)
    retry = {**NOW_RETRY, "busy": {"attempts": 2, "backoff_minutes": 0}}
    campaign_id = box.campaign(["+12025550102", "+12025550101"], retry=retry)
    for _ in range(3):
        box.runner.tick()
        for call in box.live_calls():
            if call["to_number"] == "+12025550102":
                box.end(call["id"], "busy")
            else:
                box.end(call["id"], "completed", end_reason="agent_ended")
    box.runner.tick()
    rows = {c.to: c for c in contacts.all_contacts(db, campaign_id)}
    assert (rows["+12025550102"].outcome, rows["+12025550102"].attempts, len(rows["+12025550102"].call_ids)) == (
        "busy", 2, 2,
    )  # fmt: skip
    assert (rows["+12025550101"].outcome, rows["+12025550101"].attempts) == ("completed", 1)
    assert campaigns.get_campaign(db, campaign_id).status == "completed"


def test_invalid_numbers_are_never_retried(db: sqlite_utils.Database) -> None:
    box = Box(db)
    campaign_id = box.campaign(["+12025550199"])
    box.runner.tick()
    box.end(box.live_calls()[0]["id"], "failed", error_code="invalid_number")
    box.runner.tick()
    [contact] = contacts.all_contacts(db, campaign_id)
    assert (contact.state, contact.outcome, contact.attempts) == ("done", "invalid", 1)


def test_a_number_on_the_dnc_list_is_skipped_with_a_reason(db: sqlite_utils.Database) -> None:
    box = Box(db)
    dnc.add(db, "+12025550101", "asked by letter", "api")
    campaign_id = box.campaign(["+12025550101", "+12025550101"])
    box.runner.tick()
    assert box.live_calls() == []
    rows = contacts.all_contacts(db, campaign_id)
    assert [(c.outcome, c.detail, c.attempts) for c in rows] == [
        ("dnc", "on the do-not-call list", 0),
        ("duplicate", None, 0),
    ]


def test_a_closed_window_defers_contacts_without_spending_attempts(db: sqlite_utils.Database) -> None:
    box = Box(db)
    here = datetime.now(ZoneInfo("America/New_York"))
    closed_day = ALL_DAYS[(here.weekday() + 1) % 7]  # open tomorrow only (New York time)
    campaign_id = box.campaign(["+12025550101"], window={"start": "00:00", "end": "23:59", "days": [closed_day]})
    box.runner.tick()
    assert box.live_calls() == []
    [contact] = contacts.all_contacts(db, campaign_id)
    assert contact.state == "pending" and contact.attempts == 0
    assert contact.detail == "calling window closed in America/New_York"
    assert contact.next_attempt_at is not None
    opens = datetime.fromisoformat(contact.next_attempt_at.replace("Z", "+00:00")).astimezone(here.tzinfo)
    assert opens.date() == here.date() + timedelta(days=1) and (opens.hour, opens.minute) == (0, 0)


def test_dials_per_number_in_24_hours_are_limited_across_campaigns(db: sqlite_utils.Database) -> None:
    box = Box(db, campaign_dials_per_day=2)
    box.campaign(["+12025550102"], retry={**NOW_RETRY, "busy": {"attempts": 3, "backoff_minutes": 0}})
    for _ in range(3):
        box.runner.tick()
        for call in box.live_calls():
            box.end(call["id"], "busy")
    box.campaign(["+12025550102"])
    box.runner.tick()
    dialled = db.execute("SELECT COUNT(*) FROM calls WHERE to_number = '+12025550102'").fetchone()[0]
    assert dialled == 2
    waiting = [d for (d,) in db.execute("SELECT detail FROM campaign_contacts WHERE state = 'pending'")]
    assert len(waiting) == 2 and all("2 dials in 24 h (campaign_dials_per_day)" in d for d in waiting)


def test_a_campaign_waits_for_its_start_time(db: sqlite_utils.Database) -> None:
    box = Box(db)
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    campaign_id = box.campaign(["+12025550101"], start_at=later)
    box.runner.tick()
    assert box.live_calls() == [] and campaigns.get_campaign(db, campaign_id).status == "scheduled"


def test_most_recent_calls_failing_pause_the_campaign_with_an_event_and_a_webhook(db: sqlite_utils.Database) -> None:
    box = Box(db, max_concurrent_calls=10)
    db["webhook_endpoints"].insert({"id": "we_1", "url": "http://127.0.0.1:9/", "enabled_events": '["*"]',
        "status": "enabled", "secret": "whsec_x", "created_at": "t", "updated_at": "t"})  # fmt: skip
    campaign_id = box.campaign([f"+1202555{n:04d}" for n in range(200, 212)], max_concurrent=6)
    box.runner.tick()
    for call in box.live_calls():
        box.end(call["id"], "failed", error_code="carrier_unavailable")
    box.runner.tick()
    campaign = campaigns.get_campaign(db, campaign_id)
    assert (campaign.status, campaign.paused_reason) == ("paused", "failing")
    assert box.live_calls() == []
    paused = [e for e in campaigns.events(db, campaign_id).events if e.type == "campaign.paused"]
    assert paused[0].data["recent_failed"] == 6
    kinds = [r[0] for r in db.execute("SELECT event_type FROM webhook_deliveries WHERE endpoint_id = 'we_1'")]
    assert "campaign.paused" in kinds
    # Resumed, it looks only at attempts after the resume.
    campaigns.move(db, campaign_id, "resumed", status="running")
    box.runner.tick()
    assert len(box.live_calls()) == 6 and campaigns.get_campaign(db, campaign_id).status == "running"


def test_cancel_ends_calls_not_yet_dialled_and_pending_contacts(db: sqlite_utils.Database) -> None:
    box = Box(db)
    campaign_id = box.campaign(["+12025550101", "+12025550103", "+12025550104"])
    box.runner.tick()
    first, second = box.live_calls()
    calls.transition(db, first["id"], "initiated")  # dialled: it finishes
    campaigns.move(db, campaign_id, "canceled", status="canceled")
    assert calls.call_row(db, second["id"])["status"] == "canceled"
    box.end(first["id"], "busy")
    box.runner.tick()
    assert sorted(c.outcome or "" for c in contacts.all_contacts(db, campaign_id)) == ["canceled"] * 3
    assert box.live_calls() == []


def test_a_pass_looks_at_a_bounded_number_of_contacts(db: sqlite_utils.Database) -> None:
    box = Box(db)
    here = datetime.now(ZoneInfo("America/New_York"))
    tomorrow = ALL_DAYS[(here.weekday() + 1) % 7]
    window = {"start": "00:00", "end": "23:59", "days": [tomorrow]}
    campaign_id = box.campaign([f"+1202555{n:04d}" for n in range(1000, 1000 + MAX_LOOKED_AT + 50)], window=window)
    box.runner.tick()  # it runs on the event loop: a closing window defers a long list over several passes
    details = Counter(c.detail for c in contacts.all_contacts(db, campaign_id))
    assert details == Counter({"calling window closed in America/New_York": MAX_LOOKED_AT, None: 50})
    box.runner.tick()
    assert Counter(c.detail for c in contacts.all_contacts(db, campaign_id))[None] == 0
