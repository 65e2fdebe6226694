"""The ARI client and RtpEndpoint against a real Asterisk (our AsteriskServer, its loopback carrier).

Proves media both ways by frequency: the carrier's 1 kHz tone reaches our endpoint over real SIP and
our 700 Hz tone lands in the carrier's recording; two endpoints in one bridge hear each other; a
clear() stops what the other side hears. Also: call outcomes as events, and reconnecting when
Asterisk is killed and restarted by its supervisor.
"""

from __future__ import annotations

import array
import asyncio
import math
import os
import signal
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest
import pytest_asyncio

from appliance.config import load_settings
from appliance.telephony.ari import AriClient
from appliance.telephony.ari_errors import ChannelNotFound
from appliance.telephony.ari_events import (
    ChannelDestroyed,
    ChannelStateChange,
    ConnectionLost,
    Dial,
    StasisStart,
)
from appliance.telephony.asterisk import AsteriskServer
from appliance.telephony.asterisk_install import AsteriskNotInstalled, find_asterisk
from appliance.telephony.media import RtpEndpoint
from appliance.telephony.trunk_config import TrunkConfig
from appliance.voice.call_audio import AudioFrame
from tests.support import telephony_ports

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

FRAME = 160  # samples per 20 ms at 8 kHz


def tone(freq: float, seconds: float, amplitude: int = 10000) -> bytes:
    n = int(8000 * seconds)
    return array.array("h", (int(amplitude * math.sin(2 * math.pi * freq * i / 8000)) for i in range(n))).tobytes()


def tone_share(pcm: bytes, freq: float, rate: int = 8000) -> float:
    """Share of the block's energy at `freq` (Goertzel; 1.0 for a pure tone on a bin centre)."""
    x = array.array("h", pcm)
    n = len(x)
    if n == 0:
        return 0.0
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for v in x:
        s1, s2 = v + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    energy = sum(v * v for v in x)
    return power / (n / 2 * energy) if energy else 0.0


