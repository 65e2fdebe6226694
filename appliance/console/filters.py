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


FILTERS = {"when": when, "clock": clock, "seconds": seconds, "details": details}
