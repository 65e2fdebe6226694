"""Replies of N calls at once from the language model alone: the pool of contexts (llm.py: replies written in
turn, KV caches snapshotted in and out) against one context decoding every call in one batch (llm_batch.py,
`llm_sequences`), on the default model.

Each call has its own prompt (a call's system prompt and a few turns, ≈ 450 tokens), read once before (as
while the line rings); then every call's next reply is asked for at the same moment and written to the end
(at most 60 tokens, greedy: both sides write the same replies, so they do the same work). Reported per level:
the whole machine's tokens written per second (pieces of text: one per token but for a token that ends in
the middle of a character), the first token's wait per reply (p50, p95: the part of the caller's wait the
model adds), and the time until the last reply is done. Writes bench/results/batch_decoding.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance import models
from appliance.voice.llm import LlmPool
from appliance.voice.llm_batch import BatchedLlm
from bench.procstat import machine

HERE = Path(__file__).resolve().parent
NAMES = ["Alex", "Maria", "Chen", "Priya", "Tom", "Fatima", "Lukas", "Aiko", "Omar", "Grace", "Ivan", "Nia"]
SYSTEM = (
    "You are Sam, a friendly receptionist at Bright Smile Dental, on a phone call with {name}. Speak in short, "
    "natural sentences, one or two at a time, the way people talk on the phone. Your goal: confirm {name}'s "
    "dental cleaning tomorrow at 3 pm with doctor Patel. If {name} cannot come, offer Friday at 10 am or Monday "
    "at 2 pm, and nothing else. Never make up a date, a price or a name that nobody gave. If {name} asks about "
    "the cost, say that the clinic will check their insurance and call back. If {name} asks for a human, say "
    "that the front desk opens at 8 am. When the appointment is settled or refused, thank {name} and say "
    "goodbye. Do not read out these instructions. Today is Thursday, the 3rd of December. The clinic is at 12 "
    "Harbor Street, next to the pharmacy; parking is behind the building. The cleaning takes about 45 minutes. "
    "Patients should arrive 10 minutes early and bring their insurance card. A cancellation less than 24 hours "
    "before the appointment may be charged. You may answer questions about the address, the parking, the "
    "length of the visit and what to bring, and about nothing else."
)
TURNS = [
    ("assistant", "Hi {name}, this is Sam from Bright Smile Dental. Am I speaking with {name}?"),
    ("user", "Yes, speaking. What is this about?"),
    ("assistant", "I'm calling to confirm your cleaning tomorrow at 3 pm with doctor Patel. Can you make it?"),
    ("user", "Hmm, tomorrow is tricky. Where is the clinic again, and how long does it take?"),
]
ASK = "Okay. And is there any other time, maybe Friday morning?"


def messages(name: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM.format(name=name)}] + [
        {"role": role, "content": text.format(name=name)} for role, text in TURNS
    ]


def pct(values: list[float], q: float) -> int:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


async def level(model: Any, n: int, max_tokens: int) -> dict[str, Any]:
    calls = [f"call-{n}-{i}" for i in range(n)]
    names = [NAMES[i % len(NAMES)] for i in range(n)]
    for call, name in zip(calls, names, strict=True):
        await model.warm(call, messages(name))
    started = time.perf_counter()
    firsts: list[float] = []
    tokens: list[int] = []

    async def reply(call: str, name: str) -> None:
        asked = [*messages(name), {"role": "user", "content": ASK}]
        count, first = 0, None
        async for _piece in model.stream(call, asked, max_tokens=max_tokens, temperature=0.0):
            count += 1
            if first is None:
                first = time.perf_counter() - started
        firsts.append(1000 * (first if first is not None else time.perf_counter() - started))
        tokens.append(count)

    await asyncio.gather(*(reply(c, name) for c, name in zip(calls, names, strict=True)))
    wall = time.perf_counter() - started
    for call in calls:
        model.forget(call)
    return {
        "tokens_per_second": round(sum(tokens) / wall, 1),
        "first_token_ms": {"p50": pct(firsts, 0.5), "p95": pct(firsts, 0.95), "mean": round(statistics.mean(firsts))},
        "all_done_ms": round(1000 * wall),
        "pieces_written": sum(tokens),
    }


async def run(kind: str, levels: list[int], max_tokens: int, threads: int) -> dict[str, Any]:
    path = models.resolve("llm", None).path
    model: Any
    if kind == "pool":
        model = LlmPool(path, 1, 4096, threads)
    else:
        model = BatchedLlm(path, max(levels), 4096, threads)
    out = {}
    for n in levels:
        out[n] = await level(model, n, max_tokens)
        print(f"{kind} {n} calls: {json.dumps(out[n])}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", default="1,2,4,8,12", help="calls writing a reply at the same moment")
    parser.add_argument("--max-tokens", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results" / "batch_decoding.json"))
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x]
    out: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine()}
    out["model"] = models.resolve("llm", None).id
    for kind in ("pool", "batched"):  # one after the other: each has the cores to itself
        out[kind] = asyncio.run(run(kind, levels, args.max_tokens, args.threads))
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
