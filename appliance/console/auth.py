"""Console sign-in: a session cookie (HttpOnly, SameSite=Lax) checked by a guard on every page, a throttle
on failed sign-ins, and sign-out."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template

from appliance.runtime import Runtime

from . import accounts

COOKIE = "appliance_session"
# Failed sign-ins allowed per client address in the window before it has to wait.
MAX_FAILURES = 10
WINDOW_SECONDS = 300
_failures: dict[str, deque[float]] = defaultdict(deque)


def client_address(connection: ASGIConnection) -> str:
    return connection.client.host if connection.client else "unknown"


async def require_user(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Every console page but sign-in needs a live session; the user's name is kept in the scope state."""
    runtime: Runtime = connection.app.state.runtime
    token = connection.cookies.get(COOKIE)
    username = accounts.session_user(runtime.db, token) if token else None
    if username is None:
        raise NotAuthorizedException("sign in first")
    connection.scope.setdefault("state", {})["console_user"] = username


def to_sign_in(request: Request[Any, Any, Any], _: NotAuthorizedException) -> Response[Any]:
    """Unauthenticated: to the sign-in page (htmx requests are told to navigate there themselves)."""
    target = "/login?next=" + quote(request.url.path)
    if request.headers.get("hx-request"):
        return Response(content=None, status_code=401, headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)


def _throttled(address: str) -> int:
    """Seconds to wait when this address failed too often recently, else 0."""
    window = _failures[address]
    now = time.monotonic()
    while window and window[0] < now - WINDOW_SECONDS:
        window.popleft()
    return int(window[0] + WINDOW_SECONDS - now) + 1 if len(window) >= MAX_FAILURES else 0


def _safe_next(target: str | None) -> str:
    # Only local paths: never an open redirect to another site.
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


@get("/login", include_in_schema=False)
async def sign_in_page(next_: Annotated[str | None, Parameter(query="next")] = None) -> Template:
    return Template("login.html", context={"next": _safe_next(next_), "error": None})


@post("/login", include_in_schema=False, status_code=303)
async def sign_in(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    data: dict[str, str] = Body(media_type=RequestEncodingType.URL_ENCODED),
) -> Response[Any]:
    address = client_address(request)
    target = _safe_next(data.get("next"))
    wait = _throttled(address)
    if wait:
        context = {"next": target, "error": f"Too many failed sign-ins. Try again in {wait} s."}
        return Template("login.html", context=context, status_code=429, headers={"Retry-After": str(wait)})
    user_id = accounts.authenticate(runtime.db, data.get("username", ""), data.get("password", ""))
    if user_id is None:
        _failures[address].append(time.monotonic())
        return Template(
            "login.html", context={"next": target, "error": "Wrong user name or password."}, status_code=401
        )
    _failures.pop(address, None)
    response: Response[Any] = Redirect(target, status_code=303)
    response.set_cookie(
        COOKIE,
        accounts.open_session(runtime.db, user_id),
        max_age=accounts.SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@post("/logout", include_in_schema=False, status_code=303)
async def sign_out(request: Request[Any, Any, Any], runtime: Runtime) -> Response[Any]:
    token = request.cookies.get(COOKIE)
    if token:
        accounts.close_session(runtime.db, token)
    response: Response[Any] = Redirect("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
