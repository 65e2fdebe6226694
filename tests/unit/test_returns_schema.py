from __future__ import annotations

import jsonschema
import pytest

from appliance.errors import InvalidInput
from appliance.results.schema import returns_to_schema
from appliance.store.calls import empty_result


def test_shorthand_becomes_a_schema_with_every_field_nullable_and_required() -> None:
    schema = returns_to_schema({"confirmed": "boolean", "count": "integer"})
    assert schema["required"] == ["confirmed", "count"]
    assert schema["properties"]["confirmed"] == {"type": ["boolean", "null"]}
    assert schema["additionalProperties"] is False
    jsonschema.validate({"confirmed": None, "count": 3}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"confirmed": "yes", "count": 3}, schema)


def test_json_schema_keeps_enums_descriptions_and_nesting() -> None:
    schema = returns_to_schema(
        {
            "type": "object",
            "properties": {
                "outcome": {"type": "string", "enum": ["yes", "no"], "description": "their answer"},
                "slot": {"type": "object", "properties": {"day": {"type": "string"}}},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        }
    )
    assert schema["properties"]["outcome"]["enum"] == ["yes", "no", None]
    assert schema["properties"]["outcome"]["description"] == "their answer"
    jsonschema.validate({"outcome": None, "slot": {"day": "Fri"}, "tags": ["a"]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"outcome": "maybe", "slot": None, "tags": None}, schema)


@pytest.mark.parametrize(
    ("returns", "field"),
    [
        ({"x": "date"}, "returns.x"),
        ({"x y": "string"}, "returns.x y"),
        ({}, "returns"),
        ("boolean", "returns"),
        ({"type": "object", "properties": {"x": {"type": "array"}}}, "returns.properties.x"),
        ({"type": "object", "properties": {"x": {"$ref": "#/a"}}}, "returns.properties.x"),
        ({"type": "object", "properties": {"x": {"type": "object"}}}, "returns.properties.x"),
        ({"type": "object", "properties": {"x": {"type": "strin"}}}, "returns.properties.x.type"),
    ],
)
def test_bad_returns_raise_naming_the_field(returns: object, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        returns_to_schema(returns)
    assert info.value.field == field


def test_empty_result_has_every_field_null() -> None:
    assert empty_result({"a": "string", "b": "number"}) == {"a": None, "b": None}
    assert empty_result(None) is None
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}, "when": {"type": "string"}}}
    assert empty_result(schema) == dict.fromkeys(returns_to_schema(schema)["properties"]) == {"ok": None, "when": None}
