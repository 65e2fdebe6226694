"""Agent tools: the built-in `end_call` and HTTP tools with `read` / `confirm_first_write` policies."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import jsonschema

from appliance import validation
from appliance.errors import InvalidInput

BUILTINS = ("end_call",)
TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
MAX_TOOLS = 16


def validate_tools(tools: list[dict[str, Any]], url_allowlist: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Check each tool (HTTP tool URLs against the `url_allowlist` setting, like webhook URLs) and return
    them normalised (defaults filled in)."""
    if len(tools) > MAX_TOOLS:
        raise InvalidInput(f"tools: at most {MAX_TOOLS} tools per agent", field="tools")
    seen: set[str] = set()
    out = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        kind = tool.get("type")
        name = tool.get("name")
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            raise InvalidInput(f"{where}.name must match {TOOL_NAME.pattern}", field=f"{where}.name")
        if name in seen:
            raise InvalidInput(f"{where}.name {name!r} is used twice", field=f"{where}.name")
        seen.add(name)
        description = tool.get("description", "")
        if not isinstance(description, str) or len(description) > 1000:
            raise InvalidInput(
                f"{where}.description must be a string of at most 1000 characters", field=f"{where}.description"
            )
        if kind == "builtin":
            _only(tool, {"type", "name", "description"}, where)
            if name not in BUILTINS:
                raise InvalidInput(f"{where}.name: built-in tools are {', '.join(BUILTINS)}", field=f"{where}.name")
            out.append({"type": "builtin", "name": name, "description": description})
        elif kind == "http":
            _only(tool, {"type", "name", "description", "url", "method", "policy", "parameters", "headers"}, where)
            url = tool.get("url")
            if not isinstance(url, str):
                raise InvalidInput(f"{where}.url is required", field=f"{where}.url")
            validation.allowed_url(url, f"{where}.url", url_allowlist)
            method = tool.get("method", "POST")
            if method not in ("GET", "POST"):
                raise InvalidInput(f"{where}.method must be GET or POST", field=f"{where}.method")
            policy = tool.get("policy", "read")
            if policy not in ("read", "confirm_first_write"):
                raise InvalidInput(f"{where}.policy must be read or confirm_first_write", field=f"{where}.policy")
            parameters = tool.get("parameters", {"type": "object", "properties": {}})
            if not isinstance(parameters, dict) or parameters.get("type") != "object":
                raise InvalidInput(
                    f"{where}.parameters must be a JSON Schema with type object", field=f"{where}.parameters"
                )
            try:
                jsonschema.Draft202012Validator.check_schema(parameters)
            except jsonschema.SchemaError as exc:
                raise InvalidInput(f"{where}.parameters: {exc.message}", field=f"{where}.parameters") from None
            headers = tool.get("headers", {})
            if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
            ):
                raise InvalidInput(f"{where}.headers must map strings to strings", field=f"{where}.headers")
            out.append(
                {
                    "type": "http",
                    "name": name,
                    "description": description,
                    "url": url,
                    "method": method,
                    "policy": policy,
                    "parameters": parameters,
                    "headers": headers,
                }
            )
        else:
            raise InvalidInput(f"{where}.type must be builtin or http", field=f"{where}.type")
    return out


def _only(tool: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(tool) - allowed)
    if unknown:
        raise InvalidInput(f"{where} has unknown field(s): {', '.join(unknown)}", field=f"{where}.{unknown[0]}")
