"""The extraction worker on a real SQLite store: pending → completed|failed, `call.completed` queued only
after extraction and carrying the result, and pending extractions resuming after a restart.

The extractor here is a stand-in that records what it was asked: these tests are about the queue, the
store, the webhook event, the attempt limit and the CPU priority; the model itself is tested in
test_extraction.py and its priority under load measured by bench/extraction_priority.py."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from appliance.privacy.plain import PlainTranscripts
from appliance.results.extraction import Extraction
from appliance.results.extraction_worker import MAX_ATTEMPTS, ExtractionWorker
from appliance.store import agents, calls, post_call
from appliance.store.db import open_db
from appliance.store.jsoncol import loads
from appliance.store.records import TranscriptSegment

RETURNS = {"confirmed": "boolean"}


class Recorder:
    """Answers `confirmed: true` when the person said yes; can be told to fail or to raise."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.seen: list[tuple[dict[str, Any] | None, list[tuple[str, str]], str | None, dict[str, Any] | None]] = []
        self.days: list[date | None] = []
        self.answers: list[dict[str, str] | None] = []

    def extract(
        self,
        returns: dict[str, Any] | None,
        transcript: Sequence[tuple[str, str]],
        instructions: str | None = None,
        context: dict[str, Any] | None = None,
        analysis: dict[str, Any] | None = None,
        day: date | None = None,
        answers: dict[str, str] | None = None,
    ) -> Extraction:
        self.seen.append((returns, list(transcript), instructions, context))
        self.days.append(day)
        self.answers.append(answers)
        if analysis is not None:  # echoes the person's words, as a model that quotes them would
            said = " ".join(text for role, text in transcript if role == "user")
            found = {"summary": f"They said: {said}", "outcome": analysis["outcomes"][0], "sentiment": "neutral"}
            fields = {"note": said, "email": said} if returns else None
            return Extraction(fields, "completed", None, {**found, "success": True})
        if self.mode == "raise":
            raise RuntimeError("llama exploded")
        if self.mode == "fail":
            return Extraction({"confirmed": None}, "failed", "the answer did not fit in 1024 tokens")
        said_yes = any(role == "user" and "yes" in text.lower() for role, text in transcript)
        return Extraction({"confirmed": True if said_yes else None}, "completed", None)

    def close(self) -> None:
        pass


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "x.db"


def ended_call(db: sqlite_utils.Database, said: str, returns: dict[str, Any] | None = RETURNS, **agent: Any) -> str:
    """A call that went queued → … → completed with a two-turn transcript."""
    fields = {"name": "a", "type": "outbound", "returns": returns, "instructions": "Ask", **agent}
    agent_id = agents.create_agent(db, fields)
    call, _ = calls.create_call(
        db,
        agent=agents.agent_row(db, agent_id),
        direction="outbound",
        to_number="+12025550101",
        from_number=None,
        trunk_id=None,
        instructions=None,
        context={"name": "Dana"},
        metadata={},
        webhook_url="http://127.0.0.1:9/hook",
    )
    for status in ("initiated", "ringing", "in_progress"):
        calls.transition(db, call.id, status)
    for i, (role, text) in enumerate((("agent", "Can you come Thursday?"), ("user", said))):
        stamp = "2026-03-02T10:00:00.000Z"
        segment = TranscriptSegment(
            sequence_no=i, role=role, text=text, started_at=stamp, ended_at=stamp, duration_ms=900, source="stt"
        )
        calls.add_segment(db, call.id, segment)
    calls.transition(db, call.id, "completed", answered_by="human", end_reason="agent_ended")
    return call.id


async def test_the_extraction_counts_the_callers_days_from_the_day_the_call_was_answered(db_path: Path) -> None:
    db = open_db(db_path)
    call_id = ended_call(db, "Yes, Friday.")
    db.execute("UPDATE calls SET answered_at = ? WHERE id = ?", ["2026-03-02T12:00:00.000Z", call_id])  # noon UTC
    extractor = Recorder()
    await ExtractionWorker(db, extractor).process(call_id)
    assert extractor.days == [datetime(2026, 3, 2, 12, tzinfo=UTC).astimezone().date()]


