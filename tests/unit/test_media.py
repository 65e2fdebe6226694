"""RtpEndpoint over loopback UDP against a raw socket standing in for Asterisk (no Asterisk needed)."""

from __future__ import annotations

import asyncio
import math
import socket
import struct
from collections.abc import AsyncIterator

import pytest

from appliance.telephony.g711 import ulaw_decode, ulaw_encode
from appliance.telephony.media import RtpEndpoint
from appliance.telephony.rtp import PT_PCMU, RtpPacket, build_rtp, parse_rtp
from appliance.voice.call_audio import AudioFrame, MediaClosed


def tone(freq: float, seconds: float, amplitude: int = 8000) -> bytes:
    n = int(8000 * seconds)
    return struct.pack(f"<{n}h", *(int(amplitude * math.sin(2 * math.pi * freq * i / 8000)) for i in range(n)))


class FakeAsterisk:
    """A UDP socket playing Asterisk's UnicastRTP side: records what it receives, sends what we ask."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.address: tuple[str, int] = self.sock.getsockname()
        self.received: list[tuple[float, RtpPacket]] = []
        self.seq = 100

    async def collect(self, count: int) -> list[RtpPacket]:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(5):
            while len(self.received) < count:
                data = await loop.sock_recv(self.sock, 2048)
                self.received.append((loop.time(), parse_rtp(data)))
        return [p for _, p in self.received]

    def send(self, to: tuple[str, int], payload: bytes, pt: int = PT_PCMU, seq: int | None = None) -> None:
        self.seq = self.seq + 1 if seq is None else seq
        self.sock.sendto(build_rtp(pt, self.seq, self.seq * 160, 0xABCDEF, payload), to)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
async def pair() -> AsyncIterator[tuple[RtpEndpoint, FakeAsterisk]]:
    endpoint = await RtpEndpoint.open()
    asterisk = FakeAsterisk()
    endpoint.set_remote(*asterisk.address)
    yield endpoint, asterisk
    await endpoint.close()
    asterisk.close()


async def test_binds_an_ephemeral_loopback_port() -> None:
    async with await RtpEndpoint.open() as endpoint:
        host, port = endpoint.local_address
        assert host == "127.0.0.1" and port > 0
        assert endpoint.external_host == f"127.0.0.1:{port}"


async def test_sends_20ms_ulaw_packets_with_a_proper_header(pair: tuple[RtpEndpoint, FakeAsterisk]) -> None:
    endpoint, asterisk = pair
    audio = tone(1000, 0.2)
    assert endpoint.send(audio) == 1600
    packets = await asterisk.collect(10)
    await endpoint.drained()
    assert all(p.payload_type == PT_PCMU and len(p.payload) == 160 for p in packets)
    assert len({p.ssrc for p in packets}) == 1
    assert [(p.sequence_number - packets[0].sequence_number) & 0xFFFF for p in packets] == list(range(10))
    assert [(p.timestamp - packets[0].timestamp) & 0xFFFFFFFF for p in packets] == [160 * i for i in range(10)]
    assert packets[0].marker and not any(p.marker for p in packets[1:])
    assert b"".join(p.payload for p in packets) == ulaw_encode(audio)
    assert endpoint.samples_sent == 1600 and endpoint.stats.packets_sent == 10


async def test_output_is_paced_not_burst(pair: tuple[RtpEndpoint, FakeAsterisk]) -> None:
    endpoint, asterisk = pair
    endpoint.send(tone(440, 0.2))
    await asterisk.collect(10)
    times = [t for t, _ in asterisk.received]
    # A lower bound only (CI machines can be slow, never fast): 9 intervals of 20 ms.
    assert times[-1] - times[0] >= 0.15


async def test_any_chunk_length_is_packetised_and_the_tail_padded(pair: tuple[RtpEndpoint, FakeAsterisk]) -> None:
    endpoint, asterisk = pair
    first, second = tone(300, 0.0125), tone(300, 0.0125)  # 100 + 100 samples
    endpoint.send(first)
    endpoint.send(second)
    packets = await asterisk.collect(2)
    await endpoint.drained()
    assert [len(p.payload) for p in packets] == [160, 160]
    sent = ulaw_encode(first + second)
    assert packets[0].payload == sent[:160]
    assert packets[1].payload == sent[160:] + b"\xff" * 120  # µ-law silence after the 40 real samples
    assert endpoint.samples_sent == 200


async def test_clear_stops_output_at_once_and_reports_what_was_dropped(
    pair: tuple[RtpEndpoint, FakeAsterisk],
) -> None:
    endpoint, asterisk = pair
    end = endpoint.send(tone(500, 2.0))
    await asterisk.collect(5)
    dropped = endpoint.clear()
    await asyncio.wait_for(endpoint.drained(), 1)
    assert not endpoint.sending and endpoint.queued_samples == 0
    sent_before = endpoint.samples_sent
    assert sent_before + dropped == end
    await asyncio.sleep(0.1)  # nothing more may arrive after the clear
    assert endpoint.samples_sent == sent_before
    assert len(asterisk.received) <= sent_before // 160


async def test_next_talkspurt_jumps_the_timestamp_and_sets_the_marker(pair: tuple[RtpEndpoint, FakeAsterisk]) -> None:
    endpoint, asterisk = pair
    endpoint.send(tone(500, 0.04))
    await asterisk.collect(2)
    await endpoint.drained()
    await asyncio.sleep(0.2)
    endpoint.send(tone(500, 0.04))
    packets = await asterisk.collect(4)
    assert packets[2].marker and not packets[3].marker
    jump = (packets[2].timestamp - packets[1].timestamp) & 0xFFFFFFFF
    assert jump >= 160 * 8  # at least the 200 ms pause (plus one frame), following the sampling clock
    assert (packets[2].sequence_number - packets[1].sequence_number) & 0xFFFF == 1  # no packets skipped


async def test_received_ulaw_is_decoded_into_frames(pair: tuple[RtpEndpoint, FakeAsterisk]) -> None:
    endpoint, asterisk = pair
    audio = tone(1000, 0.06)
    for i in range(3):
        asterisk.send(endpoint.local_address, ulaw_encode(audio[i * 320 : (i + 1) * 320]))
    frames = [await asyncio.wait_for(endpoint.recv(), 2) for _ in range(3)]
    assert all(isinstance(f, AudioFrame) and len(f.pcm) == 320 for f in frames)
    assert b"".join(f.pcm for f in frames) == ulaw_decode(ulaw_encode(audio))
    assert [f.sequence_number for f in frames] == [101, 102, 103]
    assert endpoint.stats.packets_received == 3 and endpoint.last_received_at is not None


async def test_drops_strangers_other_payload_types_and_garbage(pair: tuple[RtpEndpoint, FakeAsterisk]) -> None:
    endpoint, asterisk = pair
    stranger = FakeAsterisk()
    try:
        stranger.send(endpoint.local_address, b"\xff" * 160)  # not from Asterisk's address
        asterisk.send(endpoint.local_address, b"\x01\x02\x03\x04", pt=101)  # RFC 4733 DTMF
        asterisk.sock.sendto(b"not rtp", endpoint.local_address)
        asterisk.send(endpoint.local_address, b"\xff" * 160)
        frame = await asyncio.wait_for(endpoint.recv(), 2)
        assert frame.sequence_number == asterisk.seq
        assert endpoint.stats.packets_rejected == 3 and endpoint.stats.packets_received == 1
    finally:
        stranger.close()


async def test_counts_sequence_gaps_as_loss(pair: tuple[RtpEndpoint, FakeAsterisk]) -> None:
    endpoint, asterisk = pair
    for seq in (1, 2, 5, 6, 65535, 0):
        asterisk.send(endpoint.local_address, b"\xff" * 160, seq=seq)
    for _ in range(6):
        await asyncio.wait_for(endpoint.recv(), 2)
    assert endpoint.stats.packets_lost == 2  # 3, 4 (the jump back to 65535 looks late, wrap to 0 is fine)


async def test_a_slow_consumer_loses_the_oldest_frames_not_the_newest() -> None:
    async with await RtpEndpoint.open(rx_queue_frames=3) as endpoint:
        asterisk = FakeAsterisk()
        try:
            endpoint.set_remote(*asterisk.address)
            for _ in range(5):
                asterisk.send(endpoint.local_address, b"\xff" * 160)
            async with asyncio.timeout(2):
                # Poll a counter: the only other signal of arrival is the queue under test.
                while endpoint.stats.packets_received < 5:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
            assert [(await endpoint.recv()).sequence_number for _ in range(3)] == [103, 104, 105]
            assert endpoint.stats.frames_dropped == 2
        finally:
            asterisk.close()


async def test_close_ends_the_frame_iterator_and_refuses_sends() -> None:
    endpoint = await RtpEndpoint.open()
    received: list[AudioFrame] = []

    async def consume() -> None:
        async for frame in endpoint.frames():
            received.append(frame)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await endpoint.close()
    await asyncio.wait_for(task, 1)
    with pytest.raises(MediaClosed):
        endpoint.send(b"\x00\x00")
    with pytest.raises(MediaClosed):
        await endpoint.recv()
    await endpoint.close()  # twice is fine


async def test_odd_byte_counts_are_refused(pair: tuple[RtpEndpoint, FakeAsterisk]) -> None:
    endpoint, _ = pair
    with pytest.raises(ValueError, match="even"):
        endpoint.send(b"\x00")


def test_arrival_is_read_off_the_media_clock_when_the_loop_reads_late() -> None:
    """Packets 20 ms apart on the sender's clock, read by a busy loop in a burst: each keeps its own time."""
    endpoint = RtpEndpoint()
    assert endpoint._arrival(1000, 10.000) == 10.000
    assert endpoint._arrival(1160, 10.020) == pytest.approx(10.020)
    # The loop was busy 120 ms: the next three packets are read together at 10.160.
    times = [endpoint._arrival(1160 + 160 * k, 10.160) for k in (1, 2, 3)]
    assert times == pytest.approx([10.040, 10.060, 10.080])
    # A pause without packets (the clock went on 2 s, the packets stopped): the first one after it resets.
    assert endpoint._arrival(1160 + 160 * 4, 13.0) == pytest.approx(13.0)
