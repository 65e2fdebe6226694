"""kill -9 of the appliance at random moments while 20 calls are queued, ringing, talking and their webhooks
are in flight, several rounds. After each restart: every call has exactly one terminal status, none was
dialled twice, every webhook event arrives (a repeat carries the same webhook-id and the same body)."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.call_status import TERMINAL
from tests.integration.conftest import requires_asterisk
from tests.receiver import Receiver
from tests.support import ServerProcess

from .budget import count, full_only, report

pytestmark = [requires_asterisk, full_only]
NUMBERS = ["+12025550101", "+12025550103", "+12025550102", "+12025550104", "+12025550101"]
CALLS_PER_ROUND = 20


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def wait_settled(db_file: Path, call_ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    marks = ",".join("?" * len(call_ids))
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as db:
        while True:
            open_calls = db.execute(
                f"SELECT COUNT(*) FROM calls WHERE id IN ({marks}) AND status NOT IN "
                f"({','.join('?' * len(TERMINAL))})", [*call_ids, *TERMINAL]
            ).fetchone()[0]  # fmt: skip
            pending = db.execute("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'").fetchone()[0]
            if open_calls == 0 and pending == 0:
                return
            assert time.monotonic() < deadline, f"{open_calls} calls open, {pending} webhooks pending"
            time.sleep(0.5)


def test_kill_9_at_random_moments_loses_and_repeats_nothing(tmp_path: Path, receiver: Receiver) -> None:
    rounds = count(quick=1, full=3)
    rng = random.Random(9)
    server = ServerProcess(tmp_path, env={"APPLIANCE_MAX_CONCURRENT_CALLS": "8"}).start()
    call_ids: list[str] = []
    kill_after: list[float] = []
    try:
        with server.client() as api:
            api.post("/v1/webhook_endpoints", json={"url": receiver.url, "enabled_events": ["*"]})
            agent = api.post("/v1/agents", json={"name": "kill", "type": "outbound", "ring_timeout_seconds": 8,
                                                 "max_duration_seconds": 10}).json()  # fmt: skip
        for _ in range(rounds):
            with server.client() as api:
                batch = [api.post("/v1/calls", json={"agent_id": agent["id"], "to": NUMBERS[n % len(NUMBERS)]})
                         .json()["id"] for n in range(CALLS_PER_ROUND)]  # fmt: skip
            call_ids += batch
            kill_after.append(round(rng.uniform(1.0, 8.0), 2))
            time.sleep(kill_after[-1])  # the random moment is the point of the test
            server.stop(signal.SIGKILL)
            server = server.restarted().start()
            wait_settled(tmp_path / "appliance.db", batch, timeout=180)
    finally:
        server.stop()

    with sqlite3.connect(tmp_path / "appliance.db") as db:
        events = db.execute("SELECT call_id, data FROM call_events WHERE type = 'status'").fetchall()
        deliveries = db.execute("SELECT id, status FROM webhook_deliveries").fetchall()
    statuses: dict[str, list[str]] = defaultdict(list)
    for call_id, data in events:
        statuses[call_id].append(json.loads(data)["status"])
    terminal_counts = Counter(sum(s in TERMINAL for s in statuses[c]) for c in call_ids)
    dialled = Counter(statuses[c].count("initiated") for c in call_ids)
    by_id: dict[str, set[bytes]] = defaultdict(set)
    for r in receiver.received:
        by_id[r.headers["webhook-id"]].add(r.body)
    report("kill_9_during_calls", rounds=rounds, calls=len(call_ids), kill_after_seconds=kill_after,
           terminal_status_counts=dict(terminal_counts), initiated_counts=dict(dialled),
           final_statuses=dict(Counter(statuses[c][-1] for c in call_ids)),
           deliveries=dict(Counter(s for _, s in deliveries)), webhook_requests=len(receiver.received),
           distinct_webhook_ids=len(by_id), repeated_ids=sum(1 for r in receiver.received) - len(by_id))  # fmt: skip
    assert terminal_counts == Counter({1: len(call_ids)})
    assert set(dialled) <= {0, 1}  # 0: still queued at the kill, ended without dialling (canceled or failed)
    assert {s for _, s in deliveries} == {"delivered"}
    assert {d for d, _ in deliveries} == set(by_id)
    assert all(len(bodies) == 1 for bodies in by_id.values())
