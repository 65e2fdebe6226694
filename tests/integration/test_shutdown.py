"""SIGTERM drains the box: a live call (real SIP through Asterisk and the loopback carrier) finishes, nothing new
is dialled or answered, /readyz says draining; a second SIGTERM ends the calls left with `end_reason: shutdown`."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import httpx

from tests.support import ServerProcess

from .conftest import requires_asterisk
from .test_inbound_and_trunks import carrier_call


def stored(server: ServerProcess, call_id: str) -> tuple[str, str | None]:
    """(status, end_reason) from the database, once the process is gone."""
    with sqlite3.connect(server.data_dir / "appliance.db") as db:
        return db.execute("SELECT status, end_reason FROM calls WHERE id = ?", [call_id]).fetchone()


def wait_draining(server: ServerProcess, timeout: float = 10) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = httpx.get(server.url + "/readyz")
        if ready.json().get("draining"):
            return ready
        time.sleep(0.1)
    raise TimeoutError("/readyz never said draining")


def wait_logged(server: ServerProcess, event: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not any(event in line for line in server.output):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{event} was not logged")
        time.sleep(0.1)


def start(tmp_path: Path, max_calls: int) -> tuple[ServerProcess, dict]:
    server = ServerProcess(tmp_path, env={"APPLIANCE_MAX_CONCURRENT_CALLS": str(max_calls)}).start()
    with server.client() as api:
        body = {"name": "drain", "type": "outbound", "max_duration_seconds": 12}
        return server, api.post("/v1/agents", json=body).json()


@requires_asterisk
def test_sigterm_lets_a_live_call_finish_while_queued_calls_wait(tmp_path: Path) -> None:
    server, agent = start(tmp_path, max_calls=1)
    try:
        with server.client() as api:
            live = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550101"}).json()
            server.wait_for(live["id"], {"in_progress"}, timeout=20)
            waiting = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550102"}).json()
            assert server.proc is not None
            server.proc.send_signal(signal.SIGTERM)
            ready = wait_draining(server)
            assert ready.status_code == 503 and "draining" in ready.json()["reasons"]["shutdown"]
            assert api.get(f"/v1/calls/{live['id']}").json()["status"] == "in_progress"  # not cut off
            later = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550102"})
            assert later.status_code == 201  # accepted and kept for after the restart
        assert server.proc.wait(timeout=60) == 0  # exits once the call ended at its max duration
        assert stored(server, live["id"]) == ("completed", "max_duration")
        assert stored(server, waiting["id"]) == ("queued", None)  # a slot came free, but nothing is dialled
        assert stored(server, later.json()["id"]) == ("queued", None)
        assert any("telephony.drained" in line for line in server.output)
    finally:
        server.stop()


@requires_asterisk
def test_a_second_sigterm_ends_live_calls_with_end_reason_shutdown(tmp_path: Path) -> None:
    server, agent = start(tmp_path, max_calls=2)
    try:
        with server.client() as api:
            number = api.post("/v1/numbers", json={"e164": "+14155550141"}).json()
            api.post("/v1/agents", json={"name": "desk", "type": "inbound", "number_ids": [number["id"]]})
            live = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550101"}).json()
            server.wait_for(live["id"], {"in_progress"}, timeout=20)
            assert server.proc is not None
            server.proc.send_signal(signal.SIGTERM)
            wait_draining(server)
            carrier_call(server, number["e164"])  # a free slot, an agent, but the box is going away: 503
            wait_logged(server, "dialer.inbound_refused_draining")
            assert server.metric("appliance_inbound_refused_total", reason="draining") == 1
            assert server.metric("appliance_calls_live", kind="outbound") == 1
            assert api.get("/v1/calls", params={"direction": "inbound"}).json()["data"] == []
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=20) == 0
        assert stored(server, live["id"]) == ("completed", "shutdown")
    finally:
        server.stop()
