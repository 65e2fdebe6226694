"""A browser's microphone and speaker as a call's media, over WebRTC (aiortc), for "Talk to this agent".

It offers the voice engine what `RtpEndpoint` offers for a phone call: 20 ms frames of 8 kHz PCM16 in,
paced PCM16 out with a play position, and barge-in (`clear`). The browser's Opus audio is decoded by
aiortc and resampled to 8 kHz mono here, so the conversation hears the same band as on a phone line;
our 8 kHz audio goes back through aiortc's encoder, paced by the outgoing track's `recv`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions

import av
import structlog
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from appliance.telephony.media import FrameQueue
from appliance.telephony.pacing import Pacer
from appliance.telephony.playout import Playout, PlaysOut
from appliance.voice.call_audio import FRAME_BYTES, SAMPLE_RATE, SAMPLES_PER_FRAME, AudioFrame, MediaClosed

log = structlog.get_logger(__name__)

_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
_SILENCE = bytes(FRAME_BYTES)


class AgentTrack(MediaStreamTrack):
    """The agent's voice towards the browser: one 20 ms frame per `recv`, silence when nothing is queued.

    aiortc's sender calls `recv` as fast as it returns, so the pacing lives here."""

    kind = "audio"

    def __init__(self, media: BrowserMedia) -> None:
        super().__init__()
        self._media = media
        self._pacer: Pacer | None = None
        self._pts = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._pacer is None:
            self._pacer = Pacer(clock=loop.time)
            self._pacer.resume()
        else:
            self._pacer.advance()
            if (delay := self._pacer.delay()) > 0:
                await asyncio.sleep(delay)
        frame = av.AudioFrame(format="s16", layout="mono", samples=SAMPLES_PER_FRAME)
        frame.planes[0].update(self._media.next_frame())
        frame.pts = self._pts
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = _TIME_BASE
        self._pts += SAMPLES_PER_FRAME
        return frame


class BrowserMedia(PlaysOut):
    """One browser conversation's audio both ways. Use from the event loop thread only."""

    def __init__(self, rx_queue_frames: int = 250) -> None:
        self.track = AgentTrack(self)
        self.last_received_at: float | None = None
        self.gone = asyncio.Event()  # the browser's track ended (it hung up or the connection failed)
        self._rx = FrameQueue(rx_queue_frames)
        self._rx_pending = b""
        self._rx_sequence = 0
        self._reader: asyncio.Task[None] | None = None
        self._playout = Playout(bytes_per_sample=2)  # PCM16
        self._closed = False

    # -- receiving -----------------------------------------------------------------------------------

    def listen(self, track: MediaStreamTrack) -> None:
        """Start reading the browser's microphone track (aiortc's `track` event)."""
        if track.kind == "audio" and self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read(track), name="browser-mic")

    async def _read(self, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        loop = asyncio.get_running_loop()
        try:
            while True:
                for frame in resampler.resample(await track.recv()):
                    self._receive(frame.to_ndarray().tobytes(), loop.time())
        except MediaStreamError:
            log.info("browser.track_ended")
        finally:
            self.gone.set()
            self._push(None)

    def _receive(self, pcm: bytes, at: float) -> None:
        """Cut resampled audio into the 20 ms frames the engine counts turns in."""
        self.last_received_at = at
        data = self._rx_pending + pcm
        whole = len(data) - len(data) % FRAME_BYTES
        for start in range(0, whole, FRAME_BYTES):
            seq = self._rx_sequence
            self._push(AudioFrame(data[start : start + FRAME_BYTES], seq * SAMPLES_PER_FRAME, seq, at))
            self._rx_sequence += 1
        self._rx_pending = data[whole:]

    def _push(self, item: AudioFrame | None) -> None:
        self._rx.push(item)

    async def recv(self) -> AudioFrame:
        """The next 20 ms frame from the browser; raises `MediaClosed` once it is gone."""
        return await self._rx.get()

    # -- sending -------------------------------------------------------------------------------------

    def send(self, pcm: bytes) -> int:
        """Queue PCM16 8 kHz audio; returns the play position (samples) at its end."""
        if self._closed:
            raise MediaClosed
        if len(pcm) % 2:
            raise ValueError("PCM16 needs an even number of bytes")
        return self._playout.add(pcm)

    def next_frame(self) -> bytes:
        """The frame to play now (the outgoing track's clock asks every 20 ms); silence when none is queued."""
        return self._playout.next_frame(_SILENCE) or _SILENCE

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Stop both directions; `recv` raises `MediaClosed` from now on. Safe to call twice."""
        self._closed = True
        self.track.stop()
        self.clear()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._push(None)
