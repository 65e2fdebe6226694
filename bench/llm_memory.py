"""Memory and speed of the conversation model loaded memory-mapped or read into memory, and of a second
context (the extractor's) with its own copy of the weights or borrowing the first one's.

Each mode runs in a fresh process (so one does not warm the other's pages into its RSS): load the model as
the appliance does (`n_ctx` 4096, 2 threads, `n_batch` 256), then generate a short reply to a fixed
prompt several times. Reports the RSS split into anonymous memory and mapped file pages, the load time,
the first token (warm: the prompt cached from the run before, as in a call) and tokens per second. The two
two-context modes load a second context after the first and report the RSS with both.
Writes bench/results/llm_memory.json.

    .venv/bin/python bench/llm_memory.py [--model ID] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.procstat import machine

RESULTS = Path(__file__).resolve().parent / "results" / "llm_memory.json"
MODES = ("mmap", "read", "two_copies", "borrowed")
MESSAGES = [
    {
        "role": "system",
        "content": "You are Sam, a receptionist at Bright Smile Dental, calling Alex to confirm a "
        "cleaning tomorrow at 3 pm. Keep replies short.",
    },
    {"role": "user", "content": "Hello? Yes, this is Alex. Who's calling?"},
]


def memory() -> dict[str, int]:
    """VmRSS, RssAnon and RssFile of this process, in MB."""
    out = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) // 1024
    return out


def measure(model: str | None, mode: str, runs: int) -> dict[str, Any]:
    """One mode, in this process."""
    from llama_cpp import Llama

    from appliance import models
    from appliance.llama_loading import load_llama

    path = str(models.resolve("llm", model).path)
    use_mmap = mode == "mmap"
    started = time.perf_counter()
    if use_mmap:  # what load_llama did before: llama-cpp-python's default
        llm = Llama(model_path=path, verbose=False, n_ctx=4096, n_threads=2, n_batch=256, use_mmap=True)
    else:
        llm = load_llama(path, n_ctx=4096, n_threads=2, n_batch=256)
    load_seconds = time.perf_counter() - started
    after_load = memory()
    first_tokens, rates = [], []
    for _ in range(runs):
        started = time.perf_counter()
        first, tokens = None, 0
        for chunk in llm.create_chat_completion(MESSAGES, max_tokens=32, temperature=0.0, stream=True):
            if chunk["choices"][0]["delta"].get("content"):
                tokens += 1
                first = first or time.perf_counter() - started
        elapsed = time.perf_counter() - started
        first_tokens.append(first or elapsed)
        rates.append((tokens - 1) / max(elapsed - (first or 0), 1e-6))
    warm = first_tokens[1:] or first_tokens
    after_generation = memory()
    second: dict[str, Any] = {}
    if mode in ("two_copies", "borrowed"):
        started = time.perf_counter()
        owner = llm if mode == "borrowed" else None
        other = load_llama(path, weights_of=owner, n_ctx=4096, n_threads=2)
        other.create_chat_completion(MESSAGES, max_tokens=8, temperature=0.0)
        second = {"second_context_load_seconds": round(time.perf_counter() - started, 2), "rss_with_both_mb": memory()}
    return {
        "model": Path(path).name,
        "use_mmap": use_mmap,
        "load_seconds": round(load_seconds, 2),
        "rss_after_load_mb": after_load,
        "rss_after_generation_mb": after_generation,
        "first_token_ms_cold": round(first_tokens[0] * 1000),
        "first_token_ms_warm_p50": round(statistics.median(warm) * 1000),
        "tokens_per_second_p50": round(statistics.median(rates), 1),
        **second,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="installed LLM id (default: the appliance's default model)")
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)  # the child's side
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(measure(args.model, args.mode, args.runs)))
        return 0
    report: dict[str, Any] = {"machine": machine(), "measured_at": time.strftime("%Y-%m-%d %H:%M", time.gmtime()) + "Z"}
    report["load_average_before"] = round(os.getloadavg()[0], 2)
    for mode in MODES:
        print(f"{mode}: loading the model in a fresh process and generating {args.runs} replies…", flush=True)
        command = [sys.executable, __file__, "--mode", mode, "--runs", str(args.runs)]
        if args.model:
            command += ["--model", args.model]
        child = subprocess.run(command, capture_output=True, text=True, check=True)
        report[mode] = json.loads(child.stdout.strip().splitlines()[-1])
        print(json.dumps(report[mode]), flush=True)
    report["load_average_after"] = round(os.getloadavg()[0], 2)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
