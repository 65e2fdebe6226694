"""Recovery: Asterisk killed mid-call, and the appliance itself killed (-9) mid-call."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from appliance.call_status import TERMINAL
from tests.support import ServerProcess

from .conftest import requires_asterisk


def asterisk_pid(data_dir: Path) -> int:
    return int((data_dir / "asterisk" / "var" / "run" / "asterisk.pid").read_text().strip())


def wait_ready(server: ServerProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(server.url + "/readyz").status_code == 200:
            return
        time.sleep(0.2)
    raise TimeoutError("the appliance did not become ready again")


@pytest.fixture
def agent(api: httpx.Client) -> dict:
    return api.post("/v1/agents", json={"name": "recovery", "type": "outbound", "ring_timeout_seconds": 60}).json()


@requires_asterisk
def test_asterisk_killed_mid_call_ends_live_calls_and_recovers(
    appliance: ServerProcess, api: httpx.Client, agent: dict
) -> None:
    ringing = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550103"}).json()
    talking = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550101"}).json()
    appliance.wait_for(ringing["id"], {"ringing"}, timeout=15)
    appliance.wait_for(talking["id"], {"in_progress"}, timeout=15)
    os.kill(asterisk_pid(appliance.data_dir), signal.SIGKILL)

    never_answered = appliance.wait_for(ringing["id"], TERMINAL, timeout=15)
    assert never_answered["status"] == "failed" and never_answered["error_code"] == "telephony_down"
    assert never_answered["billed_duration_seconds"] == 0
    answered = appliance.wait_for(talking["id"], TERMINAL, timeout=15)
    assert answered["status"] == "completed" and answered["end_reason"] == "error"

    wait_ready(appliance)
    after = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550102"}).json()
    assert appliance.wait_for(after["id"], TERMINAL, timeout=30)["status"] == "busy"


@requires_asterisk
def test_appliance_killed_mid_call_is_reconciled_and_never_dialled_twice(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path).start()
    try:
        with server.client() as api:
            agent = api.post("/v1/agents", json={"name": "k", "type": "outbound", "ring_timeout_seconds": 60}).json()
            live = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550103"}).json()
            server.wait_for(live["id"], {"ringing"}, timeout=15)
        server.stop(signal.SIGKILL)

        server = server.restarted().start()
        call = server.wait_for(live["id"], TERMINAL, timeout=30)
        assert call["status"] == "failed" and call["error_code"] == "appliance_restart"
        with server.client() as api:
            events = api.get(f"/v1/calls/{live['id']}/events").json()["events"]
        initiated = [e for e in events if e["type"] == "status" and e["data"]["status"] == "initiated"]
        assert len(initiated) == 1  # dialled once, never again after the restart
        wait_ready(server)
    finally:
        server.stop()


@requires_asterisk
def test_telephony_that_fails_to_start_is_tried_again_until_ready(tmp_path: Path) -> None:
    """ARI's port held by another process at boot: /readyz and `doctor` say why, and once the port is free
    the box becomes ready on its own and places calls (it used to serve for good without telephony)."""
    server = ServerProcess(tmp_path)
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", int(server.env["APPLIANCE_ARI_PORT"])))
    holder.listen()
    try:
        server.start()
        ready = httpx.get(server.url + "/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["telephony"] is False
        assert "ari_port" in ready.json()["reasons"]["telephony"], ready.json()
        command = [sys.executable, "-m", "appliance.cli", "doctor"]
        doctor = subprocess.run(command, env=server.env, capture_output=True, text=True, timeout=120)
        assert "running appliance: telephony" in doctor.stdout and "ari_port" in doctor.stdout, doctor.stdout
        with server.client() as api:
            agent = api.post("/v1/agents", json={"name": "late", "type": "outbound"}).json()
            waiting = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550102"}).json()
        holder.close()
        wait_ready(server, timeout=90)
        assert "reasons" not in httpx.get(server.url + "/readyz").json()
        assert server.wait_for(waiting["id"], TERMINAL, timeout=30)["status"] == "busy"  # queued, then dialled
    finally:
        holder.close()
        server.stop()
