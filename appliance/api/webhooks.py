"""/v1/webhook_endpoints (account-wide receivers) and /v1/webhook_deliveries (the delivery log, replay)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from msgspec import UNSET, Meta, UnsetType

from appliance import validation
from appliance.errors import InvalidInput
from appliance.runtime import Runtime
from appliance.store import webhooks as store
from appliance.store.paging import check_limit, page
from appliance.store.webhooks import WebhookDelivery, WebhookDeliveryList, WebhookEndpoint, WebhookEndpointList

from .edge import ERROR_RESPONSES
from .schemas import Body, Url, strict_body

Events = Annotated[list[Annotated[str, Meta(max_length=40)]], Meta(min_length=1, max_length=20)]


class CreateEndpoint(Body):
    url: Url
    description: Annotated[str, Meta(max_length=500)] | None = None
    enabled_events: Events = msgspec.field(default_factory=lambda: ["*"])


class UpdateEndpoint(Body):
    url: Url | UnsetType = UNSET
    description: Annotated[str, Meta(max_length=500)] | UnsetType | None = UNSET
    enabled_events: Events | UnsetType = UNSET
    status: Literal["enabled", "disabled"] | UnsetType = UNSET


class WebhookEndpointController(Controller):
    path = "/webhook_endpoints"
    tags = ["webhooks"]

    @get("/", responses=ERROR_RESPONSES)
    async def list_endpoints(self, runtime: Runtime) -> WebhookEndpointList:
        return WebhookEndpointList(store.list_endpoints(runtime.db))

    @post("/", responses=ERROR_RESPONSES)
    async def create_endpoint(
        self, runtime: Runtime, data: CreateEndpoint, request: Request[Any, Any, Any]
    ) -> WebhookEndpoint:
        data = await strict_body(request, CreateEndpoint)
        validation.allowed_url(data.url, "url", runtime.settings.url_allowlist)
        return store.create_endpoint(runtime.db, data.url, data.description, data.enabled_events)

    @get("/{endpoint_id:str}", responses=ERROR_RESPONSES)
    async def get_endpoint(self, runtime: Runtime, endpoint_id: str) -> WebhookEndpoint:
        return store.get_endpoint(runtime.db, endpoint_id)

    @patch("/{endpoint_id:str}", responses=ERROR_RESPONSES)
    async def update_endpoint(
        self, runtime: Runtime, endpoint_id: str, data: UpdateEndpoint, request: Request[Any, Any, Any]
    ) -> WebhookEndpoint:
        data = await strict_body(request, UpdateEndpoint)
        fields = data.sent()
        if fields.get("url") is not None:
            validation.allowed_url(fields["url"], "url", runtime.settings.url_allowlist)
        return store.update_endpoint(runtime.db, endpoint_id, fields)

    # 200 with the deleted endpoint, not 204: the hosted SDK's delete_endpoint parses a JSON body.
    @delete("/{endpoint_id:str}", status_code=200, responses=ERROR_RESPONSES)
    async def delete_endpoint(self, runtime: Runtime, endpoint_id: str) -> WebhookEndpoint:
        return store.delete_endpoint(runtime.db, endpoint_id)

    @post("/{endpoint_id:str}/rotate_secret", status_code=200, responses=ERROR_RESPONSES)
    async def rotate_secret(self, runtime: Runtime, endpoint_id: str) -> WebhookEndpoint:
        return store.rotate_secret(runtime.db, endpoint_id)


class WebhookDeliveryController(Controller):
    path = "/webhook_deliveries"
    tags = ["webhooks"]

    @get("/", responses=ERROR_RESPONSES)
    async def list_deliveries(
        self,
        runtime: Runtime,
        endpoint_id: str | None = None,
        call_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        starting_after: str | None = None,
    ) -> WebhookDeliveryList:
        if status is not None and status not in ("pending", "delivered", "exhausted"):
            raise InvalidInput("status must be pending, delivered or exhausted", field="status")
        deliveries = store.list_deliveries(
            runtime.db,
            endpoint_id=endpoint_id,
            call_id=call_id,
            status=status,
            limit=check_limit(limit) + 1,
            starting_after=starting_after,
        )
        return WebhookDeliveryList(*page(deliveries, limit, backward=False))

    @get("/{delivery_id:str}", responses=ERROR_RESPONSES)
    async def get_delivery(self, runtime: Runtime, delivery_id: str) -> WebhookDelivery:
        return store.get_delivery(runtime.db, delivery_id)

    @post("/{delivery_id:str}/redeliver", status_code=200, responses=ERROR_RESPONSES)
    async def redeliver(self, runtime: Runtime, delivery_id: str) -> WebhookDelivery:
        delivery = store.redeliver(runtime.db, delivery_id)
        if runtime.outbox is not None:
            runtime.outbox.wake()
        return delivery
