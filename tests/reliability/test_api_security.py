"""API hardening: security headers, wrong-key rate limit, keys stored hashed and revoked at once."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import httpx

from tests.support import ServerProcess

ATTACKER = "127.0.0.2"  # a second loopback address, so the limit it earns does not block the other tests


def from_address(server: ServerProcess, address: str, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {key}"},
        transport=httpx.HTTPTransport(local_address=address),
        timeout=10,
    )


def cli(server: ServerProcess, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "appliance.cli", *args], env=server.env, capture_output=True, text=True, check=True
    )
    return out.stdout


def test_every_response_carries_security_headers(api: httpx.Client) -> None:
    for path in ("/v1/agents", "/v1/nothing", "/healthz", "/openapi.json"):
        r = api.get(path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["referrer-policy"] == "no-referrer", path
        assert r.headers["content-security-policy"].startswith("default-src 'none'"), path


def test_docs_page_csp_allows_only_its_own_script(api: httpx.Client) -> None:
    r = api.get("/docs")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self' 'sha256-" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert len(r.headers.get_list("content-security-policy")) == 1


def test_wrong_keys_from_one_address_are_limited_then_refused_with_429(
    api_server: ServerProcess, api: httpx.Client
) -> None:
    with from_address(api_server, ATTACKER, "sk_" + "x" * 43) as guesser:
        statuses = [guesser.get("/v1/agents").status_code for _ in range(20)]
        assert statuses == [401] * 20
        blocked = guesser.get("/v1/agents")
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "auth_rate_limited" and ATTACKER in blocked.json()["error"]
    assert 1 <= int(blocked.headers["retry-after"]) <= 61
    assert api_server.key is not None
    with from_address(api_server, ATTACKER, api_server.key) as same_address_right_key:
        assert same_address_right_key.get("/v1/agents").status_code == 429  # no oracle for a lucky guess
    assert api.get("/v1/agents").status_code == 200  # other addresses are not affected


def test_missing_key_is_401_and_does_not_count_as_a_guess(api_server: ServerProcess) -> None:
    with httpx.Client(base_url=api_server.url, transport=httpx.HTTPTransport(local_address="127.0.0.3")) as anon:
        statuses = {anon.get("/v1/agents").status_code for _ in range(25)}
    assert statuses == {401}


def test_keys_are_stored_as_sha256_never_in_clear(api_server: ServerProcess, api: httpx.Client) -> None:
    key = api_server.key
    assert key is not None
    api.get("/v1/agents")  # a verified key is cached in memory only
    stored = b"".join(p.read_bytes() for p in api_server.data_dir.glob("appliance.db*"))
    assert key.encode() not in stored
    assert hashlib.sha256(key.encode()).hexdigest().encode() in stored


def test_revoked_key_fails_on_the_next_request(api_server: ServerProcess) -> None:
    created = cli(api_server, "keys", "create", "--name", "short-lived")
    key = next(word for word in created.split() if word.startswith("sk_"))
    with api_server.client(key) as client:
        assert client.get("/v1/agents").status_code == 200  # now verified and cached
        cli(api_server, "keys", "revoke", key[:10])
        r = client.get("/v1/agents")
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