async def test_the_extraction_is_given_the_callers_answer_to_each_fields_question(db_path: Path) -> None:
    db = open_db(db_path)
    call_id = ended_call(db, "Let me think. Yes, I think I can come.")
    calls.add_event(db, call_id, "field_answered", {"field": "confirmed", "answer": "Yes, I think I can come."})
    extractor = Recorder()
    await ExtractionWorker(db, extractor).process(call_id)
    assert extractor.answers == [{"confirmed": "Yes, I think I can come."}]


def event_types(db: sqlite_utils.Database, call_id: str) -> list[str]:
    return [e["type"] for e in calls.webhook_events(db, call_id)]


def completed_payload(db: sqlite_utils.Database, call_id: str) -> dict[str, Any]:
    row = db.execute(
        "SELECT payload FROM webhook_events WHERE call_id = ? AND type = 'call.completed'", [call_id]
    ).fetchone()
    return loads(row[0])


async def test_pending_becomes_completed_and_only_then_call_completed_is_queued(db_path: Path) -> None:
    db = open_db(db_path)
    call_id = ended_call(db, "Yes, I'll be there.")
    assert calls.get_call(db, call_id).result_status == "pending"
    assert "call.completed" not in event_types(db, call_id)
    assert post_call.extraction_attempts(db, call_id) == (0, None)  # a clean stop costs the call no attempt

    woken: list[bool] = []
    extractor = Recorder()
    worker = ExtractionWorker(db, extractor, on_finished=lambda: woken.append(True))
    call = await worker.process(call_id)

    assert call is not None and call.result == {"confirmed": True} and call.result_status == "completed"
    assert extractor.seen == [
        (RETURNS, [("agent", "Can you come Thursday?"), ("user", "Yes, I'll be there.")], "Ask", {"name": "Dana"})
    ]
    assert event_types(db, call_id)[-1] == "call.completed" and event_types(db, call_id).count("call.completed") == 1
    sent = completed_payload(db, call_id)["data"]["call"]
    assert sent["result"] == {"confirmed": True} and sent["result_status"] == "completed"
    assert woken == [True]
    assert calls.events(db, call_id).events[-1].type == "extraction"
    assert await worker.process(call_id) is None  # done once; a second pass changes nothing
    assert event_types(db, call_id).count("call.completed") == 1


async def test_a_failure_the_model_reports_is_final_at_once_and_still_sends_call_completed(db_path: Path) -> None:
    db = open_db(db_path)
    call_id = ended_call(db, "Yes.")
    extractor = Recorder("fail")
    call = await ExtractionWorker(db, extractor).process(call_id)
    assert call is not None and call.result_status == "failed" and call.result == {"confirmed": None}
    assert call.result_error == "the answer did not fit in 1024 tokens"
    assert len(extractor.seen) == 1  # greedy decoding would say the same again
    assert event_types(db, call_id)[-1] == "call.completed"


async def test_a_crashing_extraction_is_retried_then_failed_after_max_attempts_with_call_completed(
    db_path: Path,
) -> None:
    db = open_db(db_path)
    call_id = ended_call(db, "Yes.")
    extractor = Recorder("raise")
    worker = ExtractionWorker(db, extractor)
    for _ in range(MAX_ATTEMPTS - 1):
        assert await worker.process(call_id) is None  # still pending, for another attempt
        assert calls.get_call(db, call_id).result_status == "pending"
        assert "call.completed" not in event_types(db, call_id)
    call = await worker.process(call_id)
    assert call is not None and call.result_status == "failed" and call.result == {"confirmed": None}
    assert call.result_error == f"gave up after {MAX_ATTEMPTS} attempts: internal error: RuntimeError: llama exploded"
    assert len(extractor.seen) == MAX_ATTEMPTS
    assert event_types(db, call_id).count("call.completed") == 1
    attempts = [e.data["attempt"] for e in calls.events(db, call_id).events if e.type == "extraction_attempt"]
    assert attempts == list(range(1, MAX_ATTEMPTS + 1))


