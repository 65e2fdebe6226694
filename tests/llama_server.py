"""A real llama.cpp `llama-server` for the model-server tests and benchmark: built by scripts/llama-server.sh
(once per machine), serving a GGUF on a free loopback port, with its Prometheus metrics on."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[1]


def binary() -> str:
    """The path of llama-server; the first time on a machine this builds it (minutes: its progress shows)."""
    built = subprocess.run(["bash", str(ROOT / "scripts" / "llama-server.sh")], stdout=subprocess.PIPE, text=True)
    if built.returncode != 0:
        raise RuntimeError("scripts/llama-server.sh failed (its output is above)")
    return built.stdout.strip()


class LlamaServer:
    def __init__(self, model: Path, *, slots: int = 2, context: int = 8192, threads: int = 2) -> None:
        self.model = model
        self.port = free_port()
        # Each slot gets context / slots tokens: as many as one of the box's own contexts (4096) with 2 slots.
        self.args = ["-m", str(model), "--host", "127.0.0.1", "--port", str(self.port), "-c", str(context)]
        self.args += ["-np", str(slots), "-t", str(threads), "--metrics"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(f"/tmp/llama-server-{self.port}.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> LlamaServer:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([binary(), *self.args], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama-server exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"llama-server did not load {self.model.name} in {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # as a server that dies: no goodbye on its connections
            self.proc.wait(10)

    def tokens_predicted(self) -> float:
        """Tokens the server has generated since it started (its own metrics)."""
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.startswith("llamacpp:tokens_predicted_total"):
                    return sample.value
        raise AssertionError("llama-server's /metrics has no tokens_predicted_total")
