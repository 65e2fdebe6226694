"""The post-call worker: for ended calls, one at a time, off the call path, bleeps personal data out of the
recording (when the agent redacts) and fills `result` and `analysis`.

Its queue is the calls table itself (`result_status = 'pending'` on a completed call), so extractions
pending when the process stopped resume after the restart. Each call ends `completed` or `failed`,
and only then is `call.completed` queued. A failure the model reports (no JSON, too long) is final: the
decoding is greedy, a second run would say the same. A crash is retried, up to MAX_ATTEMPTS attempts
in all, counted in the call's events before each one starts: an extraction that kills the process
every time (out of memory, a crash in llama.cpp) is given up after the restarts, not run forever.

The model runs on a thread at the lowest CPU priority (see background.py), so live calls come first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils
import structlog

from appliance.clock import now, parse_iso, woken_or_timed_out
from appliance.errors import InvalidInput, NotFound
from appliance.privacy.pii import redact, redact_result
from appliance.privacy.plain import PlainTranscripts
from appliance.results.analysis import empty as empty_analysis
from appliance.results.background import BackgroundThread
from appliance.results.extraction import Extraction, ExtractionCancelled
from appliance.store import calls as store
from appliance.store import post_call
from appliance.store.calls import empty_result
from appliance.store.records import Call

log = structlog.get_logger(__name__)

POLL_SECONDS = 2.0  # calls end on the telephony side, which does not wake us: look this often
MAX_ATTEMPTS = 3
RECORDING_GRACE = timedelta(seconds=30)  # the conversation writes its recording as the call's status ends
RedactRecording = Callable[[Path, list[str], str], int]  # (wav, kinds, language) → spans bleeped


class Extracts(Protocol):
    def extract(
        self,
        returns: dict[str, Any] | None,
        transcript: Sequence[tuple[str, str]],
        instructions: str | None = None,
        context: dict[str, Any] | None = None,
        analysis: dict[str, Any] | None = None,
        day: date | None = None,
        answers: dict[str, str] | None = None,
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
        plain: PlainTranscripts | None = None,
        redact_recording: RedactRecording | None = None,
    ) -> None:
        self.db = db
        self.extractor = extractor
        self.plain = plain  # the words before redaction, while this process still holds them
        self.redact_recording = redact_recording
        self.on_finished = on_finished  # e.g. wake the webhook outbox: call.completed was just queued
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._thread = BackgroundThread("extraction")

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="extraction-worker")

    async def stop(self) -> None:
        """Stop at once: a generation in progress is abandoned and its call stays pending for the next start."""
        self.extractor.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._thread.close()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            pending = post_call.pending_extractions(self.db)
            for call_id in pending:
                with contextlib.suppress(NotFound):  # deleted through the API meanwhile
                    await self.process(call_id)
            if not pending:
                self._wake.clear()
                await woken_or_timed_out(self._wake, self.poll_seconds)

    async def process(self, call_id: str) -> Call | None:
        """Run one call's post-call steps and record them; None when the call was not pending, when we are
        stopping, or when a crashed attempt leaves it pending for the next one."""
        row = store.call_row(self.db, call_id)
        if row["status"] != "completed" or all(row[step] != "pending" for step in store.POST_CALL):
            return None
        if row["recording_redaction"] == "pending" and not await self._redact_recording(row):
            return None
        if "pending" not in (row["result_status"], row["analysis_status"]):
            if self.plain is not None:
                self.plain.forget(call_id)
            if self.on_finished is not None:
                self.on_finished()  # the redaction was the last step: call.completed is queued
            return store.get_call(self.db, call_id)
        returns, analysis = row["agent_snapshot"]["returns"], row["agent_snapshot"].get("analysis")
        used, last_error = post_call.extraction_attempts(self.db, call_id)
        if used >= MAX_ATTEMPTS:
            reason = last_error or "the appliance stopped during each (a crash or a kill)"
            return self._finish(call_id, _failed(returns, analysis, f"gave up after {used} attempts: {reason}"))
        attempt = used + 1
        store.add_event(self.db, call_id, "extraction_attempt", {"attempt": attempt})
        turns = (self.plain.get(call_id) if self.plain else None) or [
            (s.role, s.text) for s in store.transcript(self.db, call_id).segments
        ]
        # The caller's answer to each field's question (the agenda's; redacted words where the agent redacts).
        events = store.events(self.db, call_id).events
        answers = {e.data["field"]: e.data["answer"] for e in events if e.type == "field_answered"}
        log.info("extraction.started", call_id=call_id, turns=len(turns), attempt=attempt)
        try:
            outcome = await self._thread.run(
                self.extractor.extract,
                returns,
                turns,
                row["instructions"],
                row["context"],
                analysis,
                _day(row),
                answers,
            )
        except ExtractionCancelled:  # stopping: this attempt does not count
            store.add_event(self.db, call_id, "extraction_interrupted", {"attempt": attempt})
            return None
        except asyncio.CancelledError:
            store.add_event(self.db, call_id, "extraction_interrupted", {"attempt": attempt})
            raise
        except Exception as exc:  # a bug here must not wedge the queue: retried, then this call fails
            log.exception("extraction.crashed", call_id=call_id, attempt=attempt)
            error = f"internal error: {type(exc).__name__}: {exc}"
            if attempt < MAX_ATTEMPTS:
                store.add_event(self.db, call_id, "extraction_error", {"attempt": attempt, "error": error})
                return None
            outcome = _failed(returns, analysis, f"gave up after {attempt} attempts: {error}")
        return self._finish(call_id, _redacted(outcome, row["agent_snapshot"]))

    async def _redact_recording(self, row: dict[str, Any]) -> bool:
        """Bleep the recording; False when it is not written yet (the call ended a moment ago)."""
        call_id, snapshot, path = row["id"], row["agent_snapshot"], row["recording_path"]
        if not path or not Path(path).is_file():
            if not path and now() - parse_iso(row["ended_at"]) < RECORDING_GRACE:
                await asyncio.sleep(1)
                return False
            post_call.finish_recording_redaction(self.db, call_id, "skipped", {"reason": "no recording"})
            return True
        if self.redact_recording is None:
            post_call.finish_recording_redaction(self.db, call_id, "failed", {"error": "no speech-to-text model"})
            return True
        try:
            spans = await self._thread.run(self.redact_recording, Path(path), snapshot["redact"], snapshot["language"])
        except Exception as exc:  # the recording stays as it was: say so, never pretend it is clean
            log.exception("recording_redaction.failed", call_id=call_id)
            post_call.finish_recording_redaction(self.db, call_id, "failed", {"error": f"{type(exc).__name__}: {exc}"})
            return True
        post_call.finish_recording_redaction(self.db, call_id, "done", {"spans": spans})
        return True

    def _finish(self, call_id: str, outcome: Extraction) -> Call | None:
        call = post_call.finish_extraction(
            self.db, call_id, outcome.result, outcome.status, outcome.error, outcome.analysis
        )
        log.info("extraction.finished", call_id=call_id, result_status=outcome.status, error=outcome.error)
        if self.plain is not None:
            self.plain.forget(call_id)
        if call is not None and self.on_finished is not None:
            self.on_finished()
        return call


def _redacted(outcome: Extraction, snapshot: dict[str, Any]) -> Extraction:
    """The outcome as the store may keep it: personal data redacted from the result (but for the fields the
    agent exempts) and from the summary, which the model wrote from the words themselves."""
    kinds = snapshot.get("redact") or []
    if not kinds:
        return outcome
    analysis = outcome.analysis
    if analysis is not None and analysis.get("summary"):
        analysis = {**analysis, "summary": redact(analysis["summary"], kinds)}
    result = redact_result(outcome.result, kinds, snapshot.get("redact_exempt_fields") or [])
    return outcome._replace(result=result, analysis=analysis)


def _failed(returns: Any, analysis: dict[str, Any] | None, error: str) -> Extraction:
    return Extraction(_all_null(returns), "failed", error, empty_analysis(analysis))


def _all_null(returns: Any) -> dict[str, Any] | None:
    try:
        return empty_result(returns)
    except InvalidInput:  # a snapshot that no longer validates has no fields to list
        return None


def _day(row: dict[str, Any]) -> date:
    """The call's day where the box is (the agent was told the date in the same local time)."""
    return parse_iso(row["answered_at"] or row["started_at"] or row["created_at"]).astimezone().date()
