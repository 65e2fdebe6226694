"""Offline: a whole call through the loopback carrier makes no connection to, and sends no packet to, any
address outside loopback. strace watches every connect/sendto/sendmsg of the appliance and its Asterisk
(all threads, children included) for the length of the call; unconnected UDP (RTP) is seen too."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.call_status import TERMINAL
from tests.integration.conftest import requires_asterisk
from tests.support import ServerProcess

from .box import asterisk_pid
from .budget import FULL, report

pytestmark = [requires_asterisk, pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")]
ADDRESS = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')


def traced_pids(server: ServerProcess) -> list[int]:
    assert server.proc is not None
    return [server.proc.pid, asterisk_pid(server)]


def tracer_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^TracerPid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]


class SocketTrace:
    """strace attached to running processes, recording the destination of every outgoing connection/packet."""

    def __init__(self, pids: list[int], out: Path) -> None:
        self.out = out
        args = ["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg,sendmmsg", "-e", "signal=none",
                "-o", str(out)]  # fmt: skip
        for pid in pids:
            args += ["-p", str(pid)]
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while not all(tracer_of(pid) for pid in pids):
            assert time.monotonic() < deadline and self.proc.poll() is None, "strace could not attach"
            time.sleep(0.05)

    def destinations(self) -> Counter[str]:
        text = self.out.read_text(errors="replace") if self.out.exists() else ""
        return Counter(v4 or v6 for v4, v6 in ADDRESS.findall(text))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)  # detaches cleanly, the traced processes carry on
        self.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def offline_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    voice = "true" if FULL else "false"  # full run: a conversation with the local models
    proc = ServerProcess(tmp_path_factory.mktemp("offline"), env={"APPLIANCE_VOICE": voice}).start(timeout=120)
    if FULL:
        with proc.client() as api:
            deadline = time.monotonic() + 180
            while api.get("/readyz").json()["checks"].get("voice") is not True:
                assert time.monotonic() < deadline, "the voice engine did not load"
                time.sleep(0.5)
    yield proc
    proc.stop()


def test_a_whole_call_touches_no_address_outside_loopback(offline_server: ServerProcess, tmp_path: Path) -> None:
    trace = SocketTrace(traced_pids(offline_server), tmp_path / "strace.txt")
    try:
        with offline_server.client() as api:
            agent = api.post("/v1/agents", json={
                "name": "offline", "type": "outbound", "max_duration_seconds": 60, "returns": {"confirmed": "boolean"},
                "first_message": "Hi, this is Sam from Bright Smile Dental. Am I speaking with Alex?",
            }).json()  # fmt: skip
            call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550101"}).json()
            offline_server.wait_for(call["id"], {"in_progress"} | TERMINAL, timeout=60)
            if not FULL:  # no voice: let media flow (a few hundred RTP packets), then hang up
                deadline = time.monotonic() + 60
                while trace.destinations()["127.0.0.1"] < 500:
                    assert time.monotonic() < deadline, "no media seen on the call"
                    time.sleep(0.2)
                api.post(f"/v1/calls/{call['id']}/cancel")
            done = offline_server.wait_for(call["id"], TERMINAL, timeout=180)
            if FULL:
                deadline = time.monotonic() + 120
                while api.get(f"/v1/calls/{call['id']}").json()["result_status"] == "pending":
                    assert time.monotonic() < deadline, "extraction did not finish"
                    time.sleep(0.5)
            transcript = api.get(f"/v1/calls/{call['id']}/transcript").json()["segments"]
    finally:
        trace.stop()
    seen = trace.destinations()
    outside = {a: n for a, n in seen.items() if not ipaddress.ip_address(a).is_loopback and a not in ("0.0.0.0", "::")}
    report("offline_call", voice=FULL, status=done["status"], billed=done["billed_duration_seconds"],
           segments=len(transcript), destinations=dict(seen))  # fmt: skip
    assert done["status"] == "completed" and done["billed_duration_seconds"] >= 1
    assert outside == {}
    assert seen["127.0.0.1"] >= 500  # the control: the trace did see the call's traffic
    if FULL:
        assert len(transcript) >= 2  # both sides spoke


def test_onnxruntime_telemetry_is_off_in_the_appliance_and_its_children() -> None:
    """onnxruntime's uploader looks up mobile.events.data.microsoft.com unless ORT_DISABLE_TELEMETRY is set before
    it loads (caught by the full-run conversation above under strace); importing the package sets it."""
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    child = "import appliance, subprocess, sys; subprocess.run([sys.executable, '-c', " \
            "'import os; print(os.environ.get(\"ORT_DISABLE_TELEMETRY\"))'])"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
