"""Agent audio waiting to go out on a call's line, in whole 20 ms frames, with a play position.

Shared by the phone path (µ-law frames for RTP) and the browser path (PCM16 frames for WebRTC): the
conversation compares `send`'s return value with `samples_sent` to know what the caller has heard, and
`clear` is barge-in.
"""

from __future__ import annotations

import asyncio
from collections import deque

from appliance.voice.call_audio import SAMPLES_PER_FRAME


class Playout:
    def __init__(self, bytes_per_sample: int) -> None:
        self.bytes_per_sample = bytes_per_sample
        self.frame_bytes = SAMPLES_PER_FRAME * bytes_per_sample
        self._frames: deque[bytes] = deque()
        self._partial = b""  # less than one frame left over from the last add()
        self._sent_samples = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, data: bytes) -> int:
        """Queue encoded audio of any length; returns the play position (samples) at its end."""
        data = self._partial + data
        whole = len(data) - len(data) % self.frame_bytes
        self._frames.extend(data[i : i + self.frame_bytes] for i in range(0, whole, self.frame_bytes))
        self._partial = data[whole:]
        if self._frames or self._partial:
            self._idle.clear()
        return self._sent_samples + self.queued_samples

    def next_frame(self, silence: bytes) -> bytes | None:
        """The frame to send now and the play position moved past it; None when nothing is queued.

        A tail shorter than a frame goes out padded with `silence` rather than held back."""
        if self._frames:
            frame = self._frames.popleft()
            self._sent_samples += SAMPLES_PER_FRAME
        elif self._partial:
            self._sent_samples += len(self._partial) // self.bytes_per_sample
            frame = self._partial + silence[len(self._partial) :]
            self._partial = b""
        else:
            return None
        if not self._frames and not self._partial:
            self._idle.set()
        return frame

    def clear(self) -> int:
        """Drop everything not yet sent; returns the samples dropped."""
        dropped = self.queued_samples
        self._frames.clear()
        self._partial = b""
        self._idle.set()
        return dropped

    async def drained(self) -> None:
        """Wait until every queued sample has been sent (or cleared)."""
        await self._idle.wait()

    @property
    def queued_samples(self) -> int:
        return (len(self._frames) * self.frame_bytes + len(self._partial)) // self.bytes_per_sample

    @property
    def samples_sent(self) -> int:
        return self._sent_samples

    @property
    def playing(self) -> bool:
        return not self._idle.is_set()


class PlaysOut:
    """The sending half of a call's media for classes that keep their outgoing audio in `self._playout`."""

    _playout: Playout

    def clear(self) -> int:
        """Barge-in: drop all queued audio so nothing more goes out; returns the samples dropped."""
        return self._playout.clear()

    async def drained(self) -> None:
        """Wait until every queued sample has been sent (or cleared)."""
        await self._playout.drained()

    @property
    def queued_samples(self) -> int:
        return self._playout.queued_samples

    @property
    def samples_sent(self) -> int:
        """Play position: samples sent since the media opened (cleared ones excluded)."""
        return self._playout.samples_sent

    @property
    def sending(self) -> bool:
        return self._playout.playing
