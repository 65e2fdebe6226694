"""The web console at `/`: server-rendered pages (Jinja2 + vendored htmx) behind a sign-in, with CSRF on every
form and strict security headers. It calls the same checks and store functions as /v1."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import sqlite_utils
from litestar import Request, Response, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import ResponseHeader
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from appliance.errors import ApplianceError
from appliance.store.secrets import stored_secret

from . import filters
from .access import AccessPages
from .agents import AgentPages, voice_sample
from .auth import require_user, sign_in, sign_in_page, sign_out, to_sign_in
from .calls import CallPages, redeliver
from .campaigns import CampaignPages
from .dashboard import dashboard
from .dnc import DncPages
from .numbers import NumberPages
from .talk import TalkPages
from .usage import usage_csv, usage_page

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "web" / "templates"
CSRF_COOKIE = "appliance_csrf"
# Pages load only this origin's scripts, styles and media; no inline script, no framing.
HEADERS = [
    ResponseHeader(
        name="Content-Security-Policy",
        value="default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
    ResponseHeader(name="Cache-Control", value="no-store"),
]


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    def setup(engine: JinjaTemplateEngine) -> None:
        engine.engine.filters.update(filters.FILTERS)
        engine.engine.autoescape = True

    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=setup)


def _error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Errors on console pages as pages, not JSON."""
    if isinstance(exc, ApplianceError):
        status, message = exc.status_code, exc.message
    elif isinstance(exc, HTTPException):
        status = exc.status_code
        message = "This form has expired. Reload the page and try again." if status == 403 else str(exc.detail)
    else:
        raise exc  # a bug: the app's handler logs it and answers 500
    return Template("error.html", context={"status": status, "message": message}, status_code=status)


def console_routers(db: sqlite_utils.Database, https: bool) -> list[Router]:
    csrf = CSRFConfig(
        secret=stored_secret(db, "console_csrf", lambda: secrets.token_urlsafe(32)),
        cookie_name=CSRF_COOKIE,
        cookie_httponly=True,  # forms carry the token in a hidden field; htmx reads it from a meta tag
        cookie_samesite="strict",
        cookie_secure=https,
    )
    common: dict[str, Any] = {
        "middleware": [DefineMiddleware(CSRFMiddleware, config=csrf)],
        "response_headers": HEADERS,
        "include_in_schema": False,
    }
    public = Router(
        path="/",
        route_handlers=[sign_in_page, sign_in, sign_out],
        exception_handlers={HTTPException: _error_page, ApplianceError: _error_page},
        **common,
    )
    private = Router(
        path="/",
        route_handlers=[
            dashboard,
            AgentPages,
            CallPages,
            CampaignPages,
            DncPages,
            NumberPages,
            TalkPages,
            AccessPages,
            usage_page,
            usage_csv,
            voice_sample,
            redeliver,
        ],
        guards=[require_user],
        exception_handlers={
            NotAuthorizedException: to_sign_in,
            HTTPException: _error_page,
            ApplianceError: _error_page,
        },
        **common,
    )
    return [public, private]