KILLED_MID_EXTRACTION = """
import asyncio, os, signal, sys
from appliance.results.extraction_worker import MAX_ATTEMPTS, ExtractionWorker
from appliance.store.db import open_db

class Crash:
    def extract(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)  # as an out-of-memory kill or a crash in llama.cpp would

    def close(self):
        pass

asyncio.run(ExtractionWorker(open_db(sys.argv[1]), Crash()).process(sys.argv[2]))
"""


async def test_an_extraction_that_kills_the_process_each_time_is_given_up_after_the_restarts(db_path: Path) -> None:
    db = open_db(db_path)
    call_id = ended_call(db, "Yes.")
    for _ in range(MAX_ATTEMPTS):  # each start of the appliance picks the call up and dies in it
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", KILLED_MID_EXTRACTION, str(db_path), call_id)
        assert await child.wait() == -signal.SIGKILL
    assert calls.get_call(db, call_id).result_status == "pending"

    extractor = Recorder()
    call = await ExtractionWorker(db, extractor).process(call_id)  # the next start does not try again
    assert extractor.seen == []
    assert call is not None and call.result_status == "failed" and call.result == {"confirmed": None}
    assert (
        call.result_error
        == f"gave up after {MAX_ATTEMPTS} attempts: the appliance stopped during each (a crash or a kill)"
    )
    assert event_types(db, call_id)[-1] == "call.completed"


