"""End of turn on phone audio: how soon each policy answers a finished turn, and how often it cuts off a
caller who only paused.

Turns, all through G.711 µ-law at 8 kHz with a faint line hiss, in voices the agent does not use:
- `espeak-ng` and `piper-lowered` (the Piper voice pitched down 10 %): sentences callers say, each
  spoken whole (a complete turn), and spoken as "<start>, <rest>" and cut in the comma's pause, so the
  start keeps the pitch of a sentence that goes on (a cut-off turn); plus short complete answers;
- `human`: recorded speech (bench/speech_corpus.py): whole utterances are complete turns, an utterance
  cut at its longest pause inside (and without a sentence end before it) is a cut-off turn.

Each turn is followed by 2.5 s of hiss and played frame by frame (20 ms) through TurnDetector
(appliance/voice/turns.py) with each policy's VAD and check. The policies are causal, so a caller who
pauses P ms and then goes on is cut off exactly when the turn is declared over less than P ms after
its last voiced frame: false cut-offs are counted for pauses of 600 and 1000 ms. The wait is from a
complete turn's last voiced frame to the decision, including the check's own (measured) time.

    python bench/turn_end.py
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from appliance import models
from appliance.telephony.carrier.person import espeak, lower_voice
from appliance.telephony.g711 import ulaw_decode, ulaw_encode
from appliance.voice import text
from appliance.voice.call_audio import FRAME_BYTES
from appliance.voice.silero import SileroModel, SileroVad
from appliance.voice.smart_turn import SmartTurn
from appliance.voice.stt import Transcriber
from appliance.voice.tts import Synthesizer
from appliance.voice.turns import FRAME_MS, TurnConfig, TurnDetector, TurnEvent, loud
from appliance.voice.vad import Vad
from bench import speech_corpus
from bench.procstat import machine

HERE = Path(__file__).resolve().parent
PAUSES_MS = (600, 1000)
# (start, rest): the whole sentence is a complete turn, the start alone a cut-off one.
SENTENCES = [
    ("I was thinking maybe", "Thursday afternoon."),
    ("My number is five five five", "one two three four."),
    ("Could we do", "Friday instead?"),
    ("Yes, that works, but only after", "three o'clock."),
    ("My name is", "Alex Johnson."),
    ("I'd like to book a cleaning for", "my daughter."),
    ("The best time to reach me is", "in the morning."),
    ("We need to move the appointment because", "my car broke down."),
    ("And the card number is four one one one", "two two two two."),
    ("Can you also send me", "a reminder by text?"),
    ("I'm calling about the bill I got", "last week."),
    ("Tuesday at ten would be", "perfect."),
]
SHORT = ["Yes.", "No, thank you.", "Five.", "That's right.", "Yes, that works for me."]


@dataclass
class Turn:
    voice: str
    label: str  # "complete" | "cutoff"
    text: str
    pcm: bytes  # lead-in, the speech, 2.5 s of tail; through G.711
    last_voiced_ms: int = 0
    frames: list[bytes] = field(default_factory=list)


def quiet_runs(pcm: bytes) -> list[tuple[int, int]]:
    """(first, end) frame indices of runs of ≥ 100 ms without a loud frame, inside the speech."""
    flags = [loud(pcm[i : i + FRAME_BYTES]) for i in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES)]
    voiced = [i for i, f in enumerate(flags) if f]
    runs, start = [], None
    for i in range(voiced[0], voiced[-1] + 1) if voiced else ():
        if not flags[i] and start is None:
            start = i
        elif flags[i] and start is not None:
            if i - start >= 5:
                runs.append((start, i))
            start = None
    return runs


def line(speech: bytes, voice: str, label: str, said: str, seed: int) -> Turn:
    rng = np.random.default_rng(seed)
    audio = np.concatenate([np.zeros(4000), np.frombuffer(speech, np.int16), np.zeros(20000)])
    audio = np.clip(audio + rng.normal(0, 30, len(audio)), -32768, 32767).astype(np.int16)
    pcm = ulaw_decode(ulaw_encode(audio.tobytes()))
    turn = Turn(voice, label, said, pcm)
    turn.frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES)]
    turn.last_voiced_ms = (max(i for i, f in enumerate(turn.frames) if loud(f)) + 1) * FRAME_MS
    return turn


def synthesised(voice: str, speak: Callable[[str], bytes]) -> list[Turn]:
    turns = []
    for i, (start, rest) in enumerate(SENTENCES):
        turns.append(line(speak(f"{start} {rest}"), voice, "complete", f"{start} {rest}", i))
        spoken = speak(f"{start}, {rest}")
        runs = quiet_runs(spoken)  # the pause at the added comma: the run nearest where the start ends
        at = len(start) / (len(start) + len(rest)) * len(spoken) / FRAME_BYTES
        cut = min(runs, key=lambda r: abs(r[0] - at))[0] if runs else None
        if cut is not None:
            turns.append(line(spoken[: cut * FRAME_BYTES], voice, "cutoff", f"{start}…", 100 + i))
    turns += [line(speak(s), voice, "complete", s, 200 + i) for i, s in enumerate(SHORT)]
    return turns


def recorded() -> list[Turn]:
    corpus = [u for u in speech_corpus.load() if len(u.text.split()) >= 2]
    by_source = {src: [u for u in corpus if u.source == src] for src in ("asterisk", "pocketsphinx", "alsa")}
    # Asterisk's prompts include fragments played before a number ("The person at extension"): not turns.
    prompts = [u for u in by_source["asterisk"] if text.ends_sentence(u.text)][::2]
    whole = prompts + by_source["pocketsphinx"] + by_source["alsa"][:2]
    turns = [line(u.pcm, "human", "complete", u.text, 300 + i) for i, u in enumerate(whole)]
    alsa_cuts = 0  # ALSA's eight "Front Left"-like lines would outweigh the rest: three of them
    for i, u in enumerate(corpus):
        frames = len(u.pcm) // FRAME_BYTES
        # A real pause (≥ 160 ms) in the middle of the line, not a stop closure after its first syllable.
        runs = [r for r in quiet_runs(u.pcm) if r[1] - r[0] >= 8 and 0.2 * frames <= r[0] <= 0.85 * frames]
        if not runs or re.search(r"[.?!]\s", u.text) or (u.source == "alsa" and (alsa_cuts := alsa_cuts + 1) > 3):
            continue  # no pause to cut at, or two sentences (the cut might be a complete turn)
        first, _ = max(runs, key=lambda r: r[1] - r[0])
        turns.append(line(u.pcm[: first * FRAME_BYTES], "human", "cutoff", f"{u.text} (cut)", 400 + i))
    return turns


class Checks:
    """Whisper's words and Smart Turn's verdict on a turn so far, each measured once and cached."""

    def __init__(self, stt: Transcriber, smart: SmartTurn) -> None:
        self.stt, self.smart = stt, smart
        self.cache: dict[tuple[str, int, int], tuple[float, float, float]] = {}
        self.cpu: dict[str, list[float]] = {"words": [], "smart_turn": []}
        self.wall: dict[str, list[float]] = {"words": [], "smart_turn": []}

    def _measure(self, kind: str, audio: bytes, judge: Callable[[bytes], float]) -> tuple[float, float, float]:
        """(the check's value, wall ms, CPU ms)"""
        key = (kind, len(audio), hash(audio))
        if key not in self.cache:
            wall, cpu = time.perf_counter(), time.process_time()
            verdict = judge(audio)
            cpu_ms = (time.process_time() - cpu) * 1000
            self.cache[key] = (verdict, (time.perf_counter() - wall) * 1000, cpu_ms)
            self.cpu[kind].append(cpu_ms)
            self.wall[kind].append(self.cache[key][1])
        return self.cache[key]

    def words(self, audio: bytes) -> tuple[bool, float, float]:
        said, wall, cpu = self._measure("words", audio, lambda a: text.ends_sentence(self.stt.transcribe(a)))
        return bool(said), wall, cpu

    def smart_turn(self, audio: bytes, threshold: float = 0.5) -> tuple[bool, float, float]:
        p, wall, cpu = self._measure("smart_turn", audio, self.smart.p_complete)
        return p >= threshold, wall, cpu

    def sure(self, audio: bytes) -> tuple[bool, float, float]:
        """Smart Turn only when it is sure: p ≥ 0.9 called 7 of 35 cut-offs complete, p ≥ 0.5 called 15
        (`smart_turn_threshold` in the results, 2026-12-01)."""
        return self.smart_turn(audio, 0.9)

    def either(self, audio: bytes) -> tuple[bool, float, float]:
        """Smart Turn OR the words: complete as soon as the first that says so is back."""
        (s, s_ms, s_cpu), (w, w_ms, w_cpu) = self.smart_turn(audio), self.words(audio)
        wall = min(ms for ok, ms in ((s, s_ms), (w, w_ms)) if ok) if s or w else max(s_ms, w_ms)
        return s or w, wall, s_cpu + w_cpu

    def both(self, audio: bytes) -> tuple[bool, float, float]:
        """Smart Turn AND the words: complete once both are back and agree."""
        (s, s_ms, s_cpu), (w, w_ms, w_cpu) = self.smart_turn(audio), self.words(audio)
        return s and w, max(s_ms, w_ms), s_cpu + w_cpu


Check = Callable[[bytes], tuple[bool, float, float]]


Decision = tuple[int | None, float, bool | None]


def decide(turn: Turn, speech: list[bool], config: TurnConfig, check: Check | None) -> Decision:
    """Ms from the last voiced frame to the end of turn (negative: inside the speech), the CPU ms spent on
    checks, and the last check's verdict (complete or not; None without a check)."""
    detector, pending, cpu, verdict = TurnDetector(config), None, 0.0, None
    for frame, is_speech in zip(turn.frames, speech, strict=True):
        if pending is not None and detector.frame_no + 1 >= pending[0]:
            if detector.turn is not None and detector.turn.last_speech_frame == pending[1]:
                detector.mark_complete(pending[2])
            pending = None
        result = detector.feed(frame, is_speech)
        if result is None:
            continue
        event, current = result
        if event is TurnEvent.PAUSED and check is not None:
            complete, wall_ms, cpu_ms = check(bytes(current.audio))
            cpu, verdict = cpu + cpu_ms, complete
            pending = (detector.frame_no + math.ceil(wall_ms / FRAME_MS), current.last_speech_frame, complete)
        elif event is TurnEvent.ENDED:
            return detector.frame_no * FRAME_MS - turn.last_voiced_ms, cpu, verdict
    return None, cpu, verdict


def pct(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(results: dict[str, Any]) -> str:
    """The comparison as a Markdown table, one row per voice and policy."""
    out = [
        "| voice | policy | false cut-offs, 600 / 1000 ms pause | wait p50 / p95 ms | said complete: complete / cut-off"
        " turns | CPU ms per turn |",
        "|---|---|---|---|---|---|",
    ]
    for voice, table in results["policies"].items():
        for name, r in table.items():
            n, said = r["cutoff_turns"], r["complete_judged_complete"]
            verdicts = "-" if said is None else f"{said}/{r['complete_turns']} / {r['cutoff_judged_complete']}/{n}"
            inside = f" (+{r['complete_cut_inside']} complete cut inside)" if r["complete_cut_inside"] else ""
            out.append(
                f"| {voice} | {name} | {r['false_cutoffs_600ms']}/{n} / {r['false_cutoffs_1000ms']}/{n}{inside} "
                f"| {r['wait_ms_p50']:.0f} / {r['wait_ms_p95']:.0f} | {verdicts} | {r['cpu_ms_per_turn']:.0f} |"
            )
    return "\n".join(out)


def main() -> None:
    stt = Transcriber(models.resolve("stt", None).path)
    checks = Checks(stt, SmartTurn(models.wheel_model(models.SMART_TURN)))
    silero = SileroModel(models.wheel_model(models.SILERO_VAD))
    piper = Synthesizer(models.resolve("voice", None).path)
    load = round(os.getloadavg()[0], 2)
    print("synthesising and loading turns…", flush=True)
    turns = [
        *synthesised("espeak-ng", espeak),
        *synthesised("piper-lowered", lambda s: lower_voice(piper.synthesize(s))),
        *recorded(),
    ]
    today = TurnConfig()
    fast = TurnConfig(complete_end_ms=200)
    # name → (VAD, turn config, check at the pause)
    policies: dict[str, tuple[str, TurnConfig, Check | None]] = {
        "today: webrtcvad + words (300/700)": ("webrtc", today, checks.words),
        # (no check, so the pause only has to come before the end)
        "silero 200 ms": ("silero", TurnConfig(pause_ms=100, end_ms=200), None),
        "silero 300 ms": ("silero", TurnConfig(pause_ms=100, end_ms=300), None),
        "silero 500 ms": ("silero", TurnConfig(pause_ms=100, end_ms=500), None),
        "smart turn (else 700)": ("webrtc", fast, checks.smart_turn),
        "smart turn (else 1000)": ("webrtc", TurnConfig(complete_end_ms=200, end_ms=1000), checks.smart_turn),
        "silero + smart turn (else 700)": ("silero", fast, checks.smart_turn),
        "silero + smart turn (else 1000)": ("silero", TurnConfig(complete_end_ms=200, end_ms=1000), checks.smart_turn),
        "smart turn OR words (else 700)": ("webrtc", fast, checks.either),
        "silero + words (300/700)": ("silero", today, checks.words),
        "silero + (smart turn OR words) (else 700)": ("silero", fast, checks.either),
        "silero + (smart turn AND words) (else 700)": ("silero", fast, checks.both),
        # Trust the model only when sure; otherwise let the silence decide, at Silero alone's best length.
        "silero + smart turn p>=0.9 (else 500)": ("silero", TurnConfig(complete_end_ms=200, end_ms=500), checks.sure),
        "silero + smart turn (else 500)": ("silero", TurnConfig(complete_end_ms=200, end_ms=500), checks.smart_turn),
    }
    rows: dict[str, dict[str, list[tuple[str, Decision]]]] = {}
    detail: list[dict[str, object]] = []
    silero_cpu: list[float] = []
    for n, turn in enumerate(turns, start=1):
        vad = Vad()
        flags = {"webrtc": [vad.is_speech(f) for f in turn.frames]}
        stream, cpu = SileroVad(silero), time.process_time()
        flags["silero"] = [stream.is_speech(f) for f in turn.frames]
        silero_cpu.append((time.process_time() - cpu) * 1000 / len(turn.frames))
        decided = {name: decide(turn, flags[v], config, check) for name, (v, config, check) in policies.items()}
        for name, decision in decided.items():
            rows.setdefault(turn.voice, {}).setdefault(name, []).append((turn.label, decision))
        # What each model makes of the whole turn (up to its last voiced frame) and a 200 ms pause,
        # whatever the policies did: Smart Turn's p for thresholds other than 0.5, and Whisper's words.
        at_pause = b"".join(turn.frames[: (turn.last_voiced_ms + 200) // FRAME_MS])
        seen = {"smart_turn_p": round(checks.smart.p_complete(at_pause), 3), "heard": stt.transcribe(at_pause)}
        detail.append(
            {"voice": turn.voice, "label": turn.label, "text": turn.text}
            | seen
            | {"decision_ms": {k: d[0] for k, d in decided.items()}}
        )
        print(f"  {n}/{len(turns)} {turn.voice} {turn.label}: {turn.text}", flush=True)
    results: dict[str, object] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine()}
    results["turns"] = {
        v: {lab: sum(t.voice == v and t.label == lab for t in turns) for lab in ("complete", "cutoff")} for v in rows
    }
    results["cpu_ms_per_check"] = {k: round(statistics.median(v), 1) for k, v in checks.cpu.items()}
    # The decisions wait for the checks' wall time, which other work on the machine stretches.
    results["wall_ms_per_check_p50"] = {k: round(statistics.median(v), 1) for k, v in checks.wall.items()}
    results["load_average_at_start_and_end"] = [load, round(os.getloadavg()[0], 2)]
    results["silero_cpu_ms_per_20ms_frame"] = round(statistics.median(silero_cpu), 3)
    table: dict[str, dict[str, dict[str, object]]] = {}
    for voice, by_policy in [*rows.items(), ("all", {})]:
        for name in policies:
            got = by_policy.get(name) or [r for v in rows.values() for r in v[name]]
            waits = [ms for lab, (ms, _, _) in got if lab == "complete" and ms is not None and ms >= 0]
            cut = [ms for lab, (ms, _, _) in got if lab == "cutoff"]
            judged = {lab: sum(v is True for la, (_, _, v) in got if la == lab) for lab in ("complete", "cutoff")}
            table.setdefault(voice, {})[name] = {
                **{f"false_cutoffs_{p}ms": sum(ms is not None and ms < p for ms in cut) for p in PAUSES_MS},
                "cutoff_turns": len(cut),
                "complete_turns": sum(lab == "complete" for lab, _ in got),
                "complete_cut_inside": sum(ms is not None and ms < 0 for lab, (ms, _, _) in got if lab == "complete"),
                # the check's verdict at the turn's last pause (none for Silero alone)
                "complete_judged_complete": judged["complete"] if policies[name][2] else None,
                "cutoff_judged_complete": judged["cutoff"] if policies[name][2] else None,
                "wait_ms_p50": statistics.median(waits) if waits else None,
                "wait_ms_p95": pct(waits, 0.95) if waits else None,
                "cpu_ms_per_turn": round(statistics.mean(c for _, (_, c, _) in got), 1),
            }
    results["policies"] = table
    results["smart_turn_threshold"] = {
        voice: {
            f"p>={t}": {
                lab: f"{sum(d['smart_turn_p'] >= t for d in ds if d['label'] == lab)}/"
                f"{sum(d['label'] == lab for d in ds)} said complete"
                for lab in ("complete", "cutoff")
            }
            for t in (0.3, 0.5, 0.7, 0.9)
        }
        for voice in [*rows, "all"]
        if (ds := [d for d in detail if voice in ("all", d["voice"])])
    }
    results["decision_ms_per_turn"] = detail
    (HERE / "results" / "turn_end.json").write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))


if __name__ == "__main__":
    main()
