"""The question the agent asks for each `returns` field, written once per agent and kept.

The default 1.5B model, left to ask in its own words, narrates its brief ("I'll ask you how likely you are
to recommend…"), asks "Is there anything else I can help you with?" instead, or answers for the person:
the field went unasked in 13 of 32 scripted calls (bench/scenarios.py, 2026-12-02). Written apart, as one
small task with nothing else to do, its questions are plain ("How likely are you to recommend the clinic
to a friend, on a scale from one to ten?"); the conversation then speaks them as written (agenda.py).

A field's `description` that is itself a question ("What is the code of your gate?") is used as written.
The others are written by the model when the agent is saved, or else when a call of it has ended, whenever no
other call needs the model (written while a call rang, they held its first reply up to 18 s:
bench/scenarios.py, 2026-12-03; a call that begins stops the writing), under a JSON grammar, from the
agent's persona and instructions (a shorthand field, "confirmed: boolean", means nothing without them), and
kept (by a `QuestionKeeper`: the store's, across restarts) as long as those and its `returns` stay the same.
A question that states a number, a time, a weekday or a month that neither the field nor the brief does is
refused (the model would have invented it), and its field is left to the model to ask. A question a person
wrote for a field (in the console) is kept over the model's, and across the agent's later versions.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from appliance.voice.brief import CallBrief
from appliance.voice.goal import Field

log = structlog.get_logger(__name__)
MAX_QUESTION_CHARS = 200
# One sentence ending in "?"; in English it starts as a question does (else the model writes a yes/no
# field's answer as one: "Yes, Alex can come to the appointment?").
QUESTION_PATTERN = '^[A-Z][^?."\\\\]{6,160}[?]$'
OPENERS = "What When Where Which Who Why How Is Are Am Was Were Do Does Did Can Could Will Would Should May Have Has"
ENGLISH_QUESTION = f'^({"|".join(OPENERS.split())}) [^?."\\\\]{{4,160}}[?]$'
_DATES = re.compile(
    r"\d+|\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|june|"
    r"july|august|september|october|november|december|today|tomorrow|tonight|morning|afternoon|evening)\b",
)
WRITER = (
    "You write the questions a phone agent asks. For each item the agent must find out, write the one short, "
    'plain question it asks the person on the phone, spoken to them as "you", that asks for that item only. '
    'Do not greet, do not explain, do not answer. Example: for "gate code: the code of their gate" the '
    'question is "What is the code of your gate?"; for "will attend (a yes/no answer)" it is "Will you '
    'be able to come?"'
)


class QuestionModel(Protocol):
    @property
    def templated(self) -> bool: ...
    async def complete_unless(
        self,
        call_id: str,
        messages: list[dict[str, str]],
        opening: str,
        grammar: Any,
        max_tokens: int,
        abandon: Callable[[], bool] | None,
    ) -> str | None: ...
    def forget(self, call_id: str) -> None: ...


class QuestionKeeper(Protocol):
    def load(self, agent_id: str, key: str) -> dict[str, str] | None: ...
    def edited(self, agent_id: str) -> dict[str, str]: ...
    def save(self, agent_id: str, key: str, questions: dict[str, str]) -> None: ...


class KeptInMemory:
    """A keeper for calls with no agent id and engines with no store (unit tests): nothing edited, lost at exit."""

    def __init__(self) -> None:
        self._written: dict[tuple[str, str], dict[str, str]] = {}

    def load(self, agent_id: str, key: str) -> dict[str, str] | None:
        return self._written.get((agent_id, key))

    def edited(self, agent_id: str) -> dict[str, str]:
        return {}

    def save(self, agent_id: str, key: str, questions: dict[str, str]) -> None:
        self._written[(agent_id, key)] = questions


def given(fields: list[Field]) -> dict[str, str]:
    """The questions the agent's `returns` gives itself: descriptions that are questions."""
    out = {}
    for f in fields:
        description = str(f.schema.get("description") or "").strip()
        if description.endswith("?") and len(description) <= MAX_QUESTION_CHARS:
            out[f.name] = description
    return out


def writer_messages(call: CallBrief, fields: list[Field]) -> list[dict[str, str]]:
    who = " ".join(x for x in (call.agent_name, call.persona) if x) or "an assistant"
    task = (call.instructions or "").strip() or "(none given)"
    items = "\n".join(f"- {f.name}: {f.label}" for f in fields)
    language = "" if call.language.startswith("en") else f"\nWrite them in the language with the code {call.language}."
    return [
        {"role": "system", "content": WRITER},
        {"role": "user", "content": f"The agent: {who}\nIts task: {task}\nThe items:\n{items}{language}"},
    ]


def acceptable(question: str, label: str = "") -> bool:
    """One question, of a speakable length, stating no date, time or number but the field's own (its
    `label`: "delivery window (morning or afternoon)", "score: from 1 to 10")."""
    question = question.strip()
    if not question.endswith("?") or "\n" in question or not 8 <= len(question) <= MAX_QUESTION_CHARS:
        return False
    if question.count("?") > 1:
        return False
    return _stated(question) <= _stated(label)


