"""The first synthesis and transcription after the voice engine loads, against the next ones.

Loads the engine without its warm-up, then times three syntheses of one sentence (Piper, onnxruntime) and
three transcriptions of that audio (Whisper, CTranslate2): the first of each pays for first-run
allocations. `VoiceEngine.load` does one of each at start for that reason. Writes
bench/results/cold_start.json.

    .venv/bin/python bench/cold_start.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.voice.engine import VoiceEngine
from bench.procstat import machine

RESULTS = Path(__file__).resolve().parent / "results" / "cold_start.json"
SENTENCE = "Hi, this is Sam from Bright Smile Dental. Am I speaking with Alex?"


async def main() -> int:
    engine = VoiceEngine()
    engine._warm_up = lambda _voice: None  # type: ignore[method-assign]  # measure what the warm-up avoids
    print("loading the voice engine…", flush=True)
    await engine.load()
    assert engine.stt is not None
    voice = await engine.voice(None)
    tts, stt = [], []
    for _ in range(3):
        started = time.perf_counter()
        audio = voice.synthesize(SENTENCE)
        tts.append(round((time.perf_counter() - started) * 1000))
    for _ in range(3):
        started = time.perf_counter()
        engine.stt.transcribe(audio)
        stt.append(round((time.perf_counter() - started) * 1000))
    report = {
        "machine": machine(),
        "measured_at": time.strftime("%Y-%m-%d %H:%M", time.gmtime()) + "Z",
        "tts_ms_first_then_next": tts,
        "stt_ms_first_then_next": stt,
    }
    print(json.dumps(report), flush=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
