"""Console page for numbers (DIDs) and SIP trunks, with the trunks' registration status refreshed live."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template

from appliance.api.numbers_trunks import apply_trunks
from appliance.api.schemas import CreateNumber, CreateTrunk, UpdateTrunk
from appliance.errors import ApplianceError
from appliance.runtime import Runtime
from appliance.store import agents as agent_store
from appliance.store import numbers as number_store
from appliance.store import trunks as trunk_store

from .forms import FormError, form_errors, integer, text, to_body


def _trunk_fields(form: Any, creating: bool) -> dict[str, Any]:
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {"name": text(form, "name") or "", "host": text(form, "host") or ""}
    integer(form, "port", fields, errors)
    integer(form, "max_channels", fields, errors)
    fields["transport"] = form.get("transport") or "udp"
    for name in ("username", "from_domain"):
        fields[name] = text(form, name)
    password = text(form, "password")
    if password is not None or creating:  # blank on edit keeps the stored password
        fields["password"] = password
    fields["register"] = form.get("register") == "on"
    fields["codecs"] = form.getall("codecs", []) or ["ulaw", "alaw"]
    if errors:
        raise FormError(errors)
    return fields


class NumberPages(Controller):
    path = "/numbers"

    async def _page(self, runtime: Runtime, errors: dict[str, str] | None = None, **extra: Any) -> Template:
        state = runtime.telephony.trunk_state() if runtime.telephony else {}
        context = {
            "numbers": number_store.list_numbers(runtime.db, limit=200).data,
            "trunks": trunk_store.list_trunks(runtime.db, state),
            "agents": {a.id: a.name for a in agent_store.list_agents(runtime.db, None, 500, None)},
            "errors": errors or {},
            "values": {},
            "active": "numbers",
            **extra,
        }
        return Template("numbers.html", context=context, status_code=400 if errors else 200)

    @get("/")
    async def page(self, runtime: Runtime) -> Template:
        return await self._page(runtime)

    @get("/trunks")
    async def trunk_rows(self, runtime: Runtime) -> Template:
        """The trunk table alone: htmx polls it so registration changes show without a reload."""
        state = runtime.telephony.trunk_state() if runtime.telephony else {}
        return Template("_trunk_rows.html", context={"trunks": trunk_store.list_trunks(runtime.db, state)})

    @post("/")
    async def add_number(self, runtime: Runtime, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        fields = {"e164": text(form, "e164") or "", "friendly_name": text(form, "friendly_name")}
        fields["trunk_id"] = text(form, "trunk_id")
        try:
            body = to_body(CreateNumber, fields)
            number_store.register_number(runtime.db, body.e164, body.friendly_name, body.trunk_id)
        except (FormError, ApplianceError) as exc:
            return await self._page(runtime, form_errors(exc), number_values=dict(form))
        return Redirect("/numbers", status_code=303)

    @post("/{number_id:str}/release")
    async def release(self, runtime: Runtime, number_id: str) -> Redirect:
        number_store.release_number(runtime.db, number_id)
        return Redirect("/numbers", status_code=303)

    @post("/trunks")
    async def add_trunk(self, runtime: Runtime, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        try:
            body = to_body(CreateTrunk, _trunk_fields(form, creating=True))
            trunk_store.create_trunk(runtime.db, body.sent())
        except (FormError, ApplianceError) as exc:
            return await self._page(runtime, form_errors(exc), trunk_values=dict(form))
        await apply_trunks(runtime)
        return Redirect("/numbers", status_code=303)

    @get("/trunks/{trunk_id:str}")
    async def edit_trunk_page(self, runtime: Runtime, trunk_id: str) -> Template:
        trunk = trunk_store.get_trunk(runtime.db, trunk_id)
        return Template("trunk_form.html", context={"trunk": trunk, "errors": {}, "active": "numbers"})

    @post("/trunks/{trunk_id:str}")
    async def edit_trunk(self, runtime: Runtime, trunk_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
        trunk = trunk_store.get_trunk(runtime.db, trunk_id)
        form = await request.form()
        try:
            body = to_body(UpdateTrunk, _trunk_fields(form, creating=False))
            trunk_store.update_trunk(runtime.db, trunk_id, body.sent())
        except (FormError, ApplianceError) as exc:
            context = {"trunk": trunk, "errors": form_errors(exc), "active": "numbers"}
            return Template("trunk_form.html", context=context, status_code=400)
        await apply_trunks(runtime)
        return Redirect("/numbers", status_code=303)
