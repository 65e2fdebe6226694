"""What was said before redaction, kept in memory only, from the call until its extraction.

With redaction on, the store holds only redacted text; the extraction still needs the words themselves for
the `result` fields an agent exempts from redaction (a callback number, an e-mail address to write to).
They live here, in the process, until the extraction is done with them (or the transcript is deleted).
After a restart they are gone and the extraction reads the redacted transcript: an exempt field may then
be null.
"""

from __future__ import annotations

import threading


class PlainTranscripts:
    def __init__(self) -> None:
        self._turns: dict[str, list[tuple[str, str]]] = {}
        self._lock = threading.Lock()  # written on the event loop, taken on the extraction's thread

    def add(self, call_id: str, role: str, text: str) -> None:
        with self._lock:
            self._turns.setdefault(call_id, []).append((role, text))

    def get(self, call_id: str) -> list[tuple[str, str]] | None:
        with self._lock:
            turns = self._turns.get(call_id)
            return list(turns) if turns is not None else None

    def forget(self, call_id: str) -> None:
        with self._lock:
            self._turns.pop(call_id, None)
