"""The Litestar application: /v1 behind API keys, the console at /, plus health, metrics, OpenAPI and docs."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp

from appliance.console import console_routers, template_config
from appliance.runtime import Runtime

from .agents import AgentController
from .auth import ApiKeyGuard
from .calls import CallController, UsageController
from .campaigns import CampaignController, DncController
from .deps import provide_runtime
from .edge import MAX_BODY, edge_middleware, error_response
from .extractions import ExtractionController
from .legacy_numbers import LegacyNumberController
from .numbers_trunks import NumberController, TrunkController
from .ops import docs, healthz, metrics, openapi_json, readyz
from .webhooks import WebhookDeliveryController, WebhookEndpointController

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "web" / "static"


def create_asgi(runtime: Runtime) -> ASGIApp:
    """The served application: the edge wraps everything, unmatched routes included."""
    return edge_middleware(create_app(runtime))


def create_app(runtime: Runtime) -> Litestar:
    v1 = Router(
        path="/v1",
        route_handlers=[
            AgentController,
            NumberController,
            LegacyNumberController,
            TrunkController,
            CallController,
            UsageController,
            WebhookEndpointController,
            WebhookDeliveryController,
            ExtractionController,
            CampaignController,
            DncController,
        ],
        guards=[ApiKeyGuard()],
        security=[{"bearerAuth": []}],
    )
    return Litestar(
        route_handlers=[
            v1,
            healthz,
            readyz,
            metrics,
            openapi_json,
            docs,
            create_static_files_router(path="/static", directories=[STATIC_DIR], include_in_schema=False),
            *console_routers(runtime.db, runtime.settings.https),
        ],
        template_config=template_config(),
        dependencies={"runtime": Provide(provide_runtime, sync_to_thread=False)},
        state=State({"runtime": runtime}),
        exception_handlers={Exception: error_response},
        request_max_body_size=MAX_BODY,
        openapi_config=OpenAPIConfig(
            title="Appliance API",
            version="1.0.0",
            description="On-prem AI phone agents: agents, numbers, trunks, calls, results.",
            path="/schema",
            render_plugins=[],
            components=Components(
                security_schemes={"bearerAuth": SecurityScheme(type="http", scheme="bearer", description="sk_... key")}
            ),
        ),
        debug=False,
        logging_config=None,  # structlog (appliance.logs) owns logging
    )
