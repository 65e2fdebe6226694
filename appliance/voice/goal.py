"""What a call must find out (its `returns` fields), what the caller has settled so far, and the next step.

A small model told only its instructions recites them ("I'll ask you how likely you are to recommend…")
or answers its own question; told the one next step inside the caller's turn, it takes it (issue 16's
probe: 3 of 8 turns right → 6 of 8). So the conversation keeps a goal: after each reply, while the agent
speaks, the model reads the call so far under a grammar and says which fields the caller has given (a few
tokens on a KV cache that already holds the call), and the next reply is told the one thing left to ask,
or that everything is known and it may thank and close.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Field:
    name: str
    schema: dict[str, Any]

    @property
    def label(self) -> str:
        """The field as words for the model: "gate code (the digits)", "delivery window (morning or afternoon)"."""
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


@dataclass
class Goal:
    fields: list[Field]
    known: dict[str, Any] = field(default_factory=dict)  # field → the caller's answer, as the model read it
    questions: dict[str, str] = field(default_factory=dict)  # field → the question written for it

    @property
    def pending(self) -> list[Field]:
        return [f for f in self.fields if self.known.get(f.name) is None]

    def brief(self) -> str:
        """For the system prompt: what the call is for."""
        listed = "; ".join(f.label for f in self.fields)
        return (
            f"What this call must find out from the person: {listed}. Ask for these one at a time, each as a "
            "short question in your own words, and only the person's own answers count."
        )

    def tracking_schema(self) -> dict[str, Any]:
        """Each field as the caller gave it, or null: a grammar keeps the answer to these types."""
        props = {}
        for f in self.fields:
            sub = {k: v for k, v in f.schema.items() if k in ("type", "enum")} or {"type": "string"}
            kind = sub.get("type")
            if isinstance(kind, list):  # a shorthand field is already ["boolean", "null"]
                sub = {**sub, "type": next((k for k in kind if k != "null"), "string")}
            if sub.get("type") in ("object", "array"):
                sub = {"type": "string"}  # only "given or not" matters here
            props[f.name] = {"anyOf": [sub, {"type": "null"}]}
        return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}

    def tracking_question(self) -> str:
        names = ", ".join(f.name for f in self.fields)
        return (
            "(Not part of the call: answer with JSON only. From the person's own words so far, fill "
            f"{names}; null where the person has not clearly said it.)"
        )

    def questions_request(self) -> str:
        listed = "; ".join(f"{f.name}: {f.label}" for f in self.fields)
        return (
            "(Not part of the call: answer with JSON only. For each of these, write the one short question you "
            f"will ask the person on this call to learn it, in plain spoken words: {listed}.)"
        )

    def questions_schema(self) -> dict[str, Any]:
        question = {"type": "string", "minLength": 8, "maxLength": 160}
        props = {f.name: question for f in self.fields}
        return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}

    def take_questions(self, answer: str) -> None:
        """Keep the questions the model wrote; one that is not a question is left out (the field's label is
        used for it instead)."""
        try:
            values = json.loads(answer)
        except ValueError:
            return
        if isinstance(values, dict):
            self.questions = {
                f.name: q.strip()
                for f in self.fields
                if isinstance(q := values.get(f.name), str) and q.strip().endswith("?")
            }

    def update(self, answer: str) -> None:
        try:
            values = json.loads(answer)
        except ValueError:
            return  # a cut-off answer (a reply took the context): keep what was known
        if isinstance(values, dict):
            # A field once given stays given (a later reading that drops it would ask again); a new answer
            # replaces it (the caller changed their mind).
            names = {f.name for f in self.fields}
            self.known.update({k: v for k, v in values.items() if k in names and v is not None})

    def next_step(self) -> str:
        """Said to the model inside the caller's turn: the one thing to do in this reply."""
        pending = self.pending
        if not pending:
            return (
                "(You now know everything this call is for. If they asked something, answer it first. Then "
                "thank them in a few words and say goodbye.)"
            )
        if question := self.questions.get(pending[0].name):
            ask = f'ask: "{question}"'
        else:
            ask = f"ask them one short question to learn {pending[0].label}"
        return (
            "(If they asked something, answer it first in a few words; if they want to end the call or are not "
            f"the right person, say goodbye. Otherwise acknowledge their answer in a few words and {ask})"
        )
