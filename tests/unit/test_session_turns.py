"""How the conversation treats the caller's turns around a backchannel (no models: the turn events by hand)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from appliance.telephony.browser_media import BrowserMedia
from appliance.voice.session import ConversationSession, Reply
from appliance.voice.turns import Turn, TurnEvent


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def segment(self, role: str, said: str, started: datetime, ended: datetime, source: str) -> None: ...
    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    def answered(self, verdict: Any, at_ms: int) -> None: ...
    def voicemail_left(self) -> None: ...
    def finish(self, latencies_ms: list[int], recording: Path | None) -> None: ...
    def recording_path(self) -> Path:
        return Path("/nonexistent")


def session() -> tuple[ConversationSession, BrowserMedia, Sink]:
    media, sink = BrowserMedia(), Sink()
    return ConversationSession({"id": "call-1", "direction": "inbound"}, media, None, sink), media, sink  # type: ignore[arg-type]


async def test_a_backchannel_that_goes_on_after_the_agent_stopped_is_a_turn_whose_end_releases_the_reply() -> None:
    """ "Okay." … then, within the same turn, "yes, that works": the agent must answer it."""
    conversation, _media, _sink = session()
    turn = Turn()
    conversation.ignored = turn  # "Okay." was judged a backchannel
    conversation._on_turn_event(TurnEvent.RESUMED, turn)  # the agent is silent now
    assert conversation.ignored is None
    reply = Reply("Okay. Yes, that works.", turn, 0.0)
    conversation.reply = reply
    conversation._on_turn_event(TurnEvent.ENDED, turn)
    assert reply.released.is_set()


async def test_a_backchannel_that_goes_on_while_the_agent_talks_pauses_the_agent() -> None:
    conversation, media, sink = session()
    media.send(bytes(3200))  # the agent is talking
    turn = Turn()
    conversation.ignored = turn
    conversation._on_turn_event(TurnEvent.RESUMED, turn)
    assert conversation.barge is turn and conversation.ignored is None
    assert [kind for kind, _ in sink.events] == ["barge_in_started"]


async def test_a_backchannel_that_ends_is_no_turn_of_the_conversation() -> None:
    conversation, _media, _sink = session()
    turn = Turn()
    conversation.ignored = turn
    reply = Reply("unrelated", Turn(), 0.0)
    conversation.reply = reply
    conversation._on_turn_event(TurnEvent.ENDED, turn)
    assert not reply.released.is_set()
