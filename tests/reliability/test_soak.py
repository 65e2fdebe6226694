"""Soak: many calls through the loopback carrier at full concurrency (voice off), mixed outcomes, every event
to a webhook receiver. Afterwards: every call has exactly one terminal status (the one its number gives) and
one terminal event, every webhook was delivered once, Asterisk holds no channel or bridge, and the appliance's
memory and file descriptors stayed flat."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.integration.conftest import requires_asterisk
from tests.receiver import Receiver
from tests.support import ServerProcess

from .box import ari_list, asterisk_pid
from .budget import count, report

pytestmark = requires_asterisk
CONCURRENCY = 8
# Ten calls of the mix: (number, the statuses it may end in)
MIX = [
    ("+12025550101", {"completed"}),  # answered; the agent's max_duration (10 s) ends it
    ("+12025550101", {"completed"}),
    ("+12025550101", {"completed"}),
    ("+12025550102", {"busy"}),
    ("+12025550106", {"busy"}),
    ("+12025550103", {"no_answer"}),  # ring timeout 5 s
    ("+12025550104", {"completed", "no_answer"}),  # voicemail: kept, or hung up on as a machine
    ("+12025550104", {"completed", "no_answer"}),
    ("+12025550105", {"failed"}),
    ("+12025550199", {"failed"}),
]


class Sampler:
    """RSS, open file descriptors and threads of the appliance and its Asterisk, every `every` seconds."""

    def __init__(self, pids: dict[str, int], every: float = 2.0) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.every = every
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            sample: dict[str, float] = {"t": round(time.monotonic() - self._started, 1)}
            for name, proc in self.procs.items():
                with proc.oneshot():
                    sample[f"{name}_rss_mb"] = round(proc.memory_info().rss / 2**20, 1)
                    sample[f"{name}_fds"] = proc.num_fds()
                    sample[f"{name}_threads"] = proc.num_threads()
            self.samples.append(sample)
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def soak_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("soak"), env={"APPLIANCE_MAX_CONCURRENT_CALLS": str(CONCURRENCY)}
    ).start()
    yield proc
    proc.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def read_db(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{data_dir / 'appliance.db'}?mode=ro", uri=True)


def snapshot(procs: dict[str, psutil.Process]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, proc in procs.items():
        out[f"{name}_rss_mb"] = round(proc.memory_info().rss / 2**20, 1)
        out[f"{name}_fds"] = proc.num_fds()
    return out


def place_calls(api: httpx.Client, agent_id: str, first: int, total: int) -> dict[str, set[str]]:
    """Queue `total` calls of the mix at once (the dialer runs CONCURRENCY of them at a time)."""
    expected: dict[str, set[str]] = {}
    for n in range(first, first + total):
        number, statuses = MIX[n % len(MIX)]
        r = api.post("/v1/calls", json={"agent_id": agent_id, "to": number, "metadata": {"n": n}})
        assert r.status_code == 201, r.text
        expected[r.json()["id"]] = statuses
    return expected


def wait_until_idle(db: sqlite3.Connection, timeout: float) -> None:
    """Every call terminal and every webhook delivered."""
    deadline = time.monotonic() + timeout
    while True:
        open_calls = db.execute(
            "SELECT COUNT(*) FROM calls WHERE status IN ('queued','initiated','ringing','in_progress')"
        ).fetchone()[0]
        pending = db.execute("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'").fetchone()[0]
        if open_calls == 0 and pending == 0:
            return
        assert time.monotonic() < deadline, f"{open_calls} calls still open, {pending} webhooks pending"
        time.sleep(1)


def test_soak_loses_nothing_and_leaks_nothing(soak_server: ServerProcess, receiver: Receiver) -> None:
    total = count(quick=20, full=500)
    assert soak_server.proc is not None
    procs = {"appliance": psutil.Process(soak_server.proc.pid), "asterisk": psutil.Process(asterisk_pid(soak_server))}
    db = read_db(soak_server.data_dir)
    with soak_server.client() as api:
        hook = api.post("/v1/webhook_endpoints", json={"url": receiver.url, "enabled_events": ["*"]})
        assert hook.status_code == 201, hook.text
        agent = api.post("/v1/agents", json={"name": "soak", "type": "outbound", "ring_timeout_seconds": 5,
                                             "max_duration_seconds": 10}).json()  # fmt: skip
        # One pass of the mix first: caches, codecs and pools fill once, so what grows after is a leak.
        expected = place_calls(api, agent["id"], 0, len(MIX))
        wait_until_idle(db, timeout=120)
        warm = snapshot(procs)
        started = time.monotonic()
        with Sampler({name: proc.pid for name, proc in procs.items()}) as sampler:
            expected |= place_calls(api, agent["id"], len(MIX), total)
            wait_until_idle(db, timeout=120 + total * 2)
        elapsed = time.monotonic() - started
        after = snapshot(procs)
        channels, bridges = len(ari_list(soak_server, "channels")), len(ari_list(soak_server, "bridges"))
    statuses = dict(db.execute("SELECT id, status FROM calls WHERE agent_id = ?", [agent["id"]]).fetchall())
    terminal_events = Counter(
        call_id for (call_id,) in db.execute(
            "SELECT call_id FROM webhook_deliveries WHERE event_type IN "
            "('call.completed','call.failed','call.no_answer','call.busy','call.canceled')"
        )
    )  # fmt: skip
    deliveries = db.execute("SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status").fetchall()
    webhook_ids = Counter(r.headers["webhook-id"] for r in receiver.received)
    lost = [c for c in expected if c not in statuses]
    wrong = {c: statuses[c] for c in expected if c in statuses and statuses[c] not in expected[c]}
    figures = {
        "calls": total, "warm_up_calls": len(MIX), "concurrency": CONCURRENCY, "seconds": round(elapsed),
        "lost": len(lost), "wrong_status": len(wrong), "status_counts": dict(Counter(statuses.values())),
        "calls_without_one_terminal_event": sum(1 for c in expected if terminal_events[c] != 1),
        "deliveries": dict(deliveries), "webhooks_received": len(receiver.received),
        "webhook_ids_received_twice": sum(1 for n in webhook_ids.values() if n > 1),
        "asterisk_channels_left": channels, "asterisk_bridges_left": bridges,
        "idle_after_warm_up": warm, "idle_after_soak": after,
        "peak_appliance_rss_mb": max(s["appliance_rss_mb"] for s in sampler.samples),
        "peak_asterisk_rss_mb": max(s["asterisk_rss_mb"] for s in sampler.samples),
        "samples": sampler.samples[:: max(1, len(sampler.samples) // 30)],
    }  # fmt: skip
    report("soak", **figures)
    assert lost == [] and wrong == {}
    assert figures["calls_without_one_terminal_event"] == 0
    assert dict(deliveries) == {"delivered": len(receiver.received)} and figures["webhook_ids_received_twice"] == 0
    assert (channels, bridges) == (0, 0)
    assert after["appliance_fds"] <= warm["appliance_fds"] + 2 and after["asterisk_fds"] <= warm["asterisk_fds"] + 2
