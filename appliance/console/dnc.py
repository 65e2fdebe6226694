"""Console page for the do-not-call list: every number with why, how and when it was added; add and remove."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template

from appliance import validation
from appliance.errors import ApplianceError
from appliance.runtime import Runtime
from appliance.store import dnc

from .forms import form_errors, text


class DncPages(Controller):
    path = "/dnc"

    def _page(self, runtime: Runtime, errors: dict[str, str] | None = None, values: Any = None) -> Template:
        context = {
            "entries": dnc.list_entries(runtime.db, 200, None),
            "errors": errors or {},
            "values": values or {},
            "active": "campaigns",
        }
        return Template("campaigns/dnc.html", context=context, status_code=400 if errors else 200)

    @get("/")
    async def page(self, runtime: Runtime) -> Template:
        return self._page(runtime)

    @post("/")
    async def add(self, runtime: Runtime, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        try:
            number = validation.e164(text(form, "number") or "", "number")
            dnc.add(runtime.db, number, text(form, "reason"), "console")
        except ApplianceError as exc:
            return self._page(runtime, form_errors(exc), dict(form))
        return Redirect("/dnc", status_code=303)

    @post("/{number:str}/remove")
    async def remove(self, runtime: Runtime, number: str) -> Redirect:
        dnc.remove(runtime.db, number)
        return Redirect("/dnc", status_code=303)
