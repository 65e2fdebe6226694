"""The webhook outbox survives kill -9: deliveries in flight and pending when the appliance dies are all
delivered after the restart, signed (verified with `standardwebhooks`), none lost, and a duplicate only
ever under the webhook-id of the first attempt.

A real `appliance serve` (API only: the outbox does not need Asterisk) and a real HTTP receiver that
holds its answers while the process is killed, so some requests are in flight and the rest pending.
"""

from __future__ import annotations

import json
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from tests.receiver import Receiver
from tests.support import ServerProcess

CALLS = 20  # two events each (queued, canceled): more than the outbox sends at once (16)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def test_kill_9_with_deliveries_in_flight_and_pending_loses_none_and_duplicates_keep_their_id(
    tmp_path: Path,
) -> None:
    receiver = Receiver(mode="slow", slow_seconds=6.0).start()
    server = ServerProcess(tmp_path, env={"APPLIANCE_TELEPHONY": "false"}).start()
    try:
        with server.client() as api:
            endpoint = api.post("/v1/webhook_endpoints", json={"url": receiver.url, "enabled_events": ["*"]}).json()
            agent = api.post("/v1/agents", json={"name": "hooks", "type": "outbound"}).json()
            call_ids = [
                api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550102"}).json()["id"]
                for _ in range(CALLS)
            ]
            for call_id in call_ids:
                assert api.post(f"/v1/calls/{call_id}/cancel").json()["status"] == "canceled"
            wait_until(lambda: receiver.begun >= 8, 10, "the outbox never started sending")
        in_flight_at_kill = receiver.begun - len(receiver.received)
        server.stop(signal.SIGKILL)
        assert in_flight_at_kill > 0

        receiver.mode = "ok"
        server = server.restarted().start()
        with server.client() as api:
            rows: list[dict] = []

            def all_delivered() -> bool:
                rows[:] = api.get("/v1/webhook_deliveries", params={"limit": 200}).json()["data"]
                return len(rows) == 2 * CALLS and all(r["status"] == "delivered" for r in rows)

            try:
                wait_until(all_delivered, 60, "not every delivery was delivered after the restart")
            except TimeoutError:
                late = [(r["status"], r["attempt_count"], r["last_error"]) for r in rows if r["status"] != "delivered"]
                failures = "".join(line for line in server.output if "webhook.failed" in line)
                raise TimeoutError(f"of {len(rows)} deliveries, not delivered: {late}\n{failures}") from None
        # The requests held at the kill reach the receiver too, late: the duplicates.
        wait_until(lambda: len(receiver.received) >= receiver.begun, 10, "held requests never finished")
    finally:
        server.stop()
        receiver.stop()

    verifier = Webhook(endpoint["signing_secret"])
    bodies: dict[str, set[bytes]] = defaultdict(set)
    ids_per_event: dict[tuple[str, str], set[str]] = defaultdict(set)
    for message in receiver.received:
        envelope = verifier.verify(message.body, message.headers)  # raises unless signed by us
        webhook_id = message.headers["webhook-id"]
        bodies[webhook_id].add(message.body)
        ids_per_event[envelope["data"]["call"]["id"], envelope["type"]].add(webhook_id)

    expected = {(call_id, kind) for call_id in call_ids for kind in ("call.queued", "call.canceled")}
    assert set(ids_per_event) == expected  # none lost, nothing else sent
    assert all(len(ids) == 1 for ids in ids_per_event.values())  # one webhook-id per event, across the restart
    assert all(len(sent) == 1 for sent in bodies.values())  # a duplicate is the same message, byte for byte
    duplicates = len(receiver.received) - len(expected)
    assert 0 < duplicates <= in_flight_at_kill, json.dumps({"duplicates": duplicates, "in_flight": in_flight_at_kill})
