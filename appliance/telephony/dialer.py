"""The dialer: takes queued calls in order, never more than `max_concurrent_calls` live, and drives each
call's channel through Asterisk; it also runs the inbound calls that `answering.py` takes in and answers.

The store is written at every status change, and a call is marked `initiated` *before* it is
originated: after a crash, a call found `initiated` is closed, never dialled twice. A caller who opts out
(the opt-out key, or words the conversation reports to `OptOuts`) is listed and the call ended: opt_out.py.
Any other key the caller presses on an answered call goes to its conversation (`Conversation.keys`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from typing import Any

import sqlite_utils
import structlog

from appliance.call_status import TERMINAL
from appliance.clock import woken_or_timed_out
from appliance.config import Settings
from appliance.store import calls as store
from appliance.telephony.answering import InboundAnswering
from appliance.telephony.ari import AriClient
from appliance.telephony.ari_errors import AriError, ChannelNotFound
from appliance.telephony.ari_events import (
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelStateChange,
    Dial,
    Event,
    StasisStart,
)
from appliance.telephony.call_end import Ending, record_end
from appliance.telephony.causes import hangup_cause_text, outcome_for
from appliance.telephony.line_tools import LineTools
from appliance.telephony.live_call import ConversationFactory, IdleConversation, LiveCall, close_media, open_media
from appliance.telephony.opt_out import OptOutKey, OptOuts, list_caller, say_goodbye
from appliance.telephony.slots import CallSlots
from appliance.telephony.trunk_config import endpoint_name

log = structlog.get_logger(__name__)


class Dialer:
    """The one owner of the calls in flight on Asterisk: dials the queue, follows every channel to its end."""

    def __init__(
        self,
        settings: Settings,
        db: sqlite_utils.Database,
        ari: AriClient,
        session_factory: ConversationFactory = IdleConversation,
        opt_outs: OptOuts | None = None,
        slots: CallSlots | None = None,
        on_ringing: Callable[[dict[str, Any]], asyncio.Task[None] | None] | None = None,
    ) -> None:
        self.settings = settings
        self.opt_outs = opt_outs or OptOuts()
        self.db = db
        self.ari = ari
        self.session_factory = session_factory
        self.on_ringing = on_ringing or (lambda _row: None)  # the conversation prepares while the line rings
        # Shared with the browser talks: every call in flight holds one of the box's slots.
        self.slots = slots or CallSlots(settings.max_concurrent_calls)
        self.slots.listeners.append(self.wake)
        self.live: dict[str, LiveCall] = {}
        self.draining = False  # shutting down: no call is dialled or answered, live ones may finish
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._call_tasks: set[asyncio.Task[None]] = set()
        self._inbound_task: asyncio.Task[None] | None = None
        self.inbound = InboundAnswering(
            settings, db, ari, self.slots, admit=self._admit, draining=lambda: self.draining, on_ringing=self.on_ringing
        )
        ari.listeners.append(self._on_ari_state)

    # --- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.reconcile()
        self._task = asyncio.create_task(self._dispatch_forever(), name="dialer")
        self._inbound_task = asyncio.create_task(self.inbound.run_forever(), name="dialer-inbound")

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

    async def end_all(self, reason: str) -> None:
        """Hang up every live call (the shutdown grace is over) and wait, briefly, for each to be recorded."""
        for live in list(self.live.values()):
            live.end_reason = live.end_reason or reason
            live.cancel_requested = True  # an unanswered call is `canceled`, with this end_reason
            with contextlib.suppress(AriError):
                await self.ari.hangup(live.channel_id)
        tasks = [live.task for live in self.live.values() if live.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=5)

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
        answered = bool(store.call_row(self.db, call_id)["answered_at"])
        self._record_end(call_id, Ending(answered, "error", error_code=code, error_message=message))

    def _record_end(self, call_id: str, ending: Ending) -> None:
        record_end(self.db, call_id, ending, self.settings.price_per_minute_milli_cents)

    # --- outbound dispatch --------------------------------------------------------------------------
    async def _dispatch_forever(self) -> None:
        while True:
            await woken_or_timed_out(self._wake, 1.0)
            self._wake.clear()
            if self.ari.connected.is_set() and not self.draining:
                self.dispatch_queued()

    def dispatch_queued(self) -> int:
        """Begin as many queued calls as there are free slots (browser talks hold slots too); how many began."""
        began = 0
        free = self.slots.free()
        if free <= 0:
            return 0
        for call_id in store.ids_in_status(self.db, ("queued",), limit=free):
            began += self._begin(call_id)
        return began

    def _begin(self, call_id: str) -> bool:
        channel_id = f"call-{call_id}"
        live = LiveCall(call_id=call_id, channel_id=channel_id)
        if not self.slots.take(call_id, "outbound"):
            return False
        # Mark initiated before dialing: a crash after this point can never dial the call again.
        if store.transition(self.db, call_id, "initiated", channel_id=channel_id) is None:
            self.slots.give_back(call_id)
            return False  # canceled while queued
        self._launch(live, self._run_outbound(live))
        return True

    def _launch(self, live: LiveCall, run: Coroutine[Any, Any, None]) -> None:
        """The call is live from here: its events are kept from now on, and `run` drives it to its end."""
        self.live[live.call_id] = live
        live.events = self.ari.subscribe(live.channel_id)
        live.task = asyncio.create_task(run, name=f"call-{live.call_id}")
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
                message = f"Asterisk could not place the call: {exc}"
                store.transition(self.db, live.call_id, "failed", error_code=code, error_message=message)
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

        def to_session(digit: str) -> None:
            # On hold during a warm transfer the agent talks to the destination: the caller's keys are dropped.
            if live.session is not None and live.end_reason != "opted_out" and live.holding_bridge_id is None:
                live.session.keys(digit)

        # The opt-out key alone opts out (and is never also a turn: the call is ending); in a run it is a key.
        keys = OptOutKey(self.settings.opt_out_key, lambda: self._opted_out(live, "keypad"), to_session)
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
                    if reason == "transferred":  # the caller talks on with the destination: the agent's
                        live.end_reason = live.end_reason or reason  # limit and keys are no longer the box's
                        deadline = None
                    elif reason:
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
                    self.on_ringing(row)
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
                        message = f"could not connect the call's audio: {exc}"
                        store.set_fields(self.db, live.call_id, error_code="media_failed", error_message=message)
                        live.end_reason = "error"
                        await self.ari.hangup(live.channel_id)
                elif isinstance(event, ChannelDtmfReceived) and live.answered and live.end_reason != "transferred":
                    keys.press(event.digit)
                elif isinstance(event, ChannelDestroyed) and event.channel.id == live.channel_id:
                    self._ended(live, event.cause, event.cause_txt, event.tech_cause)
                    return
        finally:
            keys.close()
            if next_event is not None:
                next_event.cancel()
            if session_task is not None:
                session_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await session_task
            await close_media(self.ari, live)

    def _ended(self, live: LiveCall, cause: int, cause_txt: str, tech_cause: int | None) -> None:
        ending = Ending(
            live.answered,
            live.end_reason,
            canceled=live.cancel_requested,
            outcome=None if live.answered or live.cancel_requested else outcome_for(cause, tech_cause),
            hangup_cause=hangup_cause_text(cause, cause_txt, tech_cause),
        )
        self._record_end(live.call_id, ending)
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
        self.slots.give_back(live.call_id)
        self.wake()

    async def _start_media(self, live: LiveCall, row: dict[str, Any]) -> asyncio.Task[str | None]:
        """Bridge the call's audio to a socket of ours, then run the session on it."""
        media = await open_media(self.ari, live)
        live.session = self.session_factory(row, media, LineTools(self.ari, self.db, live, row))
        return asyncio.create_task(live.session.run(), name=f"session-{live.call_id}")

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
        message = "Asterisk stopped " + ("during the call" if live.answered else "before the call was answered")
        self._record_end(
            live.call_id, Ending(live.answered, "error", error_code="telephony_down", error_message=message)
        )

    # --- inbound ---------------------------------------------------------------------------------
    def _admit(self, live: LiveCall) -> None:
        """An inbound call `self.inbound` took in (its slot held): from here it is run like any other."""
        self._launch(live, self._run_inbound(live))

    async def _run_inbound(self, live: LiveCall) -> None:
        try:
            if (gone := await self.inbound.answer(live)) is not None:
                live.answered = False  # the caller hung up while it rang: `no_answer`
                self._ended(live, gone.cause, gone.cause_txt, gone.tech_cause)
                return
            self.opt_outs.watch(live.call_id, lambda source: self._opted_out(live, source))
            row = store.call_row(self.db, live.call_id)
            await self._follow(live, row, await self._start_media(live, row))
        except (AriError, TimeoutError, ConnectionError) as exc:
            log.warning("dialer.inbound_failed", call_id=live.call_id, error=str(exc))
        finally:
            self._finish(live)


def _is_ringing(event: Event) -> bool:
    if isinstance(event, ChannelStateChange):
        return event.channel.state == "Ringing"
    return isinstance(event, Dial) and event.dialstatus == "RINGING"
