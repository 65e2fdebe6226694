"""Speech-to-text on phone audio: word error rate and time per utterance, the appliance beside stock.

Sources, each reported on its own:
- recorded human speech from Debian packages (bench/speech_corpus.py: Asterisk's prompts and digits,
  pocketsphinx's test recordings of several speakers, ALSA's test voice);
- synthesised sentences (bench/data/stt_sentences.txt) in voices the agent does not use: the Piper
  voice lowered 10 % (as the simulated person speaks) and espeak-ng.
Everything goes through G.711 µ-law at 8 kHz and back, as on a SIP call, then is transcribed by the
appliance (appliance/voice/stt.py) and by stock faster-whisper (`WhisperModel.transcribe` with its
defaults: 30 s window, beam 5, temperature fallback) on the same model. WER uses Whisper's own
English normaliser ("nine" and "9" are one word). Writes bench/results/stt.json.

    python bench/stt.py [--source asterisk ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soxr
from whisper_normalizer.english import EnglishTextNormalizer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from appliance import models
from appliance.telephony.carrier.person import espeak, lower_voice
from appliance.telephony.g711 import ulaw_decode, ulaw_encode
from appliance.voice.stt import Transcriber
from appliance.voice.tts import Synthesizer
from bench import speech_corpus
from bench.procstat import machine

HERE = Path(__file__).resolve().parent
normalise = EnglishTextNormalizer()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def edits(reference: list[str], hypothesis: list[str]) -> int:
    row = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, start=1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hypothesis, start=1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def wer(pairs: list[tuple[str, str]]) -> float:
    """Corpus WER: all edits over all reference words, after normalising both sides."""
    errors = words = 0
    for said, heard in pairs:
        ref, hyp = normalise(said).split(), normalise(heard).split()
        errors += edits(ref, hyp)
        words += len(ref)
    return errors / max(1, words)


def synthesised(piper: Synthesizer) -> dict[str, list[tuple[str, bytes]]]:
    sentences = [s for s in (HERE / "data" / "stt_sentences.txt").read_text().splitlines() if s.strip()]
    voices: dict[str, Callable[[str], bytes]] = {
        "piper-lowered": lambda s: lower_voice(piper.synthesize(s)),
        "espeak-ng": espeak,
    }
    out = {}
    for name, speak in voices.items():
        print(f"{name}: synthesising {len(sentences)} sentences…", flush=True)
        out[name] = [(s, speak(s)) for s in sentences]
    return out


def stock(transcriber: Transcriber, pcm: bytes) -> str:
    audio16 = soxr.resample(np.frombuffer(pcm, np.int16).astype(np.float32) / 32768, 8000, 16000)
    segments, _ = transcriber.whisper.transcribe(audio16, language="en")
    return " ".join(s.text.strip() for s in segments)


def summary(heard: list[tuple[str, str]], times: list[float]) -> dict[str, object]:
    return {
        "wer": round(wer(heard), 4),
        "ms_p50": round(statistics.median(times)),
        "ms_p95": round(pct(times, 0.95)),
        "ms_total": round(sum(times)),
    }


Outcome = dict[str, tuple[list[tuple[str, str]], list[float]]]  # method → (said, heard) pairs, ms each


def run(transcriber: Transcriber, name: str, items: list[tuple[str, bytes]]) -> tuple[dict[str, object], Outcome]:
    audio = [(said, ulaw_decode(ulaw_encode(pcm))) for said, pcm in items]  # through G.711 as on the line
    report: dict[str, object] = {"utterances": len(audio), "seconds": round(sum(len(p) for _, p in audio) / 16000)}
    methods: dict[str, Callable[[bytes], str]] = {
        "appliance": transcriber.transcribe,
        "stock": lambda p: stock(transcriber, p),
    }
    outcome: Outcome = {}
    for method, transcribe in methods.items():
        heard, times = [], []
        for said, pcm in audio:
            started = time.perf_counter()
            heard.append((said, transcribe(pcm)))
            times.append((time.perf_counter() - started) * 1000)
        outcome[method] = (heard, times)
        report[method] = summary(heard, times) | {
            "errors": [{"said": s, "heard": h} for s, h in heard if wer([(s, h)]) > 0]
        }
        print(f"  {name} / {method}: WER {wer(heard):.1%}, p50 {statistics.median(times):.0f} ms", flush=True)
    return report, outcome


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", action="append", help="only these sources (default: all)")
    args = parser.parse_args()
    stt_model = models.resolve("stt", None)
    transcriber = Transcriber(stt_model.path)
    sources: dict[str, list[tuple[str, bytes]]] = {}
    for u in speech_corpus.load():
        sources.setdefault(f"human/{u.source}", []).append((u.text, u.pcm))
    sources |= {f"synth/{k}": v for k, v in synthesised(Synthesizer(models.resolve("voice", None).path)).items()}
    chosen = {k: v for k, v in sources.items() if not args.source or k.split("/")[-1] in args.source}
    results: dict[str, object] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine()}
    results["stt_model"] = stt_model.id
    human: dict[str, tuple[list[tuple[str, str]], list[float]]] = {}
    for name, items in chosen.items():
        results[name], outcome = run(transcriber, name, items)
        for method, (heard, times) in outcome.items() if name.startswith("human/") else ():
            pairs, all_times = human.setdefault(method, ([], []))
            pairs += heard
            all_times += times
    if human:
        results["human/all"] = {method: summary(*both) for method, both in human.items()}
    (HERE / "results" / "stt.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
