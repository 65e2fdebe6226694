"""The HTTP edge: request ids, content-type checks, metrics, and errors as `{"error", "code", "request_id"}`."""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
from typing import Any

import msgspec
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Histogram

from appliance.errors import ApplianceError, RateLimited

from .json_body import BadJsonBody, check_json_body

log = structlog.get_logger(__name__)

HTTP_REQUESTS = Counter("appliance_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "appliance_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
JSON_TYPE = re.compile(rb"^application/(.+\+)?json\s*(;.*)?$", re.I)
# JSON is UTF-8 (RFC 8259): a declared charset other than that is refused, not guessed at.
OTHER_CHARSET = re.compile(rb";\s*charset\s*=\s*(?!\"?utf-?8\b)", re.I)
BODY_METHODS = {"POST", "PUT", "PATCH"}
MAX_BODY = 1024 * 1024
# JSON responses need no script, style or framing: deny everything by default.
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
)


def edge_middleware(app: ASGIApp) -> ASGIApp:
    """Give every request an id (echoed in X-Request-Id), refuse non-JSON bodies with 415, count metrics."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = _with_security_headers(
                    [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                )
            await send(message)

        try:
            headers = dict(scope["headers"])
            if scope["method"] in BODY_METHODS and scope["path"].startswith("/v1") and _has_body(headers):
                ctype = headers.get(b"content-type", b"")
                if not JSON_TYPE.match(ctype) or OTHER_CHARSET.search(ctype):
                    shown = ctype.decode("latin-1")[:100] or "none"
                    await _send_error(
                        send_with_id,
                        415,
                        f"Content-Type must be application/json (UTF-8), got {shown}",
                        "unsupported_media_type",
                        request_id,
                    )
                    return
                body = await _read_body(receive)
                if body is None:
                    await _send_error(
                        send_with_id, 413, "request body is larger than 1 MiB", "payload_too_large", request_id
                    )
                    return
                try:
                    check_json_body(body)
                except BadJsonBody as exc:
                    await _send_error(send_with_id, 400, str(exc), "invalid_json", request_id)
                    return
                receive = _replay(body, receive)
            with structlog.contextvars.bound_contextvars(request_id=request_id):
                await app(scope, receive, send_with_id)
        finally:
            route = scope.get("path_template") or "unmatched"
            HTTP_REQUESTS.labels(scope["method"], route, str(status["code"])).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)

    return middleware


def _with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Add each security header the route did not set itself (the docs and console pages set their own CSP)."""
    present = {name.lower() for name, _ in headers}
    return headers + [(name, value) for name, value in SECURITY_HEADERS if name not in present]


def _has_body(headers: dict[bytes, bytes]) -> bool:
    length = headers.get(b"content-length")
    if length is not None:
        return length.strip() not in (b"0", b"")
    return b"transfer-encoding" in headers


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None once it passes MAX_BODY (reading stops there)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the already-read body to the app once, then waits on the client as before."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()  # type: ignore[return-value]
        return await receive()

    return replay


async def _send_error(send: Send, status: int, message: str, code: str, request_id: str) -> None:
    body = msgspec.json.encode({"error": message, "code": code, "request_id": request_id})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ErrorBody(msgspec.Struct):
    """Every error: a human message naming the field, a machine code, the request id."""

    error: str
    code: str
    request_id: str


ERROR_RESPONSES = {
    status: ResponseSpec(data_container=ErrorBody, description=text, generate_examples=False)
    for status, text in (
        (400, "Bad body or parameter; the message names the field"),
        (401, "Missing, wrong or revoked API key"),
        (404, "Unknown id or route"),
        (409, "Conflict with the current state"),
        (413, "Body over 1 MiB"),
        (415, "Body is not application/json"),
        (429, "Over the rate or queue limit (see Retry-After)"),
        (503, "Storage or telephony unavailable (disk full, read-only data dir, Asterisk down); see Retry-After"),
    )
}

_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


def error_response(request: Request, exc: Exception) -> Response[Any]:
    """One exception handler for everything: domain errors, framework errors, bugs."""
    request_id = request.scope.get("state", {}).get("request_id", "")
    headers: dict[str, str] = {}
    if isinstance(exc, ApplianceError):
        status, code, message = exc.status_code, exc.code, exc.message
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, ValidationException):
        status, code, message = 400, "invalid_request", _validation_message(exc)
    elif isinstance(exc, HTTPException) and isinstance(exc.__cause__, SerializationException):
        status, code, message = 400, "invalid_json", f"request body is not valid JSON: {exc.detail}"
    elif isinstance(exc, HTTPException):
        status = exc.status_code
        code = _CODES.get(status, "error")
        message = _http_message(exc, request)
        headers.update(exc.headers or {})
    elif (storage := _storage_failure(exc)) is not None:
        status, (code, message) = 503, storage
        headers["Retry-After"] = "60"
        log.error("http.storage_failure", path=request.url.path, error=str(exc))
    else:
        log.exception("http.unhandled_error", path=request.url.path)
        status, code, message = 500, "internal_error", "internal error (a bug): see the appliance log"
    return Response(
        {"error": message, "code": code, "request_id": request_id},
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


# SQLite's own words for conditions of the disk, not of the request: (code, message) for each.
_STORAGE_FAILURES = (
    ("disk is full", "storage_full", "the appliance's data disk is full: nothing was saved; free some space"),
    ("readonly", "storage_read_only", "the appliance's data directory is read-only: nothing was saved"),
    ("disk I/O error", "storage_error", "the appliance's data disk failed to read or write: nothing was saved"),
    ("database is locked", "storage_busy", "the database stayed busy for 5 s: nothing was saved; retry"),
)


def _storage_failure(exc: Exception) -> tuple[str, str] | None:
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    text = str(exc)
    return next(((code, message) for words, code, message in _STORAGE_FAILURES if words in text), None)


def _http_message(exc: HTTPException, request: Request) -> str:
    if exc.status_code == 404:
        return f"no such route: {request.method} {request.url.path}"
    if exc.status_code == 405:
        return f"method {request.method} is not allowed on {request.url.path}"
    if exc.status_code == 413:
        return "request body is larger than 1 MiB"
    return str(exc.detail)


def describe_validation_error(message: str) -> str:
    """One msgspec validation message → a sentence that names the field."""
    return _validation_message(ValidationException(detail=message, extra=[{"message": message}]))


def _validation_message(exc: ValidationException) -> str:
    """Turn msgspec/Litestar validation output into one sentence that names the field."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", ""))
        key = item.get("key")
        source = getattr(item.get("source"), "value", item.get("source"))
        if "malformed" in message.lower() or "JSON is malformed" in message or "invalid json" in message.lower():
            return "request body is not valid JSON"
        path = re.search(r"at `\$\.?([^`]*)`", message)
        text = re.sub(r"\s*-\s*at `[^`]*`", "", message)
        unknown = re.search(r"unknown field `([^`]+)`", message)
        if unknown:
            where = path.group(1) if path and path.group(1) else ""
            name = f"{where}.{unknown.group(1)}" if where else unknown.group(1)
            return f"unknown field: {name}"
        missing = re.search(r"missing required field `([^`]+)`", message)
        if missing:
            return f"missing required field: {missing.group(1)}"
        if path and path.group(1):
            return f"{path.group(1)}: {text}"
        if key and source in ("query", "path", "header"):
            return f"{key} ({source} parameter): {text or 'invalid value'}"
        if text:
            return text if not key else f"{key}: {text}"
    detail = str(exc.detail)
    if "JSON" in detail or "decode" in detail.lower():
        return "request body is not valid JSON"
    return detail
