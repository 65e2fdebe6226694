"""Operational routes outside /v1: health, readiness, metrics, the OpenAPI document and its docs page."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from appliance.runtime import Runtime


@get("/healthz", include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(runtime: Runtime) -> Response[dict[str, Any]]:
    checks: dict[str, bool] = {}
    try:
        runtime.db.execute("SELECT 1").fetchone()
        checks["database"] = True
    except Exception:
        checks["database"] = False
    checks["telephony"] = bool(runtime.telephony and runtime.telephony.is_ready())
    if runtime.voice is not None:
        checks["voice"] = runtime.voice.loaded  # false while models load (seconds) or if they failed to
    ready = all(checks.values()) and not runtime.draining
    body: dict[str, Any] = {"ready": ready, "checks": checks}
    reasons = {}
    if runtime.draining:  # a load balancer stops sending here; live calls finish before the process exits
        body["draining"] = True
        live = runtime.telephony.live_calls() if runtime.telephony is not None else 0
        reasons["shutdown"] = f"draining: {live} live call(s) finishing, nothing new is dialled or answered"
    if runtime.telephony is None:
        reasons["telephony"] = "off (telephony = false)"
    elif (why := runtime.telephony.not_ready_because()) is not None:
        reasons["telephony"] = why
    if reasons and not ready:
        body["reasons"] = reasons
    return Response(body, status_code=200 if ready else 503)


@get("/metrics", include_in_schema=False, sync_to_thread=False)
def metrics() -> Response[bytes]:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@get("/openapi.json", include_in_schema=False, sync_to_thread=False)
def openapi_json(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    return Response(request.app.openapi_schema.to_schema(), media_type="application/json")


DOCS_SCRIPT = 'SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});'
DOCS_PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Appliance API</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script>{DOCS_SCRIPT}</script>
</body></html>"""
# Swagger UI: this origin's files, the one inline script above (by hash), inline styles it sets itself.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'sha256-"
    + base64.b64encode(hashlib.sha256(DOCS_SCRIPT.encode()).digest()).decode()
    + "'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@get("/docs", include_in_schema=False, sync_to_thread=False, media_type="text/html")
def docs() -> Response[str]:
    return Response(DOCS_PAGE, headers={"Content-Security-Policy": DOCS_CSP})
