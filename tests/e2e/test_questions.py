"""Prepared questions written by the real model when an agent is saved on an idle box, kept in the store and
ready before its first call (appliance/voice/questions.py)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time

import pytest

from tests.integration.conftest import requires_asterisk
from tests.support import ServerProcess

pytestmark = [requires_asterisk, pytest.mark.integration]
GATE = "What is the code of your gate?"
AGENT = {
    "name": "Max",
    "type": "outbound",
    "persona": "You are Max from QuickParcel.",
    "instructions": "Ask the customer which delivery window they prefer and the code of their gate.",
    "returns": {
        "type": "object",
        "properties": {
            "delivery_window": {"type": "string", "enum": ["morning", "afternoon"]},
            "gate_code": {"type": "string", "description": GATE},
        },
    },
}


def written(appliance: ServerProcess, agent_id: str) -> dict[str, str] | None:
    with contextlib.closing(sqlite3.connect(appliance.data_dir / "appliance.db")) as db:
        row = db.execute("SELECT questions FROM agent_questions WHERE agent_id = ? AND key IS NOT NULL", [agent_id])
        found = row.fetchone()
    return None if found is None else json.loads(found[0])


def test_an_agent_saved_on_an_idle_box_has_its_questions_before_its_first_call(appliance: ServerProcess) -> None:
    appliance.wait_for_voice(timeout=300)
    with appliance.client() as api:
        agent = api.post("/v1/agents", json=AGENT)
        assert agent.status_code == 201, agent.text
    agent_id = agent.json()["id"]
    deadline = time.monotonic() + 180  # one short greedy writing; slow on a busy 2-core box
    while (questions := written(appliance, agent_id)) is None:
        assert time.monotonic() < deadline, "the questions were not written"
        time.sleep(1)
    assert questions["gate_code"] == GATE  # a description that is a question is asked as written
    window = questions.get("delivery_window")
    # The model's question for the other field ("What is your preferred delivery window?"): one question.
    assert window is not None and window.endswith("?") and window.count("?") == 1, questions
