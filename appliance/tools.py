"""Agent tools: the built-ins (`end_call`, `transfer_call`, `send_dtmf`) and HTTP tools with `read` /
`confirm_first_write` policies.

The accepted shape is the hosted SDK's tool DSL byte for byte (`tool.http(...)`: `timeout_ms`, `headers`;
`tool.builtin(...)`: `builtin`, `config`; both with `policy` and a JSON Schema `parameters`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import jsonschema

from appliance import validation
from appliance.errors import InvalidInput

# Each built-in and the `config` keys it takes. transfer_call: `destination` (E.164, or a SIP URI reached over
# the call's trunk) and `mode` (`cold`: the caller is put through and the agent leaves the call; `warm`: the
# caller holds while the agent asks the destination, who takes the call by saying yes or pressing 1).
BUILTINS: dict[str, frozenset[str]] = {
    "end_call": frozenset(),
    "transfer_call": frozenset({"destination", "mode"}),
    "send_dtmf": frozenset(),
    "collect_digits": frozenset({"count", "terminator", "timeout_seconds"}),
}
TRANSFER_MODES = ("cold", "warm")
BUILTIN_DESCRIPTIONS = {
    "transfer_call": "Transfer the caller to a person",
    "send_dtmf": "Press keys on the phone keypad, to choose in a phone menu",
    "collect_digits": "Wait for the caller to type digits on their phone keypad (a PIN, an account number); "
    "ask them to type first. Gives the digits typed",
}
# collect_digits: the keys typed end at `count` digits, at the `terminator` key, or `timeout_seconds` after the
# last key (or the start, with none). 8 s: time to find a card and start typing.
COLLECT_DEFAULTS = {"count": None, "terminator": "#", "timeout_seconds": 8}
COLLECT_TERMINATORS = ("#", "*", "")
COLLECT_TIMEOUT_S = (1, 60)

SIP_URI = re.compile(r"^sips?:[A-Za-z0-9_.!~*'()%+-]+@[A-Za-z0-9.-]+(:\d{1,5})?$")
KEYS = re.compile(r"^[0-9*#A-Da-d,]{1,32}$")  # a comma: half a second's pause (between menus)
# What the model writes for send_dtmf when the agent gives no `parameters` of its own.
DTMF_PARAMETERS = {
    "type": "object",
    "properties": {
        "digits": {
            "type": "string",
            "pattern": KEYS.pattern,
            "description": "the keys to press, 0-9 * #; a comma waits half a second",
        }
    },
    "required": ["digits"],
    "additionalProperties": False,
}
# What the model writes for a warm transfer_call with no `parameters` of its own: what the agent tells the
# destination about the caller.
WARM_TRANSFER_PARAMETERS = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "maxLength": 120, "description": "what the caller wants, in a few words"}
    },
    "required": ["reason"],
    "additionalProperties": False,
}
TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
MAX_TOOLS = 16
POLICIES = ("read", "confirm_first_write")
TIMEOUT_MS = (500, 30_000)  # the bounds issue 19 set for in-call tools
DEFAULT_TIMEOUT_MS = 5_000
HTTP_FIELDS = {"type", "name", "description", "url", "method", "policy", "parameters", "headers", "timeout_ms"}
BUILTIN_FIELDS = {"type", "name", "description", "builtin", "policy", "parameters", "config"}


def validate_tools(tools: list[dict[str, Any]], url_allowlist: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Check each tool (HTTP tool URLs against the `url_allowlist` setting, like webhook URLs) and return
    them normalised (defaults filled in)."""
    if len(tools) > MAX_TOOLS:
        raise InvalidInput(f"tools: at most {MAX_TOOLS} tools per agent", field="tools")
    seen: set[str] = set()
    out = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise InvalidInput(f"{where} must be an object", field=where)
        name = tool.get("name")
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            raise InvalidInput(f"{where}.name must match {TOOL_NAME.pattern}", field=f"{where}.name")
        if name in seen:
            raise InvalidInput(f"{where}.name {name!r} is used twice", field=f"{where}.name")
        seen.add(name)
        kind = tool.get("type")
        if kind == "builtin":
            out.append(_builtin(tool, name, where))
        elif kind == "http":
            out.append(_http(tool, name, where, url_allowlist))
        else:
            raise InvalidInput(f"{where}.type must be builtin or http", field=f"{where}.type")
    return out


def _common(tool: dict[str, Any], name: str, where: str, allowed: set[str]) -> dict[str, Any]:
    unknown = sorted(set(tool) - allowed)
    if unknown:
        names = ", ".join(f"{where}.{u}" for u in unknown)
        raise InvalidInput(f"unknown field: {names}", field=f"{where}.{unknown[0]}")
    description = tool.get("description", "")
    if not isinstance(description, str) or len(description) > 1000:
        raise InvalidInput(
            f"{where}.description must be a string of at most 1000 characters", field=f"{where}.description"
        )
    policy = tool.get("policy", "read")
    if policy not in POLICIES:
        raise InvalidInput(f"{where}.policy must be read or confirm_first_write", field=f"{where}.policy")
    return {
        "type": tool["type"],
        "name": name,
        "description": description,
        "policy": policy,
        "parameters": _parameters(tool, where),
    }


