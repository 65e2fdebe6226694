"""Per-call RTP endpoint for an ARI externalMedia channel (`format=ulaw`, rtp over udp).

One UDP socket on 127.0.0.1 both receives Asterisk's RTP and sends ours back to the address
Asterisk reported (UNICASTRTP_LOCAL_ADDRESS/PORT): strict RTP and the lack of re-latching on
UnicastRTP mean a second socket would lose packets. Inbound µ-law is decoded to 8 kHz PCM16
frames on a queue; outbound PCM16 is encoded once per chunk, cut into 20 ms frames and paced on
absolute deadlines, because Asterisk forwards whatever arrives at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass

import structlog

from appliance.telephony.g711 import ULAW_SILENCE, ulaw_decode, ulaw_encode
from appliance.telephony.pacing import SAMPLES_PER_FRAME, Pacer, resume_timestamp
from appliance.telephony.playout import Playout, PlaysOut
from appliance.telephony.rtp import PT_PCMU, RtpError, build_rtp, parse_rtp, sequence_gap
from appliance.voice.call_audio import SAMPLE_RATE, AudioFrame, MediaClosed

log = structlog.get_logger(__name__)

FRAME_BYTES_ULAW = SAMPLES_PER_FRAME  # one byte per µ-law sample
_SILENCE_FRAME = bytes([ULAW_SILENCE]) * FRAME_BYTES_ULAW
RESYNC_S = 0.25  # more delay than a busy loop adds: the stream paused or its clock jumped


class FrameQueue:
    """Received frames waiting for the conversation; `None` marks the end of the media."""

    def __init__(self, size: int) -> None:
        self._queue: asyncio.Queue[AudioFrame | None] = asyncio.Queue(size)

    def push(self, item: AudioFrame | None) -> bool:
        """Queue a frame (or the end); True when the oldest had to be dropped because the reader fell behind."""
        dropped = self._queue.full()
        if dropped:
            self._queue.get_nowait()  # late audio is worth less than fresh audio
        self._queue.put_nowait(item)
        return dropped

    async def get(self) -> AudioFrame:
        """The next frame; raises `MediaClosed` at the end."""
        frame = await self._queue.get()
        if frame is None:
            self._queue.put_nowait(None)  # keep the end marker for the next reader
            raise MediaClosed
        return frame


@dataclass
class MediaStats:
    """Counters for logs and metrics; never reset during a call."""

    packets_received: int = 0
    packets_sent: int = 0
    packets_lost: int = 0  # sequence-number gaps in what Asterisk sent
    packets_rejected: int = 0  # not RTP, not PCMU, or not from Asterisk's address
    frames_dropped: int = 0  # receive queue full: the consumer fell behind
    send_errors: int = 0
    pacer_resyncs: int = 0  # the loop stalled so long that we restarted the send clock


class RtpEndpoint(PlaysOut, asyncio.DatagramProtocol):
    """The engine's side of one externalMedia channel: receive frames, send paced audio, barge-in.

    Use from the event loop thread only (producers in other threads: `loop.call_soon_threadsafe`).
    """

    def __init__(self, *, rx_queue_frames: int = 250, ssrc: int | None = None) -> None:
        self.stats = MediaStats()
        self.last_received_at: float | None = None  # loop time; long silence from Asterisk = media timeout
        self._rx = FrameQueue(rx_queue_frames)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._local: tuple[str, int] = ("", 0)
        self._remote: tuple[str, int] | None = None
        self._rx_seq: int | None = None
        self._rx_ts0: int | None = None  # the first RTP timestamp received, and the best offset to loop time
        self._rx_offset: float | None = None
        self._closed = False
        # Outbound state; random initial values as RFC 3550 §5.1 asks.
        self._ssrc = ssrc if ssrc is not None else random.getrandbits(32)
        self._seq = random.getrandbits(16)
        self._ts = random.getrandbits(32)
        self._playout = Playout(bytes_per_sample=1)  # µ-law
        self._ever_sent = False
        self._wake = asyncio.Event()
        self._pacer: Pacer | None = None
        self._sender: asyncio.Task[None] | None = None
        self._log = log

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    async def open(
        cls, host: str = "127.0.0.1", port: int = 0, *, rx_queue_frames: int = 250, ssrc: int | None = None
    ) -> RtpEndpoint:
        """Bind a UDP socket (an ephemeral port by default) and start receiving."""
        loop = asyncio.get_running_loop()
        endpoint = cls(rx_queue_frames=rx_queue_frames, ssrc=ssrc)
        await loop.create_datagram_endpoint(lambda: endpoint, local_addr=(host, port))
        return endpoint

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # No isinstance check: uvloop's UDPTransport (what uvicorn runs on) does not subclass asyncio's.
        self._transport = transport  # type: ignore[assignment]
        self._loop = asyncio.get_running_loop()
        self._pacer = Pacer(clock=self._loop.time)
        self._local = transport.get_extra_info("sockname")[:2]
        self._log = log.bind(rtp_port=self._local[1])

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._push(None)

    @property
    def local_address(self) -> tuple[str, int]:
        return self._local

    @property
    def external_host(self) -> str:
        """The `external_host` parameter for POST /channels/externalMedia."""
        return f"{self._local[0]}:{self._local[1]}"

    @property
    def closed(self) -> bool:
        return self._closed

    def set_remote(self, host: str, port: int) -> None:
        """Where Asterisk listens (UNICASTRTP_LOCAL_ADDRESS/PORT); starts sending queued audio.

        From now on, datagrams from any other address are dropped."""
        self._remote = (host, int(port))
        if self._sender is None and not self._closed:
            self._sender = asyncio.get_running_loop().create_task(self._send_loop(), name=f"rtp-send-{self._local[1]}")

    async def close(self) -> None:
        """Stop sending, close the socket, end `frames()`. Safe to call twice."""
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()
            self._log.info("rtp_closed", **asdict(self.stats))
        self._closed = True
        self._playout.clear()
        self._push(None)

    async def __aenter__(self) -> RtpEndpoint:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- receiving ---------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        stats = self.stats
        if self._remote is not None and addr[:2] != self._remote:
            stats.packets_rejected += 1
            return
        try:
            pkt = parse_rtp(data)
        except RtpError:
            stats.packets_rejected += 1
            return
        if pkt.payload_type != PT_PCMU:  # e.g. RFC 4733 DTMF: digits reach us as ARI events instead
            stats.packets_rejected += 1
            return
        stats.packets_received += 1
        if self._rx_seq is not None:
            gap = sequence_gap(self._rx_seq, pkt.sequence_number)
            if gap > 0:
                stats.packets_lost += gap
        self._rx_seq = pkt.sequence_number
        now = self._loop.time() if self._loop else 0.0
        self.last_received_at = now
        arrived = self._arrival(pkt.timestamp, now)
        self._push(AudioFrame(ulaw_decode(pkt.payload), pkt.timestamp, pkt.sequence_number, arrived))

    def _arrival(self, timestamp: int, now: float) -> float:
        """When the packet really arrived: the loop reads datagrams late when it is busy (speech work holds
        it), in bursts. Within a talkspurt the sender's media clock is steady, so the earliest reading of
        (loop time - RTP time) is the least delayed one, and each packet is placed on the media clock from
        there. A jump of over `RESYNC_S` (a pause without packets, a new clock) starts again from now."""
        if self._rx_ts0 is None:
            self._rx_ts0 = timestamp
        media = ((timestamp - self._rx_ts0) & 0xFFFFFFFF) / SAMPLE_RATE  # RTP time wraps at 2**32
        offset = now - media
        if self._rx_offset is None or offset < self._rx_offset or offset - self._rx_offset > RESYNC_S:
            self._rx_offset = offset
        return self._rx_offset + media

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable once Asterisk tore the channel down; the call's end arrives over ARI.
        self.stats.send_errors += 1

    def _push(self, item: AudioFrame | None) -> None:
        if self._rx.push(item):
            self.stats.frames_dropped += 1

    async def recv(self) -> AudioFrame:
        """The next received frame; raises `MediaClosed` once the endpoint is closed."""
        return await self._rx.get()

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """Received frames until the endpoint is closed."""
        while True:
            try:
                yield await self.recv()
            except MediaClosed:
                return

    # -- sending -----------------------------------------------------------------------------

    def send(self, pcm: bytes) -> int:
        """Queue PCM16 8 kHz audio of any length; returns the play position (samples) at its end.

        Compare the result with `samples_sent` to know whether a chunk has been played out."""
        if self._closed:
            raise MediaClosed
        if len(pcm) % 2:
            raise ValueError("PCM16 needs an even number of bytes")
        position = self._playout.add(ulaw_encode(pcm))
        self._wake.set()
        return position

    async def _send_loop(self) -> None:
        pacer = self._pacer
        assert pacer is not None and self._transport is not None and self._remote is not None
        transport, playout = self._transport, self._playout
        marker = True  # first packet of a talkspurt (RFC 3551 §4.1)
        pacer.resume()
        while True:
            if not playout.playing:
                self._wake.clear()
                await self._wake.wait()  # no timer runs while we have nothing to say
                planned = pacer.deadline
                start = pacer.resume()
                if self._ever_sent:
                    ts = resume_timestamp(self._ts, planned, start)
                    marker = ts != self._ts
                    self._ts = ts
            delay = pacer.delay()
            if delay > 0:
                await asyncio.sleep(delay)
            payload = playout.next_frame(_SILENCE_FRAME)  # a short tail is padded, not held back
            if payload is None:
                continue  # cleared while we slept
            transport.sendto(build_rtp(PT_PCMU, self._seq, self._ts, self._ssrc, payload, marker), self._remote)
            marker = False
            self._ever_sent = True
            self._seq = (self._seq + 1) & 0xFFFF
            self._ts = (self._ts + SAMPLES_PER_FRAME) & 0xFFFFFFFF
            self.stats.packets_sent += 1
            pacer.advance()
            self.stats.pacer_resyncs = pacer.resyncs
