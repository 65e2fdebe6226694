"""The questions each agent asks for its `returns` fields (voice/questions.py writes them when a call of the
agent has ended): kept across restarts, shown in the console and editable there.

A row holds one version of the agent: `key` is what the voice derived from the agent it wrote them for. An
update of what they are written from (name, persona, instructions, language, returns) makes the row stale
(key NULL), so the next call's end writes them again — keeping those a person wrote for fields still there.
"""

from __future__ import annotations

from typing import Any

import msgspec
import sqlite_utils

from appliance.clock import now_iso
from appliance.errors import InvalidInput
from appliance.store.db import transaction
from appliance.store.jsoncol import dumps, loads

MAX_CHARS = 200  # a question a person writes: one spoken sentence
WRITTEN_FROM = frozenset({"name", "persona", "instructions", "language", "returns"})


class AgentQuestions(msgspec.Struct, kw_only=True):
    agent_id: str
    questions: dict[str, str]  # field → the question it asks
    edited: list[str]  # the fields whose question a person wrote
    written_at: str
    current: bool  # written for the agent as it is now


def get(db: sqlite_utils.Database, agent_id: str) -> AgentQuestions | None:
    row = _row(db, agent_id)
    if row is None:
        return None
    return AgentQuestions(
        agent_id=agent_id,
        questions=loads(row["questions"]),
        edited=loads(row["edited"]),
        written_at=row["written_at"],
        current=row["key"] is not None,
    )


def edit(db: sqlite_utils.Database, agent_id: str, fields: list[str], changes: dict[str, str]) -> AgentQuestions:
    """A person's questions for some of the agent's `fields` ('' gives the field back to the model to ask).
    Checked whole before anything is written."""
    for name, question in changes.items():
        question = question.strip()
        if name not in fields:
            raise InvalidInput(f"{name} is not one of the agent's returns fields", field=f"questions.{name}")
        if question and (not question.endswith("?") or len(question) > MAX_CHARS or "\n" in question):
            raise InvalidInput(
                f"the question for {name} must be one sentence ending in '?', at most {MAX_CHARS} characters",
                field=f"questions.{name}",
            )
    with transaction(db):
        row = _row(db, agent_id)
        questions: dict[str, str] = loads(row["questions"]) if row else {}
        edited: set[str] = set(loads(row["edited"])) if row else set()
        for name, question in changes.items():
            question = question.strip()
            if question == questions.get(name, ""):
                continue
            if question:
                questions[name] = question
                edited.add(name)
            else:
                questions.pop(name, None)
                edited.discard(name)
        _put(db, agent_id, row["key"] if row else None, questions, sorted(edited & set(fields)))
    result = get(db, agent_id)
    assert result is not None
    return result


def written_from_changed(db: sqlite_utils.Database, agent_id: str, changed: set[str]) -> None:
    """Inside the agent's update (`changed`: the columns whose value it changes): its questions are stale if
    what they were written from changed."""
    if WRITTEN_FROM & changed:
        db.execute("UPDATE agent_questions SET key = NULL WHERE agent_id = ?", [agent_id])


class StoredQuestions:
    """The voice's keeper of prepared questions (voice/questions.QuestionKeeper), in this store."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def load(self, agent_id: str, key: str) -> dict[str, str] | None:
        """The questions written for this version of the agent, if they were."""
        sql = "SELECT questions FROM agent_questions WHERE agent_id = ? AND key = ?"
        row = self.db.execute(sql, [agent_id, key]).fetchone()
        return None if row is None else loads(row[0])

    def edited(self, agent_id: str) -> dict[str, str]:
        found = get(self.db, agent_id)
        return {} if found is None else {f: q for f, q in found.questions.items() if f in found.edited}

    def save(self, agent_id: str, key: str, questions: dict[str, str]) -> None:
        with transaction(self.db):
            found = get(self.db, agent_id)
            edited = [f for f in (found.edited if found else []) if f in questions]
            _put(self.db, agent_id, key, questions, edited)


def _row(db: sqlite_utils.Database, agent_id: str) -> dict[str, Any] | None:
    return next(db.query("SELECT * FROM agent_questions WHERE agent_id = ?", [agent_id]), None)


def _put(db: sqlite_utils.Database, agent_id: str, key: str | None, asked: dict[str, str], edited: list[str]) -> None:
    row = {"agent_id": agent_id, "key": key, "questions": dumps(asked), "edited": dumps(edited)}
    db["agent_questions"].upsert(row | {"written_at": now_iso()}, pk="agent_id")
