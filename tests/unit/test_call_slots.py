"""One count of calls in flight: a browser talk holds a slot against the dialer, and the dialer's calls hold
slots against the browser talks (max_concurrent_calls on a 2-core box)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack
from prometheus_client import REGISTRY

from appliance.config import Settings
from appliance.store import agents, calls
from appliance.store.db import open_db
from appliance.store.trunks import ensure_loopback
from appliance.telephony.ari import AriClient
from appliance.telephony.browser_calls import BrowserCalls, Busy
from appliance.telephony.dialer import Dialer
from appliance.telephony.live_call import IdleConversation
from appliance.telephony.slots import CallSlots


def test_slots_are_held_once_per_call_and_given_back_with_word() -> None:
    slots, freed = CallSlots(2), []
    slots.listeners.append(lambda: freed.append(True))
    assert slots.take("a", "outbound") and slots.take("a", "outbound") and slots.take("b", "browser")
    assert not slots.take("c", "inbound") and slots.free() == 0
    slots.rename("b", "b2")
    assert slots.held("browser") == ["b2"]
    slots.give_back("zz")
    assert freed == []
    slots.give_back("a")
    assert freed == [True] and slots.free() == 1


def test_the_slots_publish_the_headroom_at_metrics() -> None:
    def sample(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, labels)

    slots = CallSlots(3)
    assert sample("appliance_call_slots") == 3 and sample("appliance_call_slots_free") == 3
    slots.take("a", "outbound")
    slots.take("b", "inbound")
    assert sample("appliance_calls_live", kind="outbound") == 1 and sample("appliance_calls_live", kind="inbound") == 1
    assert sample("appliance_calls_live", kind="browser") == 0 and sample("appliance_call_slots_free") == 1
    slots.rename("a", "a2")
    slots.give_back("a2")
    assert sample("appliance_calls_live", kind="outbound") == 0 and sample("appliance_call_slots_free") == 2


async def _browser_offer() -> tuple[RTCPeerConnection, dict[str, str]]:
    browser = RTCPeerConnection()
    browser.addTrack(AudioStreamTrack())  # silence at 20 ms, as a muted microphone
    await browser.setLocalDescription(await browser.createOffer())
    return browser, {"type": "offer", "sdp": browser.localDescription.sdp}


async def test_a_browser_talk_plus_queued_calls_never_exceed_the_limit(tmp_path: Path) -> None:
    settings = Settings(max_concurrent_calls=1)
    db = open_db(tmp_path / "x.db")
    trunk = ensure_loopback(db, 5062)
    agent_id = agents.create_agent(db, {"name": "Sam", "type": "outbound", "instructions": "Talk"})
    agent = agents.agent_row(db, agent_id)
    # Nothing listens on port 9: a dialled call fails with telephony_down instead of reaching a carrier.
    ari = AriClient("http://127.0.0.1:9/ari", "user", "password", "appliance")
    ari.connected.set()
    dialer = Dialer(settings, db, ari, session_factory=IdleConversation)
    talks = BrowserCalls(settings, db, IdleConversation, dialer.slots)
    browser, offer = await _browser_offer()
    try:
        talk_id, answer = await talks.start(agent_id, offer)
        await browser.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        queued, _ = calls.create_call(
            db, agent=agent, direction="outbound", to_number="+12025550101", from_number=None, trunk_id=trunk,
            instructions=None, context={}, metadata={}, webhook_url=None,
        )  # fmt: skip
        assert dialer.dispatch_queued() == 0  # the talk holds the only slot
        assert calls.call_row(db, queued.id)["status"] == "queued"
        assert calls.call_row(db, talk_id)["status"] == "in_progress"
        second, second_offer = await _browser_offer()
        with pytest.raises(Busy):  # and a second talk finds no slot either
            await talks.start(agent_id, second_offer)
        await second.close()
        await talks.end(talk_id)
        assert calls.call_row(db, talk_id)["status"] == "completed"
        assert dialer.dispatch_queued() == 1  # the slot is free again: the queued call is dialled
        assert calls.call_row(db, queued.id)["status"] != "queued"
    finally:
        await browser.close()
        await dialer.stop()
        await talks.stop()
        await ari.close()
