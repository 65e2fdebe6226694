"""The extraction worker: fills `result` for ended calls, one at a time, off the call path.

Its queue is the calls table itself (`result_status = 'pending'` on a completed call), so extractions
pending when the process stopped resume after the restart. Each call ends `completed` or `failed`
(a failure is recorded, never retried forever), and only then is `call.completed` queued.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import sqlite_utils
import structlog

from appliance.errors import InvalidInput
from appliance.results.extraction import Extraction, ExtractionCancelled
from appliance.results.schema import empty_result
from appliance.store import calls as store
from appliance.store.records import Call

log = structlog.get_logger(__name__)

POLL_SECONDS = 2.0  # calls end on the telephony side, which does not wake us: look this often


class Extracts(Protocol):
    def extract(
        self,
        returns: dict[str, Any],
        transcript: Sequence[tuple[str, str]],
        instructions: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> Extraction: ...

    def close(self) -> None: ...


class ExtractionWorker:
    def __init__(
        self,
        db: sqlite_utils.Database,
        extractor: Extracts,
        *,
        on_finished: Callable[[], None] | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.db = db
        self.extractor = extractor
        self.on_finished = on_finished  # e.g. wake the webhook outbox: call.completed was just queued
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="extraction-worker")

    async def stop(self) -> None:
        """Stop at once: a generation in progress is abandoned and its call stays pending for the next start."""
        self.extractor.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            pending = store.pending_extractions(self.db)
            for call_id in pending:
                await self.process(call_id)
            if not pending:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)

    async def process(self, call_id: str) -> Call | None:
        """Extract one call's result and record it; None when the call was not pending (or we are stopping)."""
        row = store.call_row(self.db, call_id)
        returns = row["agent_snapshot"]["returns"]
        turns = [(s.role, s.text) for s in store.transcript(self.db, call_id).segments]
        log.info("extraction.started", call_id=call_id, turns=len(turns))
        try:
            outcome = await asyncio.to_thread(
                self.extractor.extract, returns, turns, row["instructions"], row["context"]
            )
        except ExtractionCancelled:
            return None
        except Exception as exc:  # a bug here must not wedge the queue: this call fails, the next goes on
            log.exception("extraction.crashed", call_id=call_id)
            outcome = Extraction(_all_null(returns), "failed", f"internal error: {type(exc).__name__}: {exc}")
        call = store.finish_extraction(self.db, call_id, outcome.result, outcome.status, outcome.error)
        log.info("extraction.finished", call_id=call_id, result_status=outcome.status, error=outcome.error)
        if call is not None and self.on_finished is not None:
            self.on_finished()
        return call


def _all_null(returns: Any) -> dict[str, Any] | None:
    try:
        return empty_result(returns)
    except InvalidInput:  # a snapshot that no longer validates has no fields to list
        return None
