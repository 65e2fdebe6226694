"""Bearer API keys on every /v1 route."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler

from appliance.runtime import Runtime
from appliance.store.keys import KeyCache


async def require_api_key(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    runtime: Runtime = connection.app.state.runtime
    header = connection.headers.get("authorization", "")
    scheme, _sep, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise NotAuthorizedException("missing API key: send Authorization: Bearer sk_...")
    cache: KeyCache = runtime.key_cache
    if cache.verify(runtime.db, key.strip()) is None:
        raise NotAuthorizedException("invalid or revoked API key")
