"""Voice activity on 20 ms frames of 8 kHz PCM16 (webrtcvad runs at telephone rate directly)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import webrtcvad

from appliance.telephony.media import CallMedia, MediaClosed

SAMPLE_RATE = 8000
FRAME_BYTES = 320  # 20 ms of PCM16 at 8 kHz


class Vad:
    def __init__(self, aggressiveness: int = 2) -> None:
        # 2 of 0..3: phone lines carry hiss and comfort noise that mode 0/1 take for speech.
        self._vad = webrtcvad.Vad(aggressiveness)

    def is_speech(self, frame: bytes) -> bool:
        if len(frame) != FRAME_BYTES:
            return False  # a short packet at the edges of the call; never worth a decision
        return self._vad.is_speech(frame, SAMPLE_RATE)


SILENCE_FRAME = bytes(FRAME_BYTES)


async def continuous_frames(media: CallMedia, gap: float = 0.06) -> AsyncIterator[tuple[bytes, float]]:
    """Received 20 ms frames and the loop time each arrived, with silence filled in where none arrive.

    Asterisk sends a bridge's audio only while someone in it makes a sound, but turn-taking counts
    silence: each 20 ms without a packet (after a short grace for jitter) is a frame of silence.
    """
    loop = asyncio.get_running_loop()
    last = loop.time()
    while True:
        try:
            frame = await asyncio.wait_for(media.recv(), timeout=gap)
        except TimeoutError:
            now = loop.time()
            missing = int((now - last) / 0.02)
            for i in range(missing):
                yield SILENCE_FRAME, last + (i + 1) * 0.02
            last += missing * 0.02
            continue
        except MediaClosed:
            return
        last = max(last + 0.02, frame.arrived - gap)
        yield frame.pcm, frame.arrived
