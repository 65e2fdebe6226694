"""Keypad input over real SIP with the real models: an agent asks for an account PIN and the simulated person
types it (RFC 4733 DTMF sent by ARI on the carrier's side of the call). The keys must reach the conversation
as one caller turn (a `dtmf` user segment and a `dtmf` event with the keys), the agent must answer it, and the
extraction must read the PIN from it.

The PIN has no 9: that is the opt-out key, which lists the number and ends the call instead."""

from __future__ import annotations

import re
import time

import pytest
import yaml

from appliance.call_status import TERMINAL
from tests.integration.conftest import requires_asterisk
from tests.support import ServerProcess

pytestmark = [requires_asterisk, pytest.mark.integration]
PIN = "4271"
SCRIPT = {
    "name": "types-a-pin",
    "greeting": "Hello?",
    "max_seconds": 400,
    "lines": [
        {"press": f"{PIN}#"},
        "No, that's all. Thank you, bye.",
    ],
}
AGENT = {
    "name": "Sam",
    "type": "outbound",
    "persona": "You are Sam, the assistant of Bright Bank.",
    "instructions": "Alex must confirm the four-digit account PIN on the phone's keypad, ending with the hash "
    "key. Once Alex has typed it, thank them without repeating the PIN, then say goodbye.",
    # The opening asks for the keys, so what this pins is the keys' path, not whether the model asks: in one CI
    # run it took "Yes, this is Alex." for the PIN and said goodbye.
    "first_message": "Hi Alex, this is Sam from Bright Bank. Please type your four-digit account PIN on the "
    "keypad, then press the hash key.",
    "max_duration_seconds": 300,
    "returns": {
        "type": "object",
        "properties": {"pin": {"type": "string", "description": "the account PIN Alex typed on the keypad"}},
    },
}


def test_a_pin_typed_on_the_keypad_is_a_turn_the_agent_answers_and_the_extraction_reads(
    appliance: ServerProcess,
) -> None:
    script = appliance.data_dir / "carrier" / "person.yaml"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(yaml.safe_dump(SCRIPT))
    with appliance.client() as api:
        agent = api.post("/v1/agents", json=AGENT)
        assert agent.status_code == 201, agent.text
        created = api.post("/v1/calls", json={"agent_id": agent.json()["id"], "to": "+12025550101"})
        assert created.status_code == 201, created.text
        call = appliance.wait_for(created.json()["id"], TERMINAL, timeout=480)
        deadline = time.monotonic() + 600  # slow on a busy 2-core box: 4+ min seen
        while (call := api.get(f"/v1/calls/{call['id']}").json())["result_status"] == "pending":
            assert time.monotonic() < deadline, "the extraction did not finish"
            time.sleep(1)
        segments = api.get(f"/v1/calls/{call['id']}/transcript").json()["segments"]
        events = api.get(f"/v1/calls/{call['id']}/events").json()["events"]
    lines = [(s["role"], s["source"], s["text"]) for s in segments]
    assert call["status"] == "completed" and call["end_reason"] != "opted_out", (call, lines)

    keyed = [i for i, (role, source, _) in enumerate(lines) if source == "dtmf"]
    assert len(keyed) == 1, lines  # the four keys and the # are one turn, not five
    role, _, said = lines[keyed[0]]
    assert role == "user" and re.sub(r"\D", "", said) == PIN and "#" in said, lines
    assert any(role == "agent" for role, _, _ in lines[keyed[0] + 1 :]), lines  # the agent answered the keys
    dtmf = [e["data"] for e in events if e["type"] == "dtmf"]
    assert [d["digits"] for d in dtmf] == [f"{PIN}#"], dtmf
    turns = [e["data"] for e in events if e["type"] == "turn"]
    assert any(t["user"] == said for t in turns), turns  # a turn of the conversation, with its latency

    assert call["result_status"] == "completed", call
    assert re.sub(r"\D", "", call["result"]["pin"] or "") == PIN, (call["result"], lines)