async def test_the_extraction_runs_at_the_lowest_cpu_priority_and_so_do_the_threads_it_starts(db_path: Path) -> None:
    db = open_db(db_path)
    call_id = ended_call(db, "Yes.")
    seen: dict[str, int] = {}

    class Niceness(Recorder):
        def extract(self, *args: Any, **kwargs: Any) -> Extraction:
            seen["extraction"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            # llama.cpp computes on threads its caller creates (OpenMP): they start at the caller's value.
            child = threading.Thread(
                target=lambda: seen.update(child=os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
            )
            child.start()
            child.join()
            return super().extract(*args, **kwargs)

    loop_thread = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    call = await ExtractionWorker(db, Niceness()).process(call_id)
    assert call is not None and call.result_status == "completed"
    assert seen == {"extraction": 19, "child": 19}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop_thread  # calls' threads keep theirs


async def test_calls_without_returns_or_never_answered_are_not_queued(db_path: Path) -> None:
    db = open_db(db_path)
    no_returns = ended_call(db, "Yes.", returns=None)
    assert calls.get_call(db, no_returns).result_status is None
    assert "call.completed" in event_types(db, no_returns)  # nothing to wait for
    agent_id = agents.create_agent(db, {"name": "b", "type": "outbound", "returns": RETURNS})
    busy, _ = calls.create_call(
        db,
        agent=agents.agent_row(db, agent_id),
        direction="outbound",
        to_number="+12025550102",
        from_number=None,
        trunk_id=None,
        instructions=None,
        context={},
        metadata={},
        webhook_url=None,
    )
    calls.transition(db, busy.id, "busy")
    assert calls.get_call(db, busy.id).result_status == "skipped"
    assert post_call.pending_extractions(db) == []


async def test_pending_extractions_resume_in_order_after_a_restart(db_path: Path) -> None:
    db = open_db(db_path)
    first, second, third = (ended_call(db, said) for said in ("Yes.", "No.", "yes please"))

    # The first process extracts one call, then stops (as on shutdown) before the others.
    extractor = Recorder()
    await ExtractionWorker(db, extractor).process(first)
    db.conn.close()

    db = open_db(db_path)  # the restarted process
    assert post_call.pending_extractions(db) == [second, third]
    extractor = Recorder()
    worker = ExtractionWorker(db, extractor, poll_seconds=0.05)
    worker.start()
    for _ in range(100):
        if not post_call.pending_extractions(db):
            break
        await asyncio.sleep(0.05)
    await worker.stop()
    assert [turns[1][1] for _, turns, _, _ in extractor.seen] == ["No.", "yes please"]  # oldest first
    assert calls.get_call(db, second).result == {"confirmed": None}
    assert calls.get_call(db, third).result == {"confirmed": True}
    for call_id in (first, second, third):
        assert calls.get_call(db, call_id).result_status == "completed"
        assert event_types(db, call_id).count("call.completed") == 1


async def test_stop_leaves_an_unfinished_extraction_pending_without_using_an_attempt(db_path: Path) -> None:
    db = open_db(db_path)
    call_id = ended_call(db, "Yes.")

    class Slow(Recorder):
        def extract(self, *args: Any, **kwargs: Any) -> Extraction:
            time.sleep(0.5)
            return super().extract(*args, **kwargs)

    worker = ExtractionWorker(db, Slow(), poll_seconds=0.05)
    worker.start()
    await asyncio.sleep(0.1)
    await worker.stop()
    await asyncio.sleep(0.6)
    assert calls.get_call(db, call_id).result_status == "pending"
    assert "call.completed" not in event_types(db, call_id)
    assert post_call.extraction_attempts(db, call_id) == (0, None)  # a clean stop costs the call no attempt


ANALYSIS = {
    "summary": True,
    "sentiment": True,
    "success": True,
    "outcomes": ["confirmed", "declined"],
    "success_rubric": None,
}


async def test_the_analysis_is_kept_beside_the_result_and_sent_with_call_completed(db_path: Path) -> None:
    db = open_db(db_path)
    call_id = ended_call(db, "Yes, I'll be there.", returns=None, analysis=ANALYSIS)
    assert calls.get_call(db, call_id).analysis_status == "pending"
    assert "call.completed" not in event_types(db, call_id)
    call = await ExtractionWorker(db, Recorder()).process(call_id)
    assert call is not None and call.result is None and call.analysis_status == "completed"
    assert call.analysis == {
        "summary": "They said: Yes, I'll be there.",
        "outcome": "confirmed",
        "sentiment": "neutral",
        "success": True,
    }
    assert completed_payload(db, call_id)["data"]["call"]["analysis"] == call.analysis


async def test_an_unanswered_call_has_its_analysis_skipped(db_path: Path) -> None:
    db = open_db(db_path)
    agent_id = agents.create_agent(db, {"name": "a", "type": "outbound", "analysis": ANALYSIS})
    call, _ = calls.create_call(
        db,
        agent=agents.agent_row(db, agent_id),
        direction="outbound",
        to_number="+12025550102",
        from_number=None,
        trunk_id=None,
        instructions=None,
        context={},
        metadata={},
        webhook_url=None,
    )
    calls.transition(db, call.id, "busy")
    skipped = calls.get_call(db, call.id)
    assert skipped.analysis_status == "skipped"
    assert skipped.analysis == {"summary": None, "outcome": None, "sentiment": None, "success": None}


async def test_with_redaction_the_model_reads_the_words_but_the_store_keeps_only_exempt_fields_of_them(
    db_path: Path, tmp_path: Path
) -> None:
    db = open_db(db_path)
    said = "Write to tom@example.com."
    call_id = ended_call(
        db,
        "Write to [email].",  # what the conversation wrote to the store
        returns={"email": "string", "note": "string"},
        analysis=ANALYSIS,
        redact=["email"],
        redact_exempt_fields=["email"],
    )
    recording = tmp_path / "call.wav"
    recording.write_bytes(b"RIFF")
    calls.set_fields(db, call_id, recording_path=str(recording))
    plain = PlainTranscripts()
    plain.add(call_id, "agent", "Can you come Thursday?")
    plain.add(call_id, "user", said)
    bleeped: list[tuple[Path, list[str], str]] = []
    extractor = Recorder()

    def redact_recording(path: Path, kinds: list[str], language: str) -> int:
        bleeped.append((path, kinds, language))
        return 1

    worker = ExtractionWorker(db, extractor, plain=plain, redact_recording=redact_recording)
    call = await worker.process(call_id)
    assert call is not None
    assert extractor.seen[0][1][-1] == ("user", said)  # the words themselves, from memory
    assert call.result == {"note": "Write to [email].", "email": said}  # only the exempt field keeps them
    assert call.analysis is not None and call.analysis["summary"] == "They said: Write to [email]."
    assert bleeped == [(recording, ["email"], "en")]
    events = calls.events(db, call_id).events
    assert ("recording_redaction", {"status": "done", "spans": 1}) in [(e.type, e.data) for e in events]
    assert plain.get(call_id) is None  # forgotten once used
    assert event_types(db, call_id).count("call.completed") == 1
