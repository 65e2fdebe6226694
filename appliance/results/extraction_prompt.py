"""The extraction's prompt: a fixed system prompt (its evaluated tokens are reused from call to call), then the
call's instructions, context, transcript and each field as what it may hold."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from appliance.results import analysis as analysis_fields

ROLE_LABELS = {"agent": "Agent", "user": "Person", "tool": "Tool result"}

SYSTEM_PROMPT = """\
You read the transcript of a phone call made by an AI agent and fill in a form about what the call \
settled. Answer with one JSON object that holds every field.

A field gets a value only when the transcript settles it: the other party said it, or clearly agreed \
to it. Otherwise the field is null. null means the conversation did not settle the field, and it is \
the right answer when:
- the question was never asked, or never answered;
- the answer was vague or undecided ("maybe", "I'm not sure", "I'll call you back", "it depends");
- the person refused to answer;
- someone other than the intended person answered and could not speak for them.
Never guess. Never fill in a usual or likely value. Never copy a value from the context or from the \
agent's words unless the person agreed to it in this call. A wrong value is much worse than null.

- true or false: true when the person clearly said yes, false only when they clearly said no. A \
refusal to answer is null, not false.
- Allowed values: the one whose meaning matches what the person said (not the topic of the call); \
null when none clearly does, or when the person did not talk about it.
- Numbers: plain numbers, without units or currency signs.
- Unless a field's description asks for another format: dates are YYYY-MM-DD, worked out from the \
context's date of today; times are 24-hour HH:MM.
- Text: short, in the person's own words; null when it was not given.

Example 1
Context known before the call:
{"customer": "Ben Ortiz", "car": "blue Civic", "today": "2026-05-04 (Monday)"}
Transcript:
Agent: Hi, is this Ben Ortiz? Your car is ready. Can you pick it up tomorrow?
Person: This is his brother. Ben is away, I don't know when he'll be back.
Agent: Could you ask him to call us? And do you know if he'll pay by card?
Person: No idea, you'd have to ask him.
Fields:
- picks_up_tomorrow: true or false, or null
- pickup_date: a date YYYY-MM-DD, or null
- payment: one of "card", "cash", or null
- mileage: a number, or null
Answer: {"picks_up_tomorrow": null, "pickup_date": null, "payment": null, "mileage": null}

Example 2
Context and fields as in example 1.
Transcript:
Agent: Hi Ben, your car is ready. Can you pick it up tomorrow?
Person: Tomorrow doesn't work. I'll come Wednesday and pay cash.
Agent: Great, see you on Wednesday.
Answer: {"picks_up_tomorrow": false, "pickup_date": "2026-05-06", "payment": "cash", "mileage": null}"""


def describe_fields(schema: dict[str, Any], indent: str = "") -> list[str]:
    """One line per field: its name, what it may hold and its description, nested fields indented."""
    lines = []
    for name, sub in schema["properties"].items():
        nested = isinstance(sub.get("properties"), dict)
        # "or null" last: given a list of options and no answer, a small model tends to take the last one.
        line = f"{indent}- {name}: {_kind(sub)}" + ("" if nested else ", or null")
        if sub.get("description"):
            line += f". {sub['description']}"
        lines.append(line)
        if nested:
            lines.extend(describe_fields(sub, indent + "  "))
        items = sub.get("items")
        if isinstance(items, dict) and isinstance(items.get("properties"), dict):
            lines.extend(describe_fields(items, indent + "  "))
    return lines


KIND_WORDS = {
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "string": "text",
    "object": "an object with these fields",
    "null": "null",
}
FORMAT_WORDS = {"date": "a date YYYY-MM-DD", "date-time": "a date and time (ISO 8601)", "time": "a time"}


def _kind(sub: dict[str, Any]) -> str:
    if "enum" in sub:
        return "one of " + ", ".join(json.dumps(v) for v in sub["enum"] if v is not None)
    kinds = sub.get("type")
    words = []
    for kind in [kinds] if isinstance(kinds, str) else [k for k in kinds or [] if k != "null"]:
        if kind == "array":
            words.append(f"a list, each item {_kind(sub.get('items') or {})}")
        elif kind == "string" and sub.get("format") in FORMAT_WORDS:
            words.append(FORMAT_WORDS[sub["format"]])
        else:
            words.append(KIND_WORDS.get(kind, kind))
    text = " or ".join(words) or "any value"
    if "minimum" in sub and "maximum" in sub:
        text += f" from {sub['minimum']} to {sub['maximum']}"
    return text


def build_messages(
    schema: dict[str, Any] | None,
    transcript: Sequence[tuple[str, str]],
    instructions: str | None,
    context: dict[str, Any] | None,
    analysis: dict[str, Any] | None = None,
) -> list[dict[str, str]]:
    """The chat: a fixed system prompt first (llama.cpp reuses its evaluated tokens from call to call),
    then this call's instructions, context, transcript and fields."""
    turns = "\n".join(
        f"{ROLE_LABELS[role]}: {text.strip()}" if role in ROLE_LABELS else text for role, text in transcript
    )
    parts = [
        f"Agent's instructions:\n{instructions.strip() if instructions else '(none)'}",
        f"Context known before the call:\n{json.dumps(context, ensure_ascii=False) if context else '(none)'}",
        f"Transcript (Agent = the AI agent, Person = the other party):\n{turns}",
    ]
    if analysis is not None:
        parts.append(
            "About the whole call, written first (never null):\n" + "\n".join(analysis_fields.describe(analysis))
        )
    if schema is not None:
        parts.append("Fields (null: the conversation did not settle it):\n" + "\n".join(describe_fields(schema)))
    parts.append("Answer with the JSON object.")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n\n".join(parts)}]
