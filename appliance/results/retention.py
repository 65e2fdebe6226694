"""The retention job: once a day (and once at start), delete the recordings and transcripts whose agent's
`recording_retention_days` / `transcript_retention_days` have run out since the call ended."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

import sqlite_utils
import structlog

from appliance.clock import now
from appliance.errors import Conflict, NotFound
from appliance.store import erasure

log = structlog.get_logger(__name__)

DAY_SECONDS = 86_400.0


def purge_expired(
    db: sqlite_utils.Database, at: datetime, on_transcript_deleted: Callable[[str], None] | None = None
) -> tuple[int, int]:
    """Delete what expired at `at`: (recordings, transcripts) deleted."""
    recordings, transcripts = erasure.expired(db, at)
    done = [0, 0]
    for call_id in recordings:
        with contextlib.suppress(NotFound, Conflict):  # deleted meanwhile, or (a clock change) not ended
            erasure.delete_recording(db, call_id, "retention")
            done[0] += 1
    for call_id in transcripts:
        with contextlib.suppress(NotFound, Conflict):
            erasure.delete_transcript(db, call_id, "retention")
            done[1] += 1
            if on_transcript_deleted is not None:
                on_transcript_deleted(call_id)
    if any(done):
        log.info("retention.purged", recordings=done[0], transcripts=done[1])
    return done[0], done[1]


class RetentionJob:
    def __init__(
        self,
        db: sqlite_utils.Database,
        every_seconds: float = DAY_SECONDS,
        on_transcript_deleted: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.every_seconds = every_seconds
        self.on_transcript_deleted = on_transcript_deleted
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                purge_expired(self.db, now(), self.on_transcript_deleted)
            except Exception:  # a bad row must not stop tomorrow's run
                log.exception("retention.failed")
            await asyncio.sleep(self.every_seconds)
