"""An inbound call rings while the model reads its prompt: answered once the reading is done, or after
`INBOUND_RING_S` at most; a caller who hangs up meanwhile is a call that ended `no_answer`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from appliance.config import Settings
from appliance.store import agents, calls
from appliance.store.db import open_db
from appliance.telephony import answering
from appliance.telephony.ari import AriClient
from appliance.telephony.ari_events import Channel, ChannelDestroyed
from appliance.telephony.dialer import Dialer
from appliance.telephony.live_call import LiveCall


class RingingAri(AriClient):
    """Nothing listens behind it; ringing is only noted."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9/ari", "user", "password", "appliance")
        self.rung: list[str] = []

    async def app_subscribe(self, event_source: str) -> None:
        pass

    async def ring(self, channel_id: str) -> None:
        self.rung.append(channel_id)


def inbound_call(tmp_path: Path) -> tuple[Any, str]:
    db = open_db(tmp_path / "x.db")
    agent = agents.agent_row(db, agents.create_agent(db, {"name": "Sam", "type": "inbound", "instructions": "Help"}))
    call, _ = calls.create_call(
        db, agent=agent, direction="inbound", to_number="+14155550177", from_number="+12025550101", trunk_id=None,
        instructions=None, context={}, metadata={}, webhook_url=None, status="initiated",
    )  # fmt: skip
    return db, call.id


async def ring(tmp_path: Path, reading_s: float, hang_up_after_s: float | None = None) -> tuple[bool, float, Any]:
    db, call_id = inbound_call(tmp_path)
    ari = RingingAri()
    reading = asyncio.create_task(asyncio.sleep(reading_s))
    dialer = Dialer(Settings(), db, ari, on_ringing=lambda row: reading if row["id"] == call_id else None)
    live = LiveCall(call_id=call_id, channel_id="in-1", answered=True)
    live.events = ari.subscribe("in-1")
    if hang_up_after_s is not None:
        gone = ChannelDestroyed(channel=Channel(id="in-1"), cause=16)
        asyncio.get_running_loop().call_later(hang_up_after_s, live.events.put_nowait, gone)
    started = asyncio.get_running_loop().time()
    if hang_up_after_s is None:
        answer = await dialer.inbound.ring_while_reading(live) is None
    else:  # the whole inbound run: a hang-up while it rings is recorded, with no answer
        await dialer._run_inbound(live)
        answer = live.answered
    took = asyncio.get_running_loop().time() - started
    reading.cancel()
    await ari.close()
    assert ari.rung == ["in-1"]
    return answer, took, calls.call_row(db, call_id)


async def test_the_call_is_answered_when_its_prompt_has_been_read(tmp_path: Path) -> None:
    answer, took, _ = await ring(tmp_path, reading_s=0.3)
    assert answer and 0.25 <= took < 0.6


async def test_a_slow_reading_rings_no_longer_than_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(answering, "INBOUND_RING_S", 0.5)
    answer, took, _ = await ring(tmp_path, reading_s=30)
    assert answer and 0.45 <= took < 0.9


async def test_a_caller_who_hangs_up_while_it_rings_is_no_answer(tmp_path: Path) -> None:
    answer, took, row = await ring(tmp_path, reading_s=30, hang_up_after_s=0.2)
    assert not answer and took < 0.6
    assert row["status"] == "no_answer"
