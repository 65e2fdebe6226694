"""Console pages for campaigns: the list with a CSV upload form, a campaign's live progress with pause / resume /
cancel, its contacts, and the results as CSV (every contact with its outcome and its call's `result` fields)."""

from __future__ import annotations

import csv
import io
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Template

from appliance.api.campaign_bodies import CreateCampaign
from appliance.api.campaigns import control, start_campaign
from appliance.campaigns.outcomes import DEFAULT_RETRY, RETRYABLE
from appliance.campaigns.window import DAYS
from appliance.errors import ApplianceError, NotFound
from appliance.runtime import Runtime
from appliance.store import agents as agent_store
from appliance.store import calls as call_store
from appliance.store import campaign_contacts as contact_store
from appliance.store import campaigns as store

from .forms import FormError, form_errors, integer, text, to_body

SHOWN_CONTACTS = 200
ACTIONS = {"pause": "paused", "resume": "resumed", "cancel": "canceled"}


def _agents(runtime: Runtime) -> dict[str, str]:
    return {a.id: a.name for a in agent_store.list_agents(runtime.db, None, 500, None)}


async def _fields(form: Any, errors: dict[str, str]) -> dict[str, Any]:
    """The upload form → a CreateCampaign body (the same checks as POST /v1/campaigns)."""
    fields: dict[str, Any] = {"agent_id": text(form, "agent_id") or "", "name": text(form, "name")}
    upload = form.get("contacts_file")
    if isinstance(upload, UploadFile):
        raw = await upload.read()
        try:
            fields["contacts_csv"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            errors["contacts_csv"] = "the CSV file is not UTF-8 text"
    integer(form, "max_concurrent", fields, errors)
    fields["window"] = {
        "start": text(form, "window_start") or "08:00",
        "end": text(form, "window_end") or "21:00",
        "days": [d for d in DAYS if form.get(f"day_{d}") == "on"],
    }
    if start_at := text(form, "start_at"):
        fields["start_at"] = start_at
    retry: dict[str, Any] = {}
    for outcome in RETRYABLE:
        rule: dict[str, Any] = {}
        integer(form, f"{outcome}_attempts", rule, errors)
        integer(form, f"{outcome}_backoff", rule, errors)
        retry[outcome] = {
            "attempts": rule.get(f"{outcome}_attempts", DEFAULT_RETRY[outcome]["attempts"]),
            "backoff_minutes": rule.get(f"{outcome}_backoff", DEFAULT_RETRY[outcome]["backoff_minutes"]),
        }
    fields["retry"] = retry
    return fields


def results_csv(runtime: Runtime, campaign_id: str) -> str:
    """One row per contact: its columns, outcome and attempts, then its last call's status and result fields."""
    contacts = contact_store.all_contacts(runtime.db, campaign_id)
    last_calls = {c.id: call_store.get_call(runtime.db, c.call_ids[-1]) for c in contacts if c.call_ids}
    columns = _union(c.columns for c in contacts)
    results = _union(call.result or {} for call in last_calls.values())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "to", *columns, "state", "outcome", "detail", "attempts", "call_id", "call_status",
                     "answered_by", "duration_seconds", *(f"result.{r}" for r in results)])  # fmt: skip
    for contact in contacts:
        call = last_calls.get(contact.id)
        result = (call.result or {}) if call else {}
        writer.writerow([
            contact.line, contact.to, *(contact.columns.get(c, "") for c in columns), contact.state,
            contact.outcome or "", contact.detail or "", contact.attempts, call.id if call else "",
            call.status if call else "", (call.answered_by or "") if call else "",
            call.duration_seconds if call and call.duration_seconds is not None else "",
            *(_cell(result.get(r)) for r in results),
        ])  # fmt: skip
    return out.getvalue()


def _union(dicts: Any) -> list[str]:
    keys: dict[str, None] = {}
    for d in dicts:
        keys.update(dict.fromkeys(d))
    return list(keys)


def _cell(value: Any) -> Any:
    return "" if value is None else value


class CampaignPages(Controller):
    path = "/campaigns"

    async def _list(self, runtime: Runtime, errors: dict[str, str] | None = None, values: Any = None) -> Template:
        campaigns, _ = store.list_campaigns(runtime.db, 100, None)
        outbound = {
            a.id: a.name for a in agent_store.list_agents(runtime.db, "outbound", 500, None) if not a.archived_at
        }
        context = {
            "campaigns": campaigns,
            "agents": _agents(runtime),
            "outbound": outbound,
            "days": DAYS,
            "retry": DEFAULT_RETRY,
            "errors": errors or {},
            "values": values or {},
            "hours": runtime.settings.campaign_hours,
            "active": "campaigns",
        }
        return Template("campaigns/list.html", context=context, status_code=400 if errors else 200)

    @get("/")
    async def list_page(self, runtime: Runtime) -> Template:
        return await self._list(runtime)

    @post("/")
    async def create(self, runtime: Runtime, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        errors: dict[str, str] = {}
        fields = await _fields(form, errors)
        try:
            if errors:
                raise FormError(errors)
            campaign = await start_campaign(runtime, to_body(CreateCampaign, fields), source="contacts_csv")
        except (FormError, ApplianceError) as exc:
            values = {k: v for k, v in form.items() if not isinstance(v, UploadFile)}
            return await self._list(runtime, form_errors(exc), values)
        return Redirect(f"/campaigns/{campaign.id}", status_code=303)

    @get("/{campaign_id:str}")
    async def detail(self, runtime: Runtime, campaign_id: str, request: Request[Any, Any, Any]) -> Template:
        campaign = store.get_campaign(runtime.db, campaign_id)
        contacts, more = contact_store.list_contacts(
            runtime.db, campaign_id, state=None, limit=SHOWN_CONTACTS, starting_after=None
        )
        context = {
            "campaign": campaign,
            "agent_name": _agents(runtime).get(campaign.agent_id, campaign.agent_id),
            "contacts": contacts,
            "more": more,
            "events": store.events(runtime.db, campaign_id).events[-20:],
            "live": campaign.status in store.ACTIVE,
            "active": "campaigns",
        }
        # htmx polls the progress and contacts alone while the campaign is active.
        template = "campaigns/progress.html" if request.headers.get("hx-request") else "campaigns/detail.html"
        return Template(template, context=context)

    @post("/{campaign_id:str}/{action:str}")
    async def act(self, runtime: Runtime, campaign_id: str, action: str) -> Redirect:
        if action not in ACTIONS:
            raise NotFound(f"no such action: {action}")
        control(runtime, campaign_id, ACTIONS[action])
        return Redirect(f"/campaigns/{campaign_id}", status_code=303)

    @get("/{campaign_id:str}/results.csv", media_type="text/csv")
    async def results(self, runtime: Runtime, campaign_id: str) -> Response[str]:
        store.campaign_row(runtime.db, campaign_id)
        headers = {"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'}
        return Response(results_csv(runtime, campaign_id), media_type="text/csv", headers=headers)
