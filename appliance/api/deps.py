"""Dependencies injected into handlers."""

from __future__ import annotations

from litestar import Request

from appliance.runtime import Runtime


def provide_runtime(request: Request) -> Runtime:
    return request.app.state.runtime
