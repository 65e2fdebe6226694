"""Call control over real SIP with the real models: a cold transfer to the test carrier's front desk, a warm one
(the caller holds while the agent asks the desk, who says yes), a transfer the destination declines (the agent
stays and says so), and a phone menu navigated with `send_dtmf`.

The front desk (+12025550107) is a simulated person of its own (the `operator` script, an espeak voice); its
results and the caller's are in the carrier's person-results.jsonl, so what each side heard after the bridge
is read there: the front desk answers the caller's words, and the caller answers the front desk's."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from appliance.call_status import TERMINAL
from appliance.clock import parse_iso
from appliance.telephony.carrier.person import SCRIPTS_DIR
from tests.integration.conftest import requires_asterisk
from tests.support import ServerProcess

pytestmark = [requires_asterisk, pytest.mark.integration]

FRONT_DESK, DECLINES, MENU, ASKED_DESK = "+12025550107", "+12025550106", "+12025550108", "+12025550109"
# Asks for a person, then ("Hello? Is anyone there?", 4 s after the agent's words) talks to whoever answers.
CALLER = {**yaml.safe_load((SCRIPTS_DIR / "asks_for_person.yaml").read_text()), "max_seconds": 300}


def receptionist(destination: str, mode: str = "cold") -> dict:
    return {
        "name": "Sam",
        "type": "outbound",
        "persona": "You are Sam, the phone assistant of Bright Smile Dental.",
        "instructions": "Help the caller. When they ask for a person or the front desk, tell them you are "
        "transferring them and use transfer_call.",
        "first_message": "Hi, this is Sam from Bright Smile Dental. How can I help you today?",
        "max_duration_seconds": 300,
        "tools": [
            {
                "type": "builtin",
                "name": "transfer_call",
                "description": "Transfer the caller to a person at the front desk",
                "config": {"destination": destination, "mode": mode},
            }
        ],
    }


def run_call(appliance: ServerProcess, agent: dict, script: dict, to: str) -> tuple[dict, list[dict], list[dict]]:
    """Place a call with `script` as the person at +12025550101 (or `to`); the call, its transcript, and the
    carrier's person results written during it."""
    target = appliance.data_dir / "carrier" / "person.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(script))
    results = appliance.data_dir / "carrier" / "person-results.jsonl"
    before = len(results.read_text().splitlines()) if results.exists() else 0
    with appliance.client() as api:
        created = api.post("/v1/agents", json=agent)
        assert created.status_code == 201, created.text
        placed = api.post("/v1/calls", json={"agent_id": created.json()["id"], "to": to})
        assert placed.status_code == 201, placed.text
        call = appliance.wait_for(placed.json()["id"], TERMINAL, timeout=600)
        segments = api.get(f"/v1/calls/{call['id']}/transcript").json()["segments"]
    deadline = time.monotonic() + 20  # each person writes its results as its own leg closes
    while time.monotonic() < deadline:
        written = [json.loads(line) for line in results.read_text().splitlines()[before:]] if results.exists() else []
        if len(written) >= (2 if call["end_reason"] == "transferred" else 1):
            break
        time.sleep(0.5)
    return call, segments, written


def test_a_cold_transfer_puts_the_caller_through_to_the_front_desk_and_the_agent_leaves(
    appliance: ServerProcess,
) -> None:
    call, segments, people = run_call(appliance, receptionist(FRONT_DESK), CALLER, "+12025550101")
    lines = [(s["role"], s["text"]) for s in segments]
    tools = [json.loads(text) for role, text in lines if role == "tool"]
    assert call["status"] == "completed" and call["end_reason"] == "transferred", (call, lines)
    assert call["transferred_to"] == FRONT_DESK
    assert [(t["name"], t["outcome"]) for t in tools] == [("transfer_call", "ok")], lines
    assert lines[-1][0] in ("tool", "agent"), lines  # the agent said nothing to the caller after the bridge
    answered = (parse_iso(call["ended_at"]) - parse_iso(call["answered_at"])).total_seconds()
    assert abs(call["billed_duration_seconds"] - answered) <= 1, call  # the caller's answered leg, talk after included

    desk = next(p for p in people if p["script"] == "operator")
    caller = next(p for p in people if p["script"] == "asks_for_person")
    # Each answered the other after the bridge: the front desk's second line waits for speech it hears (the
    # caller's), and the caller's last line for a turn after its "Hello?" (the front desk's).
    assert len(desk["said"]) >= 2, desk
    assert caller["said"][-1] == CALLER["lines"][-1], caller


def test_a_warm_transfer_asks_the_front_desk_first_then_puts_the_caller_through(appliance: ServerProcess) -> None:
    call, segments, people = run_call(appliance, receptionist(ASKED_DESK, "warm"), CALLER, "+12025550101")
    lines = [(s["role"], s["text"]) for s in segments]
    tools = [json.loads(text) for role, text in lines if role == "tool"]
    with appliance.client() as api:
        events = api.get(f"/v1/calls/{call['id']}/events").json()["events"]
    timeline = [(e["at"][11:23], e["type"], e["data"]) for e in events]  # what the desk heard, and when
    assert call["status"] == "completed" and call["end_reason"] == "transferred", (call, lines, timeline, people)
    assert call["transferred_to"] == ASKED_DESK
    assert [(t["name"], t["outcome"]) for t in tools] == [("transfer_call", "ok")], lines
    assert tools[0]["arguments"]["reason"], tools  # what the agent told the desk the caller wants
    asked = [e["data"] for e in events if e["type"] == "consult"]
    assert asked and "press 1" in asked[0]["said"] and asked[0]["heard"], events  # the desk was asked, and said so
    assert any(role == "agent" and "press 1" in text for role, text in lines), lines  # the question is in the record

    desk = next(p for p in people if p["script"] == "warm_desk")
    caller = next(p for p in people if p["script"] == "asks_for_person")
    # The desk greeted the agent, took the call, and greeted the caller put through; the caller's last line
    # answered the desk (a turn after its "Hello?").
    assert desk["said"][:2] == ["Front desk, this is Dana speaking.", "Yes, sure, put them through."], desk
    assert len(desk["said"]) >= 3, desk
    assert caller["said"][-1] == CALLER["lines"][-1], caller


def test_a_declined_transfer_leaves_the_agent_on_the_line_to_say_so(appliance: ServerProcess) -> None:
    script = {**CALLER, "name": "declined", "lines": [CALLER["lines"][0], "Okay, never mind. Bye."]}
    call, segments, _ = run_call(appliance, receptionist(DECLINES), script, "+12025550101")
    lines = [(s["role"], s["text"]) for s in segments]
    tools = [(i, json.loads(text)) for i, (role, text) in enumerate(lines) if role == "tool"]
    assert call["status"] == "completed" and call["end_reason"] != "transferred", (call, lines)
    assert call["transferred_to"] is None
    assert tools and tools[0][1]["name"] == "transfer_call" and tools[0][1]["outcome"] == "error", lines
    assert "busy" in tools[0][1]["error"] or "declined" in tools[0][1]["error"], tools
    assert any(role == "agent" for role, _ in lines[tools[0][0] + 1 :]), lines  # it told the caller


def test_an_agent_works_a_phone_menu_with_send_dtmf(appliance: ServerProcess) -> None:
    agent = {
        "name": "Menu runner",
        "type": "outbound",
        "persona": "You are Sam, calling a supplier for Bright Smile Dental.",
        "instructions": "You have called the supplier's phone menu. Reach support: when the menu lists its "
        "options, press the key for support with send_dtmf. Then ask the person who answers about order 1042.",
        # Without an opening line the model, told to greet whoever answered, read out its call's facts to the
        # menu ("You have placed this call (+12025550108).") and pressed nothing; the menu plays again anyway.
        "first_message": "Hello, this is Sam from Bright Smile Dental.",
        "max_duration_seconds": 300,
        "tools": [{"type": "builtin", "name": "send_dtmf", "description": "Press keys on the phone keypad"}],
    }
    call, segments, people = run_call(appliance, agent, CALLER, MENU)
    lines = [(s["role"], s["text"]) for s in segments]
    pressed = [json.loads(text) for role, text in lines if role == "tool"]
    assert call["status"] == "completed", (call, lines)
    assert pressed and pressed[0]["name"] == "send_dtmf" and pressed[0]["outcome"] == "ok", lines
    assert pressed[0]["arguments"]["digits"] == "2", pressed
    desk = next(p for p in people if p["script"] == "operator")
    assert desk["ivr_choice"] == "2", desk  # the carrier's menu read the key over RFC 4733
