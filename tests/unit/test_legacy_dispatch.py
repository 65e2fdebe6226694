"""The hosted service's legacy `POST /v1/calls` body (no agent_id): what it runs with, and what it refuses
(a 400 naming the field, nothing written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.api.schemas import CreateCall, decode_strict
from appliance.calling import queue_call
from appliance.config import Settings
from appliance.errors import InvalidInput
from appliance.runtime import Runtime
from appliance.store import agents, numbers, trunks
from appliance.store.db import open_db


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    db = open_db(tmp_path / "t.db")
    trunks.ensure_loopback(db, 5062)
    return Runtime(settings=Settings(), db=db)


def rows(runtime: Runtime) -> tuple[int, int]:
    count = runtime.db.execute
    return count("SELECT COUNT(*) FROM calls").fetchone()[0], count("SELECT COUNT(*) FROM agents").fetchone()[0]


def test_a_legacy_call_runs_with_an_implicit_agent_and_makes_no_agent_row(runtime: Runtime) -> None:
    call, _ = queue_call(
        runtime,
        decode_strict(
            b'{"to": "+12025550101", "prompt": "Confirm tomorrow 2pm", "returns": {"confirmed": "boolean"},'
            b' "language": "es", "voicemail_action": "leave_message", "context": {"patient": "Maria"}}',
            CreateCall,
        ),
    )
    assert call.agent_id is None and call.prompt == call.instructions == "Confirm tomorrow 2pm"
    assert call.returns == {"confirmed": "boolean"} and call.result_status == "pending"
    assert call.language == "es" and call.metadata == {"language": "es"} and call.context == {"patient": "Maria"}
    assert call.reservation_status == "reserved" and call.trunk_id == trunks.loopback_id(runtime.db)
    assert rows(runtime) == (1, 0)
    snapshot = runtime.db.execute("SELECT agent_snapshot FROM calls").fetchone()[0]
    assert '"voicemail_action":"leave_message"' in snapshot


def test_defaults_are_the_hosted_services_and_the_oldest_number_is_the_caller_id(runtime: Runtime) -> None:
    loopback = trunks.loopback_id(runtime.db)
    numbers.register_number(runtime.db, "+14155550100", None, None)  # on no trunk: cannot dial out
    numbers.register_number(runtime.db, "+14155550101", None, loopback)
    numbers.register_number(runtime.db, "+14155550102", None, loopback)
    call, _ = queue_call(runtime, decode_strict(b'{"to": "+12025550102"}', CreateCall))
    assert call.prompt == "Hello from CallingBox." and call.language == "en" and call.returns is None
    assert call.from_number == "+14155550101"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"to": "555-0102", "prompt": "x"}', "to"),
        (b'{"to": "+19999999999"}', "to"),
        (b'{"prompt": "x"}', "to"),
        (b'{"to": "+12025550101", "colour": "red"}', "colour"),
        (b'{"to": "+12025550101", "returns": {"ok": "maybe"}}', "returns"),
        (b'{"to": "+12025550101", "language": "not a tag"}', "language"),
        (b'{"to": "+12025550101", "voicemail_action": "sing"}', "voicemail_action"),
        (b'{"to": "+12025550101", "tools": [{"type": "http", "name": "t", "url": "ftp://x"}]}', "tools[0].url"),
        (b'{"to": "+12025550101", "from_number": "+14155550199"}', "from_number"),
        (b'{"to": "+12025550101", "webhook_url": "nope"}', "webhook_url"),
        (b'{"to": "+12025550101", "prompt": "a", "instructions": "b"}', "prompt"),
    ],
)
def test_bad_legacy_bodies_name_the_field_and_write_nothing(runtime: Runtime, raw: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        queue_call(runtime, decode_strict(raw, CreateCall))
    assert field in exc.value.message
    assert rows(runtime) == (0, 0)


@pytest.mark.parametrize("field", ["returns", "language", "voicemail_action", "tools"])
def test_an_agents_call_with_agent_owned_fields_is_refused(runtime: Runtime, field: str) -> None:
    agent_id = agents.create_agent(runtime.db, {"name": "a", "type": "outbound"})
    value = {"returns": {"ok": "boolean"}, "language": "en", "voicemail_action": "hangup", "tools": []}[field]
    body = CreateCall(agent_id=agent_id, to="+12025550101", **{field: value})
    with pytest.raises(InvalidInput) as exc:
        queue_call(runtime, body)
    assert exc.value.field == field and field in exc.value.message
    assert rows(runtime) == (0, 1)
