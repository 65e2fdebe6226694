"""A warm transfer's steps on the line, against a stand-in for ARI that only records them: the caller holds
with music, the destination is asked, and its yes (or the 1 key) puts the caller through, while a no brings
the caller back to the agent with the reason for the agent to tell."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from appliance.store import agents, calls
from appliance.store.db import open_db
from appliance.telephony.ari import AriClient
from appliance.telephony.ari_events import Channel, ChannelDtmfReceived, Event, StasisStart
from appliance.telephony.ari_stream import Subscription
from appliance.telephony.line_tools import PUTTING_THROUGH, LineTools
from appliance.telephony.live_call import LiveCall

WARM = {"type": "builtin", "name": "transfer_call", "builtin": "transfer_call",
        "config": {"destination": "+12025550109", "mode": "warm"}}  # fmt: skip


class LineAri(AriClient):
    """Records each request; the destination answers as soon as it is dialled."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9/ari", "user", "password", "appliance")
        self.done: list[tuple[str, ...]] = []
        self.subs: list[Subscription] = []

    def subscribe(self, *keys: str) -> Subscription:
        self.subs.append(sub := super().subscribe(*keys))
        return sub

    def tell(self, event: Event) -> None:
        for sub in self.subs:
            sub.put_nowait(event)

    async def originate(self, endpoint: str, channel_id: str | None = None, **_: Any) -> Any:
        self.done.append(("dial", endpoint))
        assert channel_id is not None
        self.tell(StasisStart(channel=Channel(id=channel_id)))

    async def create_bridge(self, bridge_id: str | None = None, type: str = "mixing", name: str | None = None) -> Any:
        self.done.append(("bridge", f"{bridge_id}", type))

    async def add_channel(self, bridge_id: str, *channel_ids: str, **_: Any) -> None:
        self.done.append(("add", bridge_id, *channel_ids))

    async def remove_channel(self, bridge_id: str, *channel_ids: str) -> None:
        self.done.append(("remove", bridge_id, *channel_ids))

    async def start_moh(self, bridge_id: str, moh_class: str = "default") -> None:
        self.done.append(("moh", bridge_id))

    async def destroy_bridge(self, bridge_id: str) -> bool:
        self.done.append(("destroy", bridge_id))
        return True

    async def hangup(self, channel_id: str, reason: str = "normal") -> bool:
        self.done.append(("hangup", channel_id))
        return True


async def transfer(tmp_path: Path, answer: str | None, key: str | None = None) -> tuple[Any, LineAri, list[str]]:
    db = open_db(tmp_path / "x.db")
    agent = agents.agent_row(db, agents.create_agent(db, {"name": "Sam", "type": "outbound", "tools": [WARM]}))
    call, _ = calls.create_call(
        db, agent=agent, direction="outbound", to_number="+12025550101", from_number="+12025550100",
        trunk_id="trunk-1", instructions=None, context={"name": "Alex"}, metadata={}, webhook_url=None,
    )  # fmt: skip
    ari, asked = LineAri(), []
    media = SimpleNamespace(drained=lambda: asyncio.sleep(0))
    live = LiveCall(call_id=call.id, channel_id="caller", bridge_id="main", media_channel_id="agent", media=media)  # type: ignore[arg-type]
    line = LineTools(ari, db, live, calls.call_row(db, call.id))

    async def consult(said: str, listen_s: float) -> str:
        asked.append(said)
        if key is not None and said != PUTTING_THROUGH:
            ari.tell(ChannelDtmfReceived(channel=Channel(id=f"transfer-{call.id}"), digit=key))
            await asyncio.sleep(30)  # still listening when the key comes
        return answer or ""

    line.consult = consult
    result = await line.run(WARM, {"reason": "a question about a bill"}, "k1")
    if live.watch is not None:
        live.watch.cancel()
    await ari.close()
    return result, ari, asked


async def test_a_yes_puts_the_caller_through_after_holding_with_music(tmp_path: Path) -> None:
    result, ari, asked = await transfer(tmp_path, "Yes, sure, put them through.")
    assert result.outcome == "ok" and result.ends_call == "transferred"
    hold = next(step[1] for step in ari.done if step[0] == "moh")
    target = next(step[2] for step in ari.done if step[:2] == ("add", "main"))
    assert ari.done[:4] == [("bridge", hold, "holding"), ("remove", "main", "caller"), ("add", hold, "caller"),
                            ("moh", hold)]  # fmt: skip
    assert ari.done[-4:] == [("remove", "main", "agent"), ("remove", hold, "caller"), ("add", "main", "caller"),
                             ("destroy", hold)]  # fmt: skip
    assert target.startswith("transfer-")
    assert "I have Alex on the line about a question about a bill" in asked[0] and asked[1] == PUTTING_THROUGH


async def test_the_1_key_takes_the_call_too(tmp_path: Path) -> None:
    result, _, asked = await transfer(tmp_path, None, key="1")
    assert result.outcome == "ok" and asked[-1] == PUTTING_THROUGH


async def test_a_no_brings_the_caller_back_to_the_agent(tmp_path: Path) -> None:
    result, ari, asked = await transfer(tmp_path, "No, sorry, I can't take a call right now.")
    assert result.outcome == "error" and result.ends_call is None
    assert result.error == "could not transfer: the person asked did not take the call"
    hold = next(step[1] for step in ari.done if step[0] == "moh")
    target = next(step[2] for step in ari.done if step[:2] == ("add", "main"))
    assert ari.done[-4:] == [("hangup", target), ("remove", hold, "caller"), ("add", "main", "caller"),
                             ("destroy", hold)]  # fmt: skip
    assert len(asked) == 1  # no "putting them through"
