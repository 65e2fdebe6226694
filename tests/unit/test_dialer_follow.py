"""The dialer's state machine for one outbound call's channel, from the originate to the channel's end, against a
stand-in for ARI whose events the test pushes: ringing, the answer (the conversation starts), the hang-up, a
busy line before any answer, and the agent's maximum duration."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import pytest
import sqlite_utils

from appliance.config import Settings
from appliance.store import agents, calls
from appliance.store.db import open_db
from appliance.store.trunks import ensure_loopback
from appliance.telephony.ari import AriClient, ExternalMedia
from appliance.telephony.ari_events import Channel, ChannelDestroyed, ChannelStateChange, Event, StasisStart
from appliance.telephony.ari_stream import EventStream, Subscription
from appliance.telephony.dialer import Dialer
from appliance.voice.call_audio import CallMedia


class FakeAri:
    """The requests the dialer makes of ARI, noted; events are routed as the real client routes them. Like
    Asterisk, a hang-up destroys the channel (normal clearing) and a new externalMedia channel enters our app."""

    app = "appliance"

    def __init__(self) -> None:
        self.stream = EventStream("ws://127.0.0.1:9/ari/events", "", self.app)  # never started: no socket
        self.connected = self.stream.connected
        self.listeners = self.stream.listeners
        self.done: list[tuple[Any, ...]] = []

    def subscribe(self, *keys: str) -> Subscription:
        return self.stream.subscribe(*keys)

    def tell(self, event: Event) -> None:
        self.stream.dispatch(event)

    async def originate(self, endpoint: str, *, channel_id: str, **options: Any) -> Channel:
        self.done.append(("dial", endpoint, options["ring_timeout"]))
        return Channel(id=channel_id)

    async def hangup(self, channel_id: str, reason: str = "normal") -> bool:
        self.done.append(("hangup", channel_id))
        self.tell(ChannelDestroyed(channel=Channel(id=channel_id), cause=16, cause_txt="Normal Clearing"))
        return True

    async def create_bridge(self, bridge_id: str | None = None, type: str = "mixing", name: str | None = None) -> Any:
        self.done.append(("bridge", bridge_id))

    async def add_channel(self, bridge_id: str, *channel_ids: str, **_: Any) -> None:
        self.done.append(("add", bridge_id, *channel_ids))

    async def external_media(self, channel_id: str, external_host: str, **_: Any) -> ExternalMedia:
        self.done.append(("media", channel_id))
        self.tell(StasisStart(channel=Channel(id=channel_id)))
        return ExternalMedia(Channel(id=channel_id), ("127.0.0.1", 9))

    async def destroy_bridge(self, bridge_id: str) -> bool:
        self.done.append(("destroy", bridge_id))
        return True


class Conversation:
    """Stands in for the voice session: notes that it began, and talks until told how it ends the call."""

    def __init__(self) -> None:
        self.began = asyncio.Event()
        self.ends: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self.calls: list[dict[str, Any]] = []

    def __call__(self, row: dict[str, Any], media: CallMedia, line: Any) -> Conversation:
        self.calls.append(row)
        return self

    async def run(self) -> str | None:
        self.began.set()
        return await self.ends

    def keys(self, key: str) -> None:
        pass


class Line:
    """One outbound call on a dialer over the fake ARI, dialled as the dispatcher dials it."""

    def __init__(self, tmp_path: Path, max_duration_seconds: int = 1800) -> None:
        self.db: sqlite_utils.Database = open_db(tmp_path / "x.db")
        trunk = ensure_loopback(self.db, 5062)
        fields = {
            "name": "Sam",
            "type": "outbound",
            "instructions": "Talk",
            "max_duration_seconds": max_duration_seconds,
        }
        agent = agents.agent_row(self.db, agents.create_agent(self.db, fields))
        call, _ = calls.create_call(
            self.db, agent=agent, direction="outbound", to_number="+12025550101", from_number="+12025550100",
            trunk_id=trunk, instructions=None, context={}, metadata={}, webhook_url=None,
        )  # fmt: skip
        self.call_id, self.channel = call.id, f"call-{call.id}"
        self.ari = FakeAri()
        self.conversation = Conversation()
        self.rang = asyncio.Event()
        self.dialer = Dialer(
            Settings(),
            self.db,
            cast(AriClient, self.ari),  # duck-typed: only what the dialer asks of ARI
            session_factory=self.conversation,
            on_ringing=lambda _row: self.rang.set(),
        )

    def dial(self) -> asyncio.Task[None]:
        assert self.dialer._begin(self.call_id)
        task = self.dialer.live[self.call_id].task
        assert task is not None
        return task

    def row(self) -> dict[str, Any]:
        return calls.call_row(self.db, self.call_id)

    def ringing(self) -> None:
        self.ari.tell(ChannelStateChange(channel=Channel(id=self.channel, state="Ringing")))

    async def answer(self) -> None:
        self.ari.tell(StasisStart(channel=Channel(id=self.channel), args=["outbound", self.call_id]))
        async with asyncio.timeout(5):
            await self.conversation.began.wait()

    def destroyed(self, cause: int, cause_txt: str, tech_cause: int | None = None) -> None:
        gone = ChannelDestroyed(
            channel=Channel(id=self.channel), cause=cause, cause_txt=cause_txt, tech_cause=tech_cause
        )
        self.ari.tell(gone)


async def ended(call: asyncio.Task[None]) -> None:
    async with asyncio.timeout(5):
        await call


async def test_ringing_is_recorded_and_lets_the_conversation_prepare(tmp_path: Path) -> None:
    line = Line(tmp_path)
    call = line.dial()
    line.ringing()
    async with asyncio.timeout(5):
        await line.rang.wait()
    assert line.row()["status"] == "ringing"
    assert line.ari.done == [("dial", f"PJSIP/+12025550101@trunk-{line.row()['trunk_id']}", 30)]
    line.destroyed(19, "No user responding", 480)  # the ring timeout
    await ended(call)
    assert line.row()["status"] == "no_answer"


async def test_the_answer_starts_the_call_and_its_conversation_on_a_bridge(tmp_path: Path) -> None:
    line = Line(tmp_path)
    call = line.dial()
    line.ringing()
    await line.answer()
    row = line.row()
    assert (row["status"], row["answered_by"]) == ("in_progress", "unknown") and row["answered_at"]
    assert [made["id"] for made in line.conversation.calls] == [line.call_id]
    bridge, media = f"bridge-{line.call_id}", f"media-{line.call_id}"
    assert line.ari.done[1:] == [("bridge", bridge), ("add", bridge, line.channel), ("media", media),
                                 ("add", bridge, media)]  # fmt: skip
    line.destroyed(16, "Normal Clearing")
    await ended(call)


async def test_a_hang_up_after_the_answer_completes_the_call(tmp_path: Path) -> None:
    line = Line(tmp_path)
    call = line.dial()
    await line.answer()
    line.destroyed(16, "Normal Clearing", 200)
    await ended(call)
    row = line.row()
    assert (row["status"], row["end_reason"], row["hangup_cause"]) == (
        "completed", "caller_hangup", "16 Normal Clearing (SIP 200)",
    )  # fmt: skip
    assert ("destroy", f"bridge-{line.call_id}") in line.ari.done  # the call's audio path is taken down
    assert line.call_id not in line.dialer.live and line.dialer.slots.free() == Settings().max_concurrent_calls


async def test_a_conversation_that_ends_the_call_hangs_up_with_its_reason(tmp_path: Path) -> None:
    line = Line(tmp_path)
    call = line.dial()
    await line.answer()
    line.conversation.ends.set_result("silence_timeout")
    await ended(call)
    assert ("hangup", line.channel) in line.ari.done
    assert (line.row()["status"], line.row()["end_reason"]) == ("completed", "silence_timeout")


@pytest.mark.parametrize(("cause", "cause_txt", "sip"), [(17, "User busy", 486), (21, "Call Rejected", 603)])
async def test_a_busy_line_before_the_answer_is_busy(tmp_path: Path, cause: int, cause_txt: str, sip: int) -> None:
    line = Line(tmp_path)
    call = line.dial()
    line.ringing()
    line.destroyed(cause, cause_txt, sip)
    await ended(call)
    row = line.row()
    assert (row["status"], row["end_reason"], row["answered_at"]) == ("busy", None, None)
    assert row["hangup_cause"] == f"{cause} {cause_txt} (SIP {sip})"
    assert not line.conversation.calls  # nobody to talk to


async def test_the_call_is_hung_up_at_the_agents_max_duration(tmp_path: Path) -> None:
    line = Line(tmp_path, max_duration_seconds=1)
    call = line.dial()
    await line.answer()
    answered = asyncio.get_running_loop().time()
    await ended(call)  # nobody hangs up: the limit does
    assert asyncio.get_running_loop().time() - answered >= 0.9
    assert line.ari.done.count(("hangup", line.channel)) == 1
    assert (line.row()["status"], line.row()["end_reason"]) == ("completed", "max_duration")
