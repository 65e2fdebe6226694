"""Inbound calls from the test carrier over real SIP, and a registration trunk against its registrar."""

from __future__ import annotations

import configparser
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from appliance.call_status import TERMINAL
from tests.reliability import sipp
from tests.support import ServerProcess, free_port


def carrier_call(appliance: ServerProcess, to: str) -> None:
    env = {**os.environ, **appliance.env}
    out = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "carrier", "call", "--to", to],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr


def inbound_calls(api: httpx.Client, to: str) -> list[dict]:
    return [c for c in api.get("/v1/calls", params={"direction": "inbound"}).json()["data"] if c["to_number"] == to]


def wait_inbound(api: httpx.Client, to: str, statuses: set[str], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [c for c in inbound_calls(api, to) if c["status"] in statuses]
        if found:
            return found[0]
        time.sleep(0.1)
    raise TimeoutError(f"no inbound call to {to} in {statuses}: {inbound_calls(api, to)}")


@pytest.fixture
def loopback(api: httpx.Client) -> dict:
    return next(t for t in api.get("/v1/trunks").json() if t["name"] == "loopback")


def test_inbound_call_is_answered_by_the_numbers_inbound_agent(
    appliance: ServerProcess, api: httpx.Client, loopback: dict
) -> None:
    number = api.post("/v1/numbers", json={"e164": "+14155550111", "trunk_id": loopback["id"]}).json()
    agent = api.post(
        "/v1/agents",
        json={"name": "front desk", "type": "inbound", "number_ids": [number["id"]], "max_duration_seconds": 10},
    ).json()
    carrier_call(appliance, number["e164"])
    live = wait_inbound(api, number["e164"], {"in_progress"} | TERMINAL)
    assert live["status"] == "in_progress" and live["agent_id"] == agent["id"]
    assert live["from_number"] == "+12025550199" and live["answered_by"] == "human"
    done = wait_inbound(api, number["e164"], TERMINAL)
    assert done["status"] == "completed" and done["end_reason"] == "max_duration"
    assert done["billed_duration_seconds"] >= 9


def test_inbound_call_to_a_number_without_agent_is_rejected_and_logged(
    appliance: ServerProcess, api: httpx.Client, loopback: dict
) -> None:
    api.post("/v1/numbers", json={"e164": "+14155550112", "trunk_id": loopback["id"]})
    for did in ("+14155550112", "+14155550113"):  # registered without agent; not ours at all
        carrier_call(appliance, did)
        call = wait_inbound(api, did, TERMINAL)
        assert call["status"] == "failed" and call["error_code"] == "no_agent" and call["agent_id"] is None
        assert call["billed_duration_seconds"] == 0


def test_registration_trunk_reaches_registered(appliance: ServerProcess, api: httpx.Client) -> None:
    conf = configparser.ConfigParser(strict=False, inline_comment_prefixes=(";",))
    conf.read(appliance.data_dir / "asterisk" / "etc" / "pjsip.conf")
    password = conf["appliance-test-auth"]["password"]
    carrier_port = int(appliance.env["APPLIANCE_CARRIER_SIP_PORT"])
    r = api.post(
        "/v1/trunks",
        json={
            "name": "registering",
            "host": "127.0.0.1",
            "port": carrier_port,
            "username": "appliance-test",
            "password": password,
            "register": True,
        },
    )
    assert r.status_code == 201, r.text
    trunk_id = r.json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = api.get(f"/v1/trunks/{trunk_id}").json()["registration_status"]
        if status == "registered":
            break
        time.sleep(0.5)
    assert status == "registered"
    # A wrong password never registers: the carrier's registrar refuses it.
    r = api.post(
        "/v1/trunks",
        json={
            "name": "bad-password",
            "host": "127.0.0.1",
            "port": carrier_port,
            "username": "appliance-test",
            "password": "wrong",
            "register": True,
        },
    )
    bad_id = r.json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        bad = api.get(f"/v1/trunks/{bad_id}").json()["registration_status"]
        if bad in ("rejected", "unregistered"):
            break
        time.sleep(0.5)
    assert bad in ("rejected", "unregistered")
    assert api.get(f"/v1/trunks/{trunk_id}").json()["registration_status"] == "registered"
    api.delete(f"/v1/trunks/{bad_id}")
    api.delete(f"/v1/trunks/{trunk_id}")


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed (make setup)")
def test_inbound_from_the_trunks_host_on_any_port_or_its_inbound_addresses(
    appliance: ServerProcess, api: httpx.Client, tmp_path: Path
) -> None:
    """A second phone at the trunk's address on another port, and an address listed in `inbound_addresses`,
    are answered by the DID's inbound agent (sipp, a third-party SIP client); any other address is challenged."""
    trunk = api.post(
        "/v1/trunks",
        json={"name": "lab phones", "host": "127.0.0.2", "port": 5090, "inbound_addresses": ["127.0.0.3"]},
    )
    assert trunk.status_code == 201, trunk.text
    did = "+14155550131"
    number = api.post("/v1/numbers", json={"e164": did, "trunk_id": trunk.json()["id"]}).json()
    agent = api.post(
        "/v1/agents",
        json={"name": "lab desk", "type": "inbound", "number_ids": [number["id"]], "max_duration_seconds": 10},
    )
    assert agent.status_code == 201, agent.text
    agent = agent.json()
    target = f"127.0.0.1:{appliance.env['APPLIANCE_SIP_PORT']}"
    for phone in ("127.0.0.2", "127.0.0.3"):  # the trunk's host (not from its port 5090), a listed address
        answered = sipp.run(
            tmp_path, target, "INVITE", did, 200, local_port=free_port(socket.SOCK_DGRAM), local_ip=phone
        )
        assert answered.final == 200, answered.trace
    stranger = sipp.run(
        tmp_path, target, "INVITE", did, 401, local_port=free_port(socket.SOCK_DGRAM), local_ip="127.0.0.4"
    )
    assert stranger.final == 401, stranger.trace
    deadline = time.monotonic() + 30
    while [c for c in inbound_calls(api, did) if c["status"] not in TERMINAL] and time.monotonic() < deadline:
        time.sleep(0.2)
    calls = inbound_calls(api, did)
    assert len(calls) == 2 and {c["agent_id"] for c in calls} == {agent["id"]}
    assert {c["status"] for c in calls} == {"completed"}
    api.delete(f"/v1/agents/{agent['id']}")
    api.delete(f"/v1/numbers/{number['id']}")
    api.delete(f"/v1/trunks/{trunk.json()['id']}")
