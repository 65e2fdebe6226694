"""`returns` → one JSON Schema. Accepts the hosted shorthand (`{"field": "boolean"}`) or a JSON Schema
object; every top-level field becomes nullable and required, so a result always has every field."""

from __future__ import annotations

import re
from typing import Any

import jsonschema

from appliance.errors import InvalidInput

SHORTHAND_TYPES = ("boolean", "string", "number", "integer")
SUPPORTED_TYPES = {"boolean", "string", "number", "integer", "object", "array", "null"}
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_FIELDS = 50
MAX_DEPTH = 5


def is_json_schema(returns: dict[str, Any]) -> bool:
    return returns.get("type") == "object" and isinstance(returns.get("properties"), dict)


def returns_to_schema(returns: Any) -> dict[str, Any]:
    """Validate `returns` and return the JSON Schema extraction must produce. Raises InvalidInput."""
    if not isinstance(returns, dict):
        raise InvalidInput("returns must be an object", field="returns")
    if is_json_schema(returns):
        return _from_json_schema(returns)
    if "type" in returns and not isinstance(returns.get("type"), str | None):
        raise InvalidInput('returns: a JSON Schema needs "type": "object" and "properties"', field="returns")
    if not returns:
        raise InvalidInput("returns must declare at least one field", field="returns")
    if len(returns) > MAX_FIELDS:
        raise InvalidInput(f"returns declares more than {MAX_FIELDS} fields", field="returns")
    properties: dict[str, Any] = {}
    for name, kind in returns.items():
        _check_name(name, "returns")
        if kind not in SHORTHAND_TYPES:
            raise InvalidInput(
                f"returns.{name} must be one of {', '.join(SHORTHAND_TYPES)} (or pass a JSON Schema object)",
                field=f"returns.{name}",
            )
        properties[name] = {"type": [kind, "null"]}
    return _object(properties)


def _from_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = ".".join(str(p) for p in exc.absolute_path)
        raise InvalidInput(
            f"returns is not a valid JSON Schema at {where or 'top level'}: {exc.message}",
            field=f"returns.{where}" if where else "returns",
        ) from None
    properties = schema["properties"]
    if not properties:
        raise InvalidInput("returns.properties must declare at least one field", field="returns.properties")
    if len(properties) > MAX_FIELDS:
        raise InvalidInput(f"returns declares more than {MAX_FIELDS} fields", field="returns.properties")
    out: dict[str, Any] = {}
    for name, sub in properties.items():
        _check_name(name, "returns.properties")
        path = f"returns.properties.{name}"
        _check_supported(sub, path, depth=1)
        out[name] = _nullable(sub)
    return _object(out)


def _check_name(name: str, where: str) -> None:
    if not FIELD_NAME.match(name):
        raise InvalidInput(
            f"{where}: field name {name!r} must start with a letter or _ and hold only letters, digits, _ (max 64)",
            field=f"{where}.{name}",
        )


def _check_supported(sub: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{path}: nesting deeper than {MAX_DEPTH} levels", field=path)
    if not isinstance(sub, dict):
        raise InvalidInput(f"{path} must be a schema object", field=path)
    if "$ref" in sub:
        raise InvalidInput(f"{path}: $ref is not supported; write the schema inline", field=path)
    kinds = sub.get("type")
    if kinds is None and "enum" not in sub:
        raise InvalidInput(f'{path} needs a "type" (or an "enum")', field=path)
    for kind in [kinds] if isinstance(kinds, str) else (kinds or []):
        if kind not in SUPPORTED_TYPES:
            raise InvalidInput(f"{path}: type {kind!r} is not supported", field=path)
    if "enum" in sub and (not isinstance(sub["enum"], list) or not sub["enum"]):
        raise InvalidInput(f"{path}.enum must be a non-empty list", field=f"{path}.enum")
    if kinds == "object" or (isinstance(kinds, list) and "object" in kinds):
        props = sub.get("properties")
        if not isinstance(props, dict) or not props:
            raise InvalidInput(f'{path}: an object needs "properties"', field=path)
        for name, child in props.items():
            _check_name(name, f"{path}.properties")
            _check_supported(child, f"{path}.properties.{name}", depth + 1)
    if kinds == "array" or (isinstance(kinds, list) and "array" in kinds):
        items = sub.get("items")
        if not isinstance(items, dict):
            raise InvalidInput(f'{path}: an array needs "items"', field=path)
        _check_supported(items, f"{path}.items", depth + 1)


def _nullable(sub: dict[str, Any]) -> dict[str, Any]:
    """A top-level field may always be null: the conversation may not have settled it."""
    out = dict(sub)
    kinds = out.get("type")
    if isinstance(kinds, str):
        out["type"] = [kinds] if kinds == "null" else [kinds, "null"]
    elif isinstance(kinds, list) and "null" not in kinds:
        out["type"] = [*kinds, "null"]
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
