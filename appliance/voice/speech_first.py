"""Speech work before text generation on a small CPU.

Two cores cannot run Piper or Whisper and llama.cpp at the same moment without slowing both: llama.cpp
uses every core and waits on the slowest of its threads. A sentence synthesised beside generation took
480 ms instead of 199, and generation ran at 14.7 tokens/s instead of 28.1 (`bench/contention.py`).
The first words of a reply are synthesised while the rest is still being generated, and that synthesis
is what the caller is waiting for; generation can wait, since the reply is spoken far slower than it is
written. So generation pauses between two tokens while any speech work runs: the sentence then took
255 ms, and generation kept 15.2 tokens/s (taking turns costs less than fighting over the cores).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

MAX_PAUSE_SECONDS = 5.0  # a stuck synthesis must not stall every reply for ever


class SpeechFirst:
    def __init__(self) -> None:
        self._running = 0
        self._idle = threading.Condition()

    @contextmanager
    def speech(self) -> Iterator[None]:
        """Around a synthesis or a transcription (any thread)."""
        with self._idle:
            self._running += 1
        try:
            yield
        finally:
            with self._idle:
                self._running -= 1
                if not self._running:
                    self._idle.notify_all()

    @property
    def busy(self) -> bool:
        return self._running > 0

    def wait(self) -> None:
        """Called by generation between two tokens: returns when no speech work runs."""
        with self._idle:
            self._idle.wait_for(lambda: not self._running, timeout=MAX_PAUSE_SECONDS)
