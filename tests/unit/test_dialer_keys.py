"""The dialer's part in keypad input: every key of an answered call goes to its conversation, except the
opt-out key pressed on its own, which lists the caller and ends the call and is never a turn; nor is any key
after it. Inside a run of keys the opt-out key is a key like any other. After a transfer the keys, and the
rest of the call, are the caller's and the destination's."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlite_utils

from appliance.config import Settings
from appliance.store import agents, calls, dnc
from appliance.store.db import open_db
from appliance.store.records import Call
from appliance.store.trunks import ensure_loopback
from appliance.telephony.ari import AriClient
from appliance.telephony.ari_events import Channel, ChannelDestroyed, ChannelDtmfReceived
from appliance.telephony.dialer import Dialer
from appliance.telephony.live_call import LiveCall
from appliance.voice.keypad import GATHER_TIMEOUT_S


class KeyedSession:
    def __init__(self) -> None:
        self.pressed: list[str] = []

    async def run(self) -> str | None:
        await asyncio.Event().wait()
        return None

    def keys(self, key: str) -> None:
        self.pressed.append(key)


def answered_call(tmp_path: Path) -> tuple[sqlite_utils.Database, Call, str]:
    """An outbound call to +12025550101, answered by a person, and its channel id."""
    db = open_db(tmp_path / "x.db")
    trunk = ensure_loopback(db, 5062)
    agent = agents.agent_row(db, agents.create_agent(db, {"name": "Sam", "type": "outbound", "instructions": "Talk"}))
    call, _ = calls.create_call(
        db, agent=agent, direction="outbound", to_number="+12025550101", from_number=None, trunk_id=trunk,
        instructions=None, context={}, metadata={}, webhook_url=None,
    )  # fmt: skip
    channel = f"call-{call.id}"
    calls.transition(db, call.id, "initiated", channel_id=channel)
    calls.transition(db, call.id, "in_progress", answered_by="human")
    return db, call, channel


async def test_keys_go_to_the_conversation_and_the_opt_out_key_only_opts_out(tmp_path: Path) -> None:
    db, call, channel = answered_call(tmp_path)
    ari = AriClient("http://127.0.0.1:9/ari", "user", "password", "appliance")  # nothing listens: goodbye fails
    dialer = Dialer(Settings(opt_out_key="9"), db, ari)
    session = KeyedSession()
    live = LiveCall(call_id=call.id, channel_id=channel, answered=True, session=session)
    live.events = ari.subscribe(channel)
    session_task = asyncio.create_task(session.run())
    follow = asyncio.create_task(dialer._follow(live, calls.call_row(db, call.id), session_task))

    def press(keys: str) -> None:
        for key in keys:
            live.events.put_nowait(ChannelDtmfReceived(channel=Channel(id=channel), digit=key))

    try:
        press("49#")  # a 9 inside a run of keys is a key
        await asyncio.sleep(GATHER_TIMEOUT_S + 0.5)
        press("9")  # alone: held for the gather time, then it opts out
        await asyncio.sleep(GATHER_TIMEOUT_S + 0.5)
        press("5")  # pressed while the goodbye plays
        live.events.put_nowait(ChannelDestroyed(channel=Channel(id=channel), cause=16))
        await follow
    finally:
        await dialer.stop()
        await ari.close()
    assert session.pressed == ["4", "9", "#"]
    assert live.end_reason == "opted_out"
    entry = dnc.entry(db, "+12025550101")
    assert entry is not None and (entry.source, entry.call_id) == ("keypad", call.id)


class TransferringSession(KeyedSession):
    async def run(self) -> str | None:
        return "transferred"


async def test_after_a_transfer_keys_are_the_destinations_and_the_agents_limit_is_gone(tmp_path: Path) -> None:
    db, call, channel = answered_call(tmp_path)
    ari = AriClient("http://127.0.0.1:9/ari", "user", "password", "appliance")  # a hang-up would fail the follow
    dialer = Dialer(Settings(opt_out_key="9"), db, ari)
    session = TransferringSession()
    live = LiveCall(call_id=call.id, channel_id=channel, answered=True, session=session)
    live.events = ari.subscribe(channel)
    row = calls.call_row(db, call.id)
    row["agent_snapshot"]["max_duration_seconds"] = 1
    follow = asyncio.create_task(dialer._follow(live, row, asyncio.create_task(session.run())))
    try:
        # The opt-out key alone, pressed to the front desk.
        live.events.put_nowait(ChannelDtmfReceived(channel=Channel(id=channel), digit="9"))
        await asyncio.sleep(GATHER_TIMEOUT_S + 0.5)  # past the key's gap and the agent's max duration
        assert not follow.done()  # no hang-up was tried: the caller and the desk talk on
        live.events.put_nowait(ChannelDestroyed(channel=Channel(id=channel), cause=16))
        await follow
    finally:
        await dialer.stop()
        await ari.close()
    assert session.pressed == [] and live.end_reason == "transferred"
    assert dnc.entry(db, "+12025550101") is None