def _parameters(tool: dict[str, Any], where: str) -> dict[str, Any]:
    parameters = tool.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        raise InvalidInput(f"{where}.parameters must be a JSON Schema with type object", field=f"{where}.parameters")
    try:
        jsonschema.Draft202012Validator.check_schema(parameters)
    except jsonschema.SchemaError as exc:
        raise InvalidInput(f"{where}.parameters: {exc.message}", field=f"{where}.parameters") from None
    return parameters


def _builtin(tool: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    out = _common(tool, name, where, BUILTIN_FIELDS)
    # The SDK names the built-in in `builtin` (defaulting to the tool's name), so a tool may be renamed.
    builtin = tool.get("builtin", name)
    if builtin not in BUILTINS:
        field = f"{where}.builtin" if "builtin" in tool else f"{where}.name"
        raise InvalidInput(f"{field}: built-in tools are {', '.join(BUILTINS)}", field=field)
    config = tool.get("config", {})
    if not isinstance(config, dict):
        raise InvalidInput(f"{where}.config must be an object", field=f"{where}.config")
    unknown = sorted(set(config) - BUILTINS[builtin])
    if unknown:
        raise InvalidInput(
            f"{where}.config.{unknown[0]}: the {builtin} built-in takes no such setting",
            field=f"{where}.config.{unknown[0]}",
        )
    out["description"] = out["description"] or BUILTIN_DESCRIPTIONS.get(builtin, "")  # what the model reads
    if builtin == "transfer_call":
        config = _transfer_config(config, where)
        if config["mode"] == "warm" and "parameters" not in tool:
            out["parameters"] = WARM_TRANSFER_PARAMETERS
    if builtin == "collect_digits":
        config = _collect_config(config, where)
        if out["parameters"].get("properties"):  # the model writes nothing: the agent's config decides
            raise InvalidInput(
                f"{where}.parameters: collect_digits takes no parameters (set count, terminator and "
                "timeout_seconds in config)",
                field=f"{where}.parameters",
            )
    if builtin == "send_dtmf":
        if "parameters" not in tool:
            out["parameters"] = DTMF_PARAMETERS
        elif out["parameters"].get("properties", {}).get("digits", {}).get("type") != "string":
            raise InvalidInput(
                f"{where}.parameters: send_dtmf needs a string property `digits`", field=f"{where}.parameters"
            )
    return {**out, "builtin": builtin, "config": config}


def _collect_config(config: dict[str, Any], where: str) -> dict[str, Any]:
    out = {**COLLECT_DEFAULTS, **config}
    count, terminator, timeout = out["count"], out["terminator"], out["timeout_seconds"]
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 32):
        raise InvalidInput(f"{where}.config.count must be a whole number from 1 to 32", field=f"{where}.config.count")
    if terminator not in COLLECT_TERMINATORS:
        raise InvalidInput(
            f'{where}.config.terminator must be "#", "*" or "" (none)', field=f"{where}.config.terminator"
        )
    low, high = COLLECT_TIMEOUT_S
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not low <= timeout <= high:
        field = f"{where}.config.timeout_seconds"
        raise InvalidInput(f"{field} must be a number of seconds from {low} to {high}", field=field)
    if count is None and not terminator:
        raise InvalidInput(
            f"{where}.config.count: collect_digits needs a count or a terminator to know when the caller is done",
            field=f"{where}.config.count",
        )
    return out


def _transfer_config(config: dict[str, Any], where: str) -> dict[str, Any]:
    destination = config.get("destination")
    field = f"{where}.config.destination"
    if not isinstance(destination, str) or not destination:
        raise InvalidInput(f"{field} is required: an E.164 number or a SIP URI", field=field)
    if destination.startswith("+"):
        destination = validation.e164(destination, field)
    elif not SIP_URI.match(destination):
        raise InvalidInput(
            f"{field} must be an E.164 number or a SIP URI (sip:user@host), got {destination!r}", field=field
        )
    mode = config.get("mode", "cold")
    if mode not in TRANSFER_MODES:
        raise InvalidInput(f"{where}.config.mode must be cold or warm, got {mode!r}", field=f"{where}.config.mode")
    return {"destination": destination, "mode": mode}


def _http(tool: dict[str, Any], name: str, where: str, url_allowlist: Sequence[str]) -> dict[str, Any]:
    out = _common(tool, name, where, HTTP_FIELDS)
    url = tool.get("url")
    if not isinstance(url, str):
        raise InvalidInput(f"{where}.url is required", field=f"{where}.url")
    validation.allowed_url(url, f"{where}.url", url_allowlist)
    method = tool.get("method", "POST")
    if method not in ("GET", "POST"):
        raise InvalidInput(f"{where}.method must be GET or POST", field=f"{where}.method")
    headers = tool.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise InvalidInput(f"{where}.headers must map strings to strings", field=f"{where}.headers")
    timeout_ms = tool.get("timeout_ms", DEFAULT_TIMEOUT_MS)
    low, high = TIMEOUT_MS
    if type(timeout_ms) is not int or not low <= timeout_ms <= high:
        raise InvalidInput(
            f"{where}.timeout_ms must be an integer from {low} to {high}, got {timeout_ms!r}",
            field=f"{where}.timeout_ms",
        )
    return {**out, "url": url, "method": method, "headers": headers, "timeout_ms": timeout_ms}
