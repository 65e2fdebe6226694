"""HTTP tools against a real server on loopback: the signed envelope, and every way an endpoint can fail
(hang, 500, not JSON, too big, a redirect, a host outside the allow-list) is an error, never an exception."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from callingbox.resources.webhooks import Webhooks
from standardwebhooks.webhooks import Webhook

from appliance.results.webhooks import callingbox_signature
from appliance.store.webhooks import new_secret
from appliance.tools_http import MAX_RESPONSE_BYTES, HttpToolRunner
from appliance.voice.brief import CallBrief
from tests.tool_server import ToolServer, hang, ok

CALL = CallBrief("call_1", "outbound", agent_id="agent_1", context={"patient": "Alex"}, metadata={"crm": 7})


@pytest.fixture
def server() -> Iterator[ToolServer]:
    server = ToolServer().start()
    yield server
    server.stop()


def tool(server: ToolServer, path: str, **extra: Any) -> dict[str, Any]:
    return {"type": "http", "name": "lookup", "url": server.url(path), "method": "POST", "headers": {}, **extra}


async def test_the_request_is_the_envelope_signed_like_a_webhook_with_an_idempotency_key(server: ToolServer) -> None:
    secret = new_secret()
    server.routes["/slots"] = ok({"free": ["9:00"]})
    runner = HttpToolRunner(CALL, secret)
    result = await runner.run(tool(server, "/slots", headers={"x-api-key": "k"}), {"day": "Friday"}, "call_1:abc")
    assert result.outcome == "ok" and result.result == {"free": ["9:00"]}
    (request,) = server.requests
    assert request.json() == {
        "call_id": "call_1",
        "agent_id": "agent_1",
        "tool": "lookup",
        "arguments": {"day": "Friday"},
        "context": {"patient": "Alex"},
        "metadata": {"crm": 7},
    }
    headers = request.headers
    assert headers["idempotency-key"] == "call_1:abc" and headers["x-api-key"] == "k"
    assert headers["webhook-id"] == headers["callingbox-event-id"] == "call_1:abc"
    Webhook(secret).verify(request.body, headers)  # Standard Webhooks verifies it…
    timestamp = int(headers["webhook-timestamp"])
    assert headers["callingbox-signature"] == callingbox_signature(secret, timestamp, request.body.decode())
    Webhooks.construct_event(request.body.decode(), headers["callingbox-signature"], secret)  # the SDK too


async def test_get_sends_the_arguments_as_query_parameters(server: ToolServer) -> None:
    server.routes["/slots"] = ok([])
    result = await HttpToolRunner(CALL, new_secret()).run(tool(server, "/slots", method="GET"), {"day": "Fri"}, "k")
    assert result.outcome == "ok" and server.requests[0].method == "GET" and server.requests[0].path == "/slots?day=Fri"


@pytest.mark.parametrize(
    ("route", "outcome", "error"),
    [
        (hang(6), "timeout", "no answer within 2 s"),
        (lambda _r: (500, {}, b"{}"), "error", "HTTP 500"),
        (lambda _r: (200, {"content-type": "text/html"}, b"<html>oops</html>"), "error", "the answer is not JSON"),
        (lambda _r: (200, {}, b"[" + b"1," * MAX_RESPONSE_BYTES + b"1]"), "error", "larger than 65536 bytes"),
        (lambda _r: (302, {"location": "http://127.0.0.1:9/elsewhere"}, b""), "error", "HTTP 302"),
    ],
)
async def test_a_failing_endpoint_is_an_error_for_the_model(
    server: ToolServer, route: Any, outcome: str, error: str
) -> None:
    server.routes["/t"] = route
    # Only the hang is meant to time out; the request must still reach the server first on a loaded machine.
    timeout_ms = 2000 if outcome == "timeout" else 10_000
    result = await HttpToolRunner(CALL, new_secret()).run(tool(server, "/t", timeout_ms=timeout_ms), {}, "k")
    assert result.outcome == outcome and error in (result.error or ""), result
    assert len(server.requests) == 1  # never retried


async def test_the_allow_list_is_checked_again_after_dns(server: ToolServer) -> None:
    server.routes["/t"] = ok({})
    runner = HttpToolRunner(CALL, new_secret(), url_allowlist=["10.0.0.0/8"])
    result = await runner.run(tool(server, "/t"), {}, "k")
    assert result.outcome == "error" and "not allowed" in (result.error or "")
    localhost = tool(server, "/t", url=server.url("/t").replace("127.0.0.1", "localhost"))
    assert (await HttpToolRunner(CALL, new_secret(), ["127.0.0.0/8"]).run(localhost, {}, "k")).outcome == "ok"
    assert len(server.requests) == 1


async def test_an_endpoint_that_is_down_is_an_error() -> None:
    down = {"type": "http", "name": "t", "url": "http://127.0.0.1:9/t", "headers": {}}
    result = await HttpToolRunner(CALL, new_secret()).run(down, {}, "k")
    assert result.outcome == "error" and "ConnectError" in (result.error or "")


def test_the_envelope_is_json_of_the_arguments_as_given() -> None:
    body, _headers = HttpToolRunner(CALL, new_secret()).request({"name": "t", "headers": {}}, {"n": 1}, "k")
    assert json.loads(body)["arguments"] == {"n": 1}
