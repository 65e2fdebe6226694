from __future__ import annotations

import itertools
from typing import Any

import httpx

_counter = itertools.count(1000)


def unique_e164() -> str:
    """Valid, distinct US numbers (area code 415)."""
    return f"+1415555{next(_counter) % 10000:04d}"


def make_number(api: httpx.Client, **extra: Any) -> dict[str, Any]:
    r = api.post("/v1/numbers", json={"e164": unique_e164(), **extra})
    assert r.status_code == 201, r.text
    return r.json()


def make_agent(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"name": "Reminders", "type": "outbound", **fields}
    r = api.post("/v1/agents", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def assert_error(r: httpx.Response, status: int, code: str | None = None, mentions: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "code", "request_id"}, body
    assert body["request_id"] == r.headers["x-request-id"]
    if code:
        assert body["code"] == code, body
    if mentions:
        assert mentions in body["error"], body
    return body
