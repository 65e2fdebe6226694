"""Typed extraction against a hand-written evaluation set (bench/data/extraction_set.json).

Each item is a transcript with its agent's `returns`, instructions and context, and the expected result.
Scored per leaf field: accuracy (the value matches), invented values (non-null where null was expected:
the failure that matters most, since a consumer would act on it) and missed values (null where a value
was expected). Also the time per extraction on this machine. Results are merged into
bench/results/extraction.json under the model's name, so several models can be compared.

    .venv/bin/python bench/extraction.py [--model ID | --model-path FILE.gguf] [--only ID,ID] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance import models
from appliance.logs import configure_logging
from appliance.results import extraction
from appliance.results.extraction import N_THREADS, Extractor
from bench.procstat import machine

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "extraction_set.json"
RESULTS = HERE / "results" / "extraction.json"


def leaves(expected: Any, got: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(field path, expected, got) for every leaf of the expected result; a null object counts as all-null
    leaves, and an array is one leaf."""
    if isinstance(expected, dict):
        got = got if isinstance(got, dict) else {}
        out = []
        for name, value in expected.items():
            out.extend(leaves(value, got.get(name), f"{path}.{name}" if path else name))
        return out
    return [(path, expected, got)]


def _text(value: str) -> str:
    return re.sub(r"[^0-9a-z@]", "", value.casefold())


def same(expected: Any, got: Any) -> bool:
    """Equal up to formatting: case and punctuation in text, float noise in numbers, order in lists."""
    if expected is None or got is None:
        return expected is got
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected is got
    if isinstance(expected, int | float):
        return isinstance(got, int | float) and abs(expected - got) < 0.005
    if isinstance(expected, str):
        return isinstance(got, str) and _text(expected) == _text(got)
    if isinstance(expected, list):
        return isinstance(got, list) and sorted(map(json.dumps, expected)) == sorted(map(json.dumps, got))
    return expected == got


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(extractor: Extractor, items: list[dict[str, Any]], schemas: dict[str, Any], verbose: bool) -> dict[str, Any]:
    fields = correct = expected_null = invented = missed = wrong = failed = 0
    times: list[float] = []
    by_category: dict[str, list[int]] = {}
    mistakes = []
    per_item = []
    for item in items:
        spec = schemas[item["schema"]]
        turns = [(t["role"], t["text"]) for t in item["transcript"]]
        started = time.perf_counter()
        outcome = extractor.extract(spec["returns"], turns, spec.get("instructions"), spec.get("context"))
        times.append(time.perf_counter() - started)
        if outcome.status != "completed":
            failed += 1
            mistakes.append({"id": item["id"], "failed": outcome.error})
        per_item.append({"id": item["id"], "seconds": round(times[-1], 2), "result": outcome.result})
        tally = by_category.setdefault(item["category"], [0, 0])
        for path, want, got in leaves(item["expected"], outcome.result):
            fields += 1
            tally[1] += 1
            expected_null += want is None
            if same(want, got):
                correct += 1
                tally[0] += 1
                continue
            kind = "invented" if want is None else "missed" if got is None else "wrong"
            invented += kind == "invented"
            missed += kind == "missed"
            wrong += kind == "wrong"
            mistakes.append({"id": item["id"], "field": path, "expected": want, "got": got, "kind": kind})
        if verbose:
            print(f"{item['id']:24} {times[-1]:5.1f} s  {json.dumps(outcome.result)}", flush=True)
    return {
        "items": len(items),
        "fields": fields,
        "field_accuracy": round(correct / fields, 4),
        "invented": invented,
        "invented_rate": round(invented / max(expected_null, 1), 4),
        "expected_null_fields": expected_null,
        "missed": missed,
        "wrong": wrong,
        "failed_extractions": failed,
        "accuracy_by_category": {k: round(v[0] / v[1], 3) for k, v in sorted(by_category.items())},
        "seconds_per_extraction": {
            "p50": round(percentile(times, 0.5), 2),
            "p95": round(percentile(times, 0.95), 2),
            "mean": round(statistics.mean(times), 2),
        },
        "mistakes": mistakes,
        "per_item": per_item,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="installed LLM id (default: the appliance's default model)")
    parser.add_argument("--model-path", type=Path, help="a GGUF file instead of an installed model")
    parser.add_argument("--only", help="comma-separated item ids")
    parser.add_argument("--verbose", action="store_true", help="print each result")
    parser.add_argument(
        "--no-grounding", action="store_true", help="measure without the post-check that nulls unfounded values"
    )
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/extraction.json")
    args = parser.parse_args()
    configure_logging("warning")

    data = json.loads(DATA.read_text())
    items = data["items"]
    if args.only:
        wanted = set(args.only.split(","))
        items = [i for i in items if i["id"] in wanted]
    path = args.model_path or models.resolve("llm", args.model).path
    name = args.model or (path.stem if args.model_path else models.DEFAULT_LLM)
    if args.no_grounding:
        extraction.drop_unfounded = lambda result, _target, _sources: result
    extractor = Extractor(model_path=path)

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    extractor.extract({"ok": "boolean"}, [("user", "hello")])  # load the model outside the timings
    load_seconds = time.perf_counter() - started
    report = run(extractor, items, data["schemas"], args.verbose)
    report = {
        "model": name,
        "model_file": path.name,
        "model_mib": round(path.stat().st_size / 2**20),
        "load_and_first_extraction_seconds": round(load_seconds, 1),
        "n_threads": N_THREADS,
        "machine": machine(),
        # Other work on the box slows the timings (not the scores): the 1-minute load before and after.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "measured_at": time.strftime("%Y-%m-%d %H:%M", time.gmtime()) + "Z",
        **report,
    }
    summary = {k: v for k, v in report.items() if k not in ("mistakes", "per_item")}
    print(json.dumps(summary, indent=2))
    for m in report["mistakes"]:
        print("  ", json.dumps(m))
    if not args.no_save and not args.only:
        saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        saved[name] = report
        RESULTS.write_text(json.dumps(saved, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
