"""The ARI event websocket: one connection that reconnects, its typed events routed by id to `Subscription`s.

Subscribe to a channel id *before* you originate or create it with that id, so no early event is lost.
StasisStart of a channel nobody subscribed to (an inbound call) goes to `subscribe_new_channels()`. When
the websocket drops (Asterisk restarted), `connected` is cleared, the listeners are told, and every
subscription receives `ConnectionLost`; the stream keeps reconnecting with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Iterable
from typing import Self, TypeVar

import msgspec
import structlog
import websockets
from websockets.asyncio.client import connect

from appliance.telephony.ari_events import ConnectionLost, Event, StasisStart, decode_event

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=Event)


class Subscription(asyncio.Queue[Event]):
    """Events for a set of ids (channels, bridges, playbacks, recordings), in arrival order.

    A plain asyncio.Queue (`get`, `get_nowait`) that also iterates; close it (or use `with`) when done."""

    def __init__(self, stream: EventStream, keys: Iterable[str] = ()) -> None:
        super().__init__()
        self._stream = stream
        self.keys: set[str] = set()
        for key in keys:
            self.add(key)

    def add(self, key: str) -> None:
        """Also receive events for `key` (e.g. the bridge created later for this call)."""
        self.keys.add(key)
        self._stream._routes.setdefault(key, set()).add(self)

    def close(self) -> None:
        self._stream._unroute(self)

    async def wait_for(self, *types: type[E], predicate: Callable[[E], bool] | None = None) -> E:
        """The next event of one of `types` (matching `predicate`); other events are discarded.

        Raises `ConnectionError` on ConnectionLost. Wrap in `asyncio.timeout()`."""
        while True:
            event = await self.get()
            if isinstance(event, ConnectionLost) and ConnectionLost not in types:
                raise ConnectionError("ARI event connection lost")
            if isinstance(event, types) and (predicate is None or predicate(event)):  # type: ignore[arg-type]
                return event  # type: ignore[return-value]

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventStream:
    """The event websocket of one ARI application and the subscriptions its events are routed to."""

    def __init__(
        self,
        url: str,
        auth_header: str,
        app: str,
        *,
        reconnect_min: float = 0.2,
        reconnect_max: float = 5.0,
        ping_interval: float = 5.0,
    ) -> None:
        self.url, self.app = url, app
        self._auth_header = auth_header
        self.reconnect_min, self.reconnect_max, self.ping_interval = reconnect_min, reconnect_max, ping_interval
        self.connected = asyncio.Event()
        self.listeners: list[Callable[[bool], None]] = []  # called with True / False as the websocket goes up / down
        self._routes: dict[str, set[Subscription]] = {}
        self._all: set[Subscription] = set()
        self._new_channels: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the websocket task (it connects and reconnects on its own)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._events_forever(), name="ari-events")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # --- routing ------------------------------------------------------------------------------------

    def subscribe(self, *keys: str) -> Subscription:
        """Events whose channel / bridge / playback / recording id is one of `keys`."""
        return Subscription(self, keys)

    def subscribe_new_channels(self) -> Subscription:
        """StasisStart of channels that no subscription claims: inbound calls."""
        sub = Subscription(self)
        self._new_channels.add(sub)
        return sub

    def subscribe_all(self) -> Subscription:
        """Every event (diagnostics, tests)."""
        sub = Subscription(self)
        self._all.add(sub)
        return sub

    def _unroute(self, sub: Subscription) -> None:
        for key in sub.keys:
            subs = self._routes.get(key)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._routes[key]
        self._all.discard(sub)
        self._new_channels.discard(sub)

    def dispatch(self, event: Event) -> None:
        """Deliver one event to its subscribers (public so tests and replays can inject events)."""
        targets: set[Subscription] = set(self._all)
        claimed = False
        for key in event.route_keys():
            subs = self._routes.get(key)
            if subs:
                targets.update(subs)
                claimed = True
        if not claimed and isinstance(event, StasisStart):
            if self._new_channels:
                targets.update(self._new_channels)
            else:
                log.warning("ari.unclaimed_channel", channel=event.channel.id, name=event.channel.name)
        for sub in targets:
            sub.put_nowait(event)

    # --- the websocket ------------------------------------------------------------------------------

    async def _events_forever(self) -> None:
        backoff = self.reconnect_min
        last_error = ""
        while True:
            try:
                async with connect(
                    self.url,
                    additional_headers={"Authorization": self._auth_header},
                    open_timeout=5,
                    ping_interval=self.ping_interval,  # finds a hung Asterisk, not only a dead one
                    ping_timeout=self.ping_interval,
                    max_size=2**22,
                    compression=None,
                ) as ws:
                    backoff, last_error = self.reconnect_min, ""
                    self._set_connected(True)
                    async for raw in ws:
                        try:
                            event = decode_event(raw)
                        except msgspec.DecodeError as exc:
                            log.warning("ari.bad_event", error=str(exc), raw=str(raw)[:200])
                            continue
                        self.dispatch(event)
            except asyncio.CancelledError:
                self._set_connected(False)
                raise
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                error = str(exc) or type(exc).__name__
                if self.connected.is_set():
                    log.warning("ari.events_lost", error=error)
                elif error != last_error:  # e.g. a 401 says so once, not every retry
                    log.warning("ari.connect_failed", error=error, retrying=True)
                last_error = error
            except Exception:  # a bug must not end reconnection for the life of the process
                log.exception("ari.events_loop_error")
            self._set_connected(False)
            # Jitter so a fleet of clients does not hammer a restarting Asterisk in lockstep.
            await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, self.reconnect_max)

    def _set_connected(self, up: bool) -> None:
        if up == self.connected.is_set():
            return
        if up:
            self.connected.set()
            log.info("ari.connected", app=self.app)
        else:
            self.connected.clear()
            log.warning("ari.disconnected", app=self.app)
            lost = ConnectionLost(application=self.app)
            for sub in {s for subs in self._routes.values() for s in subs} | self._all | self._new_channels:
                sub.put_nowait(lost)
        for listener in list(self.listeners):
            try:
                listener(up)
            except Exception:
                log.exception("ari.listener_failed")
