"""The one "end this call" path: status, end reason, billing and the terminal event, decided once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from appliance.store import agents, calls
from appliance.store.db import open_db
from appliance.telephony.call_end import Ending, record_end
from appliance.telephony.causes import outcome_for


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "x.db")


def live_call(db: sqlite_utils.Database, answered: bool) -> str:
    agent = agents.agent_row(
        db, agents.create_agent(db, {"name": "Sam", "type": "outbound", "returns": {"ok": "boolean"}})
    )
    call, _ = calls.create_call(
        db, agent=agent, direction="outbound", to_number="+12025550101", from_number=None, trunk_id=None,
        instructions=None, context={}, metadata={}, webhook_url=None,
    )  # fmt: skip
    calls.transition(db, call.id, "initiated")
    if answered:
        calls.transition(db, call.id, "in_progress", answered_by="unknown")
    return call.id


def ended(db: sqlite_utils.Database, answered: bool, ending: Ending) -> dict[str, Any]:
    call_id = live_call(db, answered)
    assert record_end(db, call_id, ending, price_per_minute=6000) is not None
    assert record_end(db, call_id, Ending(answered, "error"), price_per_minute=6000) is None  # the first one holds
    return calls.call_row(db, call_id)


def test_an_answered_call_is_completed_and_billed(db: sqlite_utils.Database) -> None:
    row = ended(db, True, Ending(True, hangup_cause="16 Normal Clearing"))
    assert (row["status"], row["end_reason"], row["hangup_cause"]) == (
        "completed",
        "caller_hangup",
        "16 Normal Clearing",
    )
    assert (
        row["billed_duration_seconds"] >= 1
        and row["billing_amount_milli_cents"] == row["billed_duration_seconds"] * 100
    )
    assert row["result_status"] == "pending"  # extraction runs on a conversation
    assert ended(db, True, Ending(True, canceled=True))["end_reason"] == "canceled"
    shut = ended(db, True, Ending(True, "shutdown", canceled=True))
    assert (shut["status"], shut["end_reason"]) == ("completed", "shutdown")


def test_an_answering_machine_is_no_answer_and_not_billed(db: sqlite_utils.Database) -> None:
    row = ended(db, True, Ending(True, "voicemail"))
    assert (row["status"], row["answered_by"], row["billed_duration_seconds"]) == ("no_answer", "machine", 0)
    assert row["result_status"] == "skipped"


def test_an_unanswered_call_is_canceled_or_takes_the_networks_outcome(db: sqlite_utils.Database) -> None:
    assert ended(db, False, Ending(False, canceled=True))["end_reason"] == "canceled"
    assert ended(db, False, Ending(False, "shutdown", canceled=True))["end_reason"] == "shutdown"
    busy = ended(db, False, Ending(False, outcome=outcome_for(17)))
    assert (busy["status"], busy["error_code"], busy["billed_duration_seconds"]) == ("busy", None, 0)
    missing = ended(db, False, Ending(False, outcome=outcome_for(1)))
    assert (missing["status"], missing["error_code"]) == ("failed", "invalid_number")


def test_an_error_completes_an_answered_call_and_fails_an_unanswered_one(db: sqlite_utils.Database) -> None:
    down = Ending(True, "error", error_code="telephony_down", error_message="Asterisk stopped during the call")
    row = ended(db, True, down)
    assert (row["status"], row["end_reason"], row["error_code"]) == ("completed", "error", "telephony_down")
    row = ended(db, False, Ending(False, "error", error_code="telephony_down", error_message="before"))
    assert (row["status"], row["end_reason"], row["error_code"]) == ("failed", None, "telephony_down")
