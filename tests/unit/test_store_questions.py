"""An agent's prepared questions in the store (appliance/store/questions.py): by version of the agent, a
person's edits checked and kept, stale when what they were written from changes."""

from __future__ import annotations

import pytest
import sqlite_utils

from appliance.errors import InvalidInput
from appliance.store import agents, calls
from appliance.store import questions as store
from appliance.store.db import open_db
from appliance.store.questions import StoredQuestions
from appliance.telephony.conversation import agent_brief, call_brief
from appliance.voice.brief import CallBrief
from appliance.voice.goal import goal_fields
from appliance.voice.questions import QuestionBook
from tests.unit.test_questions import WritingModel

RETURNS = {"gate_code": "string", "window": "string"}
FIELDS = ["gate_code", "window"]


@pytest.fixture
def db() -> sqlite_utils.Database:
    return open_db(":memory:")


@pytest.fixture
def agent_id(db: sqlite_utils.Database) -> str:
    return agents.create_agent(db, {"name": "Courier", "type": "outbound", "returns": RETURNS, "instructions": "A"})


def test_questions_are_kept_by_version_and_a_save_keeps_what_a_person_wrote(
    db: sqlite_utils.Database, agent_id: str
) -> None:
    kept = StoredQuestions(db)
    assert kept.load(agent_id, "v1") is None and store.get(db, agent_id) is None
    store.edit(db, agent_id, FIELDS, {"gate_code": "What is your gate code?"})
    assert kept.load(agent_id, "v1") is None  # written by a person, not yet for any version
    assert kept.edited(agent_id) == {"gate_code": "What is your gate code?"}
    kept.save(agent_id, "v1", {"gate_code": "What is your gate code?", "window": "Morning or afternoon?"})
    assert kept.load(agent_id, "v1") == {"gate_code": "What is your gate code?", "window": "Morning or afternoon?"}
    assert kept.load(agent_id, "v0") is None
    found = store.get(db, agent_id)
    assert found is not None and found.current and found.edited == ["gate_code"]


def test_a_bad_question_names_its_field_and_writes_nothing(db: sqlite_utils.Database, agent_id: str) -> None:
    for changes, field in [
        ({"gate_code": "What is your gate code?", "window": "Tell me the window."}, "questions.window"),
        ({"gate_code": "Why? " * 50}, "questions.gate_code"),
        ({"budget": "What is your budget?"}, "questions.budget"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            store.edit(db, agent_id, FIELDS, changes)
        assert refused.value.field == field
    assert store.get(db, agent_id) is None


def test_an_emptied_question_goes_back_to_the_model(db: sqlite_utils.Database, agent_id: str) -> None:
    StoredQuestions(db).save(agent_id, "v1", {"gate_code": "What is the gate code?"})
    store.edit(db, agent_id, FIELDS, {"gate_code": "What is the code of your gate?"})
    store.edit(db, agent_id, FIELDS, {"gate_code": "", "window": ""})
    found = store.get(db, agent_id)
    assert found is not None and found.questions == {} and found.edited == []


def test_an_update_of_what_they_were_written_from_makes_them_stale(db: sqlite_utils.Database, agent_id: str) -> None:
    kept = StoredQuestions(db)
    kept.save(agent_id, "v1", {"gate_code": "What is the gate code?"})
    agents.update_agent(db, agent_id, {"name": "Courier", "instructions": "A", "max_duration_seconds": 120})
    assert kept.load(agent_id, "v1") is not None  # the same words: still theirs
    agents.update_agent(db, agent_id, {"instructions": "Deliver the sofa."})
    assert kept.load(agent_id, "v1") is None
    found = store.get(db, agent_id)
    assert found is not None and not found.current


async def test_the_book_asks_a_persons_question_and_the_model_writes_only_the_others(
    db: sqlite_utils.Database, agent_id: str
) -> None:
    store.edit(db, agent_id, FIELDS, {"gate_code": "What is your gate code?"})
    model = WritingModel({"window": "Which delivery window suits you best?"})
    book = QuestionBook(model, StoredQuestions(db))
    call = CallBrief("call-1", "outbound", agent_name="Courier", agent_id=agent_id, instructions="A")
    fields = goal_fields(RETURNS)
    assert book.get(call, fields) == {"gate_code": "What is your gate code?"}  # before any writing
    task = book.prepare(call, fields)
    assert task is not None
    await task
    assert "gate_code" not in model.asked[0][-1]["content"] and "window" in model.asked[0][-1]["content"]
    # Another process (a restart) reads them from the store: nothing is written again.
    again = QuestionBook(WritingModel(RuntimeError("not asked")), StoredQuestions(db))
    assert again.prepare(call, fields) is None
    assert again.get(call, fields) == {
        "gate_code": "What is your gate code?",
        "window": "Which delivery window suits you best?",
    }


async def test_questions_written_when_the_agent_is_saved_are_the_ones_its_calls_read(
    db: sqlite_utils.Database, agent_id: str
) -> None:
    written = {"gate_code": "What is your gate code?", "window": "Which window suits you?"}
    book = QuestionBook(WritingModel(written), StoredQuestions(db))
    saved = agent_brief(agents.agent_row(db, agent_id))  # type: ignore[arg-type]
    task = book.prepare(saved, goal_fields(saved.returns))
    assert task is not None
    await task
    call, _ = calls.create_call(
        db,
        agent=agents.agent_row(db, agent_id),  # type: ignore[arg-type]
        direction="outbound",
        to_number="+12025550101",
        from_number=None,
        trunk_id=None,
        instructions=None,
        context={"name": "Dana"},
        metadata={},
        webhook_url=None,
    )
    placed = call_brief(calls.call_row(db, call.id))
    assert book.prepare(placed, goal_fields(placed.returns)) is None  # written already
    assert book.get(placed, goal_fields(placed.returns))["window"] == "Which window suits you?"
