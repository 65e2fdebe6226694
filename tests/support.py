"""Test helpers: free ports and a real `appliance serve` process."""

from __future__ import annotations

import contextlib
import os
import queue
import random
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx
from prometheus_client.parser import text_string_to_metric_families


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def telephony_ports() -> dict[str, str]:
    """Free SIP/ARI/AMI ports and an RTP range of our own, so test instances never collide."""
    rtp = random.randrange(30000, 60000, 200)
    return {
        "APPLIANCE_SIP_HOST": "127.0.0.1",
        "APPLIANCE_SIP_PORT": str(free_port(socket.SOCK_DGRAM)),
        "APPLIANCE_CARRIER_SIP_PORT": str(free_port(socket.SOCK_DGRAM)),
        "APPLIANCE_ARI_PORT": str(free_port()),
        "APPLIANCE_AMI_PORT": str(free_port()),
        "APPLIANCE_RTP_START": str(rtp),
        "APPLIANCE_RTP_END": str(rtp + 199),
    }


class ServerProcess:
    """`appliance serve` in a child process with its own data dir and ports."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.env = {
            **os.environ,
            "APPLIANCE_DATA_DIR": str(data_dir),
            "APPLIANCE_PORT": str(self.port),
            "APPLIANCE_HOST": "127.0.0.1",
            "APPLIANCE_LOG_JSON": "true",
            "APPLIANCE_VOICE": "false",  # telephony tests need no models; conversation tests turn it on
            **telephony_ports(),
            **(env or {}),
        }
        self.proc: subprocess.Popen[str] | None = None
        self.key: str | None = None
        self.console_password: str | None = None
        self.output: list[str] = []

    @property
    def url(self) -> str:
        scheme = "https" if self.env.get("APPLIANCE_HTTPS") == "true" else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def restarted(self) -> ServerProcess:
        """A second process on the same data dir, ports and API key (start it after this one died)."""
        again = ServerProcess(self.data_dir)
        again.env, again.port, again.key = self.env, self.port, self.key
        again.console_password = self.console_password
        return again

    def start(self, timeout: float = 60) -> ServerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", "serve"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # A reader thread, so a child that hangs silently fails the test at the deadline instead of
        # blocking readline() forever (and it keeps draining, so the child never blocks on a full pipe).
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._drain, args=(lines,), daemon=True).start()
        deadline = time.monotonic() + timeout
        line: str | None = ""
        while line is not None and line.strip() != "Ready.":
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                self.stop()
                raise RuntimeError(f"appliance serve did not start in {timeout} s:\n" + "".join(self.output)) from None
            if line and (m := re.search(r"First API key .*: (sk_\S+)", line)):
                self.key = m.group(1)
            if line and (m := re.search(r"Console sign-in .*: user admin, password (\S+)", line)):
                self.console_password = m.group(1)
        if line is None:
            raise RuntimeError("appliance serve exited:\n" + "".join(self.output))
        httpx.get(self.url + "/healthz", timeout=5, verify=False).raise_for_status()  # self-signed under HTTPS
        return self

    def wait_for_voice(self, timeout: float = 120) -> ServerProcess:
        """Block until /readyz says the voice models are loaded."""
        return self._wait_for_check("voice", timeout)

    def wait_for_telephony(self, timeout: float = 60) -> ServerProcess:
        """Block until /readyz says Asterisk is up and its ARI connected ("Ready." means the API serves; a
        loaded machine may take a while longer to start Asterisk, and a call dispatched meanwhile waits queued)."""
        return self._wait_for_check("telephony", timeout)

    def _wait_for_check(self, check: str, timeout: float) -> ServerProcess:
        deadline = time.monotonic() + timeout
        with self.client() as api:
            while api.get("/readyz").json()["checks"].get(check) is not True:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"/readyz check {check!r} not true after {timeout} s")
                time.sleep(0.5)
        return self

    def _drain(self, lines: queue.Queue[str | None]) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        # Also kept on disk beside the data, to read after a failure (pytest keeps the last basetemps). The data
        # dir may not exist yet (the appliance makes it), and a full disk (a test fills one on purpose) only
        # stops the copy: this thread must go on reading, or the child blocks on a full pipe.
        log: IO[str] | None = None
        with contextlib.suppress(OSError):
            self.data_dir.mkdir(parents=True, exist_ok=True)
            log = (self.data_dir / "serve.log").open("a")
        for line in self.proc.stdout:
            self.output.append(line)
            lines.put(line)
            if log is not None:
                try:
                    log.write(line)
                    log.flush()
                except OSError:
                    log = None
        if log is not None:
            log.close()
        lines.put(None)

    def wait_for(self, call_id: str, statuses: set[str], timeout: float = 60) -> dict:
        """Poll a call until its status is one of `statuses`."""
        deadline = time.monotonic() + timeout
        with self.client() as api:
            while True:
                call = api.get(f"/v1/calls/{call_id}").json()
                if call["status"] in statuses:
                    return call
                if time.monotonic() > deadline:
                    raise TimeoutError(f"call {call_id} still {call['status']} after {timeout} s")
                time.sleep(0.1)

    def wait_for_result(self, call_id: str, timeout: float = 240) -> dict:
        """Poll an ended call until its extraction is no longer pending."""
        deadline = time.monotonic() + timeout
        with self.client() as api:
            while (call := api.get(f"/v1/calls/{call_id}").json())["result_status"] == "pending":
                if time.monotonic() > deadline:
                    raise TimeoutError(f"call {call_id}'s result still pending after {timeout} s")
                time.sleep(1)
        return call

    def inline_secret(self) -> str:
        """The box's default signing secret (inline webhooks, HTTP tools), as `appliance webhooks secret` prints it."""
        return subprocess.run(
            [sys.executable, "-m", "appliance.cli", "webhooks", "secret"],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def metric(self, name: str, **labels: str) -> float | None:
        """One sample of the box's /metrics (None: not exported)."""
        for family in text_string_to_metric_families(httpx.get(self.url + "/metrics", timeout=10).text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
        return None

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key or self.key}"}, timeout=30)

    def stop(self, sig: int | None = None) -> None:
        if self.proc is None:
            return
        if sig is None:
            self.proc.terminate()
            try:  # live calls may finish (shutdown_grace_seconds); a second SIGTERM ends them at once
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
        else:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
