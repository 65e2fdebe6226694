"""A third-party SIP user agent (sipp, Debian's sip-tester) as the far end of a real trunk."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from appliance.call_status import TERMINAL
from tests.support import ServerProcess, free_port

SCENARIOS = Path(__file__).resolve().parent / "sipp"
pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed (make setup)")


@pytest.fixture
def sipp_peer(api: httpx.Client, request: pytest.FixtureRequest) -> Iterator[tuple[dict, subprocess.Popen]]:
    """sipp answering as a UAS on its own port, behind a trunk of its own."""
    port = free_port(socket.SOCK_DGRAM)
    proc = subprocess.Popen(
        ["sipp", "-sf", str(SCENARIOS / request.param), "-i", "127.0.0.1", "-p", str(port), "-m", "1", "-bg"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    trunk = api.post("/v1/trunks", json={"name": f"sipp-{port}", "host": "127.0.0.1", "port": port, "codecs": ["ulaw"]})
    assert trunk.status_code == 201, trunk.text
    yield trunk.json(), proc
    subprocess.run(["pkill", "-f", f"sipp .* -p {port} "], check=False)
    api.delete(f"/v1/trunks/{trunk.json()['id']}")


def call_via(api: httpx.Client, trunk: dict, to: str) -> dict:
    number = api.post("/v1/numbers", json={"e164": "+14155550190", "trunk_id": trunk["id"]}).json()
    agent = api.post(
        "/v1/agents",
        json={"name": "sipp", "type": "outbound", "number_ids": [number["id"]], "primary_number_id": number["id"]},
    ).json()
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": to})
    assert call.status_code == 201, call.text
    assert call.json()["trunk_id"] == trunk["id"]
    return call.json() | {"number_id": number["id"]}


@pytest.mark.parametrize("sipp_peer", ["uas_486.xml"], indirect=True)
def test_busy_from_a_third_party_peer(appliance: ServerProcess, api: httpx.Client, sipp_peer: tuple) -> None:
    trunk, _ = sipp_peer
    call = call_via(api, trunk, "+14155550177")
    done = appliance.wait_for(call["id"], TERMINAL, timeout=20)
    assert done["status"] == "busy" and done["hangup_cause"].startswith("17")
    api.delete(f"/v1/numbers/{call['number_id']}")


@pytest.mark.parametrize("sipp_peer", ["uas_answer.xml"], indirect=True)
def test_answer_and_hangup_with_a_third_party_peer(
    appliance: ServerProcess, api: httpx.Client, sipp_peer: tuple
) -> None:
    trunk, _ = sipp_peer
    call = call_via(api, trunk, "+14155550178")
    live = appliance.wait_for(call["id"], {"in_progress"} | TERMINAL, timeout=20)
    assert live["status"] == "in_progress"
    api.post(f"/v1/calls/{call['id']}/cancel")  # our BYE; sipp answers 200 and exits
    done = appliance.wait_for(call["id"], TERMINAL, timeout=20)
    assert done["status"] == "completed" and done["end_reason"] == "canceled" and done["billed_duration_seconds"] >= 1
    api.delete(f"/v1/numbers/{call['number_id']}")
