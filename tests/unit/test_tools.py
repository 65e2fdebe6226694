"""Tool definitions as the hosted SDK's DSL writes them: accepted as sent, each field checked by name."""

from __future__ import annotations

import pytest
from callingbox import tool

from appliance.errors import InvalidInput
from appliance.tools import validate_tools


def test_sdk_http_and_builtin_tools_are_kept_as_sent_with_defaults_filled_in() -> None:
    http = tool.http(
        name="lookup",
        description="Find a booking",
        url="https://crm.example/lookup",
        timeout_ms=1500,
        parameters=tool.object(date=tool.string(description="ISO date"), note=tool.string(nullable=True)),
    ).to_wire()
    end = tool.builtin(name="wrap_up", builtin="end_call", description="Hang up").to_wire()
    checked = validate_tools([http, end])
    assert checked[0] == {**http, "method": "POST", "headers": {}}
    assert (
        checked[0]["parameters"]["required"] == ["date"] and checked[0]["parameters"]["additionalProperties"] is False
    )
    assert checked[1] == {**end, "config": {}}
    # Written by hand without the DSL's extras, defaults are filled in.
    bare = validate_tools(
        [{"type": "http", "name": "t", "url": "https://x.example"}, {"type": "builtin", "name": "end_call"}]
    )
    assert bare[0]["timeout_ms"] == 5000 and bare[0]["policy"] == "read" and bare[1]["builtin"] == "end_call"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timeout_ms": 50}, "tools[0].timeout_ms"),
        ({"timeout_ms": 2.5}, "tools[0].timeout_ms"),
        ({"timeout_ms": True}, "tools[0].timeout_ms"),
        ({"policy": "write"}, "tools[0].policy"),
        ({"parameters": {"type": "object", "properties": {"a": {"type": "colour"}}}}, "tools[0].parameters"),
        ({"headers": {"X": 1}}, "tools[0].headers"),
        ({"retries": 2}, "tools[0].retries"),
    ],
)
def test_each_bad_http_field_is_named(changes: dict, field: str) -> None:
    wire = tool.http(name="t", description="", url="https://x.example").to_wire()
    with pytest.raises(InvalidInput) as exc:
        validate_tools([{**wire, **changes}])
    assert exc.value.field == field and field in exc.value.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"builtin": "teleport"}, "tools[0].builtin"),
        ({"config": {"delay": 1}}, "tools[0].config.delay"),
        ({"config": []}, "tools[0].config"),
        ({"url": "https://x.example"}, "tools[0].url"),
    ],
)
def test_each_bad_builtin_field_is_named(changes: dict, field: str) -> None:
    wire = tool.builtin(name="end_call", description="").to_wire()
    with pytest.raises(InvalidInput) as exc:
        validate_tools([{**wire, **changes}])
    assert exc.value.field == field and field in exc.value.message
