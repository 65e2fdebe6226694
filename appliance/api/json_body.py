"""Checks on a JSON request body before any handler decodes it: UTF-8, nesting depth, duplicate keys.

msgspec (Litestar's decoder) raises UnicodeDecodeError or RecursionError on the first two, which would
surface as 500s, and takes the last of duplicate keys silently; here each becomes a 400 naming the problem.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # a `returns` JSON Schema nests two levels per object; 64 leaves room for 30 of them


class BadJsonBody(ValueError):
    """The body is not acceptable JSON; the message says why (and which key, for a duplicate)."""


def check_json_body(body: bytes) -> None:
    """Raise BadJsonBody unless `body` is UTF-8 JSON nested at most MAX_DEPTH deep with no repeated key.
    Syntax errors are left to the handler's decoder, whose message names the position."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJsonBody(f"request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_refuse_duplicates)
    except RecursionError:
        raise BadJsonBody(f"request body nests deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError:
        return
    if _depth(value) > MAX_DEPTH:
        raise BadJsonBody(f"request body nests deeper than {MAX_DEPTH} levels")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise BadJsonBody(f"duplicate key in request body: {key}")
        out[key] = value
    return out


def _depth(value: Any) -> int:
    """Nesting depth of decoded JSON, without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest
