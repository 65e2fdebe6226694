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


def test_a_transfer_takes_an_e164_number_or_a_sip_uri_and_key_presses_get_a_digits_argument() -> None:
    transfer = {"type": "builtin", "name": "transfer_call", "config": {"destination": "+12025550107"}}
    sip = {"type": "builtin", "name": "desk", "builtin": "transfer_call", "config": {"destination": "sip:desk@pbx.lan"}}
    keys = {"type": "builtin", "name": "send_dtmf"}
    warm = {"type": "builtin", "name": "ask_desk", "builtin": "transfer_call",
            "config": {"destination": "+12025550109", "mode": "warm"}}  # fmt: skip
    checked = validate_tools([transfer, sip, keys, warm])
    assert checked[0]["config"] == {"destination": "+12025550107", "mode": "cold"}
    assert checked[1]["config"]["destination"] == "sip:desk@pbx.lan"
    assert checked[2]["parameters"]["required"] == ["digits"] and checked[2]["description"]  # what the model reads
    assert checked[3]["config"]["mode"] == "warm" and checked[3]["parameters"]["required"] == ["reason"]


def test_collecting_digits_ends_at_the_hash_key_after_8_s_by_default_or_as_configured() -> None:
    default, pin = validate_tools(
        [
            {"type": "builtin", "name": "collect_digits"},
            {"type": "builtin", "name": "pin", "builtin": "collect_digits", "config": {"count": 4, "terminator": ""}},
        ]
    )
    assert default["config"] == {"count": None, "terminator": "#", "timeout_seconds": 8} and default["description"]
    assert pin["config"] == {"count": 4, "terminator": "", "timeout_seconds": 8}


@pytest.mark.parametrize(
    ("tool", "field"),
    [
        ({"name": "transfer_call"}, "tools[0].config.destination"),
        ({"name": "transfer_call", "config": {"destination": "12345"}}, "tools[0].config.destination"),
        ({"name": "transfer_call", "config": {"destination": "+1"}}, "tools[0].config.destination"),
        ({"name": "transfer_call", "config": {"destination": "sip:a b@c"}}, "tools[0].config.destination"),
        ({"name": "transfer_call", "config": {"destination": "+12025550107", "mode": "hot"}}, "tools[0].config.mode"),
        (
            {"name": "transfer_call", "config": {"destination": "+12025550107", "whisper": "x"}},
            "tools[0].config.whisper",
        ),
        ({"name": "send_dtmf", "parameters": {"type": "object", "properties": {}}}, "tools[0].parameters"),
        ({"name": "collect_digits", "config": {"count": 0}}, "tools[0].config.count"),
        ({"name": "collect_digits", "config": {"count": "4"}}, "tools[0].config.count"),
        ({"name": "collect_digits", "config": {"terminator": "5"}}, "tools[0].config.terminator"),
        ({"name": "collect_digits", "config": {"timeout_seconds": 0.5}}, "tools[0].config.timeout_seconds"),
        ({"name": "collect_digits", "config": {"terminator": ""}}, "tools[0].config.count"),  # would never end
        ({"name": "collect_digits", "config": {"digits": 4}}, "tools[0].config.digits"),
        (
            {"name": "collect_digits", "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}}},
            "tools[0].parameters",
        ),
    ],
)
def test_each_bad_call_control_setting_is_named(tool: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_tools([{"type": "builtin", **tool}])
    assert exc.value.field == field and field in exc.value.message
