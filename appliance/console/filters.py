"""Jinja filters for how the console shows times, durations and event details."""

from __future__ import annotations

import json
from typing import Any

from appliance.clock import parse_iso


def when(value: str | None) -> str:
    """An ISO timestamp as `2026-11-25 06:40:12` (UTC, as stored)."""
    return parse_iso(value).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def clock(value: str | None) -> str:
    return parse_iso(value).strftime("%H:%M:%S.%f")[:-3] if value else ""


def seconds(value: int | float | None) -> str:
    if value is None:
        return "—"
    minutes, secs = divmod(int(value), 60)
    return f"{minutes}:{secs:02d}" if minutes else f"{secs} s"


def details(data: dict[str, Any]) -> str:
    """An event's data on one line, `key=value`, long values cut."""
    parts = []
    for key, value in data.items():
        shown = value if isinstance(value, str) else json.dumps(value)
        parts.append(f"{key}={shown[:80]}")
    return "  ".join(parts)


def tool_call(text: str) -> str:
    """A tool segment (JSON `{name, arguments, outcome, ms, error?}`) as a line: `lookup(day=Friday) → ok, 58 ms`."""
    try:
        call = json.loads(text)
        arguments = ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in call["arguments"].items())
        line = f"{call['name']}({arguments}) → {call['outcome']}, {call['ms']} ms"
    except (ValueError, KeyError, TypeError, AttributeError):
        return text  # not a tool call's record: shown as stored
    return f"{line}: {call['error']}" if call.get("error") else line


FILTERS = {"when": when, "clock": clock, "seconds": seconds, "details": details, "tool_call": tool_call}
