"""The conversation's system prompt and the line that makes the model speak first."""

from __future__ import annotations

from datetime import datetime

from appliance.voice import prompt

NOW = datetime(2026, 11, 30, 10, 0)


def test_a_persona_that_says_who_the_agent_is_is_not_prefixed_with_the_agents_label() -> None:
    call = {"agent_name": "Appointment confirmation", "persona": "You are Dana, the assistant of Bright Smile."}
    first = prompt.system_prompt(call, NOW).splitlines()[0]
    assert first == "You are Dana, the assistant of Bright Smile."


def test_a_persona_that_only_describes_keeps_the_agents_name() -> None:
    call = {"agent_name": "Sam", "persona": "A friendly receptionist at Bright Smile Dental."}
    assert prompt.system_prompt(call, NOW).startswith("You are Sam. A friendly receptionist")
    assert prompt.system_prompt({"agent_name": "Sam"}, NOW).startswith("You are Sam.")


def test_speaking_first_on_an_outbound_call_means_saying_who_calls_and_why() -> None:
    outbound = prompt.open_call({"direction": "outbound"})
    assert "placed this call" in outbound and "why you are calling" in outbound
    inbound = prompt.open_call({"direction": "inbound"})
    assert "answered this call" in inbound and "how you can help" in inbound
