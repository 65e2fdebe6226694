"""20 ms send clock on absolute monotonic deadlines (Asterisk does not re-time RTP we send).

Pure math with an injectable clock so it can be tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from appliance.voice.call_audio import FRAME_SECONDS, SAMPLES_PER_FRAME


def next_deadline(deadline: float, now: float, interval: float = FRAME_SECONDS, max_lag: float = 0.2) -> float:
    """The deadline after `deadline`: exactly one interval later, so wake-up jitter never accumulates.

    If we are more than `max_lag` behind (the loop stalled), restart from `now` instead of bursting
    the backlog: Asterisk would forward a burst at once and the caller would hear it sped up.
    """
    nxt = deadline + interval
    if now - nxt > max_lag:
        return now
    return nxt


def resume_timestamp(
    timestamp: int, last_deadline: float, now: float, samples_per_frame: int = SAMPLES_PER_FRAME
) -> int:
    """RTP timestamp for the first frame of a new talkspurt (RFC 3550 §5.1: it follows the sampling clock).

    `timestamp` is the value the next frame would carry had we not paused; the silent frames that
    fit between `last_deadline` (when that frame was due) and `now` are skipped.
    """
    skipped = max(0, round((now - last_deadline) / FRAME_SECONDS))
    return (timestamp + skipped * samples_per_frame) & 0xFFFFFFFF


class Pacer:
    """Absolute send deadlines every `interval` seconds from `resume()`."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, interval: float = FRAME_SECONDS, max_lag: float = 0.2
    ) -> None:
        self.clock = clock
        self.interval = interval
        self.max_lag = max_lag
        self.deadline = 0.0
        self.resyncs = 0  # times we gave up on catching up (loop stalls)

    def resume(self) -> float:
        """Begin a run after an idle spell: the first frame is due now, or at the slot already planned
        if that is still ahead (so a short underrun keeps the 20 ms cadence)."""
        self.deadline = max(self.clock(), self.deadline)
        return self.deadline

    def delay(self) -> float:
        """Seconds to sleep before the current deadline (0 if it has passed)."""
        return max(0.0, self.deadline - self.clock())

    def advance(self) -> float:
        """Move to the next deadline after a frame was sent."""
        now = self.clock()
        nxt = next_deadline(self.deadline, now, self.interval, self.max_lag)
        if nxt != self.deadline + self.interval:
            self.resyncs += 1
        self.deadline = nxt
        return nxt
