"""What a conversation writes to the store under an agent's privacy settings: redacted transcript and events,
the words kept in memory only, no recording when it is off, and the recording notice spoken first."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance.privacy.plain import PlainTranscripts
from appliance.store import agents, calls
from appliance.store.db import open_db
from appliance.telephony.conversation import StoreSink, with_notice
from appliance.telephony.opt_out import OptOuts


def test_with_redaction_only_redacted_words_reach_the_database_file(tmp_path: Path) -> None:
    db = open_db(tmp_path / "t.db")
    agent_id = agents.create_agent(db, {"name": "a", "type": "outbound"})
    call, _ = calls.create_call(
        db,
        agent=agents.agent_row(db, agent_id),
        direction="outbound",
        to_number="+12025550101",
        from_number=None,
        trunk_id=None,
        instructions=None,
        context={},
        metadata={},
        webhook_url=None,
    )
    plain = PlainTranscripts()
    sink = StoreSink(db, call.id, tmp_path, OptOuts(), redact=["card", "email"], plain=plain)
    said = "My card is 4111 1111 1111 1111 and my mail tom@example.com."
    moment = datetime.now(UTC)
    sink.segment("user", said, moment, moment, "stt")
    sink.event("turn", {"user": said, "agent": "Thanks, noted tom@example.com.", "latency_ms": 610})
    assert calls.transcript(db, call.id).segments[0].text == "My card is [card] and my mail [email]."
    turn = calls.events(db, call.id).events[-1].data
    assert turn == {
        "user": "My card is [card] and my mail [email].",
        "agent": "Thanks, noted [email].",
        "latency_ms": 610,
    }
    assert plain.get(call.id) == [("user", said)]
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("t.db*"))
    assert b"4111" not in stored and b"tom@example.com" not in stored


def test_recording_off_gives_no_recording_path(tmp_path: Path) -> None:
    db = open_db(tmp_path / "t.db")
    assert StoreSink(db, "c1", tmp_path, OptOuts(), recording="off").recording_path() is None
    assert StoreSink(db, "c1", tmp_path, OptOuts()).recording_path() == tmp_path / "c1.wav"


def _sink_call(tmp_path: Path, name: str) -> tuple[StoreSink, str]:
    db = open_db(tmp_path / f"{name}.db")
    agent_id = agents.create_agent(db, {"name": "a", "type": "outbound"})
    call, _ = calls.create_call(
        db,
        agent=agents.agent_row(db, agent_id),
        direction="outbound",
        to_number="+12025550101",
        from_number=None,
        trunk_id=None,
        instructions=None,
        context={},
        metadata={},
        webhook_url=None,
    )
    return StoreSink(db, call.id, tmp_path, OptOuts(), recording="after_consent"), call.id


@pytest.mark.parametrize(
    ("answer", "source", "kept"),
    [
        ("Yes, that's fine.", "stt", True),
        ("No, I'd rather not.", "stt", False),
        ("Who is this?", "stt", False),
        ("(pressed keys: 1)", "dtmf", True),  # "press 1 to agree"
        ("(pressed keys: 1 #)", "dtmf", True),
        ("(pressed keys: 2)", "dtmf", False),
        ("(pressed keys: 1 1)", "dtmf", False),
    ],
)
def test_after_consent_the_answer_to_the_notice_decides_the_recording(
    tmp_path: Path, answer: str, source: str, kept: bool
) -> None:
    sink, call_id = _sink_call(tmp_path, "consent")
    moment = datetime.now(UTC)
    sink.segment("user", "Hello?", moment, moment, "stt")  # the greeting answers nothing yet
    assert sink.consent is None
    sink.segment("agent", "This call is recorded. Press 1 or say yes if that is okay.", moment, moment, "tts")
    sink.segment("user", answer, moment, moment, source)
    sink.segment("user", "Yes.", moment, moment, "stt")  # only the first answer counts
    assert (sink.recording_path() is not None) is kept
    consent = [e.data for e in calls.events(sink.db, call_id).events if e.type == "recording_consent"]
    assert consent == [{"given": kept, "answer": answer}]


def test_the_recording_notice_comes_before_the_first_message() -> None:
    assert with_notice("This call is recorded.", "Hi, this is Sam.") == "This call is recorded. Hi, this is Sam."
    assert with_notice("This call is recorded.", None) == "This call is recorded."
    assert with_notice(None, "Hi, this is Sam.") == "Hi, this is Sam."
    assert with_notice("  ", None) is None
