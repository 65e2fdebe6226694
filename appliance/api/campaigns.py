"""/v1/campaigns: create (contacts as JSON or CSV), list, get with counters, contacts, events, pause / resume /
cancel; /v1/dnc: the do-not-call list."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import Parameter

from appliance import validation
from appliance.calling import choose_trunk
from appliance.campaigns import contacts as contact_lists
from appliance.campaigns.window import parse_window
from appliance.clock import iso
from appliance.errors import InvalidInput
from appliance.runtime import Runtime
from appliance.store import agents as agent_store
from appliance.store import campaign_contacts as contact_store
from appliance.store import campaigns as store
from appliance.store import dnc
from appliance.store import numbers as number_store
from appliance.store.campaign_records import Campaign, CampaignContactList, CampaignEvents, CampaignList
from appliance.store.dnc import DncEntry, DncList
from appliance.store.paging import check_limit

from .campaign_bodies import CreateCampaign, CreateDnc
from .edge import ERROR_RESPONSES
from .schemas import strict_body


async def start_campaign(runtime: Runtime, data: CreateCampaign, source: str = "contacts") -> Campaign:
    """Check a campaign request whole (agent, window, start, every contact) and create it, or raise a 400
    naming the field and create nothing. Used by POST /v1/campaigns and the console's upload."""
    db, settings = runtime.db, runtime.settings
    agent = agent_store.agent_row(db, data.agent_id)
    if agent is None:
        raise InvalidInput(f"agent_id {data.agent_id!r} is not a known agent", field="agent_id")
    if agent["archived_at"] is not None:
        raise InvalidInput(f"agent_id {data.agent_id} is an archived agent: it takes no calls", field="agent_id")
    if agent["type"] != "outbound":
        raise InvalidInput(
            f"agent_id {data.agent_id} is an inbound agent; campaigns need an outbound agent", field="agent_id"
        )
    if data.max_concurrent > settings.max_concurrent_calls:
        raise InvalidInput(
            f"max_concurrent {data.max_concurrent} is more than this box's capacity "
            f"(max_concurrent_calls = {settings.max_concurrent_calls})",
            field="max_concurrent",
        )
    window = parse_window(data.window.start, data.window.end, data.window.days, settings.campaign_hours)
    start_at = _start_at(data.start_at)
    if (data.contacts is None) == (data.contacts_csv is None):
        raise InvalidInput(
            "send the contacts either as contacts (a list) or as contacts_csv, one of them", field=source
        )
    # Checking 10,000 numbers takes about a second of pure Python: off the event loop, which moves call audio.
    if data.contacts is not None:
        parsed = await asyncio.to_thread(contact_lists.from_json, data.contacts)
    else:
        parsed = await asyncio.to_thread(contact_lists.from_csv, data.contacts_csv or "")
    from_number, from_trunk = None, None
    if agent["primary_number_id"]:
        number = number_store.get_number(db, agent["primary_number_id"])
        from_number, from_trunk = number.e164, number.trunk_id
    rows, seen, no_trunk = [], set(), []
    trunks: dict[bool, str | None] = {}  # the trunk depends only on whether it is a test-carrier number
    for i, contact in enumerate(parsed):
        where = f"line {contact.line}" if contact.line is not None else f"contacts[{i}]"
        test_number = validation.is_test_number(contact.to)
        if test_number not in trunks:
            try:
                trunks[test_number] = choose_trunk(db, contact.to, from_trunk)
            except InvalidInput:
                trunks[test_number] = None
        trunk_id = trunks[test_number]
        if trunk_id is None:
            no_trunk.append(f"{where}: {contact.to}")
            continue
        duplicate = "duplicate" if contact.to in seen else None
        seen.add(contact.to)
        rows.append(contact_store.NewContact(contact.to, contact.columns, contact.line, trunk_id, duplicate))
    if no_trunk:
        field = "contacts_csv" if data.contacts_csv is not None else "contacts"
        raise InvalidInput(
            f"{field}: no trunk can carry {len(no_trunk)} of the numbers (add a SIP trunk with POST /v1/trunks; "
            f"the loopback trunk reaches only +1202555xxxx): {'; '.join(no_trunk[:20])}",
            field=field,
        )
    retry = {k: msgspec.structs.asdict(v) for k, v in msgspec.structs.asdict(data.retry).items()}
    campaign = store.create_campaign(
        db,
        name=data.name,
        agent_id=agent["id"],
        from_number=from_number,
        status="scheduled" if start_at and start_at > datetime.now(UTC) else "running",
        max_concurrent=data.max_concurrent,
        window=window.as_json(),
        start_at=iso(start_at) if start_at else None,
        retry=retry,
        rows=rows,
    )
    if runtime.campaigns is not None:
        runtime.campaigns.wake()
    return campaign


