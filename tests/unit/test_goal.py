import json

import jsonschema

from appliance.voice.goal import Goal, goal_fields

DELIVERY = {
    "type": "object",
    "properties": {
        "delivery_window": {"type": "string", "enum": ["morning", "afternoon"]},
        "gate_code": {"type": "string", "description": "the code of their gate"},
        "items": {"type": "array", "items": {"type": "string"}},
    },
}


def test_fields_come_from_the_shorthand_and_from_a_json_schema() -> None:
    assert [f.label for f in goal_fields({"confirmed": "boolean", "score": "integer", "note": "string"})] == [
        "confirmed (a yes/no answer)",
        "score (a number)",
        "note",
    ]
    labels = [f.label for f in goal_fields(DELIVERY)]
    assert labels[:2] == ["delivery window (morning or afternoon)", "gate code: the code of their gate"]
    assert goal_fields(None) == [] and goal_fields({}) == []


def test_the_next_step_is_the_first_field_not_yet_given_then_the_close() -> None:
    goal = Goal(goal_fields(DELIVERY))
    assert "delivery window (morning or afternoon)" in goal.next_step()
    goal.update(json.dumps({"delivery_window": "morning", "gate_code": None, "items": None}))
    assert "gate code" in goal.next_step() and "delivery window" not in goal.next_step()
    goal.update(json.dumps({"delivery_window": None, "gate_code": "4719", "items": "a box"}))
    assert goal.known["delivery_window"] == "morning"  # a later reading that drops a field does not unask it
    assert goal.pending == [] and "goodbye" in goal.next_step()


def test_a_cut_off_reading_changes_nothing() -> None:
    goal = Goal(goal_fields({"confirmed": "boolean"}))
    goal.update('{"confirmed": tr')
    goal.update('["not", "an object"]')
    assert [f.name for f in goal.pending] == ["confirmed"]


def test_the_tracking_schema_takes_each_field_or_null() -> None:
    schema = Goal(goal_fields(DELIVERY)).tracking_schema()
    jsonschema.validate({"delivery_window": "morning", "gate_code": None, "items": "a box"}, schema)
    for bad in ({"delivery_window": "evening", "gate_code": None, "items": None}, {"delivery_window": None}):
        try:
            jsonschema.validate(bad, schema)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(bad)
    shorthand = Goal(goal_fields({"confirmed": "boolean"})).tracking_schema()
    assert shorthand["properties"]["confirmed"] == {"anyOf": [{"type": "boolean"}, {"type": "null"}]}


def test_a_written_question_is_asked_as_written_and_only_questions_are_kept() -> None:
    goal = Goal(goal_fields({"confirmed": "boolean", "new_time": "string"}))
    goal.take_questions(
        json.dumps({"confirmed": "Can you still come on Thursday at ten?", "new_time": "I will book it."})
    )
    assert goal.questions == {"confirmed": "Can you still come on Thursday at ten?"}
    assert 'ask: "Can you still come on Thursday at ten?"' in goal.next_step()
    goal.update(json.dumps({"confirmed": False, "new_time": None}))
    assert "new time" in goal.next_step()  # no question was kept for it: its label stands in
    goal.take_questions("not json")
    assert goal.questions  # a broken answer keeps what was written before
