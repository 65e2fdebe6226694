"""Inbound calls up to the answer: each channel nobody originated is routed by its DID, refused when the
number has no agent, the box is draining or full, else recorded and handed to the dialer, which owns it.

While the model reads the call's prompt the caller hears ringing: `InboundAnswering.ring_while_reading`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import sqlite_utils
import structlog
from prometheus_client import Counter

from appliance.config import Settings
from appliance.store import calls as store
from appliance.telephony import inbound
from appliance.telephony.ari import AriClient
from appliance.telephony.ari_errors import AriError
from appliance.telephony.ari_events import ChannelDestroyed, StasisStart
from appliance.telephony.live_call import LiveCall
from appliance.telephony.slots import CallSlots

log = structlog.get_logger(__name__)
# An inbound call rings this long at most while the model reads its prompt: two rings, about what a
# receptionist lets pass, and the agent's first words then do not wait seconds for that reading.
INBOUND_RING_S = 4.0
REFUSED = Counter(
    "appliance_inbound_refused_total", "Inbound calls refused before the answer", ["reason"]
)  # reason: no_agent (the number has none), draining, full (every slot taken)


class InboundAnswering:
    """Takes in the channels of inbound calls and gives each one it accepts, with its slot, to `admit`."""

    def __init__(
        self,
        settings: Settings,
        db: sqlite_utils.Database,
        ari: AriClient,
        slots: CallSlots,
        *,
        admit: Callable[[LiveCall], None],
        draining: Callable[[], bool],
        on_ringing: Callable[[dict[str, Any]], asyncio.Task[None] | None],
    ) -> None:
        self.settings = settings
        self.db = db
        self.ari = ari
        self.slots = slots
        self.admit = admit  # the dialer runs the call from here on
        self.draining = draining  # asked per call: shutting down is decided after we are built
        self.on_ringing = on_ringing

    async def run_forever(self) -> None:
        with self.ari.subscribe_new_channels() as arrivals:
            async for event in arrivals:
                if isinstance(event, StasisStart):
                    try:
                        await self._on_new_channel(event)
                    except AriError as exc:
                        log.warning("dialer.inbound_setup_failed", error=str(exc))

    async def _on_new_channel(self, event: StasisStart) -> None:
        """StasisStart of a channel we did not originate: an inbound call from a trunk."""
        route = inbound.route(self.db, event)
        if route is None:
            return
        channel_id = event.channel.id
        if route.agent is None:
            await self.ari.hangup(channel_id, reason="unallocated")
            inbound.record_rejected(self.db, route)
            REFUSED.labels("no_agent").inc()
            log.warning("dialer.inbound_rejected", did=route.did, caller=route.caller)
            return
        if self.draining():  # SIP 503: the carrier tries another route, the caller is not told "busy"
            await self.ari.hangup(channel_id, reason="congestion")
            REFUSED.labels("draining").inc()
            log.info("dialer.inbound_refused_draining", did=route.did, caller=route.caller)
            return
        if self.slots.free() <= 0:
            # Not answered, no call row: ARI's "congestion" (cause 34) goes out as SIP 503, "busy" as 486.
            full = "congestion" if self.settings.inbound_full_code == 503 else "busy"
            await self.ari.hangup(channel_id, reason=full)
            REFUSED.labels("full").inc()
            log.info("dialer.inbound_full", did=route.did, caller=route.caller, sip=self.settings.inbound_full_code)
            return
        call_id = inbound.record_answering(self.db, route, channel_id)
        self.slots.take(call_id, "inbound")  # free was checked above, with no await since
        self.admit(LiveCall(call_id=call_id, channel_id=channel_id, answered=True))

    async def answer(self, live: LiveCall) -> ChannelDestroyed | None:
        """Ring while the prompt is read, then answer: the call is `in_progress`. If the caller hangs up
        first, their channel's end instead (not answered)."""
        # Inbound channels leave our subscription at StasisEnd; subscribe to see ChannelDestroyed.
        await self.ari.app_subscribe(f"channel:{live.channel_id}")
        if (gone := await self.ring_while_reading(live)) is not None:
            return gone
        await self.ari.answer(live.channel_id)
        store.transition(self.db, live.call_id, "in_progress", answered_by="human")
        return None

    async def ring_while_reading(self, live: LiveCall) -> ChannelDestroyed | None:
        """The caller hears ringing while the model reads the call's prompt (`INBOUND_RING_S` at most).

        Returns the channel's end if the caller hung up meanwhile (the call is then not answered)."""
        reading = self.on_ringing(store.call_row(self.db, live.call_id))
        if reading is None or reading.done():
            return None
        await self.ari.ring(live.channel_id)
        assert live.events is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + INBOUND_RING_S
        while not reading.done() and loop.time() < deadline:
            event = asyncio.ensure_future(live.events.get())
            await asyncio.wait({reading, event}, timeout=deadline - loop.time(), return_when=asyncio.FIRST_COMPLETED)
            if not event.done():
                event.cancel()  # a queue's get: nothing is lost
            elif isinstance(gone := event.result(), ChannelDestroyed) and gone.channel.id == live.channel_id:
                return gone
        return None
