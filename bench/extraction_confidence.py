"""Could the extractor abstain when the model itself hesitates? For every value the default model writes on
the evaluation set (bench/data/extraction_set.json), the probability it gave to null at that point against
that kind of value (`true`/`false`, a string, a number…), read from the logits at the value's first token
after the generation. Then, for a range of cut-offs, how many invented values a "null when p(null) ≥ cut"
rule would remove and how many right values it would lose. Writes bench/results/extraction_confidence.json.

    .venv/bin/python bench/extraction_confidence.py
"""

from __future__ import annotations

import json
import re
import sys
import time
from json.decoder import scanstring
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llama_cpp import Llama, LlamaGrammar

from appliance.llama_loading import chat_formatter
from appliance.logs import configure_logging
from appliance.results.extraction import Extractor, nullable_schema, tidy_text
from appliance.results.grounding import Sources, drop_unfounded
from appliance.results.schema import returns_to_schema
from bench.extraction import DATA, leaves, same
from bench.procstat import machine

RESULTS = Path(__file__).resolve().parent / "results" / "extraction_confidence.json"
CUTS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
_SCALAR = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null")


def value_starts(text: str) -> list[tuple[tuple[str | int, ...], int]]:
    """(path, offset) of every value in a JSON text, in order."""
    pos = 0
    out: list[tuple[tuple[str | int, ...], int]] = []

    def skip_space() -> None:
        nonlocal pos
        while pos < len(text) and text[pos] in " \t\n\r":
            pos += 1

    def value(path: tuple[str | int, ...]) -> None:
        nonlocal pos
        skip_space()
        out.append((path, pos))
        opener = text[pos]
        if opener in "{[":
            pos += 1
            index = 0
            skip_space()
            if text[pos] in "}]":
                pos += 1
                return
            while True:
                skip_space()
                if opener == "{":
                    key, pos = scanstring(text, pos + 1)
                    skip_space()
                    pos += 1  # the colon
                    value((*path, key))
                else:
                    value((*path, index))
                    index += 1
                skip_space()
                pos += 1  # a comma, or the closing bracket
                if text[pos - 1] != ",":
                    return
        elif opener == '"':
            _, pos = scanstring(text, pos + 1)
        else:
            match = _SCALAR.match(text, pos)
            assert match, text[pos:]
            pos = match.end()

    value(())
    return out


def token_classes(llm: Llama) -> dict[str, np.ndarray]:
    """Which tokens can begin null, a boolean, a string, a number, a list or an object (a leading space
    allowed)."""
    n_vocab = llm.n_vocab()
    classes = {name: np.zeros(n_vocab, dtype=bool) for name in ("null", "bool", "str", "num", "arr", "obj")}
    for token in range(n_vocab):
        piece = llm.detokenize([token]).decode("utf-8", errors="ignore").lstrip(" ")
        if not piece:
            continue
        classes["null"][token] = "null".startswith(piece) or piece.startswith("null")
        classes["bool"][token] = any(w.startswith(piece) or piece.startswith(w) for w in ("true", "false"))
        classes["str"][token] = piece[0] == '"'
        classes["num"][token] = piece[0] in "-0123456789"
        classes["arr"][token] = piece[0] == "["
        classes["obj"][token] = piece[0] == "{"
    return classes


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "num"
    return {str: "str", list: "arr", dict: "obj"}[type(value)]


def null_probabilities(llm: Llama, prompt: list[int], text: str, classes: dict[str, np.ndarray]) -> dict[str, float]:
    """p(null) / (p(null) + p(the written kind)) at each non-null value of the generated `text`, by field path.
    The generated tokens are in the context after `prompt`; each value is read back from the last one, so
    the cache is only cut, never re-read."""
    generated = llm.input_ids[len(prompt) : llm.n_tokens].tolist()
    offsets = [len(llm.detokenize(generated[:k]).decode("utf-8", errors="ignore")) for k in range(len(generated) + 1)]
    answer = json.loads(text)
    out = {}
    for path, offset in reversed(value_starts(text)):
        value = answer
        for key in path:
            value = value[key]
        if not path or value is None or offset >= offsets[-1]:
            continue
        k = max(j for j in range(len(generated)) if offsets[j] <= offset)
        if k == 0 or text[offsets[k] : offset].strip(" "):
            continue  # the value's first token also holds other characters: no clean choice point
        llm.n_tokens = len(prompt) + k - 1
        llm.eval([generated[k - 1]])
        logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).astype(np.float64)
        p = np.exp(logits - logits.max())
        p_null, p_value = p[classes["null"]].sum(), p[classes[kind(value)]].sum()
        out[".".join(map(str, path))] = float(p_null / (p_null + p_value))
    return out


def main() -> int:
    configure_logging("warning")
    data = json.loads(DATA.read_text())
    extractor = Extractor()
    extractor.extract({"ok": "boolean"}, [("user", "hello")])  # loads the model
    llm = extractor._model()
    formatter = chat_formatter(llm)
    assert formatter is not None
    classes = token_classes(llm)
    rows = []
    for n, item in enumerate(data["items"], start=1):
        spec = data["schemas"][item["schema"]]
        turns = [(t["role"], t["text"]) for t in item["transcript"]]
        schema = returns_to_schema(spec["returns"])
        target = nullable_schema(schema)
        formatted = formatter(
            messages=extractor._fit(llm, schema, turns, spec.get("instructions"), spec.get("context"))
        )
        prompt = llm.tokenize(formatted.prompt.encode(), add_bos=not formatted.added_special, special=True)
        grammar = LlamaGrammar.from_json_schema(json.dumps(target), verbose=False)
        completion: Any = llm.create_completion(prompt, grammar=grammar, temperature=0.0, max_tokens=1024)
        text = completion["choices"][0]["text"]
        final = drop_unfounded(tidy_text(json.loads(text), target), target, Sources(turns, spec.get("context")))
        p_null = null_probabilities(llm, prompt, text, classes)
        for path, want, got in leaves(item["expected"], final):
            if path in p_null and got is not None:
                verdict = "invented" if want is None else "right" if same(want, got) else "wrong"
                rows.append({"id": item["id"], "field": path, "got": got, "verdict": verdict, "p_null": p_null[path]})
        print(f"{n}/{len(data['items'])} {item['id']}", flush=True)
    count = {v: sum(r["verdict"] == v for r in rows) for v in ("right", "invented", "wrong")}
    cuts = [
        {
            "cut": cut,
            **{f"{v}_nulled": sum(r["verdict"] == v and r["p_null"] >= cut for r in rows) for v in count},
        }
        for cut in CUTS
    ]
    report = {
        "machine": machine(),
        "measured_at": time.strftime("%Y-%m-%d %H:%M", time.gmtime()) + "Z",
        "values": count,
        "invented_p_null": sorted(round(r["p_null"], 3) for r in rows if r["verdict"] == "invented"),
        "right_p_null_top10": sorted(round(r["p_null"], 3) for r in rows if r["verdict"] == "right")[-10:],
        "cuts": cuts,
        "rows": rows,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}, indent=2))
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
