"""ARI REST calls: what goes on the wire and how answers and errors come back (httpx MockTransport)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from appliance.telephony.ari import AriClient
from appliance.telephony.ari_errors import AriError, AriUnavailable, BridgeNotFound, ChannelNotFound

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Answers requests from a table of (method, path) → response and keeps every request."""

    def __init__(self, routes: dict[tuple[str, str], httpx.Response]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.raw_path.split(b"?")[0].decode()  # still percent-encoded, as Asterisk sees it
        return self.routes.get((request.method, path), httpx.Response(404, json={"message": "nope"}))

    def params(self, i: int) -> dict[str, str]:
        return dict(self.requests[i].url.params)

    def body(self, i: int) -> Any:
        return json.loads(self.requests[i].content) if self.requests[i].content else None


CHANNEL = {"id": "out1", "name": "PJSIP/carrier-0001", "state": "Down", "caller": {"name": "", "number": "1000"}}


@pytest.fixture
async def make() -> AsyncIterator[Callable[[dict[tuple[str, str], httpx.Response]], tuple[AriClient, Recorder]]]:
    clients: list[AriClient] = []

    def factory(routes: dict[tuple[str, str], httpx.Response]) -> tuple[AriClient, Recorder]:
        recorder = Recorder(routes)
        client = AriClient("http://ari.test/ari", "u", "p", "appliance", transport=httpx.MockTransport(recorder))
        clients.append(client)
        return client, recorder

    yield factory
    for client in clients:
        await client.close()


async def test_originate_into_the_app(make: Any) -> None:
    ari, rec = make({("POST", "/ari/channels"): httpx.Response(200, json=CHANNEL)})
    ch = await ari.originate(
        "PJSIP/+12025550101@carrier",
        channel_id="out1",
        app_args=["outbound", "call_1"],
        caller_id="Bot <1000>",
        ring_timeout=25,
        variables={"APPLIANCE_CALL_ID": "call_1"},
    )
    assert ch.id == "out1" and ch.state == "Down"
    assert rec.params(0) == {
        "endpoint": "PJSIP/+12025550101@carrier",
        "channelId": "out1",
        "callerId": "Bot <1000>",
        "timeout": "25",
        "app": "appliance",
        "appArgs": "outbound,call_1",
    }
    assert rec.body(0) == {"variables": {"APPLIANCE_CALL_ID": "call_1"}}
    assert rec.requests[0].headers["Authorization"].startswith("Basic ")


async def test_originate_into_a_context_subscribes_right_after_creating_the_channel(make: Any) -> None:
    ari, rec = make(
        {
            ("POST", "/ari/channels"): httpx.Response(200, json=CHANNEL),
            ("POST", "/ari/applications/appliance/subscription"): httpx.Response(200, json={"name": "appliance"}),
        }
    )
    await ari.originate("PJSIP/x@carrier", channel_id="out1", context="appliance-outbound", extension="s", priority=1)
    params = rec.params(0)
    assert params["context"] == "appliance-outbound" and params["extension"] == "s" and params["priority"] == "1"
    assert "app" not in params and "appArgs" not in params
    assert rec.requests[1].url.path == "/ari/applications/appliance/subscription"
    assert rec.params(1) == {"eventSource": "channel:out1"}


async def test_originate_into_a_context_when_the_channel_is_already_gone(make: Any) -> None:
    ari, _ = make(
        {
            ("POST", "/ari/channels"): httpx.Response(200, json=CHANNEL),
            ("POST", "/ari/applications/appliance/subscription"): httpx.Response(
                422, json={"message": "Event source does not exist"}
            ),
        }
    )
    with pytest.raises(ChannelNotFound):
        await ari.originate("PJSIP/x@carrier", channel_id="out1", context="appliance-outbound")


async def test_an_unusable_endpoint_is_an_ari_error_with_its_status(make: Any) -> None:
    ari, _ = make({("POST", "/ari/channels"): httpx.Response(500, json={"message": "Allocation failed"})})
    with pytest.raises(AriError) as err:
        await ari.originate("PJSIP/nosuch")
    assert err.value.status == 500 and err.value.message == "Allocation failed"
    assert not isinstance(err.value, ChannelNotFound)


async def test_hanging_up_a_gone_channel_is_harmless(make: Any) -> None:
    ari, rec = make({("DELETE", "/ari/channels/alive"): httpx.Response(204)})
    assert await ari.hangup("alive", reason="busy") is True
    assert rec.params(0) == {"reason": "busy"}
    assert await ari.hangup("gone") is False
    with pytest.raises(ChannelNotFound):
        await ari.answer("gone")
    with pytest.raises(ChannelNotFound):
        await ari.get_channel("gone")


async def test_bridges_and_their_not_found(make: Any) -> None:
    ari, rec = make(
        {
            ("POST", "/ari/bridges"): httpx.Response(200, json={"id": "b1", "bridge_type": "mixing", "channels": []}),
            ("POST", "/ari/bridges/b1/addChannel"): httpx.Response(204),
            ("POST", "/ari/bridges/b1/removeChannel"): httpx.Response(204),
            ("DELETE", "/ari/bridges/b1"): httpx.Response(204),
        }
    )
    bridge = await ari.create_bridge("b1")
    assert bridge.id == "b1" and rec.params(0) == {"type": "mixing", "bridgeId": "b1"}
    await ari.add_channel("b1", "out1", "em1", mute=False)
    assert rec.params(1) == {"channel": "out1,em1", "mute": "false"}
    await ari.remove_channel("b1", "em1")
    assert await ari.destroy_bridge("b1") is True
    assert await ari.destroy_bridge("b2") is False
    with pytest.raises(BridgeNotFound):
        await ari.add_channel("b2", "out1")


async def test_external_media_returns_where_asterisk_wants_our_rtp(make: Any) -> None:
    reply = {
        "id": "em1",
        "name": "UnicastRTP/127.0.0.1:40000-0x7f",
        "state": "Down",
        "channelvars": {"UNICASTRTP_LOCAL_ADDRESS": "127.0.0.1", "UNICASTRTP_LOCAL_PORT": "20868"},
    }
    ari, rec = make({("POST", "/ari/channels/externalMedia"): httpx.Response(200, json=reply)})
    em = await ari.external_media("em1", "127.0.0.1:40000")
    assert em.rtp_address == ("127.0.0.1", 20868) and em.channel.id == "em1"
    assert rec.params(0) == {
        "app": "appliance",
        "external_host": "127.0.0.1:40000",
        "format": "ulaw",
        "channelId": "em1",
        "encapsulation": "rtp",
        "transport": "udp",
    }


async def test_external_media_without_an_address_is_an_error(make: Any) -> None:
    ari, _ = make({("POST", "/ari/channels/externalMedia"): httpx.Response(200, json={"id": "em1"})})
    with pytest.raises(AriError, match="RTP address"):
        await ari.external_media("em1", "127.0.0.1:40000")


async def test_setting_a_channel_variable(make: Any) -> None:
    ari, rec = make({("POST", "/ari/channels/c1/variable"): httpx.Response(204)})
    await ari.set_var("c1", "X", "1")
    assert rec.params(0) == {"variable": "X", "value": "1"}


async def test_playback(make: Any) -> None:
    ari, rec = make(
        {
            ("POST", "/ari/channels/c1/play/pb1"): httpx.Response(
                201, json={"id": "pb1", "state": "queued", "target_uri": "channel:c1"}
            ),
        }
    )
    pb = await ari.play("c1", ["sound:hello", "sound:beep"], playback_id="pb1")
    assert pb.state == "queued" and rec.params(0) == {"media": "sound:hello,sound:beep"}


async def test_info_and_continue(make: Any) -> None:
    ari, rec = make(
        {
            ("GET", "/ari/asterisk/info"): httpx.Response(
                200, json={"system": {"version": "22.10.1", "entity_id": "x"}, "build": {}, "status": {}}
            ),
            ("POST", "/ari/channels/out1/continue"): httpx.Response(204),
        }
    )
    assert (await ari.asterisk_info()).version == "22.10.1"
    await ari.continue_in_dialplan("out1", "amd-outbound", "s", 1)
    assert rec.params(1) == {"context": "amd-outbound", "extension": "s", "priority": "1"}


async def test_asterisk_down_is_ari_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    ari = AriClient("http://127.0.0.1:1", "u", "p", "appliance", transport=httpx.MockTransport(refuse))
    try:
        with pytest.raises(AriUnavailable) as err:
            await ari.asterisk_info()
        assert err.value.status == 0
    finally:
        await ari.close()


def test_base_url_may_omit_the_ari_suffix() -> None:
    assert AriClient("http://127.0.0.1:8088/", "u", "p", "a b").events_url == (
        "ws://127.0.0.1:8088/ari/events?app=a%20b&subscribeAll=false"
    )
