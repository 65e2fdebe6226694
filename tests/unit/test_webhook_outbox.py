"""The delivery worker against a real HTTP receiver on loopback, with a controllable clock."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from standardwebhooks.webhooks import Webhook

from appliance.results.webhooks import RETRY_DELAYS, WebhookOutbox, retry_delay
from appliance.store import agents, calls
from appliance.store import webhooks as store
from appliance.store.db import open_db
from tests.receiver import Receiver


class Clock:
    """Starts a moment after the wall clock, so deliveries the store wrote before it are due at once."""

    def __init__(self) -> None:
        self.now = time.time() + 1

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "w.db")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def make_call(db: sqlite_utils.Database, webhook_url: str | None) -> str:
    agent_id = agents.create_agent(db, {"name": "w", "type": "outbound"})
    call, _ = calls.create_call(
        db,
        agent=agents.agent_row(db, agent_id),
        direction="outbound",
        to_number="+12025550102",
        from_number=None,
        trunk_id=None,
        instructions=None,
        context={},
        metadata={},
        webhook_url=webhook_url,
    )
    return call.id


async def run_due(outbox: WebhookOutbox) -> None:
    """Send everything due now, including what becomes due as earlier events of a call complete."""
    while tasks := outbox.dispatch_due():
        await asyncio.gather(*tasks)


def test_retry_schedule_follows_the_documented_delays_with_jitter() -> None:
    rng = random.Random(7)
    for attempt, base in enumerate(RETRY_DELAYS, start=1):
        delay = retry_delay(attempt, rng)
        assert delay is not None and 0.8 * base <= delay <= 1.2 * base
    assert retry_delay(8, rng) is None


async def test_inline_delivery_is_signed_and_verifies(db: sqlite_utils.Database, receiver: Receiver) -> None:
    call_id = make_call(db, receiver.url)
    outbox = WebhookOutbox(db, clock=Clock())
    await run_due(outbox)
    await outbox.stop()
    assert len(receiver.received) == 1
    got = receiver.received[0]
    payload = Webhook(store.inline_secret(db)).verify(got.body, got.headers)
    assert payload["type"] == "call.queued" and payload["data"]["call"]["id"] == call_id
    assert (
        got.headers["webhook-id"]
        == store.list_deliveries(db, endpoint_id=None, call_id=call_id, status=None, limit=10)[0].id
    )
    assert calls.get_call(db, call_id).webhook_status == "delivered"


async def test_failures_retry_on_schedule_then_recover_with_the_same_id(
    db: sqlite_utils.Database, receiver: Receiver
) -> None:
    call_id = make_call(db, receiver.url)
    clock = Clock()
    outbox = WebhookOutbox(db, clock=clock, rng=random.Random(1), timeout=0.5)
    receiver.mode = "fail"
    await run_due(outbox)
    [delivery] = store.list_deliveries(db, endpoint_id=None, call_id=call_id, status=None, limit=5)
    assert delivery.status == "pending" and delivery.attempt_count == 1 and delivery.last_response_status == 500
    row = db.execute("SELECT next_attempt_at FROM webhook_deliveries WHERE id = ?", [delivery.id]).fetchone()
    assert 48 <= row[0] - clock.now <= 72  # +1 min ± 20 %
    await run_due(outbox)
    assert len(receiver.received) == 1  # not due yet
    receiver.mode, receiver.slow_seconds = "slow", 1.0
    clock.now += 80
    await run_due(outbox)
    assert store.get_delivery(db, delivery.id).last_error.startswith("no answer")
    receiver.mode = "ok"
    clock.now += 400
    await run_due(outbox)
    await outbox.stop()
    final = store.get_delivery(db, delivery.id)
    assert final.status == "delivered" and final.attempt_count == 3
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery.id}


async def test_exhausted_after_eight_attempts_and_endpoint_disabled_after_ten(
    db: sqlite_utils.Database, receiver: Receiver
) -> None:
    receiver.mode = "fail"
    endpoint = store.create_endpoint(db, receiver.url, "crm", ["call.queued"])
    for _ in range(10):
        make_call(db, None)
    clock = Clock()  # after the writes, however slow the machine, so all ten are due in the first round
    outbox = WebhookOutbox(db, clock=clock, rng=random.Random(2))
    for _ in range(8):
        await run_due(outbox)
        clock.now += 86400 * 1.3
    await outbox.stop()
    deliveries = store.list_deliveries(db, endpoint_id=endpoint.id, call_id=None, status=None, limit=50)
    assert len(deliveries) == 10 and all(d.status == "exhausted" and d.attempt_count == 8 for d in deliveries)
    disabled = store.get_endpoint(db, endpoint.id)
    assert disabled.status == "disabled" and disabled.disabled_reason == "too_many_failures"
    make_call(db, None)  # a disabled endpoint gets no new deliveries
    assert len(store.list_deliveries(db, endpoint_id=endpoint.id, call_id=None, status=None, limit=50)) == 10
    enabled = store.update_endpoint(db, endpoint.id, {"status": "enabled"})
    assert enabled.status == "enabled" and enabled.consecutive_failures == 0


async def test_redeliver_sends_again_with_the_same_id(db: sqlite_utils.Database, receiver: Receiver) -> None:
    call_id = make_call(db, receiver.url)
    outbox = WebhookOutbox(db, clock=Clock())
    await run_due(outbox)
    [delivery] = store.list_deliveries(db, endpoint_id=None, call_id=call_id, status=None, limit=5)
    again = store.redeliver(db, delivery.id)
    assert again.status == "pending" and again.manual_retry_count == 1
    await run_due(outbox)
    await outbox.stop()
    assert [r.headers["webhook-id"] for r in receiver.received] == [delivery.id, delivery.id]
    assert store.get_delivery(db, delivery.id).status == "delivered"


async def test_events_of_one_call_reach_a_destination_in_order(db: sqlite_utils.Database, receiver: Receiver) -> None:
    call_id = make_call(db, receiver.url)
    calls.transition(db, call_id, "initiated")
    calls.transition(db, call_id, "ringing")
    calls.transition(db, call_id, "busy")
    outbox = WebhookOutbox(db, clock=Clock())
    await run_due(outbox)
    await outbox.stop()
    types = [json.loads(r.body)["type"] for r in receiver.received]
    assert types == ["call.queued", "call.ringing", "call.busy"]


async def test_a_destination_outside_the_allowlist_is_not_contacted(
    db: sqlite_utils.Database, receiver: Receiver
) -> None:
    call_id = make_call(db, receiver.url)  # 127.0.0.1
    outbox = WebhookOutbox(db, clock=Clock(), url_allowlist=["10.0.0.0/8"])
    await run_due(outbox)
    await outbox.stop()
    assert receiver.received == []
    [delivery] = store.list_deliveries(db, endpoint_id=None, call_id=call_id, status=None, limit=5)
    assert "url_allowlist" in delivery.last_error and delivery.status == "pending"  # retried later
