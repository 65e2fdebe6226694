"""What a running appliance holds: settings, the store, and (when serving) the telephony side."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import sqlite_utils

from appliance.campaigns.runner import CampaignRunner
from appliance.config import Settings
from appliance.privacy.plain import PlainTranscripts
from appliance.results.extraction import Extractor
from appliance.results.webhooks import WebhookOutbox
from appliance.store.keys import KeyCache
from appliance.store.trunks import TrunkState

if TYPE_CHECKING:
    from appliance.telephony.browser_calls import BrowserCalls


class Telephony(Protocol):
    """What the API needs from the telephony side (the dialer and Asterisk)."""

    browser: BrowserCalls | None  # conversations with a browser over WebRTC (only with the voice engine)

    def is_ready(self) -> bool: ...
    def not_ready_because(self) -> str | None: ...
    def live_calls(self) -> int: ...
    def trunk_state(self) -> TrunkState: ...
    def wake(self) -> None: ...
    async def cancel(self, call_id: str) -> None: ...
    async def trunks_changed(self) -> None: ...
    def agent_saved(self, agent_id: str) -> None: ...


class Voice(Protocol):
    """What the API needs from the voice engine (kept abstract: its model libraries are heavy imports)."""

    @property
    def loaded(self) -> bool: ...
    async def voice(self, voice_id: str | None) -> Any: ...  # a loaded Synthesizer


@dataclass
class Runtime:
    settings: Settings
    db: sqlite_utils.Database
    telephony: Telephony | None = None
    outbox: WebhookOutbox | None = None
    # Loads its model on first use; shared by the extraction worker and POST /v1/extractions.
    extractor: Extractor = field(default_factory=Extractor)
    voice: Voice | None = None
    campaigns: CampaignRunner | None = None  # places campaign contacts (only when serving)
    voice_loading: asyncio.Task[None] | None = None
    key_cache: KeyCache = field(default_factory=KeyCache)
    # What was said before redaction, in memory only, for the extraction's exempt fields.
    plain: PlainTranscripts = field(default_factory=PlainTranscripts)
    # Sliding one-minute window of call creations, for the per-minute rate limit.
    recent_creates: list[float] = field(default_factory=list)
    # SIGTERM received: live calls finish, nothing new is dialled or answered; /readyz says so.
    draining: bool = False

    def agent_saved(self, agent_id: str) -> None:
        """An agent was created or changed: its prepared questions are written now if the box is idle."""
        if self.telephony is not None:
            self.telephony.agent_saved(agent_id)
