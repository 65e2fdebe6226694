"""Auth, error format, content checks and the operational routes."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.support import ServerProcess

from .helpers import assert_error, make_agent


def test_every_v1_route_needs_a_key(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url) as anon:
        assert_error(anon.get("/v1/calls"), 401, code="unauthorized")
        assert_error(anon.get("/v1/agents", headers={"Authorization": "Bearer sk_wrong"}), 401)
        assert_error(anon.get("/v1/agents", headers={"Authorization": "Basic abc"}), 401)
        assert_error(anon.post("/v1/calls", json={}), 401)


def test_keys_created_and_revoked_on_the_command_line(server: ServerProcess) -> None:
    env = {**os.environ, "APPLIANCE_DATA_DIR": str(server.data_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "keys", "create", "--name", "ci"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    key = out.strip().splitlines()[-1]
    assert key.startswith("sk_")
    with server.client(key) as client:
        assert client.get("/v1/agents").status_code == 200
        listed = subprocess.run(
            [sys.executable, "-m", "appliance.cli", "keys", "list"], env=env, capture_output=True, text=True, check=True
        ).stdout
        assert key not in listed and "ci" in listed
        key_id = next(line.split()[0] for line in listed.splitlines() if "  ci  " in line)
        subprocess.run(
            [sys.executable, "-m", "appliance.cli", "keys", "revoke", key_id], env=env, check=True, capture_output=True
        )
        assert_error(client.get("/v1/agents"), 401)


def test_malformed_json_wrong_type_and_oversized_body(api: httpx.Client) -> None:
    json_headers = {"Content-Type": "application/json"}
    assert_error(api.post("/v1/agents", content=b'{"name": ', headers=json_headers), 400, mentions="JSON")
    assert_error(api.post("/v1/agents", content=b"[1,2]", headers=json_headers), 400)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert_error(api.post("/v1/agents", content=b"name=x", headers=form), 415, code="unsupported_media_type")
    assert_error(api.post("/v1/calls", content=b"{}", headers={"Content-Type": "text/plain"}), 415)
    big = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'", "type": "outbound"}'
    assert_error(api.post("/v1/agents", content=big, headers=json_headers), 413, code="payload_too_large")
    assert_error(api.post("/v1/agents", content=b"\xff\xfe", headers=json_headers), 400)


def test_unknown_routes_and_methods_use_the_error_format(api: httpx.Client) -> None:
    assert_error(api.get("/v1/nothing-here"), 404, code="not_found")
    assert_error(api.put("/v1/agents", json={}), 405, code="method_not_allowed")


def test_every_response_has_a_request_id(api: httpx.Client, server: ServerProcess) -> None:
    for r in (api.get("/v1/agents"), httpx.get(server.url + "/healthz"), api.get("/v1/none")):
        assert r.headers["x-request-id"].startswith("req_")


def test_health_ready_metrics_openapi_docs(server: ServerProcess) -> None:
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(server.url + "/readyz")
    # API-only mode has no telephony, so the box is alive but not ready to place calls.
    assert ready.status_code == 503 and ready.json()["checks"] == {"database": True, "telephony": False}
    metrics = httpx.get(server.url + "/metrics").text
    assert "appliance_http_requests_total" in metrics
    schema = httpx.get(server.url + "/openapi.json").json()
    for path in ("/v1/agents", "/v1/calls", "/v1/calls/{call_id}/cancel", "/v1/numbers", "/v1/trunks", "/v1/usage"):
        assert path in schema["paths"], path
    docs = httpx.get(server.url + "/docs")
    assert docs.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert httpx.get(server.url + "/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory):
    proc = ServerProcess(
        tmp_path_factory.mktemp("limited"),
        env={"APPLIANCE_TELEPHONY": "false", "APPLIANCE_CALLS_PER_MINUTE": "3", "APPLIANCE_MAX_QUEUED_CALLS": "1000"},
    ).start()
    yield proc
    proc.stop()


def test_call_rate_limit_answers_429_with_retry_after(limited: ServerProcess) -> None:
    with limited.client() as api:
        agent = make_agent(api)
        codes = [api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550102"}) for _ in range(4)]
        assert [r.status_code for r in codes[:3]] == [201, 201, 201]
        body = assert_error(codes[3], 429, code="rate_limited")
        assert int(codes[3].headers["retry-after"]) >= 1 and "minute" in body["error"]
