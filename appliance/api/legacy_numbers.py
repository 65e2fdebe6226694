"""The hosted service's number endpoints: search DIDs the box can take (`/v1/numbers/available`), take one
(`/v1/numbers/purchase`: registered on the trunk that offers it, no charge), and the per-number inbound
config (`PUT /v1/numbers/{id}/inbound`)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Request, get, post, put

from appliance import validation
from appliance.errors import InvalidInput
from appliance.runtime import Runtime
from appliance.store import agents as agent_store
from appliance.store import available
from appliance.store import numbers as number_store
from appliance.store.paging import check_limit
from appliance.store.records import AvailableNumber, Number

from .agents import check_agent_fields
from .edge import ERROR_RESPONSES
from .schemas import InboundConfig, PurchaseNumber, strict_body


class LegacyNumberController(Controller):
    path = "/numbers"
    tags = ["numbers"]

    @get("/available", responses=ERROR_RESPONSES)
    async def search_available(
        self,
        runtime: Runtime,
        country_code: str = "US",
        area_code: str | None = None,
        number_type: str | None = None,
        limit: int = 20,
    ) -> list[AvailableNumber]:
        if number_type is not None and number_type not in available.NUMBER_TYPES:
            raise InvalidInput(f"number_type must be one of {', '.join(available.NUMBER_TYPES)}", field="number_type")
        if area_code is not None and not area_code.isdigit():
            raise InvalidInput(f"area_code must be digits, got {area_code!r}", field="area_code")
        if not (len(country_code) == 2 and country_code.isalpha()):
            raise InvalidInput(f"country_code must be an ISO code like US, got {country_code!r}", field="country_code")
        return await asyncio.to_thread(
            available.pick_available,
            available.offers(runtime.db),
            available.taken(runtime.db),
            country_code=country_code,
            area_code=area_code,
            number_type=number_type,
            limit=check_limit(limit),
            monthly_cost_cents=runtime.settings.number_monthly_cost_cents,
        )

    @post("/purchase", responses=ERROR_RESPONSES)
    async def purchase(self, runtime: Runtime, data: PurchaseNumber, request: Request[Any, Any, Any]) -> Number:
        data = await strict_body(request, PurchaseNumber)
        e164 = validation.e164(data.phone_number, "phone_number")
        trunk_id = available.trunk_offering(runtime.db, e164)
        if trunk_id is None:
            raise InvalidInput(
                f"phone_number {e164} is in no range a trunk offers (GET /v1/numbers/available lists them; "
                "add it to a trunk's did_ranges, or register a number you own with POST /v1/numbers)",
                field="phone_number",
            )
        number_id = number_store.register_number(
            runtime.db, e164, None, trunk_id, runtime.settings.number_monthly_cost_cents, field="phone_number"
        )
        return number_store.get_number(runtime.db, number_id)

    @put("/{number_id:str}/inbound", responses=ERROR_RESPONSES)
    async def update_inbound_config(
        self, runtime: Runtime, number_id: str, data: InboundConfig, request: Request[Any, Any, Any]
    ) -> Number:
        data = await strict_body(request, InboundConfig)
        number_store.get_number(runtime.db, number_id)  # 404 before 400 for an unknown id
        fields = check_agent_fields(
            {
                "instructions": data.prompt,
                "returns": data.returns,
                "webhook_url": data.webhook_url,
                "language": data.language or "en",
                "tools": data.tools or [],
                "voicemail_action": data.voicemail_action or "hangup",
            },
            runtime.settings.url_allowlist,
        )
        agent_store.configure_number_inbound(runtime.db, number_id, fields, data.enabled)
        return number_store.get_number(runtime.db, number_id)
