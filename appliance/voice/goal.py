"""What a call must find out: its agent's `returns` fields, put to the model as the call's goal.

A small model given only its instructions recites them ("I'll ask you how likely you are to recommend…")
instead of asking. Naming the fields it must learn, one question at a time, in the system prompt, and the
first of them in the opening request, keeps the calls on their goal more often (a text probe of five
scenario calls, BENCHMARKS.md). Telling it the next step inside each caller turn, with the fields read
between turns, was tried and made it worse: the 1.5B model then echoed the caller ("Friday at ten works
for me.") or answered for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Field:
    name: str
    schema: dict[str, Any]

    @property
    def label(self) -> str:
        """The field as words for the model: "gate code: the code of their gate", "delivery window (morning or
        afternoon)"."""
        words = self.name.replace("_", " ").strip()
        if description := self.schema.get("description"):
            words = f"{words}: {description}"
        kind = self.schema.get("type")
        kinds = set(kind) if isinstance(kind, list) else {kind}
        if enum := [v for v in self.schema.get("enum", []) if v is not None]:
            return f"{words} ({' or '.join(map(str, enum))})"
        if "boolean" in kinds:
            return f"{words} (a yes/no answer)"
        if kinds & {"integer", "number"}:
            return f"{words} (a number)"
        return words


def goal_fields(returns: Any) -> list[Field]:
    """The top-level fields of an agent's `returns` (the hosted shorthand or a JSON Schema object; the API
    validated it when the agent was written)."""
    if not isinstance(returns, dict) or not returns:
        return []
    if returns.get("type") == "object" and isinstance(returns.get("properties"), dict):
        return [Field(name, sub if isinstance(sub, dict) else {}) for name, sub in returns["properties"].items()]
    return [Field(name, {"type": kind}) for name, kind in returns.items() if isinstance(kind, str)]


def goal_brief(fields: list[Field]) -> str:
    """For the system prompt: what the call is for."""
    listed = "; ".join(f.label for f in fields)
    return (
        f"What this call must find out from the person: {listed}. Ask for these one at a time, each as a short "
        "question in your own words, and only the person's own answers count."
    )
