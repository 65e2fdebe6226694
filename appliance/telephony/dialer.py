"""The dialer: takes queued calls in order, never more than `max_concurrent_calls` live, and drives each
call's channel through Asterisk; it also answers inbound calls for numbers with an inbound agent.

The store is written at every status change, and a call is marked `initiated` *before* it is
originated: after a crash, a call found `initiated` is closed, never dialled twice. A caller who opts out
(the opt-out key, or words the conversation reports to `OptOuts`) is listed and the call ended: opt_out.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import sqlite_utils
import structlog

from appliance import validation
from appliance.call_status import TERMINAL
from appliance.config import Settings
from appliance.store import agents as agent_store
from appliance.store import calls as store
from appliance.store import numbers as number_store
from appliance.telephony.ari import AriClient, AriError, ChannelNotFound, Subscription
from appliance.telephony.ari_events import (
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelStateChange,
    Dial,
    Event,
    StasisStart,
)
from appliance.telephony.causes import hangup_cause_text, outcome_for
from appliance.telephony.media import CallMedia, MediaClosed, RtpEndpoint
from appliance.telephony.opt_out import OptOuts, list_caller, say_goodbye
from appliance.telephony.trunk_config import endpoint_name

log = structlog.get_logger(__name__)


class CallSession(Protocol):
    """What runs on an answered call (the voice loop; a plain media recorder until it exists)."""

    async def run(self) -> str | None:
        """Talk until done; return an end_reason if the session itself ended the call."""
        ...


SessionFactory = Callable[[dict[str, Any], CallMedia], CallSession]


class IdleSession:
    """Keeps the media path open and counts audio both ways until the call ends from the outside."""

    def __init__(self, call: dict[str, Any], media: CallMedia) -> None:
        self.media = media

    async def run(self) -> str | None:
        with contextlib.suppress(MediaClosed):
            while True:
                await self.media.recv()
        return None


@dataclass
class LiveCall:
    call_id: str
    channel_id: str
    task: asyncio.Task[None] | None = None
    answered: bool = False
    cancel_requested: bool = False
    end_reason: str | None = None
    bridge_id: str | None = None
    media_channel_id: str | None = None
    media: RtpEndpoint | None = None
    events: Subscription | None = None


class Dialer:
    def __init__(
        self,
        settings: Settings,
        db: sqlite_utils.Database,
        ari: AriClient,
        session_factory: SessionFactory = IdleSession,
        opt_outs: OptOuts | None = None,
    ) -> None:
        self.settings = settings
        self.opt_outs = opt_outs or OptOuts()
        self.db = db
        self.ari = ari
        self.session_factory = session_factory
        self.live: dict[str, LiveCall] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._call_tasks: set[asyncio.Task[None]] = set()
        self._inbound_task: asyncio.Task[None] | None = None
        ari.listeners.append(self._on_ari_state)

    # --- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.reconcile()
        self._task = asyncio.create_task(self._dispatch_forever(), name="dialer")
        self._inbound_task = asyncio.create_task(self._inbound_forever(), name="dialer-inbound")

    async def stop(self) -> None:
        """Hang up every live call and close its record (the process is going away)."""
        for task in (self._task, self._inbound_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for live in list(self.live.values()):
            live.end_reason = live.end_reason or "error"
            with contextlib.suppress(AriError):
                await self.ari.hangup(live.channel_id)
        if self._call_tasks:
            await asyncio.wait(self._call_tasks, timeout=5)
        for task in list(self._call_tasks):
            task.cancel()
        for live in list(self.live.values()):
            self._close_unfinished(live.call_id, "appliance_stopped", "the appliance stopped during the call")

    def wake(self) -> None:
        self._wake.set()

    def is_ready(self) -> bool:
        return self.ari.connected.is_set()

    async def reconcile(self) -> None:
        """After a restart: calls left live by the previous process get a terminal status (their channels,
        if still up, are hung up). Queued calls stay queued and will be dialled."""
        for call_id in store.ids_in_status(self.db, ("initiated", "ringing", "in_progress")):
            row = store.call_row(self.db, call_id)
            if row["channel_id"]:
                with contextlib.suppress(AriError):
                    await self.ari.hangup(row["channel_id"])
            self._close_unfinished(call_id, "appliance_restart", "the appliance restarted during the call")
            log.warning("dialer.reconciled", call_id=call_id, was=row["status"])

    def _close_unfinished(self, call_id: str, code: str, message: str) -> None:
        row = store.call_row(self.db, call_id)
        if row["status"] in TERMINAL:
            return
        if row["answered_at"]:
            store.transition(
                self.db,
                call_id,
                "completed",
                end_reason="error",
                error_code=code,
                error_message=message,
                price_per_minute=self.settings.price_per_minute_milli_cents,
            )
        else:
            store.transition(self.db, call_id, "failed", error_code=code, error_message=message)

    # --- outbound dispatch --------------------------------------------------------------------------
    async def _dispatch_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            self._wake.clear()
            if not self.ari.connected.is_set():
                continue
            free = self.settings.max_concurrent_calls - len(self.live)
            if free <= 0:
                continue
            for call_id in store.ids_in_status(self.db, ("queued",), limit=free):
                self._begin(call_id)

    def _begin(self, call_id: str) -> None:
        channel_id = f"call-{call_id}"
        live = LiveCall(call_id=call_id, channel_id=channel_id)
        # Mark initiated before dialing: a crash after this point can never dial the call again.
        if store.transition(self.db, call_id, "initiated", channel_id=channel_id) is None:
            return  # canceled while queued
        self.live[call_id] = live
        live.events = self.ari.subscribe(channel_id)
        live.task = asyncio.create_task(self._run_outbound(live), name=f"call-{call_id}")
        self._track(live.task)

    async def _run_outbound(self, live: LiveCall) -> None:
        log_ = log.bind(call_id=live.call_id)
        row = store.call_row(self.db, live.call_id)
        snapshot = row["agent_snapshot"]
        try:
            endpoint = f"PJSIP/{row['to_number']}@{endpoint_name(row['trunk_id'])}"
            try:
                # Straight into our app, which ARI subscribes at creation: originating into a dialplan
                # context instead loses the events of calls refused within the first milliseconds
                # (the subscription comes after creation). AMD runs after the answer anyway: the
                # answered channel can be sent to the `appliance-amd` context with continue_in_dialplan.
                await self.ari.originate(
                    endpoint,
                    channel_id=live.channel_id,
                    caller_id=row["from_number"],
                    ring_timeout=snapshot["ring_timeout_seconds"],
                    app_args=("outbound", live.call_id),
                )
            except AriError as exc:
                log_.warning("dialer.originate_failed", error=str(exc))
                code = "telephony_down" if exc.status in (0, 503) else "originate_failed"
                store.transition(
                    self.db,
                    live.call_id,
                    "failed",
                    error_code=code,
                    error_message=f"Asterisk could not place the call: {exc}",
                )
                return
            await self._follow(live, row)
        finally:
            self._finish(live)

    async def _follow(
        self, live: LiveCall, row: dict[str, Any], session_task: asyncio.Task[str | None] | None = None
    ) -> None:
        """React to channel events until the channel is destroyed (outbound from dialing, inbound from answer)."""
        max_duration = row["agent_snapshot"]["max_duration_seconds"]
        deadline = time.monotonic() + max_duration if live.answered else None
        assert live.events is not None
        next_event: asyncio.Task[Event] | None = None
        try:
            while True:
                if session_task is not None and session_task.done():
                    reason = None
                    if not session_task.cancelled() and session_task.exception() is None:
                        reason = session_task.result()
                    elif not session_task.cancelled():
                        log.error("dialer.session_failed", call_id=live.call_id, error=repr(session_task.exception()))
                        reason = "error"
                    session_task = None
                    if reason:
                        live.end_reason = live.end_reason or reason
                        await self.ari.hangup(live.channel_id)
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                if next_event is None:
                    next_event = asyncio.ensure_future(live.events.get())
                # Wake on a channel event, on the session ending the call itself, or at max duration.
                waiting: set[asyncio.Future[Any]] = {next_event} | ({session_task} if session_task else set())
                await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if not next_event.done():
                    if deadline is not None and time.monotonic() >= deadline:
                        live.end_reason = live.end_reason or "max_duration"
                        deadline = None
                        await self.ari.hangup(live.channel_id)
                    continue
                event, next_event = next_event.result(), None
                if _is_ringing(event) and not live.answered:
                    store.transition(self.db, live.call_id, "ringing")
                elif isinstance(event, StasisStart) and event.channel.id == live.channel_id:
                    if live.answered:
                        continue
                    live.answered = True
                    if live.cancel_requested:
                        await self.ari.hangup(live.channel_id)
                        continue
                    store.transition(self.db, live.call_id, "in_progress", answered_by="unknown")
                    self.opt_outs.watch(live.call_id, lambda source: self._opted_out(live, source))
                    deadline = time.monotonic() + max_duration
                    try:
                        session_task = await self._start_media(live, row)
                    except (AriError, OSError, TimeoutError, ConnectionError) as exc:
                        log.error("dialer.media_failed", call_id=live.call_id, error=str(exc))
                        store.set_fields(
                            self.db,
                            live.call_id,
                            error_code="media_failed",
                            error_message=f"could not connect the call's audio: {exc}",
                        )
                        live.end_reason = "error"
                        await self.ari.hangup(live.channel_id)
                elif isinstance(event, ChannelDtmfReceived) and live.answered:
                    if event.digit == self.settings.opt_out_key:
                        self._opted_out(live, "keypad")
                elif isinstance(event, ChannelDestroyed) and event.channel.id == live.channel_id:
                    self._ended(live, event.cause, event.cause_txt, event.tech_cause)
                    return
        finally:
            if next_event is not None:
                next_event.cancel()
            if session_task is not None:
                session_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await session_task
            await self._stop_media(live)

    def _ended(self, live: LiveCall, cause: int, cause_txt: str, tech_cause: int | None) -> None:
        fields: dict[str, Any] = {"hangup_cause": hangup_cause_text(cause, cause_txt, tech_cause)}
        if live.answered and live.end_reason == "voicemail":
            # A machine answered: not a conversation, not billed, nothing to extract (API.md).
            store.transition(
                self.db, live.call_id, "no_answer", end_reason="voicemail", answered_by="machine", **fields
            )
        elif live.answered:
            reason = live.end_reason or ("canceled" if live.cancel_requested else "caller_hangup")
            store.transition(
                self.db,
                live.call_id,
                "completed",
                end_reason=reason,
                price_per_minute=self.settings.price_per_minute_milli_cents,
                **fields,
            )
        elif live.cancel_requested:
            store.transition(self.db, live.call_id, "canceled", end_reason="canceled", **fields)
        else:
            outcome = outcome_for(cause, tech_cause)
            store.transition(
                self.db,
                live.call_id,
                outcome.status,
                error_code=outcome.error_code,
                error_message=outcome.error_message,
                **fields,
            )
        log.info("dialer.call_ended", call_id=live.call_id, cause=cause, tech_cause=tech_cause)

    def _opted_out(self, live: LiveCall, source: str) -> None:
        """The caller asked to be called no more (a phrase, the opt-out key): listed now, then goodbye."""
        if live.end_reason == "opted_out" or live.cancel_requested:
            return
        live.end_reason = "opted_out"
        list_caller(self.db, live.call_id, source)
        goodbye = say_goodbye(self.ari, live.channel_id, live.bridge_id, live.media_channel_id)
        self._track(asyncio.create_task(goodbye, name=f"goodbye-{live.call_id}"))

    def _finish(self, live: LiveCall) -> None:
        self.opt_outs.forget(live.call_id)
        if live.events is not None:
            live.events.close()
        self.live.pop(live.call_id, None)
        if store.call_row(self.db, live.call_id)["status"] not in TERMINAL:
            self._close_unfinished(live.call_id, "internal_error", "the call ended without a final status")
        self.wake()

    # --- media ------------------------------------------------------------------------------------
    async def _start_media(self, live: LiveCall, row: dict[str, Any]) -> asyncio.Task[str | None]:
        """Bridge the call with an externalMedia RTP channel to a socket of ours, then run the session."""
        live.bridge_id = f"bridge-{live.call_id}"
        live.media_channel_id = f"media-{live.call_id}"
        live.media = await RtpEndpoint.open()
        await self.ari.create_bridge(live.bridge_id)
        await self.ari.add_channel(live.bridge_id, live.channel_id)
        # The media channel can be bridged only once it is in our app: wait for its StasisStart.
        with self.ari.subscribe(live.media_channel_id) as media_events:
            external = await self.ari.external_media(live.media_channel_id, live.media.external_host)
            async with asyncio.timeout(5):
                await media_events.wait_for(StasisStart)
        live.media.set_remote(*external.rtp_address)
        await self.ari.add_channel(live.bridge_id, live.media_channel_id)
        session = self.session_factory(row, live.media)
        return asyncio.create_task(session.run(), name=f"session-{live.call_id}")

    async def _stop_media(self, live: LiveCall) -> None:
        if live.media_channel_id:
            with contextlib.suppress(AriError):
                await self.ari.hangup(live.media_channel_id)
        if live.bridge_id:
            with contextlib.suppress(AriError):
                await self.ari.destroy_bridge(live.bridge_id)
        if live.media is not None:
            await live.media.close()

    # --- control from the API -----------------------------------------------------------------------
    async def cancel(self, call_id: str) -> None:
        """Before answer → `canceled`; after answer → the agent hangs up, `completed` + end_reason canceled."""
        live = self.live.get(call_id)
        if live is None:
            row = store.call_row(self.db, call_id)
            if row["status"] == "queued":
                store.transition(self.db, call_id, "canceled", end_reason="canceled")
            return
        live.cancel_requested = True
        if live.answered:
            live.end_reason = "canceled"
        await self.ari.hangup(live.channel_id)

    def on_asterisk_state(self, up: bool) -> None:
        """Asterisk died: every live call is over (its channels died with it). Told by the supervisor."""
        if up:
            self.wake()
            return
        for live in list(self.live.values()):
            live.end_reason = "error"
            if live.task is not None:
                live.task.cancel()
            self._close_down(live)

    def _on_ari_state(self, up: bool) -> None:
        if up:
            self.wake()
            self._track(asyncio.create_task(self._verify_live(), name="dialer-verify"))

    async def _verify_live(self) -> None:
        """After the event socket came back: events may have been missed, so ask for each live channel."""
        for live in list(self.live.values()):
            try:
                await self.ari.get_channel(live.channel_id)
            except ChannelNotFound:
                if live.task is not None:
                    live.task.cancel()
                self._close_down(live)
            except AriError:
                continue

    def _track(self, task: asyncio.Task[None]) -> None:
        self._call_tasks.add(task)
        task.add_done_callback(self._call_tasks.discard)

    def _close_down(self, live: LiveCall) -> None:
        row = store.call_row(self.db, live.call_id)
        if row["status"] in TERMINAL:
            return
        if live.answered:
            store.transition(
                self.db,
                live.call_id,
                "completed",
                end_reason="error",
                error_code="telephony_down",
                error_message="Asterisk stopped during the call",
                price_per_minute=self.settings.price_per_minute_milli_cents,
            )
        else:
            store.transition(
                self.db,
                live.call_id,
                "failed",
                error_code="telephony_down",
                error_message="Asterisk stopped before the call was answered",
            )

    # --- inbound ----------------------------------------------------------------------------------
    async def _inbound_forever(self) -> None:
        with self.ari.subscribe_new_channels() as arrivals:
            async for event in arrivals:
                if isinstance(event, StasisStart):
                    try:
                        await self._on_new_channel(event)
                    except AriError as exc:
                        log.warning("dialer.inbound_setup_failed", error=str(exc))

    async def _on_new_channel(self, event: StasisStart) -> None:
        """StasisStart of a channel we did not originate: an inbound call from a trunk."""
        if not event.args or event.args[0] != "inbound":
            return
        channel_id = event.channel.id
        did = _normalise(event.args[1] if len(event.args) > 1 else "")
        caller = _normalise(event.args[2] if len(event.args) > 2 else "") or None
        number = number_store.number_by_e164(self.db, did) if did else None
        agent = agent_store.agent_row(self.db, number.inbound_agent_id) if number and number.inbound_agent_id else None
        if agent is None:
            await self.ari.hangup(channel_id, reason="unallocated")
            call, _ = store.create_call(
                self.db,
                agent=_NO_AGENT,
                direction="inbound",
                to_number=did or "unknown",
                from_number=caller,
                trunk_id=None,
                instructions=None,
                context={},
                metadata={},
                webhook_url=None,
                status="initiated",
            )
            store.transition(
                self.db,
                call.id,
                "failed",
                error_code="no_agent",
                error_message=f"no inbound agent answers {did or 'this number'}",
            )
            log.warning("dialer.inbound_rejected", did=did, caller=caller)
            return
        if len(self.live) >= self.settings.max_concurrent_calls:
            # Not answered, no call row: ARI's "congestion" (cause 34) goes out as SIP 503, "busy" as 486.
            full = "congestion" if self.settings.inbound_full_code == 503 else "busy"
            await self.ari.hangup(channel_id, reason=full)
            log.info("dialer.inbound_full", did=did, caller=caller, sip=self.settings.inbound_full_code)
            return
        call, _ = store.create_call(
            self.db,
            agent=agent,
            direction="inbound",
            to_number=did,
            from_number=caller,
            trunk_id=number.trunk_id,
            instructions=None,
            context={},
            metadata={},
            webhook_url=None,
            status="initiated",
        )
        store.set_fields(self.db, call.id, channel_id=channel_id)
        live = LiveCall(call_id=call.id, channel_id=channel_id, answered=True)
        live.events = self.ari.subscribe(channel_id)
        self.live[call.id] = live
        live.task = asyncio.create_task(self._run_inbound(live), name=f"call-{call.id}")
        self._track(live.task)

    async def _run_inbound(self, live: LiveCall) -> None:
        try:
            # Inbound channels leave our subscription at StasisEnd; subscribe to see ChannelDestroyed.
            await self.ari.app_subscribe(f"channel:{live.channel_id}")
            await self.ari.answer(live.channel_id)
            store.transition(self.db, live.call_id, "in_progress", answered_by="human")
            self.opt_outs.watch(live.call_id, lambda source: self._opted_out(live, source))
            row = store.call_row(self.db, live.call_id)
            await self._follow(live, row, await self._start_media(live, row))
        except (AriError, TimeoutError, ConnectionError) as exc:
            log.warning("dialer.inbound_failed", call_id=live.call_id, error=str(exc))
        finally:
            self._finish(live)


_NO_AGENT: dict[str, Any] = {
    "id": None,
    "name": None,
    "persona": None,
    "instructions": None,
    "voice": None,
    "language": "en",
    "returns": None,
    "tools": [],
    "webhook_url": None,
    "voicemail_action": "hangup",
    "first_message": None,
    "voicemail_message": None,
    "max_duration_seconds": 0,
    "silence_timeout_seconds": 0,
    "ring_timeout_seconds": 0,
}


def _is_ringing(event: Event) -> bool:
    if isinstance(event, ChannelStateChange):
        return event.channel.state == "Ringing"
    return isinstance(event, Dial) and event.dialstatus == "RINGING"


def _normalise(number: str) -> str:
    """A DID or caller number from SIP → E.164 when it looks like one ("12025550101" → "+12025550101")."""
    number = number.strip()
    if number and not number.startswith("+") and number.isdigit() and len(number) >= 8:
        number = "+" + number
    try:
        return validation.e164(number, "did") if number else ""
    except Exception:
        return number
