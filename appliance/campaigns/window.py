"""Calling windows in the callee's own local time. A number's time zones come from `phonenumbers`; when a
number spans several (a US toll-free number, a mobile range), the window must be open in all of them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as number_zones

from appliance.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
LOOKAHEAD_DAYS = 8  # every weekday comes round within a week, plus a day for the zones' offsets


@dataclass(frozen=True)
class Window:
    start: time
    end: time
    days: frozenset[int]  # datetime.weekday() numbers

    def open_at(self, local: datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def as_json(self) -> dict[str, object]:
        return {
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
            "days": [DAYS[d] for d in sorted(self.days)],
        }


def parse_hhmm(value: str, field: str) -> time:
    if not isinstance(value, str) or not HHMM.match(value):
        raise InvalidInput(f"{field} must be a time HH:MM like 08:00, got {value!r}", field=field)
    return time(int(value[:2]), int(value[3:]))


def window_from_json(value: dict[str, Any]) -> Window:
    """A window as stored on a campaign (checked when the campaign was made)."""
    return Window(parse_hhmm(value["start"], "window.start"), parse_hhmm(value["end"], "window.end"),
                  frozenset(DAYS.index(d) for d in value["days"]))  # fmt: skip


def parse_window(start: str, end: str, days: list[str], hours: str) -> Window:
    """A campaign's window, refused (400 naming the field) when empty or outside `hours` (the campaign_hours
    setting: the legal limits, which no campaign may widen)."""
    first, last = parse_hhmm(start, "window.start"), parse_hhmm(end, "window.end")
    if last <= first:
        raise InvalidInput(f"window is empty: window.end {end} must be after window.start {start}", field="window.end")
    if not days:
        raise InvalidInput("window is empty: window.days names no day", field="window.days")
    numbers = set()
    for i, day in enumerate(days):
        if day not in DAYS:
            raise InvalidInput(f"window.days[{i}]: {day!r} is not one of {', '.join(DAYS)}", field=f"window.days[{i}]")
        numbers.add(DAYS.index(day))
    low, high = parse_hhmm(hours[:5], "campaign_hours"), parse_hhmm(hours[6:], "campaign_hours")
    if first < low:
        raise InvalidInput(
            f"window.start {start} is earlier than the calling hours allowed ({hours}, the campaign_hours setting)",
            field="window.start",
        )
    if last > high:
        raise InvalidInput(
            f"window.end {end} is later than the calling hours allowed ({hours}, the campaign_hours setting)",
            field="window.end",
        )
    return Window(first, last, frozenset(numbers))


def zones_for(number: str) -> list[ZoneInfo]:
    """The time zones a number may ring in; empty when phonenumbers cannot tell."""
    names = number_zones.time_zones_for_number(phonenumbers.parse(number, None))
    return [ZoneInfo(name) for name in names if name != number_zones.UNKNOWN_TIMEZONE]


def is_open(window: Window, zones: list[ZoneInfo], at: datetime) -> bool:
    """Open in every zone at the aware instant `at` (never open for a number with no known zone)."""
    return bool(zones) and all(window.open_at(at.astimezone(zone)) for zone in zones)


def next_open(window: Window, zones: list[ZoneInfo], at: datetime) -> datetime | None:
    """The first instant from `at` when the window is open in every zone, or None within the look-ahead.

    Where the windows of several zones overlap, the overlap begins when the last of them opens: so the
    candidates are each zone's window starts."""
    if is_open(window, zones, at):
        return at
    candidates = []
    for zone in zones:
        today = at.astimezone(zone).date()
        for offset in range(LOOKAHEAD_DAYS):
            start = datetime.combine(today + timedelta(days=offset), window.start, tzinfo=zone)
            if start > at:
                candidates.append(start)
    return next((c for c in sorted(candidates) if is_open(window, zones, c)), None)