def has_tone(pcm: bytes, freq: float) -> bool:
    """A 20 ms block where `freq` dominates and that is not near-silence."""
    rms = math.sqrt(sum(v * v for v in array.array("h", pcm)) / max(1, len(pcm) // 2))
    return rms > 300 and tone_share(pcm, freq) > 0.5


def blocks(pcm: bytes) -> list[bytes]:
    return [pcm[i : i + 2 * FRAME] for i in range(0, len(pcm) - 2 * FRAME + 1, 2 * FRAME)]


# --- fixtures: one Asterisk for the module ----------------------------------------------------------


def _asterisk_or_skip() -> None:
    try:
        find_asterisk(load_settings({}, config_file=None))
    except AsteriskNotInstalled:
        pytest.skip("Asterisk is not installed (make setup)")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def asterisk(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsteriskServer]:
    _asterisk_or_skip()
    data = tmp_path_factory.mktemp("ast")
    settings = load_settings(
        {**telephony_ports(), "APPLIANCE_DATA_DIR": str(data), "APPLIANCE_VOICE": "false"}, config_file=None
    )
    server = AsteriskServer(settings)
    trunk = TrunkConfig(
        id="loop",
        endpoint="trunk-loop",
        host="127.0.0.1",
        port=settings.carrier_sip_port,
        transport="udp",
        username=None,
        password=None,
        register=False,
        from_domain=None,
        codecs=("ulaw",),
        max_channels=None,
        builtin=True,
    )
    await server.start([trunk])
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ari(asterisk: AsteriskServer) -> AsyncIterator[AriClient]:
    client = AriClient(asterisk.ari_url, *asterisk.ari_auth(), asterisk.app, reconnect_max=1.0)
    client.start()
    await asyncio.wait_for(client.connected.wait(), 10)
    yield client
    await client.close()


async def collect(endpoint: RtpEndpoint, count: int) -> list[AudioFrame]:
    async with asyncio.timeout(10):
        return [await endpoint.recv() for _ in range(count)]


async def add_external_media(ari: AriClient, bridge_id: str) -> tuple[RtpEndpoint, str]:
    """An RtpEndpoint wired to a new externalMedia channel in `bridge_id`."""
    endpoint = await RtpEndpoint.open()
    em_id = "em-" + uuid4().hex[:12]
    with ari.subscribe(em_id) as events:
        em = await ari.external_media(em_id, endpoint.external_host)
        async with asyncio.timeout(5):
            await events.wait_for(StasisStart)
    endpoint.set_remote(*em.rtp_address)
    await ari.add_channel(bridge_id, em_id)
    return endpoint, em_id


# --- tests ------------------------------------------------------------------------------------------


async def test_info_and_gone_channels(ari: AriClient) -> None:
    assert (await ari.asterisk_info()).version.startswith("22.")
    with pytest.raises(ChannelNotFound):
        await ari.get_channel("no-such-channel")
    assert await ari.hangup("no-such-channel") is False
    assert await ari.destroy_bridge("no-such-bridge") is False


async def test_tone_both_ways_over_sip(ari: AriClient, asterisk: AsteriskServer) -> None:
    """The production shape: an outbound SIP call answered by the carrier, bridged with externalMedia."""
    call_id, bridge_id = "out-" + uuid4().hex[:12], "br-" + uuid4().hex[:12]
    with ari.subscribe(call_id) as events:
        await ari.originate(
            "PJSIP/+12025550101@trunk-loop",
            channel_id=call_id,
            app_args=["outbound", "t1"],
            caller_id="Test <1000>",
            ring_timeout=10,
        )
        async with asyncio.timeout(10):
            answered = await events.wait_for(StasisStart)
        assert answered.args == ["outbound", "t1"] and answered.channel.state == "Up"
        await ari.create_bridge(bridge_id)
        await ari.add_channel(bridge_id, call_id)
        endpoint, em_id = await add_external_media(ari, bridge_id)
        try:
            heard = await collect(endpoint, 50)  # one second of the carrier's 1 kHz tone
            assert all(len(f.pcm) == 320 for f in heard)
            assert sum(has_tone(f.pcm, 1000) for f in heard) >= 40
            endpoint.send(tone(700, 1.5))
            async with asyncio.timeout(5):
                await endpoint.drained()
            # Every frame went out; one resync is the pacer catching up after an event-loop stall (CI runs the
            # model tests beside this one on 2 cores and saw one), more would be a pacer that loses time.
            assert endpoint.stats.packets_sent == 75 and endpoint.stats.pacer_resyncs <= 1
            await ari.hangup(call_id)
            async with asyncio.timeout(10):
                destroyed = await events.wait_for(ChannelDestroyed)
            assert destroyed.cause == 16
        finally:
            await ari.hangup(em_id)
            await ari.destroy_bridge(bridge_id)
            await endpoint.close()

    # MixMonitor's r() file holds what the carrier received: our tone. It is closed as the channel goes.
    recording = await wait_for_file(asterisk.carrier_dir, "person-*-heard.wav")
    with wave.open(str(recording)) as w:
        assert w.getframerate() == 8000 and w.getsampwidth() == 2
        pcm = w.readframes(w.getnframes())
    assert sum(has_tone(b, 700) for b in blocks(pcm)) >= 50  # of the 75 frames sent


async def wait_for_file(folder: Path, pattern: str) -> Path:
    """Asterisk writes recordings from its own threads; no event tells us when the file is closed."""
    async with asyncio.timeout(10):
        while True:
            found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime)
            if found and found[-1].stat().st_size > 44 + 8000:
                return found[-1]
            await asyncio.sleep(0.1)


async def test_two_endpoints_in_one_bridge_hear_each_other_and_clear_stops_at_once(ari: AriClient) -> None:
    bridge_id = "br-" + uuid4().hex[:12]
    await ari.create_bridge(bridge_id)
    a, a_id = await add_external_media(ari, bridge_id)
    b, b_id = await add_external_media(ari, bridge_id)
    try:
        # A speaks: B hears 700 Hz. After a few frames A is interrupted (barge-in).
        a.send(tone(700, 3.0))
        first = await collect(b, 15)
        assert sum(has_tone(f.pcm, 700) for f in first) >= 12
        dropped = a.clear()
        assert dropped > 8000  # most of the 3 s never left
        sent_frames = a.stats.packets_sent
        # Everything A sent before the clear may still arrive; nothing after it may.
        late = 0
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                while True:
                    frame = await b.recv()
                    late += has_tone(frame.pcm, 700)
        assert 15 + late <= sent_frames
        assert a.stats.packets_sent == sent_frames

        # B answers after the pause: a new talkspurt (timestamp jump + marker) that Asterisk accepts.
        b.send(tone(400, 1.0))
        heard = await collect(a, 40)
        assert sum(has_tone(f.pcm, 400) for f in heard) >= 30
    finally:
        for em_id in (a_id, b_id):
            await ari.hangup(em_id)
        await ari.destroy_bridge(bridge_id)
        await a.close()
        await b.close()


async def test_busy_call_outcome_as_events(ari: AriClient) -> None:
    """Carrier number +12025550102 rings, then answers 486: ringing, then ChannelDestroyed cause 17."""
    call_id = "out-" + uuid4().hex[:12]
    with ari.subscribe(call_id) as events:
        await ari.originate("PJSIP/+12025550102@trunk-loop", channel_id=call_id, app_args=["outbound"])
        seen = []
        async with asyncio.timeout(10):
            async for event in events:
                seen.append(event)
                if isinstance(event, ChannelDestroyed):
                    break
    assert any(isinstance(e, ChannelStateChange) and e.channel.state == "Ringing" for e in seen)
    assert any(isinstance(e, Dial) and e.dialstatus == "BUSY" for e in seen)
    assert not any(isinstance(e, StasisStart) for e in seen)
    destroyed = seen[-1]
    assert isinstance(destroyed, ChannelDestroyed) and destroyed.cause == 17 and destroyed.tech_cause == 486


async def test_originate_into_a_dialplan_context_still_sees_pre_answer_events(ari: AriClient) -> None:
    """AMD-before-Stasis style: the channel runs a context, and the app subscribes to it explicitly."""
    call_id = "out-" + uuid4().hex[:12]
    with ari.subscribe(call_id) as events:
        await ari.originate(
            "PJSIP/+12025550106@trunk-loop", channel_id=call_id, context="appliance-outbound", extension="s", priority=1
        )
        async with asyncio.timeout(10):
            destroyed = await events.wait_for(ChannelDestroyed)
    assert destroyed.cause == 21  # the carrier rejected the call (Hangup(21) → a 4xx/6xx reject)


async def test_reconnects_when_asterisk_dies_and_comes_back(ari: AriClient, asterisk: AsteriskServer) -> None:
    """Last in the module: kills Asterisk; its supervisor starts it again and the client reconnects."""
    edges: list[bool] = []
    ari.listeners.append(edges.append)
    watcher = ari.subscribe("anything")
    try:
        assert asterisk.pid is not None
        os.kill(asterisk.pid, signal.SIGKILL)
        async with asyncio.timeout(10):
            assert isinstance(await watcher.get(), ConnectionLost)
        assert not ari.connected.is_set() and edges[0] is False
        async with asyncio.timeout(40):
            await ari.connected.wait()
        assert edges == [False, True]
        assert (await ari.asterisk_info()).version.startswith("22.")
    finally:
        ari.listeners.remove(edges.append)
        watcher.close()
