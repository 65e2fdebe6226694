"""POST /v1/extractions: input checks (400 naming the field) against a real server. A valid request runs
the model, which test_extraction.py covers; here only what is refused before any model is touched."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .helpers import assert_error

TURNS = [{"role": "agent", "text": "Can you come Thursday?"}, {"role": "user", "text": "Yes."}]


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"transcript": TURNS}, "returns"),
        ({"returns": {"confirmed": "boolean"}}, "transcript"),
        ({"returns": {"confirmed": "yes-or-no"}, "transcript": TURNS}, "returns.confirmed"),
        ({"returns": {"type": "object", "properties": {"x": {"type": "date"}}}, "transcript": TURNS}, "returns"),
        ({"returns": "boolean", "transcript": TURNS}, "returns"),
        ({"returns": {"confirmed": "boolean"}, "transcript": []}, "transcript"),
        ({"returns": {"confirmed": "boolean"}, "transcript": [{"role": "caller", "text": "hi"}]}, "role"),
        ({"returns": {"confirmed": "boolean"}, "transcript": [{"role": "user"}]}, "text"),
        ({"returns": {"confirmed": "boolean"}, "transcript": [{"role": "user", "text": 5}]}, "text"),
        ({"returns": {"confirmed": "boolean"}, "transcript": TURNS, "context": "Dana"}, "context"),
        ({"returns": {"confirmed": "boolean"}, "transcript": TURNS, "instructions": 7}, "instructions"),
        ({"returns": {"confirmed": "boolean"}, "transcript": TURNS, "model": "big"}, "model"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api: httpx.Client, body: dict[str, Any], mentions: str) -> None:
    assert_error(api.post("/v1/extractions", json=body), 400, "invalid_request", mentions)


def test_needs_a_key_and_json(server: Any) -> None:
    r = httpx.post(f"{server.url}/v1/extractions", json={"returns": {"a": "boolean"}, "transcript": TURNS})
    assert r.status_code == 401
    with server.client() as api:
        r = api.post("/v1/extractions", content=b"returns=x", headers={"content-type": "text/plain"})
        assert_error(r, 415)


def test_documented_in_openapi(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    operation = spec["paths"]["/v1/extractions"]["post"]
    assert "200" in operation["responses"] and "400" in operation["responses"]
