"""Typed extraction: read a call's transcript against its `returns` schema with a local LLM.

Generation is grammar-constrained (llama.cpp turns the JSON Schema into a GBNF grammar), so the output
always parses and holds every field; it is then validated with jsonschema. Every field may be null, which
means "the conversation did not settle it": a small model must be allowed to say so, or it invents.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import jsonschema
import structlog

from appliance import models
from appliance.errors import InvalidInput
from appliance.model_server import ModelServer, ServerDown
from appliance.results import analysis as analysis_fields
from appliance.results.answers import settle
from appliance.results.extraction_prompt import ROLE_LABELS, build_messages
from appliance.results.grounding import WEEKDAYS, Sources, drop_unfounded, written_address
from appliance.results.schema import returns_to_schema
from appliance.spoken_numbers import numbers_in
from appliance.store.calls import empty_result

if TYPE_CHECKING:
    from llama_cpp import Llama

log = structlog.get_logger(__name__)

N_CTX = 4096
N_THREADS = 2  # the appliance's budget: the voice side needs the other cores during calls
MAX_OUTPUT_TOKENS = 1024
MAX_TEXT_CHARS = 300
NULL_WORDS = frozenset({"", "null", "none", "n/a", "na", "unknown", "not given", "not provided", "not mentioned"})
OMITTED = "omitted"  # the pseudo-role of the marker standing in for turns left out of a long call


class Extraction(NamedTuple):
    result: dict[str, Any] | None
    status: str  # "completed" | "failed"
    error: str | None
    analysis: dict[str, Any] | None = None  # summary, outcome, sentiment, success (None: not asked for)


# --- schema ---------------------------------------------------------------------------------------


def nullable_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema the model fills: the returns schema with every leaf field, at every depth, allowed to be
    null. Objects stay objects, so every field is always present.

    Nullability is an `anyOf` with null, not a type list: llama.cpp's grammar converter turns a type
    list into bare types and would drop the field's enum and items."""
    properties = {name: _nullable_field(sub) for name, sub in schema["properties"].items()}
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def answer_schema(schema: dict[str, Any] | None, analysis: dict[str, Any] | None) -> dict[str, Any]:
    """What the model writes: the analysis fields asked for, then the nullable `returns` fields. The summary
    comes first: having said what happened, a small model fills the fields from it rather than guess."""
    properties = analysis_fields.properties(analysis) if analysis is not None else {}
    if schema is not None:
        properties |= nullable_schema(schema)["properties"]
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _nullable_field(sub: dict[str, Any]) -> dict[str, Any]:
    value = _strip_null(sub)
    if value is None:
        return {"type": "null"}
    if isinstance(value.get("properties"), dict):
        return value
    return {"anyOf": [value, {"type": "null"}]}


def _strip_null(sub: dict[str, Any]) -> dict[str, Any] | None:
    """`sub` without null among its types and enum values (None when null is all it allows). Nested object
    fields become nullable; array items do not (a list of nulls says nothing)."""
    out = {k: v for k, v in sub.items() if k not in ("type", "enum")}
    kinds = sub.get("type")
    if kinds is not None:
        listed = [kinds] if isinstance(kinds, str) else list(kinds)
        kept = [k for k in listed if k != "null"]
        if not kept:
            return None
        out["type"] = kept[0] if len(kept) == 1 else kept
    if "enum" in sub:
        values = [v for v in sub["enum"] if v is not None]
        if not values:
            return None
        out["enum"] = values
    if out.get("type") == "string" and not {"enum", "format", "pattern", "maxLength"} & out.keys():
        out["maxLength"] = MAX_TEXT_CHARS  # a small model can loop inside a string until it runs out of tokens
    if isinstance(sub.get("properties"), dict):
        out.update(nullable_schema(sub))
    if isinstance(sub.get("items"), dict):
        out["items"] = _strip_null(sub["items"]) or {"type": "null"}
    return out


# --- the model ------------------------------------------------------------------------------------


