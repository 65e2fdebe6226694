"""API keys and webhook endpoints: create (the secret is shown once, on that response only), revoke, rotate,
enable / disable."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template

from appliance import validation
from appliance.api.webhooks import CreateEndpoint
from appliance.errors import ApplianceError
from appliance.runtime import Runtime
from appliance.store import keys as key_store
from appliance.store import webhooks as webhook_store

from .forms import FormError, form_errors, text, to_body


class AccessPages(Controller):
    path = "/access"

    def _page(self, runtime: Runtime, status: int = 200, **extra: Any) -> Template:
        context = {
            "keys": key_store.list_keys(runtime.db),
            "endpoints": webhook_store.list_endpoints(runtime.db),
            "event_types": webhook_store.EVENT_TYPES,
            "errors": {},
            "shown_secret": None,
            "active": "access",
            **extra,
        }
        return Template("access.html", context=context, status_code=status)

    @get("/")
    async def page(self, runtime: Runtime) -> Template:
        return self._page(runtime)

    @post("/keys")
    async def create_key(self, runtime: Runtime, request: Request[Any, Any, Any]) -> Template:
        form = await request.form()
        name = text(form, "name")
        if name is None or len(name) > 200:
            return self._page(runtime, 400, errors={"name": "name the key (1 to 200 characters)"})
        record, key = key_store.create_key(runtime.db, name)
        shown = {"title": f"API key {record.name}", "value": key}
        return self._page(runtime, shown_secret=shown)

    @post("/keys/{key_id:str}/revoke")
    async def revoke_key(self, runtime: Runtime, key_id: str) -> Redirect:
        key_store.revoke_key(runtime.db, key_id)
        runtime.key_cache.clear()
        return Redirect("/access", status_code=303)

    @post("/webhooks")
    async def create_endpoint(self, runtime: Runtime, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        fields = {
            "url": text(form, "url") or "",
            "description": text(form, "description"),
            "enabled_events": form.getall("enabled_events", []) or ["*"],
        }
        try:
            body = to_body(CreateEndpoint, fields)
            validation.allowed_url(body.url, "url", runtime.settings.url_allowlist)
            endpoint = webhook_store.create_endpoint(runtime.db, body.url, body.description, body.enabled_events)
        except (FormError, ApplianceError) as exc:
            return self._page(runtime, 400, errors=form_errors(exc), endpoint_values=fields)
        shown = {"title": f"Signing secret of {endpoint.url}", "value": endpoint.signing_secret}
        return self._page(runtime, shown_secret=shown)

    @post("/webhooks/{endpoint_id:str}/rotate")
    async def rotate(self, runtime: Runtime, endpoint_id: str) -> Template:
        endpoint = webhook_store.rotate_secret(runtime.db, endpoint_id)
        return self._page(
            runtime, shown_secret={"title": f"New signing secret of {endpoint.url}", "value": endpoint.signing_secret}
        )

    @post("/webhooks/{endpoint_id:str}/status")
    async def set_status(self, runtime: Runtime, endpoint_id: str, request: Request[Any, Any, Any]) -> Redirect:
        form = await request.form()
        status = "enabled" if form.get("status") == "enabled" else "disabled"
        webhook_store.update_endpoint(runtime.db, endpoint_id, {"status": status})
        return Redirect("/access", status_code=303)

    @post("/webhooks/{endpoint_id:str}/delete")
    async def delete(self, runtime: Runtime, endpoint_id: str) -> Redirect:
        webhook_store.delete_endpoint(runtime.db, endpoint_id)
        return Redirect("/access", status_code=303)
