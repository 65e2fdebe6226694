"""DID ranges a trunk offers (`did_ranges`: "+14155550100-+14155550199" or one number), and the test
carrier's own range: what `GET /v1/numbers/available` lists and `POST /v1/numbers/purchase` takes."""

from __future__ import annotations

from collections.abc import Iterator

from appliance import validation
from appliance.errors import InvalidInput

MAX_RANGES = 50
MAX_RANGE_SIZE = 10_000  # DID blocks come in tens to thousands; a bound keeps a filtered search short
# The loopback carrier can call any DID of the box; these are offered without declaring them. They avoid
# the carrier's own numbers (+12025550101-0106 behave as in the carrier table, 0199 is its caller ID).
LOOPBACK_RANGE = "+12025550110-+12025550189"


def check_ranges(ranges: list[str], field: str = "did_ranges") -> list[str]:
    """Each range parsed (400 naming the bad one), returned in a canonical form."""
    if len(ranges) > MAX_RANGES:
        raise InvalidInput(f"{field}: at most {MAX_RANGES} ranges", field=field)
    return [_canonical(value, f"{field}[{i}]") for i, value in enumerate(ranges)]


def _canonical(value: str, where: str) -> str:
    first, last = parse_range(value, where)
    return first if first == last else f"{first}-{last}"


def parse_range(value: str, where: str) -> tuple[str, str]:
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a string like +14155550100-+14155550199", field=where)
    first, _, last = value.partition("-")
    first = validation.e164(first.strip(), where)
    last = validation.e164(last.strip(), where) if last else first
    if len(first) != len(last) or int(last[1:]) < int(first[1:]):
        raise InvalidInput(f"{where}: {value!r} must run from a number up to a number of the same length", field=where)
    if int(last[1:]) - int(first[1:]) >= MAX_RANGE_SIZE:
        raise InvalidInput(f"{where}: a range holds at most {MAX_RANGE_SIZE} numbers", field=where)
    return first, last


def numbers_in(value: str) -> Iterator[str]:
    """Every number of a (checked) range, in order."""
    first, last = parse_range(value, "did_ranges")
    for n in range(int(first[1:]), int(last[1:]) + 1):
        yield "+" + str(n)


def contains(value: str, e164: str) -> bool:
    first, last = parse_range(value, "did_ranges")
    return len(e164) == len(first) and int(first[1:]) <= int(e164[1:]) <= int(last[1:])
