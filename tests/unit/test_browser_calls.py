"""A browser talk's end: the call is recorded as over as soon as the conversation is, whatever happens while
the WebRTC side is torn down (aiortc's close can wait for ever on its transports)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from appliance.config import Settings
from appliance.store import agents, calls
from appliance.store.db import open_db
from appliance.telephony import browser_calls
from appliance.telephony.browser_calls import BrowserCalls, LiveTalk
from appliance.telephony.slots import CallSlots


class Forever:
    """A session, a peer or media whose run or close never returns."""

    gone = asyncio.Event()

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def close(self) -> None:
        await asyncio.Event().wait()


async def test_hanging_up_completes_the_call_even_if_webrtc_never_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(browser_calls, "CLOSE_TIMEOUT_S", 0.2)
    db = open_db(tmp_path / "x.db")
    agent_id = agents.create_agent(db, {"name": "Sam", "type": "outbound", "instructions": "Talk"})
    call_id = browser_calls.record_talk(db, agents.agent_row(db, agent_id))
    talks = BrowserCalls(Settings(), db, lambda _row, _media, _line: Forever(), CallSlots(4))
    live = LiveTalk(call_id, peer=Forever(), media=Forever(), hangup=asyncio.Event())  # type: ignore[arg-type]
    talks.live[call_id] = live
    live.task = asyncio.create_task(talks._run(live))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(talks.end(call_id), timeout=5)
    row: dict[str, Any] = calls.call_row(db, call_id)
    assert (row["status"], row["end_reason"]) == ("completed", "caller_hangup")
    assert not talks.live