class Extractor:
    """One llama.cpp context, loaded on first use and shared under a lock: a 2-core box runs one
    generation at a time, and a second copy of the model would only cost memory."""

    def __init__(
        self,
        model_id: str | None = None,
        model_path: Path | None = None,
        *,
        n_ctx: int = N_CTX,
        n_threads: int = N_THREADS,
        weights: Callable[[Path], Llama | None] | None = None,
        server: ModelServer | None = None,
    ) -> None:
        """`weights`: where to find a loaded context of the same model (the conversation's) whose weights
        this one can share, instead of loading a second copy. `server`: a model server serving the same model,
        which writes the answer while it answers (the local context formats the prompt, and writes the answer
        when the server fails)."""
        self.model_id = model_id
        self.model_path = model_path
        self.weights = weights
        self.server = server
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._llm: Llama | None = None

    def close(self) -> None:
        """Abandon the generation in progress (its caller gets ExtractionCancelled) and refuse new ones."""
        self._closing.set()

    def extract(
        self,
        returns: dict[str, Any] | None,
        transcript: Sequence[tuple[str, str]],
        instructions: str | None = None,
        context: dict[str, Any] | None = None,
        analysis: dict[str, Any] | None = None,
        day: date | None = None,
        answers: dict[str, str] | None = None,
    ) -> Extraction:
        """Fill `returns` and the `analysis` asked for (a checked block, see analysis.check_analysis) from
        `transcript` ((role, text) pairs), in one generation. `day`: the day of the call (default today),
        which "on Friday" and "tomorrow" count from; `answers`: the person's answer to each field's own
        question (answers.py), which settles a field the model left null when it alone is clear. Never raises
        for a model problem: that is a failed extraction, with every field null and the reason in `error`.
        Raises InvalidInput for a bad `returns`."""
        context = with_today(context, day or date.today())
        schema = returns_to_schema(returns) if returns is not None else None
        empty, no_analysis = empty_result(returns), analysis_fields.empty(analysis)
        if not any(role != "agent" and text.strip() for role, text in transcript):
            # Nobody but the agent spoke: nothing can have been settled, and no model can say otherwise.
            return Extraction(empty, "completed", None, no_analysis)
        target = answer_schema(schema, analysis)
        started = time.perf_counter()
        try:
            with self._lock:
                if self._closing.is_set():
                    raise ExtractionCancelled
                raw = self._generate(target, schema, transcript, instructions, context, analysis)
        except models.ModelMissing as exc:
            return Extraction(empty, "failed", str(exc), no_analysis)
        except ExtractionError as exc:
            log.warning("extraction.failed", error=str(exc))
            return Extraction(empty, "failed", str(exc), no_analysis)
        try:
            answer = json.loads(raw)
            jsonschema.validate(answer, target)
        except ValueError as exc:
            return Extraction(empty, "failed", f"the model's answer is not JSON: {exc}", no_analysis)
        except jsonschema.ValidationError as exc:
            error = f"the model's answer does not match the schema: {exc.message}"
            return Extraction(empty, "failed", error, no_analysis)
        log.info("extraction.done", seconds=round(time.perf_counter() - started, 2), fields=len(answer))
        fields, found = analysis_fields.split(answer, analysis)
        sources = Sources(transcript, context)
        result = None
        if schema is not None:
            fields_target = nullable_schema(schema)
            result = drop_unfounded(tidy_text(fields, fields_target), fields_target, sources)
            result = settle(result, schema, answers or {}, _today(context, day))
        if found is not None and found["summary"] is not None:
            # What the call was about (its instructions and context) may be restated; anything else is invented.
            known = numbers_in("\n".join((sources.said, instructions or "", json.dumps(context or {}))))
            found["summary"] = analysis_fields.grounded_summary(found["summary"], known, numbers_in) or None
        return Extraction(result, "completed", None, found)

    def _model(self) -> Llama:
        if self._llm is None:
            from appliance.llama_loading import load_llama

            path = self.model_path or models.resolve("llm", self.model_id).path
            started = time.perf_counter()
            try:
                owner = self.weights(path) if self.weights else None
                self._llm = load_llama(str(path), weights_of=owner, n_ctx=self.n_ctx, n_threads=self.n_threads)
            except ValueError as exc:
                raise ExtractionError(f"cannot load the language model {path}: {exc}") from None
            log.info(
                "extraction.model_loaded",
                path=str(path),
                shared_weights=owner is not None,
                seconds=round(time.perf_counter() - started, 1),
            )
        return self._llm

    def _generate(
        self,
        target: dict[str, Any],
        schema: dict[str, Any] | None,
        transcript: Sequence[tuple[str, str]],
        instructions: str | None,
        context: dict[str, Any] | None,
        analysis: dict[str, Any] | None,
    ) -> str:
        from llama_cpp import LlamaGrammar
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        llm = self._model()
        messages = self._fit(llm, schema, transcript, instructions, context, analysis)
        grammar = json_schema_to_gbnf(json.dumps(target))
        if self.server is not None and self.server.up and (served := self._served(llm, messages, grammar)) is not None:
            return served
        # Streamed so that close() can stop a generation between two tokens.
        chunks = llm.create_chat_completion(
            messages,
            grammar=LlamaGrammar.from_string(grammar, verbose=False),
            temperature=0.0,
            max_tokens=MAX_OUTPUT_TOKENS,
            stream=True,
        )
        text, finish = [], None
        for chunk in chunks:  # type: ignore[union-attr]
            if self._closing.is_set():
                raise ExtractionCancelled
            choice = chunk["choices"][0]
            text.append(choice["delta"].get("content") or "")
            finish = choice["finish_reason"] or finish
        if finish == "length":
            raise ExtractionError(f"the answer did not fit in {MAX_OUTPUT_TOKENS} tokens")
        return "".join(text)

    def _served(self, llm: Llama, messages: list[dict[str, str]], grammar: str) -> str | None:
        """The answer written by the server under the same grammar; None when it failed (the local model writes it)."""
        from appliance.llama_loading import chat_formatter

        assert self.server is not None
        formatter = chat_formatter(llm)
        if formatter is None:
            return None
        formatted = formatter(messages=messages)
        prompt = llm.tokenize(formatted.prompt.encode(), add_bos=not formatted.added_special, special=True)
        pieces = self.server.generate(
            prompt, max_tokens=MAX_OUTPUT_TOKENS, temperature=0.0, grammar=grammar, stop=self._closing.is_set
        )
        try:
            text = "".join(pieces)
        except ServerDown as exc:
            log.warning("extraction.model_server_fallback", server=self.server.url, error=str(exc))
            return None
        if self._closing.is_set():
            raise ExtractionCancelled
        return text

    def _fit(
        self,
        llm: Llama,
        schema: dict[str, Any] | None,
        transcript: Sequence[tuple[str, str]],
        instructions: str | None,
        context: dict[str, Any] | None,
        analysis: dict[str, Any] | None,
    ) -> list[dict[str, str]]:
        """The prompt, with turns from the middle of a long call left out until it fits the context
        (the opening says who answered, the end what was decided)."""
        budget = self.n_ctx - MAX_OUTPUT_TOKENS - 64  # 64: the chat template's own tokens
        for dropped in range(max(1, len(transcript) - 3)):
            turns = list(transcript)
            if dropped:
                turns[2 : 2 + dropped] = [(OMITTED, f"[… {dropped} turns left out …]")]
            messages = build_messages(schema, turns, instructions, context, analysis)
            size = sum(len(llm.tokenize(m["content"].encode(), add_bos=False)) for m in messages)
            if size <= budget:
                return messages
        raise ExtractionError(f"the prompt needs {size} tokens, more than the {budget} the model can take")


