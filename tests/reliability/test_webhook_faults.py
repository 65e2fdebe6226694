"""Webhook receivers that fail: down for a simulated hour, resetting connections, answering in 9 s. Retries
follow the documented schedule, nothing is lost or sent twice, and a slow receiver holds up no one else.
The real outbox, real SQLite and real HTTP on loopback; only the clock is controlled."""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from appliance.results.webhooks import RETRY_DELAYS, WebhookOutbox
from appliance.store import agents, calls
from appliance.store import webhooks as store
from appliance.store.db import open_db
from tests.receiver import Receiver
from tests.support import free_port

from .budget import count


class Clock:
    def __init__(self) -> None:
        self.now = time.time() + 1

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "w.db")


def queue_call_event(db: sqlite_utils.Database, webhook_url: str | None = None) -> str:
    agent_id = agents.create_agent(db, {"name": "w", "type": "outbound"})
    call, _ = calls.create_call(
        db, agent=agents.agent_row(db, agent_id), direction="outbound", to_number="+12025550102", from_number=None,
        trunk_id=None, instructions=None, context={}, metadata={}, webhook_url=webhook_url,
    )  # fmt: skip
    return call.id


def only_delivery(db: sqlite_utils.Database, call_id: str) -> store.WebhookDelivery:
    [delivery] = store.list_deliveries(db, endpoint_id=None, call_id=call_id, status=None, limit=5)
    return delivery


def next_attempt_at(db: sqlite_utils.Database, delivery_id: str) -> float:
    return db.execute("SELECT next_attempt_at FROM webhook_deliveries WHERE id = ?", [delivery_id]).fetchone()[0]


async def run_due(outbox: WebhookOutbox) -> None:
    while tasks := outbox.dispatch_due():
        await asyncio.gather(*tasks)


async def test_receiver_down_for_an_hour_gets_every_retry_on_schedule_then_one_delivery(
    db: sqlite_utils.Database,
) -> None:
    port = free_port()  # nothing listens here for the first simulated hour
    clock = Clock()
    start = clock.now
    call_id = queue_call_event(db, f"http://127.0.0.1:{port}/hook")
    outbox = WebhookOutbox(db, clock=clock, rng=random.Random(3), timeout=2)
    attempts_at = []
    receiver: Receiver | None = None
    try:
        while (delivery := only_delivery(db, call_id)).status == "pending":
            if clock.now - start >= 3600 and receiver is None:
                receiver = Receiver().start(port)  # back after an hour
            attempts_at.append(clock.now - start)
            await run_due(outbox)
            if only_delivery(db, call_id).status == "pending":
                clock.now = next_attempt_at(db, delivery.id)
    finally:
        await outbox.stop()
        if receiver is not None:
            receiver.stop()
    assert receiver is not None and delivery.status == "delivered"
    gaps = [b - a for a, b in itertools.pairwise(attempts_at)]
    assert len(gaps) == 4  # refused at 0, ~1 min, ~6 min, ~36 min; delivered at ~2 h 36 min
    for gap, base in zip(gaps, RETRY_DELAYS, strict=False):
        assert 0.8 * base <= gap <= 1.2 * base
    assert len(receiver.received) == 1 and receiver.received[0].headers["webhook-id"] == delivery.id
    assert delivery.attempt_count == 5


class Resetter:
    """Accepts, reads the request, then closes with RST (SO_LINGER 0): a connection reset mid-request."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.resets = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.resets += 1  # before the close: the client may read the reset before this thread runs again
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def resetter() -> Iterator[Resetter]:
    r = Resetter()
    yield r
    r.close()


async def test_connection_reset_is_a_failed_attempt_retried_on_schedule(
    db: sqlite_utils.Database, resetter: Resetter
) -> None:
    clock = Clock()
    call_id = queue_call_event(db, resetter.url)
    outbox = WebhookOutbox(db, clock=clock, rng=random.Random(5), timeout=2)
    await run_due(outbox)
    await outbox.stop()
    delivery = only_delivery(db, call_id)
    assert resetter.resets == 1
    assert delivery.status == "pending" and delivery.attempt_count == 1 and delivery.last_response_status is None
    assert delivery.last_error and ("Error" in delivery.last_error or "reset" in delivery.last_error.lower())
    assert 48 <= next_attempt_at(db, delivery.id) - clock.now <= 72


async def test_a_slow_receiver_holds_up_no_other_delivery(db: sqlite_utils.Database) -> None:
    slow_seconds = count(quick=3, full=9)
    slow, fast = Receiver(mode="slow", slow_seconds=slow_seconds).start(), Receiver().start()
    try:
        slow_call = queue_call_event(db, slow.url)
        fast_calls = [queue_call_event(db, fast.url) for _ in range(20)]
        outbox = WebhookOutbox(db, clock=Clock(), timeout=slow_seconds + 5)
        outbox.start()
        outbox.wake()
        started = time.monotonic()
        while len(fast.received) < len(fast_calls):
            assert time.monotonic() - started < slow_seconds, "fast deliveries waited for the slow receiver"
            await asyncio.sleep(0.05)
        fast_done = time.monotonic() - started
        assert slow.begun == 1 and not slow.received  # still in flight while the others went out
        while only_delivery(db, slow_call).status == "pending":
            assert time.monotonic() - started < slow_seconds + 10
            await asyncio.sleep(0.1)
        await outbox.stop()
    finally:
        slow.stop()
        fast.stop()
    assert fast_done < slow_seconds
    assert only_delivery(db, slow_call).status == "delivered"
    assert all(only_delivery(db, c).status == "delivered" for c in fast_calls)
