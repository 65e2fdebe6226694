"""The campaign runner: places due contacts as ordinary queued calls, within each campaign's concurrency and the
box's free lines, inside each callee's calling window; reads each ended call's outcome and retries or closes
the contact; pauses a campaign whose recent calls mostly failed (the trunk is down, say).

Everything it knows is in SQLite and each step is one transaction, so a kill -9 between two steps loses
nothing and repeats nothing: a contact is leased to a call in the transaction that writes the call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils
import structlog

from appliance.campaigns import outcomes
from appliance.campaigns.window import Window, next_open, window_from_json, zones_for
from appliance.clock import iso, parse_iso, woken_or_timed_out
from appliance.config import Settings
from appliance.store import agents as agent_store
from appliance.store import calls as call_store
from appliance.store import campaign_contacts as contacts
from appliance.store import campaigns as store
from appliance.store import dnc
from appliance.store.db import transaction
from appliance.store.jsoncol import loads

log = structlog.get_logger(__name__)

TICK_SECONDS = 1.0
LIVE = ("queued", "initiated", "ringing", "in_progress")
BATCH = 50  # contacts looked at per query; most of a batch may be deferred (window closed) rather than placed
# Contacts looked at per campaign and pass: each costs ~0.4 ms (time zones, window), and a pass runs on the
# event loop that moves call audio, so a 10,000-contact list closing its window is deferred over many passes.
MAX_LOOKED_AT = 100
BUSY_NUMBER_RETRY_S = 60.0  # another call to the same number is up: look again in a minute
# The failure breaker (after Dograh's): of the last BREAKER_WINDOW ended attempts, at least BREAKER_MIN of them,
# more than half `failed` (not busy, not no-answer, not an invalid number) means the line is broken, not the list.
BREAKER_WINDOW = 10
BREAKER_MIN = 5


class CampaignRunner:
    def __init__(
        self,
        settings: Settings,
        db: sqlite_utils.Database,
        *,
        ready: Callable[[], bool],
        on_queued: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.db = db
        self.ready = ready  # telephony is up: a call placed now is dialled now, inside the window
        self.on_queued = on_queued  # wake the dialer and the webhook outbox
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._forever(), name="campaigns")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self._wake.set()

    async def _forever(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # a bug or a disk error: log it, keep the loop (the next tick retries)
                log.exception("campaigns.tick_failed")
            await woken_or_timed_out(self._wake, TICK_SECONDS)
            self._wake.clear()

    def tick(self) -> None:
        """One pass: settle ended calls, then advance every active campaign."""
        for campaign_id in self._settle():
            self._check_breaker(campaign_id)
        if not self.ready():
            return
        free = self.settings.max_concurrent_calls - call_store.count_in_status(self.db, LIVE)
        placed = 0
        for campaign_id in store.active_ids(self.db):
            placed += self._advance(campaign_id, max(0, free - placed))
        if placed:
            self.on_queued()

    # --- outcomes -----------------------------------------------------------------------------------
    def _settle(self) -> set[str]:
        touched = set()
        for lease in contacts.ended_leases(self.db):
            with transaction(self.db):
                campaign = store.campaign_row(self.db, lease["campaign_id"])
                outcome = outcomes.outcome_of(lease)
                retry_in = outcomes.backoff_seconds(outcome, lease["attempts"], campaign["retry"])
                contacts.settle(self.db, lease, outcome, retry_in)
                if retry_in is not None and campaign["status"] == "canceled":
                    contacts.finish(self.db, lease["id"], "canceled")
            touched.add(lease["campaign_id"])
            log.info("campaigns.attempt_ended", contact_id=lease["id"], outcome=outcome, retry_in=retry_in)
        return touched

    def _check_breaker(self, campaign_id: str) -> None:
        with transaction(self.db):
            campaign = store.campaign_row(self.db, campaign_id)
            if campaign["status"] != "running":
                return
            recent = contacts.recent_outcomes(self.db, campaign_id, campaign["breaker_after"], BREAKER_WINDOW)
            failed = [call_id for outcome, call_id in recent if outcome == "failed"]
            if len(recent) < BREAKER_MIN or len(failed) * 2 <= len(recent):
                return
            store.set_status(
                self.db, campaign_id, "paused", reason="failing", event="campaign.paused",
                recent_attempts=len(recent), recent_failed=len(failed),
            )  # fmt: skip
            store.queue_webhook(self.db, campaign_id, "campaign.paused", failed[0])
        log.warning("campaigns.paused_failing", campaign_id=campaign_id, failed=len(failed), of=len(recent))
        self.on_queued()

    # --- placing calls --------------------------------------------------------------------------------
    def _advance(self, campaign_id: str, free: int) -> int:
        """Start, place or complete one campaign; returns the calls it queued."""
        now = datetime.now(UTC)
        campaign = store.campaign_row(self.db, campaign_id)
        if campaign["status"] == "scheduled" and (
            campaign["start_at"] is None or parse_iso(campaign["start_at"]) <= now
        ):
            with transaction(self.db):
                store.set_status(self.db, campaign_id, "running", event="campaign.started")
            campaign["status"] = "running"
        if campaign["status"] != "running":
            return 0
        counts = contacts.counters(self.db, campaign_id)
        if counts["pending"] == 0 and counts["in_progress"] == 0:
            with transaction(self.db):
                store.set_status(
                    self.db, campaign_id, "completed", event="campaign.completed", outcomes=counts["outcomes"]
                )
            log.info("campaigns.completed", campaign_id=campaign_id)
            return 0
        agent = agent_store.agent_row(self.db, campaign["agent_id"])
        if agent is None or agent["archived_at"] is not None:
            with transaction(self.db):
                store.set_status(self.db, campaign_id, "paused", reason="agent_archived", event="campaign.paused")
            return 0
        slots = min(free, campaign["max_concurrent"] - counts["in_progress"])
        window = window_from_json(campaign["calling_window"])
        placed = looked_at = 0
        while placed < slots and looked_at < MAX_LOOKED_AT:
            batch = contacts.due(self.db, campaign_id, BATCH)
            if not batch:
                break
            for contact in batch:
                if placed == slots or looked_at == MAX_LOOKED_AT:
                    break
                looked_at += 1
                placed += self._place(campaign, agent, window, contact, now)
        return placed

    def _place(
        self, campaign: dict[str, Any], agent: dict[str, Any], window: Window, contact: dict[str, Any], now: datetime
    ) -> int:
        """Dial one contact if it may be dialled now (1), else skip or defer it with the reason (0)."""
        number = contact["to_number"]
        with transaction(self.db):
            if dnc.listed(self.db, number):
                contacts.finish(self.db, contact["id"], "dnc", "on the do-not-call list")
                return 0
            zones = zones_for(number)
            if not zones:
                contacts.finish(self.db, contact["id"], "no_time_zone", "no time zone is known for this number")
                return 0
            opens = next_open(window, zones, now)
            if opens is None:
                contacts.finish(self.db, contact["id"], "window_never_open", "its time zones share no open hour")
                return 0
            if opens > now:
                zones_text = ", ".join(z.key for z in zones)
                contacts.defer(self.db, contact["id"], opens.timestamp(), f"calling window closed in {zones_text}")
                return 0
            if contacts.has_live_call(self.db, number):
                until = now.timestamp() + BUSY_NUMBER_RETRY_S
                contacts.defer(self.db, contact["id"], until, "another call to this number is in progress")
                return 0
            dials = contacts.dials_since(self.db, number, now - timedelta(hours=24))
            if len(dials) >= self.settings.campaign_dials_per_day:
                until = parse_iso(dials[-self.settings.campaign_dials_per_day]) + timedelta(hours=24)
                detail = f"{len(dials)} dials in 24 h (campaign_dials_per_day) until {iso(until)}"
                contacts.defer(self.db, contact["id"], until.timestamp(), detail)
                return 0
            call, _ = call_store.create_call(
                self.db,
                agent=agent,
                direction="outbound",
                to_number=number,
                from_number=campaign["from_number"],
                trunk_id=contact["trunk_id"],
                instructions=None,
                context=loads(contact["columns"]),
                metadata={"campaign_id": campaign["id"], "campaign_contact_id": contact["id"]},
                webhook_url=None,
            )
            contacts.lease(self.db, contact, call.id)
        log.info("campaigns.dialing", campaign_id=campaign["id"], contact_id=contact["id"], call_id=call.id)
        return 1
