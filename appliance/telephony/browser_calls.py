"""Conversations with a browser over WebRTC: "Talk to this agent" in the console.

Each one is a call record like any other (direction `inbound`, `from_number` and `to_number` "browser",
metadata `{"via": "webrtc"}`) so the call page, transcript, recording, extraction and webhooks all work as for
a phone call; only the media path differs. Nothing leaves the LAN: no STUN or TURN server is used,
only the host candidates of both ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

import sqlite_utils
import structlog
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from appliance.config import Settings
from appliance.errors import ApplianceError, InvalidInput, NotFound, TelephonyUnavailable
from appliance.store import agents as agent_store
from appliance.store import calls as store
from appliance.telephony.browser_media import BrowserMedia
from appliance.telephony.call_end import Ending, record_end
from appliance.telephony.live_call import ConversationFactory
from appliance.telephony.slots import CallSlots

log = structlog.get_logger(__name__)

BROWSER = "browser"  # the call's from_number and to_number: there is no phone number on either end
CLOSE_TIMEOUT_S = 5.0


def record_talk(db: sqlite_utils.Database, agent: dict[str, Any]) -> str:
    """A talk in the console as a call row: inbound, from and to "browser", answered by a person."""
    call, _ = store.create_call(
        db,
        agent=agent,
        direction="inbound",
        to_number=BROWSER,
        from_number=BROWSER,
        trunk_id=None,
        instructions=None,
        context={},
        metadata={"via": "webrtc"},
        webhook_url=None,
        status="initiated",
    )
    store.transition(db, call.id, "in_progress", answered_by="human")
    return call.id


class Busy(ApplianceError):
    status_code = 429
    code = "too_many_calls"


@dataclass
class LiveTalk:
    call_id: str
    peer: RTCPeerConnection
    media: BrowserMedia
    hangup: asyncio.Event
    end_reason: str = "caller_hangup"  # when `hangup` is set: the person left, or "canceled" over the API
    task: asyncio.Task[None] | None = None


class BrowserCalls:
    def __init__(
        self, settings: Settings, db: sqlite_utils.Database, session_factory: ConversationFactory, slots: CallSlots
    ) -> None:
        self.settings = settings
        self.db = db
        self.session_factory = session_factory
        self.slots = slots  # the dialer's too: a talk holds a slot, and the dialer waits for it
        self.live: dict[str, LiveTalk] = {}
        self.draining = False  # shutting down: no new talk starts

    def owns(self, call_id: str) -> bool:
        return call_id in self.live

    async def start(self, agent_id: str, offer: dict[str, Any]) -> tuple[str, str]:
        """Answer the browser's SDP offer and start the conversation. Returns (call id, SDP answer)."""
        agent = agent_store.agent_row(self.db, agent_id)
        if agent is None:
            raise NotFound(f"agent {agent_id} not found", code="agent_not_found")
        if agent.get("archived_at"):
            raise InvalidInput("the agent is archived", field="agent_id")
        sdp = offer.get("sdp")
        if offer.get("type") != "offer" or not isinstance(sdp, str) or "m=audio" not in sdp:
            raise InvalidInput("an SDP offer with an audio section is required", field="sdp")
        if self.draining:
            raise TelephonyUnavailable("the appliance is shutting down; try again once it is back", code="draining")
        offer_slot = f"offer-{uuid.uuid4()}"  # held from now: answering the SDP awaits, calls may start meanwhile
        if not self.slots.take(offer_slot, "browser"):
            raise Busy(f"all {self.settings.max_concurrent_calls} call slots are in use; try again shortly")
        try:
            peer, media = await self._answer(sdp)
        except BaseException:
            self.slots.give_back(offer_slot)
            raise
        call_id = record_talk(self.db, agent)
        self.slots.rename(offer_slot, call_id)
        live = LiveTalk(call_id, peer, media, asyncio.Event())
        self.live[call_id] = live

        @peer.on("connectionstatechange")
        def _state() -> None:
            if peer.connectionState in ("failed", "closed"):
                live.hangup.set()

        live.task = asyncio.create_task(self._run(live), name=f"browser-{call_id}")
        log.info("browser.call_started", call_id=call_id, agent_id=agent_id)
        return call_id, peer.localDescription.sdp

    async def _answer(self, sdp: str) -> tuple[RTCPeerConnection, BrowserMedia]:
        """A peer connection answering the offer, and our media on it."""
        peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no STUN: the box stays offline
        media = BrowserMedia()
        peer.addTrack(media.track)
        peer.on("track", media.listen)
        try:
            await peer.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await peer.setLocalDescription(await peer.createAnswer())  # gathers our candidates (no trickle)
        except (ValueError, KeyError, AssertionError) as exc:  # aiortc's ways of saying the SDP is unusable
            await peer.close()
            raise InvalidInput(f"the SDP offer cannot be answered: {exc}", field="sdp") from None
        if "a=candidate:" not in peer.localDescription.sdp:
            # ICE never offers loopback: a box with no other interface cannot be reached over WebRTC.
            await peer.close()
            raise TelephonyUnavailable(
                "this appliance has no network interface but loopback, so no browser can reach it over WebRTC",
                code="no_network_interface",
            )
        return peer, media

    async def end(self, call_id: str, reason: str = "caller_hangup") -> None:
        """The person hung up in the console, or the call was cancelled over the API (`canceled`)."""
        if (live := self.live.get(call_id)) is not None:
            live.end_reason = reason
            live.hangup.set()
            if live.task is not None:
                await asyncio.shield(live.task)

    async def end_all(self, reason: str) -> None:
        for call_id in list(self.live):
            await self.end(call_id, reason)

    async def stop(self) -> None:
        for live in list(self.live.values()):
            if live.task is not None:
                live.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await live.task

    async def _run(self, live: LiveTalk) -> None:
        row = store.call_row(self.db, live.call_id)
        session = asyncio.create_task(self.session_factory(row, live.media, None).run(), name=f"session-{live.call_id}")
        hangup = asyncio.create_task(live.hangup.wait())
        gone = asyncio.create_task(live.media.gone.wait())
        reason, error = "error", None
        try:
            done, _ = await asyncio.wait(
                {session, hangup, gone},
                timeout=row["agent_snapshot"]["max_duration_seconds"],
                return_when=asyncio.FIRST_COMPLETED,
            )
            if session in done:
                if session.exception() is not None:
                    error = repr(session.exception())
                    log.error("browser.session_failed", call_id=live.call_id, error=error)
                else:
                    reason = session.result() or "agent_ended"
            elif done:
                reason = live.end_reason
            else:
                reason = "max_duration"
        except asyncio.CancelledError:
            error = "the appliance stopped during the call"
            raise
        finally:
            for task in (session, hangup, gone):
                task.cancel()
            await asyncio.gather(session, hangup, gone, return_exceptions=True)
            # The call is over once the conversation is: record it before tearing down the WebRTC side,
            # which can hang (aiortc's close waits on its transports).
            self.live.pop(live.call_id, None)
            self.slots.give_back(live.call_id)
            code = "voice_error" if error else None
            ending = Ending(answered=True, reason=reason, error_code=code, error_message=error)
            record_end(self.db, live.call_id, ending, self.settings.price_per_minute_milli_cents)
            log.info("browser.call_ended", call_id=live.call_id, end_reason=reason)
            # The peer first: it stops its senders itself (stopping the track before `close` is a known way
            # to make aiortc's close never return), then our media.
            for step, closing in (("peer", live.peer.close), ("media", live.media.close)):
                try:
                    await asyncio.wait_for(closing(), CLOSE_TIMEOUT_S)
                except TimeoutError:
                    log.warning("browser.close_timeout", call_id=live.call_id, step=step, seconds=CLOSE_TIMEOUT_S)
