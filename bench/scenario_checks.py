"""The objective checks of a scripted call (bench/scenarios.py), read from its transcript, result and end.

Each check is a plain function of what the call left behind, so a failure names what went wrong:
- `introduced`: an outbound agent's first turn says who it is and why it calls (an inbound one, who it is);
- `asked`: every field the caller had to be asked for was asked for in a question;
- `invented`: numbers and weekdays the agent said that are in neither its brief, the call's context nor the
  caller's words so far (the checks of issue 16: "never states a fact nobody gave");
- `identity`: the agent never speaks as a model or a vendor;
- `heard_out`: the agent did not end the call before the caller had said everything they came to say (their
  last "bye" aside);
- `answered`: every question the caller asked got an agent turn after it;
- `polite_end`: the last thing the agent said is a goodbye or thanks;
- result fields scored apart: right, missed (expected, left null), invented (expected null, filled), wrong.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

from appliance.spoken_numbers import numbers_in

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MODEL_TALK = ("language model", "openai", "an ai", "artificial intelligence", "chatgpt", "qwen", "alibaba")
CLOSINGS = ("bye", "take care", "have a ", "thank", "thanks")
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _has(text: str, words: list[str]) -> bool:
    text = text.casefold()
    return any(str(w).casefold() in text for w in words)


def introduced(segments: list[dict[str, Any]], who: list[str], why: list[str], outbound: bool) -> bool:
    first = next((s["text"] for s in segments if s["role"] == "agent"), "")
    return _has(first, who) and (not outbound or not why or _has(first, why))


def asked(segments: list[dict[str, Any]], asks: dict[str, list[str]]) -> list[str]:
    """The fields nobody asked for."""
    questions = [s["text"] for s in segments if s["role"] == "agent" and "?" in s["text"]]
    return [name for name, words in asks.items() if not any(_has(q, words) for q in questions)]


def _known_days(text: str, today: date) -> set[str]:
    days = {w for w in WEEKDAYS if w in text.casefold()}
    for iso in ISO_DAY.findall(text):
        try:
            days.add(WEEKDAYS[date.fromisoformat(iso).weekday()])
        except ValueError:
            continue
    days |= {WEEKDAYS[today.weekday()], WEEKDAYS[(today + timedelta(days=1)).weekday()]}
    return days


def invented(segments: list[dict[str, Any]], brief: str, today: date) -> list[str]:
    """Agent turns stating a number or a weekday that nobody gave (brief = persona, instructions, first
    message and context; the caller's words count from the moment they were said)."""
    known = brief + f"\n{today.isoformat()} {today.day} {today.year}"
    out = []
    for s in segments:
        if s["role"] != "agent":
            known += "\n" + s["text"]  # the caller's words, and what the agent may repeat of them
            continue
        numbers = numbers_in(s["text"]) - numbers_in(known) - {0.0, 1.0}  # "one moment", "a one-minute survey"
        days = {w for w in WEEKDAYS if w in s["text"].casefold()} - _known_days(known, today)
        if numbers or days:
            out.append(s["text"])
        known += "\n" + s["text"]
    return out


def speaks_as_a_model(segments: list[dict[str, Any]]) -> list[str]:
    return [s["text"] for s in segments if s["role"] == "agent" and _has(s["text"], list(MODEL_TALK))]


def heard_out(said: list[str], lines: list[Any], greeting: bool) -> bool:
    """The person said every line of its script: nobody hung up on them. A closing "bye" line may go unsaid
    (the goal was reached and the agent closed first)."""
    last = lines[-1] if lines else ""
    needed = len(lines) - int("bye" in (last if isinstance(last, str) else last["say"]).casefold())
    return len(said) >= needed + int(greeting)


def answered(segments: list[dict[str, Any]]) -> bool:
    last_agent = max((i for i, s in enumerate(segments) if s["role"] == "agent"), default=-1)
    return all(i < last_agent for i, s in enumerate(segments) if s["role"] == "user" and "?" in s["text"])


def polite_end(segments: list[dict[str, Any]]) -> bool:
    last = next((s["text"] for s in reversed(segments) if s["role"] == "agent"), "")
    return _has(last, list(CLOSINGS))


def score_result(result: dict[str, Any] | None, expect: dict[str, Any], day: date | None = None) -> dict[str, str]:
    """Each expected field: right, missed, invented or wrong. An expected word "@today" or "@friday" stands for
    that day as MM-DD, counted from `day`, the day of the call (the coming Friday: never the day itself)."""
    result = result or {}
    out = {}
    for name, want in expect.items():
        if isinstance(want, list) and day is not None:
            want = [_on(w, day) for w in want]
        got = result.get(name)
        if want is None:
            out[name] = "right" if got is None else "invented"
        elif got is None:
            out[name] = "missed"
        elif isinstance(want, list):  # words: the value must hold one of them (digits compared without gaps)
            value = json.dumps(got).casefold()
            digits = re.sub(r"\D", "", value)
            ok = any(str(w).casefold() in value or (str(w).isdigit() and str(w) in digits) for w in want)
            out[name] = "right" if ok else "wrong"
        else:
            out[name] = "right" if got == want else "wrong"
    return out


def _on(word: Any, day: date) -> Any:
    if not (isinstance(word, str) and word.startswith("@")):
        return word
    if word == "@today":
        return f"{day:%m-%d}"
    ahead = (WEEKDAYS.index(word[1:]) - day.weekday()) % 7 or 7
    return f"{day + timedelta(days=ahead):%m-%d}"
