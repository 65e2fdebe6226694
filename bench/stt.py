"""Speech-to-text on phone audio: word error rate and time per turn.

Sentences (bench/data/stt_sentences.txt) are spoken by voices the agent does not use (the Piper
voice lowered 10 % as the simulated person speaks, and espeak-ng), taken to 8 kHz µ-law and back as
on a SIP call, then transcribed two ways: our short-window Whisper (appliance/voice/stt.py) and
faster-whisper's standard 30 s window. Writes bench/results/stt.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from appliance import models
from appliance.telephony.carrier.person import espeak, lower_voice
from appliance.telephony.g711 import ulaw_decode, ulaw_encode
from appliance.voice.stt import Transcriber
from appliance.voice.text import word_error_rate
from appliance.voice.tts import Synthesizer
from bench.procstat import machine

HERE = Path(__file__).resolve().parent


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    sentences = [s for s in (HERE / "data" / "stt_sentences.txt").read_text().splitlines() if s.strip()]
    stt_model = models.resolve("stt", None)
    transcriber = Transcriber(stt_model.path)
    piper = Synthesizer(models.resolve("voice", None).path)
    voices = {"piper-lowered": lambda s: lower_voice(piper.synthesize(s)), "espeak-ng": espeak}
    results: dict[str, object] = {"machine": machine(), "stt_model": stt_model.id, "sentences": len(sentences)}
    for name, speak in voices.items():
        print(f"{name}: synthesising {len(sentences)} sentences…", flush=True)
        audio = [ulaw_decode(ulaw_encode(speak(s))) for s in sentences]  # through G.711 as on the line
        for method in ("short-window", "30s-window"):
            heard, times = [], []
            for i, pcm in enumerate(audio):
                started = time.perf_counter()
                if method == "short-window":
                    text = transcriber.transcribe(pcm)
                else:
                    audio16 = soxr.resample(np.frombuffer(pcm, np.int16).astype(np.float32) / 32768, 8000, 16000)
                    segments, _ = transcriber.whisper.transcribe(
                        audio16, language="en", beam_size=1, condition_on_previous_text=False, without_timestamps=True
                    )
                    text = " ".join(s.text.strip() for s in segments)
                times.append((time.perf_counter() - started) * 1000)
                heard.append(text)
                if i % 10 == 0:
                    print(f"  {method}: {i + 1}/{len(audio)}", flush=True)
            wer = word_error_rate(" ".join(sentences), " ".join(heard))
            results[f"{name}/{method}"] = {
                "wer": round(wer, 4),
                "ms_p50": round(statistics.median(times)),
                "ms_p95": round(pct(times, 0.95)),
                "errors": [
                    {"said": s, "heard": h} for s, h in zip(sentences, heard, strict=True) if word_error_rate(s, h) > 0
                ],
            }
            print(f"  {method}: WER {wer:.1%}, p50 {statistics.median(times):.0f} ms", flush=True)
    (HERE / "results" / "stt.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
