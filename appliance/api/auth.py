"""Bearer API keys on every /v1 route, with a per-client limit on wrong keys (so keys cannot be guessed)."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

import structlog
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler

from appliance.errors import RateLimited
from appliance.runtime import Runtime
from appliance.store.keys import KeyCache

log = structlog.get_logger(__name__)

WINDOW_SECONDS = 60.0
MAX_CLIENTS = 10_000  # clients remembered at once; the least recently failing is forgotten first


class FailedAuthWindow:
    """Wrong-key attempts per client address over the last minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def blocked_for(self, client: str, limit: int) -> int:
        """Seconds until `client` may try again (0: it may now)."""
        failures = self._failures.get(client)
        if failures is None:
            return 0
        now = self._clock()
        while failures and failures[0] <= now - WINDOW_SECONDS:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return 0
        if len(failures) < limit:
            return 0
        return max(1, int(failures[-limit] + WINDOW_SECONDS - now) + 1)

    def record(self, client: str) -> None:
        failures = self._failures.setdefault(client, deque())
        failures.append(self._clock())
        self._failures.move_to_end(client)
        if len(self._failures) > MAX_CLIENTS:
            self._failures.popitem(last=False)


class ApiKeyGuard:
    """The /v1 guard: a live key in `Authorization: Bearer`, and no more than `auth_failures_per_minute`
    wrong keys from one client address; past that every request from it gets 429 until the minute is over
    (a right key included, or the 429 would tell a guess from a hit)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = FailedAuthWindow(clock)

    async def __call__(self, connection: ASGIConnection, _: BaseRouteHandler) -> None:
        runtime: Runtime = connection.app.state.runtime
        client = connection.client.host if connection.client else "unknown"
        limit = runtime.settings.auth_failures_per_minute
        if limit and (wait := self.failures.blocked_for(client, limit)):
            raise RateLimited(
                f"more than {limit} wrong API keys from {client} in the last minute", retry_after=wait,
                code="auth_rate_limited",
            )  # fmt: skip
        header = connection.headers.get("authorization", "")
        scheme, _sep, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise NotAuthorizedException("missing API key: send Authorization: Bearer sk_...")
        cache: KeyCache = runtime.key_cache
        if cache.verify(runtime.db, key.strip()) is None:
            self.failures.record(client)
            log.warning("auth.wrong_key", client=client)
            raise NotAuthorizedException("invalid or revoked API key")