def _start_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"start_at must be an ISO 8601 time like 2026-05-01T09:00:00Z, got {value!r}", field="start_at"
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"start_at needs a time zone (Z or an offset), got {value!r}", field="start_at")
    return moment.astimezone(UTC)


def control(runtime: Runtime, campaign_id: str, action: str) -> Campaign:
    """Pause, resume or cancel. A cancel ends the calls not yet dialled; live calls finish."""
    status = {"paused": "paused", "resumed": "running", "canceled": "canceled"}[action]
    if action == "resumed":
        row = store.campaign_row(runtime.db, campaign_id)
        if row["start_at"] and row["start_at"] > iso(datetime.now(UTC)):
            status = "scheduled"
    campaign = store.move(
        runtime.db, campaign_id, action, status=status, reason="paused" if action == "paused" else None
    )
    if runtime.campaigns is not None:
        runtime.campaigns.wake()
    return campaign


class CampaignController(Controller):
    path = "/campaigns"
    tags = ["campaigns"]

    @post("/", responses=ERROR_RESPONSES)
    async def create_campaign(
        self, runtime: Runtime, data: CreateCampaign, request: Request[Any, Any, Any]
    ) -> Response[Campaign]:
        """Create a campaign from JSON contacts or a CSV text (400 naming the field, every bad line listed)."""
        data = await strict_body(request, CreateCampaign)
        return Response(await start_campaign(runtime, data), status_code=201)

    @get("/", responses=ERROR_RESPONSES)
    async def list_campaigns(
        self, runtime: Runtime, limit: int = 50, starting_after: str | None = None
    ) -> CampaignList:
        campaigns, more = store.list_campaigns(runtime.db, check_limit(limit), starting_after)
        return CampaignList(campaigns, more)

    @get("/{campaign_id:str}", responses=ERROR_RESPONSES)
    async def get_campaign(self, runtime: Runtime, campaign_id: str) -> Campaign:
        return store.get_campaign(runtime.db, campaign_id)

    @get("/{campaign_id:str}/contacts", responses=ERROR_RESPONSES)
    async def list_contacts(
        self,
        runtime: Runtime,
        campaign_id: str,
        contact_state: Annotated[str | None, Parameter(query="state")] = None,
        limit: int = 50,
        starting_after: str | None = None,
    ) -> CampaignContactList:
        store.campaign_row(runtime.db, campaign_id)
        if contact_state is not None and contact_state not in ("pending", "dialing", "done"):
            raise InvalidInput("state must be pending, dialing or done", field="state")
        rows, more = contact_store.list_contacts(
            runtime.db, campaign_id, state=contact_state, limit=check_limit(limit), starting_after=starting_after
        )
        return CampaignContactList(rows, more)

    @get("/{campaign_id:str}/events", responses=ERROR_RESPONSES)
    async def get_events(self, runtime: Runtime, campaign_id: str) -> CampaignEvents:
        return store.events(runtime.db, campaign_id)

    @post("/{campaign_id:str}/pause", responses=ERROR_RESPONSES, status_code=200)
    async def pause(self, runtime: Runtime, campaign_id: str) -> Campaign:
        """No new dials; calls up finish."""
        return control(runtime, campaign_id, "paused")

    @post("/{campaign_id:str}/resume", responses=ERROR_RESPONSES, status_code=200)
    async def resume(self, runtime: Runtime, campaign_id: str) -> Campaign:
        return control(runtime, campaign_id, "resumed")

    @post("/{campaign_id:str}/cancel", responses=ERROR_RESPONSES, status_code=200)
    async def cancel(self, runtime: Runtime, campaign_id: str) -> Campaign:
        """End the campaign: pending contacts and calls not yet dialled are canceled; live calls finish."""
        return control(runtime, campaign_id, "canceled")


class DncController(Controller):
    path = "/dnc"
    tags = ["dnc"]

    @post("/", responses=ERROR_RESPONSES)
    async def add(self, runtime: Runtime, data: CreateDnc, request: Request[Any, Any, Any]) -> Response[DncEntry]:
        """Add a number (201; 200 with the first entry when it is already listed)."""
        data = await strict_body(request, CreateDnc)
        number = validation.e164(data.number.strip(), "number")
        entry, created = dnc.add(runtime.db, number, data.reason, "api")
        return Response(entry, status_code=201 if created else 200)

    @get("/", responses=ERROR_RESPONSES)
    async def list_entries(self, runtime: Runtime, limit: int = 50, starting_after: str | None = None) -> DncList:
        return DncList(dnc.list_entries(runtime.db, check_limit(limit), starting_after))

    @get("/{number:str}", responses=ERROR_RESPONSES)
    async def get_entry(self, runtime: Runtime, number: str) -> DncEntry:
        return dnc.get(runtime.db, number)

    @delete("/{number:str}", responses=ERROR_RESPONSES, status_code=204)
    async def remove(self, runtime: Runtime, number: str) -> None:
        dnc.remove(runtime.db, number)
