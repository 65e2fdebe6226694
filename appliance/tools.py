"""Agent tools: the built-in `end_call` and HTTP tools with `read` / `confirm_first_write` policies.

The accepted shape is the hosted SDK's tool DSL byte for byte (`tool.http(...)`: `timeout_ms`, `headers`;
`tool.builtin(...)`: `builtin`, `config`; both with `policy` and a JSON Schema `parameters`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import jsonschema

from appliance import validation
from appliance.errors import InvalidInput

# Each built-in and the `config` keys it takes (end_call takes none).
BUILTINS: dict[str, frozenset[str]] = {"end_call": frozenset()}
TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
MAX_TOOLS = 16
POLICIES = ("read", "confirm_first_write")
TIMEOUT_MS = (100, 30_000)
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
    return {**out, "builtin": builtin, "config": config}


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
