"""The port a conversation needs from any line: frames in, audio out, a play position, barge-in.

Voice declares it; the transports implement it (a phone call's RTP in telephony/media.py, a browser's
WebRTC in telephony/browser_media.py), so voice imports nothing from telephony — as LiveKit Agents'
`voice/io.py` is implemented by its room transport. The line's audio format is defined here, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import NamedTuple, Protocol

SAMPLE_RATE = 8000  # the telephone band, end to end: what the caller hears is what the engine hears
FRAME_MS = 20
FRAME_SECONDS = FRAME_MS / 1000
SAMPLES_PER_FRAME = SAMPLE_RATE * FRAME_MS // 1000  # 160
SAMPLE_BYTES = 2  # PCM16, native byte order
FRAME_BYTES = SAMPLES_PER_FRAME * SAMPLE_BYTES  # 320
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_BYTES  # 16000
SILENCE_FRAME = bytes(FRAME_BYTES)


class MediaClosed(Exception):
    """The line is closed; no more frames will arrive and nothing more can be sent."""


class AudioFrame(NamedTuple):
    """One received packet's audio: PCM16 (native byte order) at 8 kHz, normally 20 ms / 320 bytes."""

    pcm: bytes
    timestamp: int
    sequence_number: int
    # Loop time the packet arrived: the moment a caller's words reached us, whenever the conversation
    # gets round to reading the frame (its queue can back up behind speech work).
    arrived: float


class CallMedia(Protocol):
    """A call's audio line, as a conversation uses it. The contract every transport keeps:

    - `recv()` returns the next received frame in arrival order and raises `MediaClosed` once the line is
      closed (then on every later call). A line sends nothing while nobody makes a sound: the gaps are
      silence, which `continuous_frames` fills in.
    - `send(pcm)` queues PCM16 audio at `SAMPLE_RATE` of any even length and returns the play position (in
      samples since the line opened) at its end; it never blocks, the transport paces it out in real time.
      It raises `MediaClosed` on a closed line.
    - `samples_sent` is the play position now: a chunk whose end position is at or below it has been heard.
    - `clear()` is barge-in: drops what is queued and not yet sent, returns how many samples were dropped.
    - `drained()` waits until everything queued has been sent or cleared; `queued_samples` is what is left,
      `sending` whether any is.
    Use from the event loop's thread only.
    """

    async def recv(self) -> AudioFrame: ...
    def send(self, pcm: bytes) -> int: ...
    def clear(self) -> int: ...
    async def drained(self) -> None: ...
    @property
    def queued_samples(self) -> int: ...
    @property
    def samples_sent(self) -> int: ...
    @property
    def sending(self) -> bool: ...


async def continuous_frames(media: CallMedia, gap: float = 0.06) -> AsyncIterator[tuple[bytes, float]]:
    """Received 20 ms frames and the loop time each arrived, with silence filled in where none arrive.

    Asterisk sends a bridge's audio only while someone in it makes a sound, but turn-taking counts
    silence: each 20 ms without a packet (after a short grace for jitter) is a frame of silence.
    """
    loop = asyncio.get_running_loop()
    last = loop.time()
    while True:
        try:
            # Not asyncio.wait_for: on 3.11 it swallows a cancellation that meets a frame arriving, and the
            # conversation's listener then runs on for ever, holding the call open (the call never ends).
            async with asyncio.timeout(gap):
                frame = await media.recv()
        except TimeoutError:
            now = loop.time()
            missing = int((now - last) / FRAME_SECONDS)
            for i in range(missing):
                yield SILENCE_FRAME, last + (i + 1) * FRAME_SECONDS
            last += missing * FRAME_SECONDS
            continue
        except MediaClosed:
            return
        last = max(last + FRAME_SECONDS, frame.arrived - gap)
        yield frame.pcm, frame.arrived
