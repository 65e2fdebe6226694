"""ARI events: decoding into typed Structs, routing by id, and the reconnecting websocket against a
fake ARI event server on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from websockets.asyncio.server import Server, ServerConnection, serve

from appliance.telephony.ari import AriClient
from appliance.telephony.ari_events import (
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    ChannelStateChange,
    ChannelVarset,
    ConnectionLost,
    Dial,
    PlaybackFinished,
    RecordingFinished,
    StasisEnd,
    StasisStart,
    UnknownEvent,
    decode_event,
)


def channel(cid: str, state: str = "Up", **extra: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "name": f"PJSIP/carrier-{cid}",
        "state": state,
        "protocol_id": "abc@127.0.0.1",
        "caller": {"name": "", "number": "+12025550101"},
        "connected": {"name": "", "number": ""},
        "accountcode": "",
        "dialplan": {
            "context": "appliance-outbound",
            "exten": "s",
            "priority": 1,
            "app_name": "Stasis",
            "app_data": "appliance,outbound",
        },
        "creationtime": "2026-11-24T19:00:00.000+0000",
        "language": "en",
        **extra,
    }


def event(kind: str, **fields: Any) -> bytes:
    return json.dumps(
        {
            "type": kind,
            "application": "appliance",
            "timestamp": "2026-11-24T19:00:01.000+0000",
            "asterisk_id": "02:42:ac",
            **fields,
        }
    ).encode()


# --- decoding -------------------------------------------------------------------------------------


def test_decodes_the_events_a_call_goes_through() -> None:
    start = decode_event(event("StasisStart", args=["outbound", "call_1"], channel=channel("c1")))
    assert isinstance(start, StasisStart) and start.args == ["outbound", "call_1"]
    assert start.channel.caller.number == "+12025550101" and start.channel.dialplan is not None
    assert start.type == "StasisStart"

    destroyed = decode_event(
        event("ChannelDestroyed", cause=17, cause_txt="User busy", tech_cause=486, channel=channel("c1", "Busy"))
    )
    assert isinstance(destroyed, ChannelDestroyed)
    assert (destroyed.cause, destroyed.cause_txt, destroyed.tech_cause) == (17, "User busy", 486)

    hangup = decode_event(event("ChannelHangupRequest", cause=16, soft=True, channel=channel("c1")))
    assert isinstance(hangup, ChannelHangupRequest) and hangup.soft is True and hangup.tech_cause is None

    dial = decode_event(event("Dial", dialstatus="RINGING", dialstring="+12025550101@carrier", peer=channel("c1")))
    assert isinstance(dial, Dial) and dial.dialstatus == "RINGING" and dial.caller is None

    ringing = decode_event(event("ChannelStateChange", channel=channel("c1", "Ringing")))
    assert isinstance(ringing, ChannelStateChange) and ringing.channel.state == "Ringing"

    dtmf = decode_event(event("ChannelDtmfReceived", digit="5", duration_ms=120, channel=channel("c1")))
    assert isinstance(dtmf, ChannelDtmfReceived) and (dtmf.digit, dtmf.duration_ms) == ("5", 120)

    played = decode_event(
        event(
            "PlaybackFinished",
            playback={"id": "p1", "media_uri": "sound:hello", "target_uri": "channel:c1", "state": "done"},
        )
    )
    assert isinstance(played, PlaybackFinished) and played.playback.state == "done"

    recorded = decode_event(
        event(
            "RecordingFinished",
            recording={"name": "calls/c1", "format": "wav", "target_uri": "bridge:b1", "state": "done", "duration": 7},
        )
    )
    assert isinstance(recorded, RecordingFinished) and recorded.recording.duration == 7

    varset = decode_event(event("ChannelVarset", variable="AMDSTATUS", value="MACHINE", channel=channel("c1")))
    assert isinstance(varset, ChannelVarset) and varset.value == "MACHINE"

    assert isinstance(decode_event(event("StasisEnd", channel=channel("c1"))), StasisEnd)


def test_external_media_channel_vars_are_kept() -> None:
    em = decode_event(
        event(
            "StasisStart",
            args=[],
            channel=channel(
                "em1", channelvars={"UNICASTRTP_LOCAL_ADDRESS": "127.0.0.1", "UNICASTRTP_LOCAL_PORT": "20868"}
            ),
        )
    )
    assert isinstance(em, StasisStart)
    assert em.channel.channelvars == {"UNICASTRTP_LOCAL_ADDRESS": "127.0.0.1", "UNICASTRTP_LOCAL_PORT": "20868"}


def test_unknown_event_types_do_not_break_decoding() -> None:
    ev = decode_event(event("ChannelConnectedLine", channel=channel("c1")))
    assert isinstance(ev, UnknownEvent) and ev.type == "ChannelConnectedLine" and ev.route_keys() == ()


def test_a_known_event_with_bad_fields_is_an_error_not_unknown() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_event(event("ChannelDestroyed", cause="seventeen", channel=channel("c1")))
    with pytest.raises(msgspec.DecodeError):
        decode_event(b"not json")


# --- routing --------------------------------------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[AriClient]:
    ari = AriClient("http://127.0.0.1:1", "u", "p", "appliance")
    yield ari
    await ari.close()


def drain(queue: asyncio.Queue[Any]) -> list[Any]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


async def test_events_go_to_the_subscribers_of_their_channel(client: AriClient) -> None:
    mine, other = client.subscribe("c1"), client.subscribe("c2")
    for raw in (
        event("ChannelStateChange", channel=channel("c1", "Ringing")),
        event("Dial", dialstatus="ANSWER", peer=channel("c1")),
        event("ChannelStateChange", channel=channel("c2", "Ringing")),
        event("ChannelDestroyed", cause=16, cause_txt="Normal Clearing", channel=channel("c1")),
    ):
        client.dispatch(decode_event(raw))
    assert [e.type for e in drain(mine)] == ["ChannelStateChange", "Dial", "ChannelDestroyed"]
    assert [e.channel.id for e in drain(other)] == ["c2"]


async def test_playbacks_recordings_and_bridges_route_by_every_id_they_carry(client: AriClient) -> None:
    by_channel, by_playback, by_bridge = client.subscribe("c1"), client.subscribe("p1"), client.subscribe("b1")
    client.dispatch(decode_event(event("PlaybackFinished", playback={"id": "p1", "target_uri": "channel:c1"})))
    client.dispatch(decode_event(event("RecordingFinished", recording={"name": "r", "target_uri": "bridge:b1"})))
    client.dispatch(decode_event(event("ChannelEnteredBridge", bridge={"id": "b1"}, channel=channel("c1"))))
    assert [e.type for e in drain(by_channel)] == ["PlaybackFinished", "ChannelEnteredBridge"]
    assert [e.type for e in drain(by_playback)] == ["PlaybackFinished"]
    assert [e.type for e in drain(by_bridge)] == ["RecordingFinished", "ChannelEnteredBridge"]


async def test_one_subscription_with_two_keys_gets_an_event_once(client: AriClient) -> None:
    sub = client.subscribe("c1")
    sub.add("b1")
    client.dispatch(decode_event(event("ChannelEnteredBridge", bridge={"id": "b1"}, channel=channel("c1"))))
    assert len(drain(sub)) == 1


async def test_unclaimed_stasis_start_is_a_new_inbound_channel(client: AriClient) -> None:
    arrivals, claimed = client.subscribe_new_channels(), client.subscribe("out1")
    client.dispatch(decode_event(event("StasisStart", args=["inbound", "+12025550100"], channel=channel("in1"))))
    client.dispatch(decode_event(event("StasisStart", args=["outbound"], channel=channel("out1"))))
    client.dispatch(decode_event(event("ChannelStateChange", channel=channel("in2"))))  # not a StasisStart
    assert [e.channel.id for e in drain(arrivals)] == ["in1"]
    assert [e.channel.id for e in drain(claimed)] == ["out1"]


async def test_closing_a_subscription_stops_delivery(client: AriClient) -> None:
    with client.subscribe("c1") as sub:
        pass
    everything = client.subscribe_all()
    client.dispatch(decode_event(event("StasisEnd", channel=channel("c1"))))
    assert sub.empty() and everything.qsize() == 1
    assert "c1" not in client.stream._routes


async def test_wait_for_skips_other_events_and_fails_on_connection_loss(client: AriClient) -> None:
    sub = client.subscribe("c1")
    client.dispatch(decode_event(event("ChannelStateChange", channel=channel("c1"))))
    client.dispatch(decode_event(event("StasisStart", channel=channel("c1"))))
    got = await asyncio.wait_for(sub.wait_for(StasisStart), 1)
    assert got.channel.id == "c1"
    sub.put_nowait(ConnectionLost())
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(sub.wait_for(ChannelDestroyed), 1)


# --- the websocket, against a fake ARI on loopback ------------------------------------------------


class FakeAri:
    """A websocket server on 127.0.0.1 that records handshakes and lets the test push events."""

    def __init__(self) -> None:
        self.server: Server | None = None
        self.port = 0
        self.connections: list[ServerConnection] = []
        self.handshakes: list[tuple[str, str | None]] = []
        self.connected = asyncio.Condition()

    async def start(self, port: int = 0) -> None:
        self.server = await serve(self._handler, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handler(self, ws: ServerConnection) -> None:
        self.handshakes.append((ws.request.path, ws.request.headers.get("Authorization")))
        async with self.connected:
            self.connections.append(ws)
            self.connected.notify_all()
        await ws.wait_closed()

    async def wait_connections(self, n: int) -> ServerConnection:
        async with self.connected:
            await self.connected.wait_for(lambda: len(self.connections) >= n)
        return self.connections[n - 1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def fake_ari() -> AsyncIterator[FakeAri]:
    fake = FakeAri()
    await fake.start()
    yield fake
    await fake.stop()


async def test_connects_to_the_app_events_url_with_basic_auth(fake_ari: FakeAri) -> None:
    async with AriClient(f"http://127.0.0.1:{fake_ari.port}/ari", "appliance", "s3cret", "appliance") as ari:
        await asyncio.wait_for(ari.connected.wait(), 5)
        path, auth = fake_ari.handshakes[0]
        assert path == "/ari/events?app=appliance&subscribeAll=false"
        assert auth == "Basic " + base64.b64encode(b"appliance:s3cret").decode()


async def test_events_from_the_socket_reach_the_subscriber(fake_ari: FakeAri) -> None:
    async with AriClient(f"http://127.0.0.1:{fake_ari.port}", "u", "p", "appliance") as ari:
        sub = ari.subscribe("c1")
        ws = await asyncio.wait_for(fake_ari.wait_connections(1), 5)
        await ws.send(event("ChannelStateChange", channel=channel("c1", "Ringing")).decode())
        await ws.send("garbage that is not JSON")  # logged and skipped
        await ws.send(event("ChannelDestroyed", cause=19, cause_txt="No answer", channel=channel("c1")).decode())
        first = await asyncio.wait_for(sub.get(), 5)
        second = await asyncio.wait_for(sub.get(), 5)
        assert isinstance(first, ChannelStateChange) and isinstance(second, ChannelDestroyed) and second.cause == 19


async def test_reconnects_after_asterisk_drops_the_socket_and_reports_both_edges(fake_ari: FakeAri) -> None:
    ari = AriClient(f"http://127.0.0.1:{fake_ari.port}", "u", "p", "appliance", reconnect_min=0.05)
    edges: list[bool] = []
    ari.listeners.append(edges.append)
    sub = ari.subscribe("c1")
    ari.start()
    try:
        ws = await asyncio.wait_for(fake_ari.wait_connections(1), 5)
        await asyncio.wait_for(ari.connected.wait(), 5)
        await ws.close()  # Asterisk restarting
        assert isinstance(await asyncio.wait_for(sub.get(), 5), ConnectionLost)
        await asyncio.wait_for(fake_ari.wait_connections(2), 5)
        await asyncio.wait_for(ari.connected.wait(), 5)
        assert edges == [True, False, True]
    finally:
        await ari.close()
    assert edges == [True, False, True, False]


async def test_keeps_retrying_while_asterisk_is_down(fake_ari: FakeAri) -> None:
    port = fake_ari.port
    await fake_ari.stop()  # nothing listens: every connect is refused
    ari = AriClient(f"http://127.0.0.1:{port}", "u", "p", "appliance", reconnect_min=0.05, reconnect_max=0.1)
    ari.start()
    try:
        await asyncio.sleep(0.3)  # several refused attempts
        assert not ari.connected.is_set()
        await fake_ari.start(port)  # Asterisk is back on the same port
        await asyncio.wait_for(ari.connected.wait(), 5)
    finally:
        await ari.close()
