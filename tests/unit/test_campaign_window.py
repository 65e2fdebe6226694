"""Calling windows in the callee's local time: parsing (empty or too wide → 400 naming the field), time zones
from the number, the most restrictive of several zones, the next opening."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from appliance.campaigns.window import is_open, next_open, parse_window, zones_for
from appliance.errors import InvalidInput

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
NEW_YORK, LOS_ANGELES = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")


def test_a_washington_number_rings_in_new_york_time() -> None:
    assert [z.key for z in zones_for("+12025550101")] == ["America/New_York"]
    assert [z.key for z in zones_for("+14155550123")] == ["America/Los_Angeles"]


def test_a_number_without_a_known_zone_has_none_and_is_never_open() -> None:
    window = parse_window("08:00", "21:00", ALL_DAYS, "08:00-21:00")
    assert not is_open(window, [], datetime.now(UTC))


def test_the_window_applies_in_the_callees_local_time() -> None:
    window = parse_window("08:00", "21:00", ALL_DAYS, "08:00-21:00")
    at = datetime(2026, 6, 3, 13, 30, tzinfo=UTC)  # 09:30 in New York, 06:30 in Los Angeles
    assert is_open(window, [NEW_YORK], at)
    assert not is_open(window, [LOS_ANGELES], at)


def test_several_zones_take_the_most_restrictive() -> None:
    window = parse_window("08:00", "21:00", ALL_DAYS, "08:00-21:00")
    at = datetime(2026, 6, 3, 13, 30, tzinfo=UTC)
    assert not is_open(window, [NEW_YORK, LOS_ANGELES], at)
    # It opens when Los Angeles reaches 08:00 (15:00 UTC), the later of the two openings.
    assert next_open(window, [NEW_YORK, LOS_ANGELES], at) == datetime(2026, 6, 3, 15, 0, tzinfo=UTC)


def test_a_closed_window_opens_at_the_next_allowed_day() -> None:
    window = parse_window("09:00", "17:00", ["mon", "tue", "wed", "thu", "fri"], "08:00-21:00")
    friday_evening = datetime(2026, 6, 5, 22, 0, tzinfo=UTC)  # 18:00 Friday in New York
    opens = next_open(window, [NEW_YORK], friday_evening)
    assert opens is not None and opens.astimezone(NEW_YORK) == datetime(2026, 6, 8, 9, 0, tzinfo=NEW_YORK)


def test_zones_that_share_no_open_hour_never_open() -> None:
    window = parse_window("09:00", "10:00", ALL_DAYS, "08:00-21:00")
    tokyo = ZoneInfo("Asia/Tokyo")
    assert next_open(window, [NEW_YORK, tokyo], datetime(2026, 6, 3, 12, 0, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("start", "end", "days", "field"),
    [
        ("10:00", "10:00", ALL_DAYS, "window.end"),
        ("12:00", "09:00", ALL_DAYS, "window.end"),
        ("08:00", "21:00", [], "window.days"),
        ("08:00", "21:00", ["monday"], "window.days[0]"),
        ("8am", "21:00", ALL_DAYS, "window.start"),
        ("07:00", "21:00", ALL_DAYS, "window.start"),
        ("08:00", "22:00", ALL_DAYS, "window.end"),
    ],
)
def test_an_empty_or_unlawful_window_is_refused_naming_the_field(
    start: str, end: str, days: list[str], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_window(start, end, days, "08:00-21:00")
    assert caught.value.field == field
