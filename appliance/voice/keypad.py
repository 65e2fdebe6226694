"""Keys the caller presses, gathered into turns of the conversation.

A run of keys ends at `#` (at once) or when no further key comes for `GATHER_TIMEOUT_S`; the run is then one
caller turn, written as text the model reads like any other ("(pressed keys: 4 2 7 1 #)"). While the agent's
`collect_digits` tool waits (`collect`), the keys are that tool's entry instead, ended by its own settings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NamedTuple

END_KEY = "#"
KEYS = frozenset("0123456789*#ABCD")  # RFC 4733 events 0-15
# 2 s: longer than the gap between the keys of someone typing a number they know (well under 1 s) or reading
# one off a card (about 1-1.5 s), so a PIN is not cut in two; short enough that a caller who does not end
# with `#` ("press 1 for yes") is answered about 3 s after the key, the reply's own latency included.
GATHER_TIMEOUT_S = 2.0


def as_turn(keys: str) -> str:
    """The words of a keypad turn: the keys one by one, so the model (and the extraction, which looks for
    the digits in order) reads each key, not a number it might round or reword."""
    return f"(pressed keys: {' '.join(keys)})"


class Entry(NamedTuple):
    digits: str  # the keys typed, the terminator not included
    ended_by: str  # "count" | "terminator" | "timeout"


class Keypad:
    """Gathers keys into runs; `on_run` gets each finished run (the keys as pressed, `#` included)."""

    def __init__(self, on_run: Callable[[str], None], timeout_s: float = GATHER_TIMEOUT_S) -> None:
        self.on_run = on_run
        self.timeout_s = timeout_s
        self.keys = ""  # the run being gathered
        self._timer: asyncio.TimerHandle | None = None
        self._entry: asyncio.Future[Entry] | None = None  # what collect() waits for
        self._count: int | None = None
        self._terminator = ""
        self._entry_timeout_s = 0.0

    @property
    def collecting(self) -> bool:
        return self._entry is not None

    def collect(
        self, count: int | None, terminator: str, timeout_s: float, first_wait_s: float | None = None
    ) -> asyncio.Future[Entry]:
        """The keys typed from now on as one entry: done at `count` keys, at the `terminator` key, or
        `timeout_s` after the last key (`first_wait_s` from now with none: an empty entry). Cancel the
        future to stop."""
        self._cancel_timer()
        self.keys = ""  # a run begun before the agent asked is not the entry (nor a turn any more)
        loop = asyncio.get_running_loop()
        self._entry = entry = loop.create_future()
        self._count, self._terminator, self._entry_timeout_s = count, terminator, timeout_s
        entry.add_done_callback(lambda _: self._collected(entry))
        self._timer = loop.call_later(timeout_s if first_wait_s is None else first_wait_s, self._enter, "timeout")
        return entry

    def press(self, key: str) -> None:
        if key not in KEYS:
            return  # not a key (a malformed event): nothing the caller pressed
        if self._entry is not None:
            self._cancel_timer()
            if key == self._terminator:
                self._enter("terminator")
                return
            self.keys += key
            if self._count is not None and len(self.keys) >= self._count:
                self._enter("count")
            else:
                self._timer = asyncio.get_running_loop().call_later(self._entry_timeout_s, self._enter, "timeout")
            return
        self.keys += key
        self._cancel_timer()
        if key == END_KEY:
            self._finish()
        else:
            self._timer = asyncio.get_running_loop().call_later(self.timeout_s, self._finish)

    def close(self) -> None:
        """The call is over: a run still being gathered is no turn."""
        self._cancel_timer()
        self.keys = ""
        if self._entry is not None:
            self._entry.cancel()

    def _enter(self, ended_by: str) -> None:
        if (entry := self._entry) is not None and not entry.done():
            entry.set_result(Entry(self.keys, ended_by))
            self._collected(entry)  # now: the next key is a run's, not this entry's

    def _collected(self, entry: asyncio.Future[Entry]) -> None:
        if self._entry is entry:  # back to turns
            self._entry = None
            self._cancel_timer()
            self.keys = ""

    def _finish(self) -> None:
        self._timer = None
        keys, self.keys = self.keys, ""
        if keys:
            self.on_run(keys)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
