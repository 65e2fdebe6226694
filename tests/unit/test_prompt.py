"""The conversation's system prompt and the line that makes the model speak first."""

from __future__ import annotations

from datetime import datetime

from appliance.voice import prompt
from appliance.voice.brief import CallBrief

NOW = datetime(2026, 11, 30, 10, 0)


def brief(fields: dict) -> CallBrief:
    return CallBrief(**{"id": "call-1", "direction": "inbound", **fields})


def system_text(call: dict, *args: object) -> str:
    return "\n".join(m["content"] for m in prompt.system_messages(brief(call), *args))  # type: ignore[arg-type]


def test_a_persona_that_says_who_the_agent_is_is_not_prefixed_with_the_agents_label() -> None:
    call = {"agent_name": "Appointment confirmation", "persona": "You are Dana, the assistant of Bright Smile."}
    first = system_text(call, NOW).splitlines()[0]
    assert first == "You are Dana, the assistant of Bright Smile."


def test_a_persona_that_only_describes_keeps_the_agents_name() -> None:
    call = {"agent_name": "Sam", "persona": "A friendly receptionist at Bright Smile Dental."}
    assert system_text(call, NOW).startswith("You are Sam. A friendly receptionist")
    assert system_text({"agent_name": "Sam"}, NOW).startswith("You are Sam.")


def test_speaking_first_on_an_outbound_call_means_saying_who_calls_and_why() -> None:
    outbound = prompt.open_call(brief({"direction": "outbound"}))
    assert "placed this call" in outbound and "why you are calling" in outbound
    inbound = prompt.open_call(brief({"direction": "inbound"}))
    assert "answered this call" in inbound and "how you can help" in inbound


def test_the_agents_part_is_the_same_for_every_call_and_the_calls_own_facts_come_after_it() -> None:
    """The model's cache of the agent's part (270-610 tokens) then carries over to the agent's next call."""
    agent = {"agent_name": "Sam", "persona": "A receptionist.", "instructions": "Confirm.", "direction": "outbound"}
    one = prompt.system_messages(brief({**agent, "to_number": "+12025550101"}), NOW, tools=True)
    other = prompt.system_messages(
        brief({**agent, "to_number": "+12025550199", "context": {"time": "9"}}), NOW.replace(hour=3)
    )
    assert one[0]["content"].startswith(other[0]["content"]) and "You have tools" in one[0]["content"]
    assert "+12025550101" in one[1]["content"] and "+1202555" not in one[0]["content"]
    assert '"time": "9"' in other[1]["content"] and "03:" in other[1]["content"]
