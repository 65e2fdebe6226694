"""Stereo call recording: caller on the left, agent on the right, on one timeline.

The caller's RTP stream is the clock: Asterisk sends a frame every 20 ms for as long as the call is
bridged, so the left channel is simply every received frame in order. Agent audio is placed at the
sample where it starts playing (what was queued before it is ahead of it); when barge-in clears the
queue, what was never played is cut from the right channel. "Now" on that timeline is the last caller
frame plus the time since it arrived: frames waiting to be read (the conversation can fall behind its
queue under load) are not yet in the left channel, but they have happened.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from appliance.voice.call_audio import SAMPLE_RATE


class StereoRecorder:
    def __init__(self) -> None:
        self._caller = bytearray()
        self._agent = np.zeros(0, dtype=np.int16)
        self._agent_end = 0  # sample index where the agent's queued audio ends
        self._arrived: float | None = None  # when the last caller frame arrived (the caller's clock)

    @property
    def position(self) -> int:
        """Samples of caller audio so far: the 'now' of the recording."""
        return len(self._caller) // 2

    def caller(self, pcm: bytes, arrived: float | None = None) -> None:
        self._caller += pcm
        self._arrived = arrived

    def _at(self, now: float | None) -> int:
        """The sample of `now` (same clock as the arrival times), or of the last caller frame read."""
        if now is None or self._arrived is None:
            return self.position
        return self.position + max(0, round((now - self._arrived) * SAMPLE_RATE))

    def agent(self, pcm: bytes, now: float | None = None) -> None:
        """Agent audio handed to the sender at `now`; it plays after whatever is still queued."""
        samples = np.frombuffer(pcm, dtype=np.int16)
        start = max(self._at(now), self._agent_end)
        end = start + len(samples)
        if end > len(self._agent):
            self._agent = np.concatenate([self._agent, np.zeros(end - len(self._agent) + SAMPLE_RATE, np.int16)])
        self._agent[start:end] = samples
        self._agent_end = end

    def agent_cleared(self, now: float | None = None) -> None:
        """Barge-in: nothing after `now` was played."""
        cut = self._at(now)
        if self._agent_end > cut:
            self._agent[cut : self._agent_end] = 0
            self._agent_end = cut

    def write(self, path: Path) -> Path:
        left = np.frombuffer(bytes(self._caller), dtype=np.int16)
        length = max(len(left), self._agent_end)
        stereo = np.zeros((length, 2), dtype=np.int16)
        stereo[: len(left), 0] = left
        right = self._agent[: min(length, len(self._agent))]
        stereo[: len(right), 1] = right
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(stereo.tobytes())
        tmp.rename(path)
        return path
