"""What the person's answer to a field's own question settles, for the fields the model left null.

During the call the agenda (voice/agenda.py) knows which `returns` field each prepared question asked and
which caller turn answered it: a `field_answered` event. Reading the whole transcript, the default 1.5B
model leaves hedged but clear answers null — "Let me think. Yes, I think I can come." (confirmed), "Maybe a
seven." (score), "Maybe a thousand a month." (budget): 7 of 28 fields missed on Piper's voice, none
invented (bench/scenarios.py, 2026-12-03); and it counts "I'll pay it on Friday" from the wrong day, which
the post-check then drops (pay_date missed in all 8 payment calls of the next run). Read from the answer
alone, with rules that refuse anything undecided, mixed or ambiguous, such an answer fills its field; a
value the model gave is never changed.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import structlog

from appliance.results.grounding import WEEKDAYS
from appliance.spoken_numbers import NUMBER_WORDS, SCALES

log = structlog.get_logger(__name__)

YES_WORDS = frozenset("yes yeah yep yup sure absolutely certainly definitely correct".split())
NO_WORDS = frozenset("no nope nah not never can't cannot won't don't isn't aren't wasn't couldn't wouldn't".split())
DATE_NAME = re.compile(r"(^|_)(date|day)$")  # "pay_date", "delivery_day": a date field, in shorthand too
MONTHS = frozenset("january february march april may june july august september october november december".split())
# Not an answer yet, whatever else it says: "not sure", "I'd have to ask my husband", "it depends".
UNDECIDED = re.compile(
    r"\b(not sure|unsure|don't know|do not know|no idea|depends|ask (my|her|his|the|them)|check with|"
    r"call (you )?back|get back to you|not yet)\b"
)


def settle(
    result: dict[str, Any] | None, schema: dict[str, Any], answers: dict[str, str], today: date
) -> dict[str, Any] | None:
    """`result` with each null top-level field filled from `answers` (field → the person's answer to its
    question) where that answer alone settles it: a yes or a no for a boolean, the one option it names for
    an enum, the one number it says for a number within the field's bounds, the one day it names ("on
    Friday", "today") for a date counted from `today`, the day of the call."""
    if result is None or not answers:
        return result
    out = dict(result)
    for name, answer in answers.items():
        field = schema.get("properties", {}).get(name)
        if not isinstance(field, dict) or out.get(name) is not None:
            continue
        value = answer_value(answer, name, field, today)
        if value is not None:
            out[name] = value
            log.info("extraction.settled_by_answer", field=name, value=value)
    return out


def answer_value(answer: str, name: str, field: dict[str, Any], today: date) -> Any:
    said = answer.casefold().replace("\u2019", "'")
    if UNDECIDED.search(said):
        return None
    kinds = _kinds(field)
    if "enum" in field:
        return _option(said, [v for v in field["enum"] if isinstance(v, str)])
    if field.get("format") == "date" or ("string" in kinds and DATE_NAME.search(name)):
        day = spoken_day(said, today)
        return None if day is None else day.isoformat()
    if "boolean" in kinds:
        return yes_or_no(said)
    if kinds & {"integer", "number"}:
        number = spoken_number(said)
        if number is None or ("integer" in kinds and "number" not in kinds and number != int(number)):
            return None
        if not field.get("minimum", number) <= number <= field.get("maximum", number):
            return None
        return int(number) if number == int(number) else number
    return None


def yes_or_no(said: str) -> bool | None:
    """True for a yes, False for a no, None for neither or both ("yes, but not on Tuesday")."""
    words = set(re.findall(r"[a-z']+", said.casefold()))
    yes, no = bool(words & YES_WORDS), bool(words & NO_WORDS) or "n't " in f"{said} "
    return None if yes == no else yes


def spoken_day(said: str, today: date) -> date | None:
    """The one day the answer names by its name ("on Friday": the coming one) or as today or tomorrow; None
    for a date in numbers or months (the model reads those), several days, or "next"/"last" Friday (which
    week people mean varies)."""
    words = re.findall(r"[a-z]+", said)
    named = [w for w in words if w in WEEKDAYS or w in ("today", "tomorrow")]
    if len(named) != 1 or {"next", "last", "this"} & set(words) or re.search(r"\d", said) or MONTHS & set(words):
        return None
    if named[0] == "today":
        return today
    if named[0] == "tomorrow":
        return today + timedelta(days=1)
    ahead = (WEEKDAYS.index(named[0]) - today.weekday()) % 7
    return None if ahead == 0 else today + timedelta(days=ahead)  # "on Friday" said on a Friday: which one?


def _option(said: str, options: list[str]) -> str | None:
    """The one option the answer names, with no negation ("not the morning" names nothing)."""
    if yes_or_no(said) is False:
        return None
    named = [o for o in options if re.search(rf"\b{re.escape(o.casefold().replace('_', ' '))}\b", said)]
    return named[0] if len(named) == 1 else None


def spoken_number(said: str) -> float | None:
    """The one number the answer says, in digits ("7", "1,500") or words ("seven", "a thousand", "five
    hundred", "twenty five"); None for none, several, or words that read more than one way ("three fifty")."""
    if re.search(r"\b(half|quarter|point)\b", said):
        return None  # "seven and a half": a part of a number these words do not read
    numbers = [float(m.replace(",", "")) for m in re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", said)]
    runs: list[list[str]] = [[]]
    for word in re.findall(r"[a-z]+", said.casefold().replace("-", " ")):
        if word in NUMBER_WORDS or word in SCALES or (word == "a" and not runs[-1]):
            runs[-1].append(word)
        elif word != "and" or not runs[-1]:
            runs.append([])
    for run in runs:
        while run and run[0] == "a" and (len(run) == 1 or run[1] not in SCALES):
            run.pop(0)  # "a" counts only as "a thousand"
        if run:
            value = _run_value(run)
            if value is None:
                return None
            numbers.append(value)
    return numbers[0] if len(numbers) == 1 else None


def _run_value(run: list[str]) -> float | None:
    total = current = 0
    for i, word in enumerate(run):
        if word in SCALES:
            current = max(current, 1) * SCALES[word]
            if SCALES[word] > 100:
                total, current = total + current, 0
        elif word == "a":
            current = 1
        elif current % 100 >= 20 and current % 10 == 0 and NUMBER_WORDS[word] < 10:
            current += NUMBER_WORDS[word]  # "twenty five"
        elif i and run[i - 1] not in SCALES and run[i - 1] != "a":
            return None  # "three fifty", "one two": more than one reading
        else:
            current += NUMBER_WORDS[word]
    return float(total + current)


def _kinds(field: dict[str, Any]) -> set[str]:
    kinds = field.get("type")
    found = {kinds} if isinstance(kinds, str) else set(kinds or [])
    for option in field.get("anyOf", []) or []:
        if isinstance(option, dict):
            found |= _kinds(option)
    return found
