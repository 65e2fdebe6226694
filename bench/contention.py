"""Piper and llama.cpp at the same moment on this machine's cores, with and without speech first.

The reply's first words are synthesised while the rest of it is generated. Measured here: the time to
synthesise one sentence and the generation rate, each alone, then both at once (synthesis repeated in a
thread while the model generates), plain and with `SpeechFirst` (generation pausing between tokens while
a synthesis runs, as the appliance does). Writes bench/results/contention.json.

    .venv/bin/python bench/contention.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance import models
from appliance.llama_loading import load_llama
from appliance.voice.speech_first import SpeechFirst
from appliance.voice.tts import Synthesizer
from bench.procstat import machine

RESULTS = Path(__file__).resolve().parent / "results" / "contention.json"
SENTENCE = "Sure, I can move your cleaning to Friday at ten in the morning if that works better for you."
MESSAGES = [
    {"role": "system", "content": "You are a receptionist at a dental clinic."},
    {"role": "user", "content": "Tell me about your clinic in a few sentences."},
]


def generate(llm: Any, priority: SpeechFirst | None) -> float:
    """Tokens per second after the first token, pausing between tokens for speech when `priority`."""
    started, first, tokens = time.perf_counter(), None, 0
    for chunk in llm.create_chat_completion(MESSAGES, max_tokens=80, temperature=0.0, stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            tokens += 1
            first = first or time.perf_counter()
        if priority:
            priority.wait()
    return (tokens - 1) / (time.perf_counter() - (first or started))


def synthesize_repeatedly(synth: Synthesizer, stop: threading.Event, times: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        synth.synthesize(SENTENCE)
        times.append(time.perf_counter() - started)
        time.sleep(0.3)  # the gap between two chunks of a reply


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    print("loading the default language model and voice…", flush=True)
    llm = load_llama(str(models.resolve("llm", None).path), n_ctx=2048, n_threads=2, n_batch=256)
    priority = SpeechFirst()
    synth = Synthesizer(models.resolve("voice", None).path, priority)
    generate(llm, None)  # warm: the prompt is cached from here on, as a call's is
    synth.synthesize(SENTENCE)

    alone_tts = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        synth.synthesize(SENTENCE)
        alone_tts.append(time.perf_counter() - started)
    alone_rate = statistics.median(generate(llm, None) for _ in range(args.rounds))
    report: dict[str, Any] = {
        "machine": machine(),
        "measured_at": time.strftime("%Y-%m-%d %H:%M", time.gmtime()) + "Z",
        "load_average_before": round(os.getloadavg()[0], 2),
        "alone": {
            "tts_ms_p50": round(statistics.median(alone_tts) * 1000),
            "llm_tokens_per_second": round(alone_rate, 1),
        },
    }
    print("alone:", report["alone"], flush=True)
    for name, gate in (("together", None), ("together_speech_first", priority)):
        stop, times = threading.Event(), []
        speaker = threading.Thread(target=synthesize_repeatedly, args=(synth, stop, times))
        speaker.start()
        rates = [generate(llm, gate) for _ in range(args.rounds)]
        stop.set()
        speaker.join()
        report[name] = {
            "tts_ms_p50": round(statistics.median(times) * 1000),
            "tts_ms_max": round(max(times) * 1000),
            "syntheses": len(times),
            "llm_tokens_per_second": round(statistics.median(rates), 1),
        }
        print(f"{name}:", report[name], flush=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
