"""The telephony side of a running appliance: Asterisk, the ARI client, the dialer, trunk state.

This is what the API sees as `runtime.telephony`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import sqlite_utils
import structlog

from appliance.config import Settings
from appliance.store import agents as agent_store
from appliance.store import trunks as trunk_store
from appliance.store.trunks import TrunkState
from appliance.telephony.ami import AmiClient
from appliance.telephony.ari import AriClient
from appliance.telephony.asterisk import PERSON_APP, AsteriskServer
from appliance.telephony.conversation import agent_brief
from appliance.telephony.dialer import Dialer
from appliance.telephony.live_call import ConversationFactory
from appliance.telephony.opt_out import OptOuts
from appliance.telephony.trunk_config import TrunkConfig
from appliance.voice.goal import goal_fields

if TYPE_CHECKING:
    from appliance.telephony.browser_calls import BrowserCalls
    from appliance.telephony.carrier.person import SimulatedPerson
    from appliance.voice.engine import VoiceEngine

log = structlog.get_logger(__name__)
STATE_POLL_SECONDS = 5.0
RETRY_FIRST_SECONDS, RETRY_LONGEST_SECONDS = 1.0, 30.0  # back-off between attempts to start telephony


class TelephonyService:
    def __init__(
        self,
        settings: Settings,
        db: sqlite_utils.Database,
        session_factory: ConversationFactory | None = None,
        voice: VoiceEngine | None = None,
        opt_outs: OptOuts | None = None,
    ) -> None:
        self.settings = settings
        self.opt_outs = opt_outs or OptOuts()  # shared with the conversations, which report what callers say
        self.db = db
        self.asterisk = AsteriskServer(settings)
        self.ari: AriClient | None = None
        self.ami: AmiClient | None = None
        self.dialer: Dialer | None = None
        self._session_factory = session_factory
        self._voice = voice
        self.person: SimulatedPerson | None = None
        self.browser: BrowserCalls | None = None  # "Talk to this agent" over WebRTC, when the voice engine runs
        self._state: TrunkState = {}
        self._poll_task: asyncio.Task[None] | None = None
        self._retry_task: asyncio.Task[None] | None = None
        self.problem: str | None = "starting"  # why telephony is not ready, for /readyz and `doctor`

    def trunk_configs(self) -> list[TrunkConfig]:
        return [TrunkConfig.from_row(row) for row in trunk_store.trunk_rows(self.db)]

    async def start(self) -> None:
        """Start Asterisk, ARI, the dialer and the rest, once; raises if any of it fails (see `retry_start`)."""
        try:
            await self._start()
        except Exception as exc:
            self.problem = f"failed to start: {exc}"
            raise
        self.problem = None

    def retry_start(self) -> None:
        """After a failed `start`: try again in the background, with back-off, until it works. A port held
        for a while at boot must not leave the box without telephony for good (Asterisk dying later is
        restarted by its own supervisor)."""
        self._retry_task = asyncio.create_task(self._retry_forever(), name="telephony-start")

    async def _retry_forever(self) -> None:
        wait, attempt = RETRY_FIRST_SECONDS, 1
        while True:
            await self._stop_parts()
            log.warning("telephony.start_retry", attempt=attempt + 1, in_seconds=wait, problem=self.problem)
            await asyncio.sleep(wait)
            attempt += 1
            try:
                await self.start()
            except Exception as exc:
                log.error("telephony.start_failed", attempt=attempt, error=str(exc))
                wait = min(wait * 2, RETRY_LONGEST_SECONDS)
                continue
            log.info("telephony.started", attempt=attempt)
            return

    async def _start(self) -> None:
        await self.asterisk.start(self.trunk_configs())
        user, password = self.asterisk.ari_auth()
        self.ari = AriClient(self.asterisk.ari_url, user, password, self.asterisk.app)
        self.ari.start()
        await asyncio.wait_for(self.ari.connected.wait(), timeout=15)
        kwargs: dict[str, Any] = {"session_factory": self._session_factory} if self._session_factory else {}
        if self._session_factory is not None and self._voice is not None:
            from appliance.telephony.conversation import prompt_reader

            kwargs["on_ringing"] = prompt_reader(self._voice)
        self.dialer = Dialer(self.settings, self.db, self.ari, opt_outs=self.opt_outs, **kwargs)
        self.asterisk.listeners.append(self.dialer.on_asterisk_state)
        await self.dialer.start()
        if self._session_factory is not None:
            from appliance.telephony.browser_calls import BrowserCalls  # aiortc: only with the voice engine

            self.browser = BrowserCalls(self.settings, self.db, self._session_factory, self.dialer.slots)
        s = self.asterisk.secrets
        self.ami = AmiClient(port=self.settings.ami_port, user=s.ami_user, secret=s.ami_secret)
        self._poll_task = asyncio.create_task(self._poll_state(), name="trunk-state")
        if self._voice is not None and self.settings.loopback_trunk:
            from appliance.telephony.carrier.person import SimulatedPerson

            self.person = SimulatedPerson(
                self.asterisk.ari_url, user, password, PERSON_APP, self.settings.data_path, self._voice
            )
            await self.person.start()

    async def stop(self) -> None:
        if self._retry_task is not None:
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry_task
        await self._stop_parts()

    async def _stop_parts(self) -> None:
        """Stop what started (all of it, or what a failed start left), so that `start` can run again."""
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
        if self.person is not None:
            await self.person.stop()
        if self.browser is not None:
            await self.browser.stop()
        if self.dialer is not None:
            await self.dialer.stop()
            self.asterisk.listeners.remove(self.dialer.on_asterisk_state)
        if self.ami is not None:
            await self.ami.close()
        if self.ari is not None:
            await self.ari.close()
        await self.asterisk.stop()
        self._poll_task, self.person, self.browser, self.dialer, self.ami, self.ari = (None,) * 6

    async def drain(self, grace_seconds: float, hurry: asyncio.Event) -> None:
        """Shutting down: dial and answer nothing more (queued calls wait, inbound gets 503), let live calls finish
        for up to `grace_seconds` or until `hurry` (a second signal), then end those left with `shutdown`."""
        for part in (self.dialer, self.browser):
            if part is not None:
                part.draining = True
        if self.dialer is None:
            return
        slots = self.dialer.slots
        emptied = asyncio.Event()
        slots.listeners.append(lambda: emptied.set() if len(slots) == 0 else None)
        log.info("telephony.draining", live_calls=len(slots), grace_seconds=grace_seconds)
        if len(slots):
            waits = [asyncio.ensure_future(emptied.wait()), asyncio.ensure_future(hurry.wait())]
            await asyncio.wait(waits, timeout=grace_seconds, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
        if len(slots):
            log.warning("telephony.ending_calls", live_calls=len(slots), reason="shutdown")
            if self.browser is not None:
                await self.browser.end_all("shutdown")
            await self.dialer.end_all("shutdown")
        log.info("telephony.drained")

    def live_calls(self) -> int:
        return len(self.dialer.slots) if self.dialer is not None else 0

    # --- runtime.Telephony --------------------------------------------------------------------------
    def agent_saved(self, agent_id: str) -> None:
        """Write the agent's prepared questions now, while no call is placed or in conversation: a call that
        begins stops the writing (its end writes them), so the writing never holds a caller up."""
        voice = self._voice
        if voice is None or voice.llm is None or self.live_calls():
            return
        row = agent_store.agent_row(self.db, agent_id)
        if row is None or row["archived_at"]:
            return
        brief = agent_brief(row)
        busy = lambda: self.live_calls() > 0 or bool(voice.conversations)  # noqa: E731
        voice.questions.prepare(brief, goal_fields(brief.returns), yield_to=busy)

    def is_ready(self) -> bool:
        return self.asterisk.up.is_set() and self.ari is not None and self.ari.connected.is_set()

    def not_ready_because(self) -> str | None:
        if self.is_ready():
            return None
        if self.problem is not None:
            return self.problem
        return "Asterisk is restarting" if not self.asterisk.up.is_set() else "the ARI event socket is reconnecting"

    def trunk_state(self) -> TrunkState:
        return self._state

    def wake(self) -> None:
        if self.dialer is not None:
            self.dialer.wake()

    async def cancel(self, call_id: str) -> None:
        if self.browser is not None and self.browser.owns(call_id):
            await self.browser.end(call_id, "canceled")
        elif self.dialer is not None:
            await self.dialer.cancel(call_id)

    async def trunks_changed(self) -> None:
        await self.asterisk.reload_pjsip(self.trunk_configs())
        await self.refresh_state()

    async def refresh_state(self) -> None:
        """Registration and reachability of each trunk, from AMI."""
        if self.ami is None or not self.asterisk.up.is_set():
            return
        try:
            registrations = await self.ami.registrations()
            contacts = await self.ami.contacts()
        except Exception as exc:  # AMI is advisory: a failed poll keeps the last known state
            log.warning("telephony.state_poll_failed", error=str(exc))
            return
        state: TrunkState = {}
        for trunk in self.trunk_configs():
            reachable = contacts.get(trunk.endpoint)
            if trunk.register:
                status = registrations.get(f"{trunk.endpoint}-reg", "unregistered")
            else:
                status = "not_applicable"
            state[trunk.id] = (status, reachable)
        self._state = state

    async def _poll_state(self) -> None:
        while True:
            await self.refresh_state()
            await asyncio.sleep(STATE_POLL_SECONDS)
