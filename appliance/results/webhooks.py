"""The webhook delivery worker: reads the SQLite outbox, signs, POSTs, retries.

Every delivery is signed twice with the same secret: Standard Webhooks (`webhook-*` headers, checked by the
`standardwebhooks` package) and the hosted service's own scheme (`CallingBox-Signature`, checked by its
SDK's `Webhooks.construct_event`), so receivers written for either work unchanged.

A delivery is marked delivered only after a 2xx: if the process dies mid-flight, it is sent again after
the restart with the same `webhook-id`, so receivers can drop the duplicate. Failures retry at +1 min,
5 min, 30 min, 2 h, 5 h, 10 h, 24 h (±20 % jitter); after 8 attempts the delivery is exhausted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlite_utils
import structlog
from prometheus_client import Counter
from standardwebhooks.webhooks import Webhook

from appliance import validation
from appliance.clock import woken_or_timed_out
from appliance.store import webhooks as store

log = structlog.get_logger(__name__)

RETRY_DELAYS = (60, 300, 1800, 7200, 18000, 36000, 86400)  # seconds after attempts 1..7
JITTER = 0.2
TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
CONCURRENCY = 16
DELIVERIES = Counter("appliance_webhook_attempts_total", "Webhook delivery attempts", ["outcome"])


def retry_delay(attempt: int, rng: random.Random) -> float | None:
    """Seconds to wait after failed attempt number `attempt` (1-based); None when none is left."""
    if attempt > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[attempt - 1] * rng.uniform(1 - JITTER, 1 + JITTER)


def callingbox_signature(secret: str, timestamp: int, body: str) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`, keyed with the whole secret string as the SDK does
    (Standard Webhooks instead keys with the base64-decoded part after `whsec_`)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signed_headers(
    secret: str, delivery_id: str, timestamp: int, body: str, event_type: str, call_id: str | None
) -> dict[str, str]:
    """Both signatures; the delivery id is the event id of both schemes (stable across retries and replays)."""
    signature = Webhook(secret).sign(delivery_id, datetime.fromtimestamp(timestamp, UTC), body)
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
        "callingbox-signature": callingbox_signature(secret, timestamp, body),
        "callingbox-event-id": delivery_id,
        "callingbox-event-type": event_type,
        "x-callingbox-event": event_type,
        "user-agent": "appliance-webhooks/1",
    }
    if call_id is not None:
        headers["x-callingbox-call-id"] = call_id
    return headers


class WebhookOutbox:
    """Owns the delivery loop; `wake()` when new deliveries were written."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = TIMEOUT_SECONDS,
        url_allowlist: list[str] | None = None,
    ) -> None:
        self.db = db
        self.url_allowlist = url_allowlist or []
        self.clock = clock
        self.rng = rng or random.Random()
        # Redirects are not followed: a receiver must answer at the URL it registered.
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False, transport=transport)
        self._wake = asyncio.Event()
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="webhook-outbox")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._http.aclose()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self.dispatch_due()
            self._wake.clear()
            await woken_or_timed_out(self._wake, self._sleep_for())

    def _sleep_for(self) -> float:
        due = store.next_due_at(self.db)
        return 1.0 if due is None else min(1.0, max(0.05, due - self.clock()))

    def dispatch_due(self) -> list[asyncio.Task[None]]:
        """Start a send for every due delivery not already in flight (bounded); returns the new tasks."""
        free = CONCURRENCY - len(self._in_flight)
        started = []
        if free <= 0:
            return started
        for delivery in store.due_deliveries(self.db, self.clock(), limit=CONCURRENCY + len(self._in_flight)):
            if delivery["id"] in self._in_flight or len(started) >= free:
                continue
            self._in_flight.add(delivery["id"])
            task = asyncio.create_task(self._deliver(delivery), name=f"webhook-{delivery['id']}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started.append(task)
        return started

    async def _deliver(self, delivery: dict[str, Any]) -> None:
        try:
            await self._attempt(delivery)
        finally:
            self._in_flight.discard(delivery["id"])
            self._wake.set()  # the next event of this call may now be due

    async def _post(
        self, delivery: dict[str, Any], body: str, headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        """One POST; (HTTP status, error or None)."""
        status: int | None = None
        try:
            async with self._http.stream("POST", delivery["url"], content=body.encode(), headers=headers) as r:
                status = r.status_code
                received = 0
                async for chunk in r.aiter_bytes():  # read a little, never an unbounded body
                    received += len(chunk)
                    if received > MAX_RESPONSE_BYTES:
                        break
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except httpx.TimeoutException:
            error = f"no answer within {self._http.timeout.read} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        return status, error

    async def _attempt(self, delivery: dict[str, Any]) -> None:
        body: str = delivery["payload"]
        headers = signed_headers(
            store.secret_for(self.db, delivery),
            delivery["id"],
            int(self.clock()),
            body,
            delivery["event_type"],
            delivery["call_id"],
        )
        status: int | None = None
        if blocked := await validation.url_blocked(delivery["url"], self.url_allowlist):
            error: str | None = blocked
        else:
            status, error = await self._post(delivery, body, headers)
        if error is None:
            store.record_success(self.db, delivery["id"], status or 200)
            DELIVERIES.labels("delivered").inc()
            log.info("webhook.delivered", delivery_id=delivery["id"], event_type=delivery["event_type"], status=status)
            return
        delay = retry_delay(delivery["attempt_count"] + 1, self.rng)
        retry_at = None if delay is None else self.clock() + delay
        outcome = store.record_failure(self.db, delivery["id"], error, status, retry_at)
        DELIVERIES.labels("exhausted" if outcome == "exhausted" else "failed").inc()
        log.warning(
            "webhook.failed",
            delivery_id=delivery["id"],
            event_type=delivery["event_type"],
            error=error,
            outcome=outcome,
        )