def _stated(text: str) -> set[str]:
    return {m.group(0) for m in _DATES.finditer(text.casefold())}


class QuestionBook:
    """The prepared questions of each agent, by a key of what they were written from."""

    def __init__(self, model: QuestionModel | None, keeper: QuestionKeeper | None = None) -> None:
        self.model = model
        self.keeper = keeper
        self._memory = KeptInMemory()  # an agent with no id (a call's own task) is kept in this process only
        self._writing: dict[str, asyncio.Task[dict[str, str]]] = {}

    def get(self, call: CallBrief, fields: list[Field]) -> dict[str, str]:
        """The questions for the call's fields: until the others are written, those `returns` states and those
        a person wrote."""
        if not fields:
            return {}
        written = self._keeper(call).load(call.agent_id or "", _key(call, fields))
        return self._kept(call, fields) if written is None else written

    def prepare(
        self, call: CallBrief, fields: list[Field], yield_to: Callable[[], bool] | None = None
    ) -> asyncio.Task[dict[str, str]] | None:
        """Start writing the agent's questions if nobody has; the writing (None: nothing to write).
        `yield_to`: true stops the writing (a call needs the model), which keeps nothing: a later prepare
        writes them."""
        key = _key(call, fields)
        if not fields or self._keeper(call).load(call.agent_id or "", key) is not None:
            return None
        if (task := self._writing.get(key)) is not None:
            return task
        task = asyncio.get_running_loop().create_task(self._write(key, call, fields, yield_to))
        self._writing[key] = task
        return task

    def _keeper(self, call: CallBrief) -> QuestionKeeper:
        return self.keeper if self.keeper is not None and call.agent_id else self._memory

    def _kept(self, call: CallBrief, fields: list[Field]) -> dict[str, str]:
        names = {f.name for f in fields}
        edited = self._keeper(call).edited(call.agent_id or "")
        return given(fields) | {f: q for f, q in edited.items() if f in names}

    async def _write(
        self, key: str, call: CallBrief, fields: list[Field], yield_to: Callable[[], bool] | None
    ) -> dict[str, str]:
        questions = self._kept(call, fields)
        wanted = [f for f in fields if f.name not in questions]
        try:
            if wanted and self.model is not None and self.model.templated:
                written = await self._ask_model(key, call, wanted, yield_to)
                if written is None:
                    log.info("voice.questions_deferred", agent_id=call.agent_id)
                    return questions
                questions |= written
        except Exception as exc:  # the fields are then the model's to ask, as if no question was written
            log.warning("voice.questions_failed", agent_id=call.agent_id, error=f"{type(exc).__name__}: {exc}")
        finally:
            self._writing.pop(key, None)
        try:
            self._keeper(call).save(call.agent_id or "", key, questions)
        except Exception as exc:  # the agent's calls ask what `returns` states; its next call's end tries again
            log.warning("voice.questions_not_kept", agent_id=call.agent_id, error=f"{type(exc).__name__}: {exc}")
        log.info("voice.questions_ready", agent_id=call.agent_id, questions=questions)
        return questions

    async def _ask_model(
        self, key: str, call: CallBrief, fields: list[Field], yield_to: Callable[[], bool] | None
    ) -> dict[str, str] | None:
        from llama_cpp.llama_grammar import (
            json_schema_to_gbnf,  # imported late: llama.cpp is loaded only where a model is
        )

        assert self.model is not None
        pattern = ENGLISH_QUESTION if call.language.startswith("en") else QUESTION_PATTERN
        schema = {
            "type": "object",
            # A question, by its form: the 1.5B model otherwise writes a yes/no field's answer ("Yes").
            "properties": {f.name: {"type": "string", "pattern": pattern} for f in fields},
            "required": [f.name for f in fields],
            "additionalProperties": False,
        }
        grammar = json_schema_to_gbnf(json.dumps(schema))
        owner = f"questions:{key}"
        try:
            messages = writer_messages(call, fields)
            written = await self.model.complete_unless(owner, messages, "", grammar, 48 * len(fields), yield_to)
        finally:
            self.model.forget(owner)
        if written is None:
            return None
        brief = f"{call.persona or ''} {call.instructions or ''}"
        labels = {f.name: f"{f.label} {brief}" for f in fields}
        out = {}
        for name, question in json.loads(written).items():
            if isinstance(question, str) and name in labels and acceptable(question, labels[name]):
                out[name] = question.strip()
            else:
                log.info("voice.question_refused", agent_id=call.agent_id, field=name, question=question)
        return out


def _key(call: CallBrief, fields: list[Field]) -> str:
    source = [call.agent_id, call.agent_name, call.persona, call.instructions, call.language]
    source.append([(f.name, f.schema) for f in fields])
    return hashlib.sha256(json.dumps(source, sort_keys=True, default=str).encode()).hexdigest()[:16]
