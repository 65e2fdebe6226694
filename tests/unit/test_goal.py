from datetime import datetime

from appliance.voice import prompt
from appliance.voice.brief import CallBrief
from appliance.voice.goal import goal_fields

DELIVERY = {
    "type": "object",
    "properties": {
        "delivery_window": {"type": "string", "enum": ["morning", "afternoon"]},
        "gate_code": {"type": "string", "description": "the code of their gate"},
    },
}


def brief(fields: dict) -> CallBrief:
    return CallBrief(**{"id": "call-1", "direction": "inbound", **fields})


def system_text(call: dict, *args: object) -> str:
    return "\n".join(m["content"] for m in prompt.system_messages(brief(call), *args))  # type: ignore[arg-type]


def test_fields_come_from_the_shorthand_and_from_a_json_schema() -> None:
    assert [f.label for f in goal_fields({"confirmed": "boolean", "score": "integer", "note": "string"})] == [
        "confirmed (a yes/no answer)",
        "score (a number)",
        "note",
    ]
    labels = [f.label for f in goal_fields(DELIVERY)]
    assert labels == ["delivery window (morning or afternoon)", "gate code: the code of their gate"]
    assert goal_fields(None) == [] and goal_fields({}) == []


def test_the_goal_is_in_the_prompt_and_the_opening_asks_its_first_field() -> None:
    call = {"agent_name": "Max", "direction": "outbound", "instructions": "Arrange the delivery."}
    goal = goal_fields(DELIVERY)
    system = system_text(call, datetime(2026, 12, 1, 9, 0), goal)
    assert "find out from the person: delivery window (morning or afternoon); gate code" in system
    assert "find out" not in system_text(call, datetime(2026, 12, 1, 9, 0), [])
    assert "learn delivery window (morning or afternoon)" in prompt.open_call(brief(call), goal)
    assert "learn" not in prompt.open_call(brief(call), [])