def _today(context: dict[str, Any], day: date | None) -> date:
    """The day "today" means in the call: its context's, else the day it was answered."""
    with contextlib.suppress(KeyError, TypeError, ValueError):
        return date.fromisoformat(str(context["today"])[:10])
    return day or date.today()


def with_today(context: dict[str, Any] | None, day: date) -> dict[str, Any]:
    """The call's context with the day of the call, as the prompt's examples give it, unless it has one:
    "I'll pay it on Friday" is a date only from a known today. (The dates of the week after it, given too,
    did not stop the 1.5B model counting Friday from Tuesday 2026-12-01 as 2026-12-05, and cost ≈ 90 prompt
    tokens an extraction.)"""
    if context and "today" in context:
        return context
    weekday = WEEKDAYS[day.weekday()].capitalize()
    return {**(context or {}), "today": f"{day.isoformat()} ({weekday})"}


class ExtractionCancelled(Exception):
    """The extractor was closed (the appliance is stopping): no result, the call stays pending."""


class ExtractionError(Exception):
    """The model could not produce a result (load failure, answer too long, prompt too long)."""


def tidy_text(result: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Free-text fields as a consumer wants them: "null", "unknown", "N/A"… is the model saying null in words
    (an enum's own values, such as "none", are left alone), and an e-mail address read out on the phone
    ("tom dot becker at example dot com", as the caller said it and Whisper wrote it) is written as an
    address in a field meant for one."""
    out: dict[str, Any] = {}
    for name, value in result.items():
        field = schema["properties"][name]
        field = field["anyOf"][0] if "anyOf" in field else field
        if isinstance(value, dict):
            value = tidy_text(value, field)
        elif isinstance(value, str) and "enum" not in field:
            if value.strip().casefold().strip(".") in NULL_WORDS:
                value = None
            elif field.get("format") == "email" or "email" in re.sub(r"[^a-z]", "", name.casefold()):
                value = written_address(value)
        out[name] = value
    return out


def read_transcript(value: Any) -> list[tuple[str, str]]:
    """(role, text) pairs from `[{role, text}, ...]` or a `GET /v1/calls/{id}/transcript` body."""
    if isinstance(value, dict) and "segments" in value:
        value = value["segments"]
    if not isinstance(value, list) or not value:
        raise InvalidInput("transcript must be a non-empty list of {role, text}", field="transcript")
    turns = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or turn.get("role") not in ROLE_LABELS or not isinstance(turn.get("text"), str):
            raise InvalidInput(
                f"transcript[{i}] must be {{role: agent|user|tool, text: string}}", field=f"transcript[{i}]"
            )
        turns.append((turn["role"], turn["text"]))
    return turns
