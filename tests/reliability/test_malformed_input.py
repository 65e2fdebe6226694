"""Malformed requests get a 4xx JSON error that says what is wrong, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.support import ServerProcess

JSON = {"Content-Type": "application/json"}
AGENT = b'{"name": "a", "type": "outbound"}'


def nested(depth: int) -> bytes:
    return b'{"name": "a", "type": "outbound", "returns": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"


CASES = [
    # (label, method, path, headers, body, status, code, words in the message)
    ("invalid UTF-8", "POST", "/v1/agents", JSON, b'{"name": "\xff\xfe", "type": "outbound"}', 400, "invalid_json",
     "UTF-8"),
    ("a lone surrogate escape is fine, a lone byte is not", "POST", "/v1/agents", JSON, b'{"name": "\xc3"}', 400,
     "invalid_json", "UTF-8"),
    ("deep arrays", "POST", "/v1/agents", JSON, b"[" * 100_000 + b"]" * 100_000, 400, "invalid_json", "deeper"),
    ("deep objects", "POST", "/v1/agents", JSON, nested(5_000), 400, "invalid_json", "deeper"),
    ("just over the depth limit", "POST", "/v1/agents", JSON, nested(64), 400, "invalid_json", "deeper"),
    ("duplicate keys", "POST", "/v1/agents", JSON, b'{"name": "a", "name": "b", "type": "outbound"}', 400,
     "invalid_json", "duplicate key in request body: name"),
    ("duplicate nested keys", "POST", "/v1/calls", JSON, b'{"agent_id": "x", "to": "+12025550101", '
     b'"context": {"k": 1, "k": 2}}', 400, "invalid_json", "duplicate key in request body: k"),
    ("number beyond float range", "POST", "/v1/agents", JSON,
     b'{"name": "a", "type": "outbound", "max_duration_seconds": 1e400}', 400, "invalid_json", "out of range"),
    ("integer beyond 64 bits", "POST", "/v1/agents", JSON,
     b'{"name": "a", "type": "outbound", "max_duration_seconds": ' + b"9" * 40 + b"}", 400, "invalid_request",
     "max_duration_seconds"),
    ("a float where an integer goes", "POST", "/v1/agents", JSON,
     b'{"name": "a", "type": "outbound", "ring_timeout_seconds": 30.5}', 400, "invalid_request",
     "ring_timeout_seconds"),
    ("huge query integer", "GET", "/v1/calls?limit=" + "9" * 40, {}, b"", 400, "invalid_request", "limit"),
    ("truncated JSON", "POST", "/v1/agents", JSON, b'{"name": "a", "type": ', 400, "invalid_json", "JSON"),
    ("JSON that is not an object", "POST", "/v1/agents", JSON, b'"agent"', 400, "invalid_request", "object"),
    ("NaN literal", "POST", "/v1/agents", JSON, b'{"name": "a", "type": "outbound", "max_duration_seconds": NaN}',
     400, "invalid_json", "JSON"),
    ("wrong method", "PUT", "/v1/agents", JSON, AGENT, 405, "method_not_allowed", "PUT"),
    ("unknown method", "TRACE", "/v1/agents", {}, b"", 405, "method_not_allowed", "TRACE"),
    ("text body", "POST", "/v1/agents", {"Content-Type": "text/plain"}, AGENT, 415, "unsupported_media_type",
     "text/plain"),
    ("form body", "POST", "/v1/agents", {"Content-Type": "application/x-www-form-urlencoded"}, b"name=a", 415,
     "unsupported_media_type", "application/json"),
    ("no content type", "POST", "/v1/agents", {}, AGENT, 415, "unsupported_media_type", "none"),
    ("JSON in another charset", "POST", "/v1/agents", {"Content-Type": "application/json; charset=latin-1"}, AGENT,
     415, "unsupported_media_type", "UTF-8"),
    ("body over 1 MiB", "POST", "/v1/agents", JSON, b'{"name": "' + b"a" * (1024 * 1024) + b'"}', 413,
     "payload_too_large", "1 MiB"),
    ("unknown route", "GET", "/v1/nothing-here", {}, b"", 404, "not_found", "/v1/nothing-here"),
    ("percent-encoded junk in an id", "GET", "/v1/agents/%ff%fe%00", {}, b"", 404, "agent_not_found", "agent"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "code", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_malformed_request_gets_a_clear_4xx_json_error(
    api: httpx.Client, method: str, path: str, headers: dict, body: bytes, status: int, code: str, words: str
) -> None:
    r = api.request(method, path, headers=headers, content=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()
    assert error["code"] == code and words in error["error"], error
    assert error["request_id"] == r.headers["x-request-id"]


def test_body_within_the_depth_limit_passes_the_depth_check(api: httpx.Client) -> None:
    """The depth check refuses abuse, not deep but sane `returns` schemas."""
    r = api.post("/v1/agents", headers=JSON, content=nested(62))
    assert r.status_code in (201, 400), r.text
    assert r.json().get("code") != "invalid_json"


def test_server_still_answers_after_the_malformed_requests(api_server: ServerProcess, api: httpx.Client) -> None:
    assert api.post("/v1/agents", headers=JSON, content=AGENT).status_code == 201
    assert not [line for line in api_server.output if "http.unhandled_error" in line]
