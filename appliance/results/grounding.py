"""Grounding: the post-check against invented values. A value the model gives for a `returns` field is kept
only when it appears, in some form, in what was said (digits or words, a weekday for a date, the person's own
spelling of an address); otherwise the field is null."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import structlog

from appliance.spoken_numbers import numbers_in

log = structlog.get_logger(__name__)


def _words(text: str) -> list[str]:
    return re.findall(r"[0-9a-z]+", text.casefold())


RELATIVE_DAYS = frozenset({"today", "tomorrow", "tonight"})
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})")
CLOCK_TIME = re.compile(r"^(\d{1,2}):(\d{2})")


class Sources:
    """What a value can be founded on: everything said in the call, what the person said, and what was
    known before it (the context)."""

    def __init__(self, transcript: Sequence[tuple[str, str]], context: dict[str, Any] | None) -> None:
        self.said = "\n".join(text for _, text in transcript)
        self.person = "\n".join(text for role, text in transcript if role == "user")
        leaves = list(_leaves(context or {}))
        self.context_numbers = {float(v) for v in leaves if _is_number(v)}
        self.context_text = "\n".join(str(v).casefold() for v in leaves if isinstance(v, str))


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) or (
        isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value) is not None
    )


def founded(value: Any, field: dict[str, Any], sources: Sources) -> bool:
    """Whether a number, date, time or text appears, in some form, in what was said. A value that was
    already known before the call (it is in the context) must be in the person's own words: the model
    copies context values into fields the call never settled. Booleans and enum values are judgements,
    not quotes, and are not checked."""
    if isinstance(value, bool) or "enum" in field or not isinstance(value, int | float | str):
        return True
    if isinstance(value, int | float):
        text = sources.person if float(value) in sources.context_numbers else sources.said
        return float(value) in numbers_in(text)
    text = sources.person if value.casefold() in sources.context_text else sources.said
    if m := ISO_DATE.match(value):
        try:
            day = date.fromisoformat(m.group(1))
        except ValueError:
            return False
        words = set(_words(text))
        # The day of the month, its weekday, or a relative day (which needs today's date to check).
        return day.day in numbers_in(text) or WEEKDAYS[day.weekday()] in words or bool(RELATIVE_DAYS & words)
    if m := CLOCK_TIME.match(value):
        hour, minute = int(m.group(1)), int(m.group(2))
        spoken = numbers_in(text)
        hours = {hour, hour % 12 or 12}
        return bool(hours & spoken) and (minute == 0 or minute in spoken)
    if EMAIL_ADDRESS.fullmatch(value.casefold()):
        # An address is founded on the person's own spelling of it: not on its words scattered over the call
        # (an "alex@example.com" made of the callee's name and the domain someone said), nor on an example
        # the agent gave ("like john.doe@example.com").
        return re.sub(r"[^0-9a-z]", "", value.casefold()) in _spelt(sources.person)
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 3 and 2 * len(digits) >= len(re.sub(r"\W", "", value)):
        # Codes and phone numbers (mostly digits, unlike "Friday 4 December at 10:00"): the digits in order,
        # spoken with gaps or not.
        return any(digits in re.sub(r"\D", "", line) for line in text.splitlines())
    # Half the value's words, a number among them said in digits or words ("10:00" for "ten").
    spoken, present = numbers_in(text), set(_words(text))
    words = [w for w in _words(value) if w != "00"]
    return sum(w in present or (w.isdigit() and float(w) in spoken) for w in words) >= len(words) / 2


def _spelt(text: str) -> str:
    """What was said, as an address's letters and digits: "tom dot becker at example dot com" spells
    "tombeckerexamplecom"."""
    return "".join(w for w in _words(text) if w not in SPOKEN_SYMBOLS)


def drop_unfounded(result: dict[str, Any], target: dict[str, Any], sources: Sources) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in result.items():
        field = target["properties"][name]
        if isinstance(value, dict):
            out[name] = drop_unfounded(value, field, sources)
            continue
        field = field["anyOf"][0] if "anyOf" in field else field
        if value is not None and not founded(value, field, sources):
            log.info("extraction.unfounded", field=name)  # not the value: logs must not hold what was said
            value = None
        out[name] = value
    return out


SPOKEN_SYMBOLS = {"at": "@", "dot": ".", "period": ".", "point": ".", "underscore": "_", "dash": "-", "hyphen": "-"}
EMAIL_ADDRESS = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+")


def written_address(text: str) -> str:
    """`text` as an e-mail address when it is one read out ("anna underscore lee at mail dot co dot uk"),
    else `text` unchanged."""
    words = [word.strip(",;:!?") for word in text.casefold().split()]
    address = "".join(SPOKEN_SYMBOLS.get(word, word) for word in words).strip(".")
    return address if EMAIL_ADDRESS.fullmatch(address) else text
