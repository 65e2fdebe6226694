"""The box's call slots: one count of calls in flight (outbound, inbound, browser talks) against
`max_concurrent_calls`, so no path can start a call the others have no room for (2 CPU cores)."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from prometheus_client import Gauge

log = structlog.get_logger(__name__)

KINDS = ("outbound", "inbound", "browser")
# The box's headroom at /metrics: what it may hold (the setting), what holds a slot now, what is left.
LIMIT = Gauge("appliance_call_slots", "Calls this box holds at once (max_concurrent_calls)")
LIVE = Gauge("appliance_calls_live", "Calls holding a slot now", ["kind"])
FREE = Gauge("appliance_call_slots_free", "Slots left for a new call (0: outbound waits queued, inbound is refused)")


class CallSlots:
    """Who holds a slot, by call id. The dialer and the browser talks take and give back slots here; a freed
    slot tells the listeners (the dialer wakes to dispatch what is queued)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[str, str] = {}  # call id → what holds it ("outbound", "inbound", "browser")
        self.listeners: list[Callable[[], None]] = []
        self._publish()

    def free(self) -> int:
        return max(0, self.limit - len(self._held))

    def take(self, call_id: str, kind: str) -> bool:
        """Hold a slot for this call; False when every slot is taken (the call must not start)."""
        if call_id in self._held:
            return True
        if self.free() <= 0:
            return False
        self._held[call_id] = kind
        self._publish()
        return True

    def rename(self, held_as: str, call_id: str) -> None:
        """A slot taken before the call had an id (a browser talk, held while its SDP is answered)."""
        self._held[call_id] = self._held.pop(held_as)

    def give_back(self, call_id: str) -> None:
        if self._held.pop(call_id, None) is not None:
            self._publish()
            for listener in list(self.listeners):
                listener()

    def held(self, kind: str | None = None) -> list[str]:
        return [call_id for call_id, k in self._held.items() if kind is None or k == kind]

    def __len__(self) -> int:
        return len(self._held)

    def _publish(self) -> None:
        LIMIT.set(self.limit)
        for kind in KINDS:
            LIVE.labels(kind).set(sum(1 for k in self._held.values() if k == kind))
        FREE.set(self.free())
