"""Post-call analysis: summary, outcome, sentiment and success, filled in the same grammar-constrained pass as
`result` (one generation, one prompt already evaluated), configured per agent by its `analysis` block.

The analysis keys in the model's answer contain a hyphen (`call-summary`…), which no `returns` field name may
hold, so they can sit beside the agent's own fields without ever colliding with one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from appliance.errors import InvalidInput

SENTIMENTS = ("positive", "neutral", "negative")
MAX_OUTCOMES = 32
MAX_SUMMARY_CHARS = 400
MAX_RUBRIC_CHARS = 2000
KEYS = {
    "summary": "call-summary",
    "outcome": "call-outcome",
    "sentiment": "caller-sentiment",
    "success": "call-success",
}
ANALYSIS_FIELDS = ("summary", "sentiment", "success", "outcomes", "success_rubric")
OUTCOME_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ -]{0,63}$")


def check_analysis(value: Any, field: str = "analysis") -> dict[str, Any] | None:
    """The agent's `analysis` block with its defaults filled in, or None (no analysis). Raises InvalidInput
    naming the bad field. `{}` asks for the summary, the sentiment and success; `outcomes` adds the outcome."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be an object or null", field=field)
    for key in value:
        if key not in ANALYSIS_FIELDS:
            raise InvalidInput(
                f"{field}.{key} is not a known field ({', '.join(ANALYSIS_FIELDS)})", field=f"{field}.{key}"
            )
    out: dict[str, Any] = {}
    for key in ("summary", "sentiment", "success"):
        flag = value.get(key, True)
        if not isinstance(flag, bool):
            raise InvalidInput(f"{field}.{key} must be true or false", field=f"{field}.{key}")
        out[key] = flag
    outcomes = value.get("outcomes")
    if outcomes is not None:
        where = f"{field}.outcomes"
        if not isinstance(outcomes, list) or not outcomes or not all(isinstance(o, str) for o in outcomes):
            raise InvalidInput(f"{where} must be a non-empty list of strings", field=where)
        if len(outcomes) > MAX_OUTCOMES:
            raise InvalidInput(f"{where} lists more than {MAX_OUTCOMES} outcomes", field=where)
        if len(set(outcomes)) != len(outcomes):
            raise InvalidInput(f"{where} lists an outcome twice", field=where)
        for i, name in enumerate(outcomes):
            if not OUTCOME_NAME.match(name):
                raise InvalidInput(
                    f"{where}[{i}] must be 1-64 letters, digits, spaces, '_' or '-', got {name!r}",
                    field=f"{where}[{i}]",
                )
    out["outcomes"] = outcomes
    rubric = value.get("success_rubric")
    if rubric is not None and (not isinstance(rubric, str) or len(rubric) > MAX_RUBRIC_CHARS):
        raise InvalidInput(
            f"{field}.success_rubric must be text of at most {MAX_RUBRIC_CHARS} characters",
            field=f"{field}.success_rubric",
        )
    out["success_rubric"] = rubric
    if not (out["summary"] or out["sentiment"] or out["success"] or outcomes):
        raise InvalidInput(f"{field} asks for nothing: use null to turn the analysis off", field=field)
    return out


def wanted(config: dict[str, Any]) -> list[str]:
    """The analysis fields this config asks for, in the order the model writes them."""
    names = [n for n in ("summary", "sentiment", "success") if config.get(n)]
    return names[:1] + (["outcome"] if config.get("outcomes") else []) + names[1:]


def properties(config: dict[str, Any]) -> dict[str, Any]:
    """The grammar's properties for the analysis: never null, so the types always hold."""
    schemas = {
        "summary": {"type": "string", "minLength": 1, "maxLength": MAX_SUMMARY_CHARS},
        "outcome": {"enum": list(config.get("outcomes") or [])},
        "sentiment": {"enum": list(SENTIMENTS)},
        "success": {"type": "boolean"},
    }
    return {KEYS[name]: schemas[name] for name in wanted(config)}


def describe(config: dict[str, Any]) -> list[str]:
    """The prompt lines telling the model what each analysis key means."""
    rubric = (config.get("success_rubric") or "").strip() or "the goal set by the agent's instructions"
    lines = {
        "summary": "text: two or three short sentences saying what was said and settled in the call. Only what "
        "the transcript says: no name, date, number or promise that is not in it",
        "outcome": "one of "
        + ", ".join(f'"{o}"' for o in config.get("outcomes") or [])
        + ": the one that best says how the call ended",
        "sentiment": 'one of "positive", "neutral", "negative": how the Person sounded about the call',
        "success": f"true or false: true only when the call reached this goal: {rubric}",
    }
    return [f"- {KEYS[name]}: {lines[name]}" for name in wanted(config)]


def split(answer: dict[str, Any], config: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the `returns` fields, the analysis under its API names) from the model's answer."""
    if config is None:
        return answer, None
    names = {key: name for name, key in KEYS.items()}
    fields = {k: v for k, v in answer.items() if k not in names}
    analysis = {name: None for name in ("summary", "outcome", "sentiment", "success")}
    analysis |= {names[k]: v for k, v in answer.items() if k in names}
    return fields, analysis


def empty(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The analysis of a call with nothing to analyse: every field null."""
    return None if config is None else dict.fromkeys(("summary", "outcome", "sentiment", "success"))


def grounded_summary(summary: str, spoken: set[float], numbers_in: Callable[[str], set[float]]) -> str:
    """The summary without the sentences that state a number nobody said (`spoken`: the numbers of the call
    and its context; a small model fills in a time or a price that sounds usual): the one kind of invention
    we can check without a second model."""
    sentences = re.findall(r"[^.!?]+[.!?]*", summary)
    kept = [s for s in sentences if numbers_in(s) <= spoken]
    return " ".join(s.strip() for s in kept if s.strip())
