"""Whole conversations over real SIP against the loopback carrier's simulated person.

Measured where the caller hears it (the person's end of the line): reply latency (end of the
person's speech → first agent audio) over many turns, per caller voice (none of them the agent's own:
the Piper voice lowered, espeak-ng American, espeak-ng Scottish female), barge-in stop time (person
starts talking over the agent → agent audio stops), a concurrency sweep (p95 reply latency and CPU with
N simultaneous conversations), and the appliance's memory (idle with models loaded, and per extra
call). `--llm-server N` runs it all with the language model on a llama.cpp `llama-server` with N slots
on this machine (tests/llama_server.py), as `llm_server_url` puts it on a box of the LAN, for the calls per
box with a model server; `--llm-sequences N` with one context decoding N calls in a batch (llm_sequences).
The agent's own breakdown per turn (STT, LLM first token, first words complete, their TTS, TTS of the whole
reply) comes from the call events.

Every reply latency is read four ways and reported side by side: by the person, by the appliance's
turn events, in the call's stereo recording, and on the wire (as root: ../shared/tools/rtp_latency.py
sniffing the person's RTP leg on the loopback device).
Writes bench/results/conversation.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.call_status import TERMINAL
from bench.procstat import Sampler, machine, rss_mb
from tests.audio import recording_gaps
from tests.support import ServerProcess, free_port

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE.parent / "appliance" / "telephony" / "carrier" / "scripts"
sys.path.insert(0, str(HERE.parent.parent / "shared" / "tools"))
try:
    from rtp_latency import Sniffer  # a measuring tool beside the product (../shared/tools)
except ImportError:  # no ../shared beside the checkout
    Sniffer = None
VOICES = ["piper", "espeak", "espeak:en-gb-scotland+f3"]
AGENT = {
    "name": "Sam",
    "type": "outbound",
    "persona": "A friendly receptionist at Bright Smile Dental.",
    "instructions": "Confirm Alex's dental cleaning tomorrow at 3 pm. If Alex cannot come, offer Friday at 10 am.",
    "first_message": "Hi, this is Sam from Bright Smile Dental. Am I speaking with Alex?",
    "max_duration_seconds": 120,
}


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stats(values: list[float]) -> dict[str, float | int | None]:
    return {
        "n": len(values),
        "p50": pct(values, 0.5),
        "p95": pct(values, 0.95),
        "mean": round(statistics.mean(values)) if values else None,
    }


class Bench:
    def __init__(self, appliance: ServerProcess) -> None:
        self.appliance = appliance
        self.api = appliance.client()
        self.agent = self.api.post("/v1/agents", json=AGENT).json()
        self.results_file = appliance.data_dir / "carrier" / "person-results.jsonl"

    def use_script(self, name: str, **changes: object) -> None:
        target = self.appliance.data_dir / "carrier" / "person.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SCRIPTS / f"{name}.yaml", target)
        if changes:
            target.write_text(yaml.safe_dump({**yaml.safe_load(target.read_text()), **changes}))

    def person_lines(self) -> list[dict]:
        if not self.results_file.exists():
            return []
        return [json.loads(line) for line in self.results_file.read_text().splitlines()]

    def calls(self, script: str, n: int, **changes: object) -> tuple[list[dict], list[dict]]:
        """Place n simultaneous calls with the person on `script`; returns the calls and the person's measures."""
        self.use_script(script, **changes)
        before = len(self.person_lines())
        body = {"agent_id": self.agent["id"], "to": "+12025550101"}
        ids = [self.api.post("/v1/calls", json=body).json()["id"] for _ in range(n)]
        calls = [self.appliance.wait_for(i, TERMINAL, timeout=300) for i in ids]
        deadline = time.monotonic() + 20
        while len(self.person_lines()) < before + n and time.monotonic() < deadline:
            time.sleep(0.2)
        return calls, self.person_lines()[before:]

    def turn_events(self, calls: list[dict]) -> list[dict]:
        out = []
        for call in calls:
            events = self.api.get(f"/v1/calls/{call['id']}/events").json()["events"]
            out += [e["data"] for e in events if e["type"] == "turn" and "stt_ms" in e["data"]]
        return out

    def reported(self, call: dict) -> list[int]:
        """The appliance's latency_ms of every reply to the caller, the opening included."""
        events = self.api.get(f"/v1/calls/{call['id']}/events").json()["events"]
        return [e["data"]["latency_ms"] for e in events if e["type"] == "turn" and e["data"].get("user")]

    def voice(self, voice: str, turns: int) -> dict[str, object]:
        """Calls with the person speaking in `voice` until `turns` replies were measured, read four ways."""
        person_ms: list[float] = []
        events_ms: list[float] = []
        recording_ms: list[float] = []
        wire_ms: list[float] = []
        agent_turns: list[dict] = []
        i = 0
        while len(person_ms) < turns:
            port = free_port(socket.SOCK_DGRAM)
            sniffer = Sniffer(port, port).start() if Sniffer is not None and os.geteuid() == 0 else None
            calls, person = self.calls(["appointment", "reschedule"][i % 2], 1, voice=voice, rtp_port=port)
            if sniffer is not None:
                sniffer.stop()
                wire_ms += [round(x * 1000) for x in sniffer.latencies()]
            person_ms += [x for p in person for x in p["reply_latency_ms"]]
            events_ms += self.reported(calls[0])
            recording_ms += recording_gaps(self.api.get(calls[0]["recording_url"]).content)
            agent_turns += self.turn_events(calls)
            print(f"{voice} call {i + 1} ({calls[0]['status']}): {len(person_ms)}/{turns} turns", flush=True)
            i += 1
        return {
            "at_the_person_ms": stats(person_ms),
            "turn_events_ms": stats(events_ms),
            "recording_ms": stats(recording_ms),
            "wire_ms": stats(wire_ms),
            "agent_turns": agent_turns,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=15, help="reply latencies to collect per caller voice")
    parser.add_argument("--voices", default=",".join(VOICES), help="the person's voices (carrier script `voice`)")
    parser.add_argument("--barge", type=int, default=5, help="calls with a caller who interrupts")
    parser.add_argument("--sweep", default="1,2,4,8,12,16", help="simultaneous conversations to try")
    parser.add_argument("--llm-server", type=int, default=0, help="slots of a llama-server writing the replies")
    parser.add_argument("--llm-sequences", type=int, default=0, help="llm_sequences: replies decoded in one batch")
    parser.add_argument("--out", default="", help="where the results go (default bench/results/conversation*.json)")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-conversation-"))
    env = {
        "APPLIANCE_VOICE": "true",
        "APPLIANCE_MAX_CONCURRENT_CALLS": "16",
        "APPLIANCE_LLM_SEQUENCES": str(args.llm_sequences),
    }
    server = None
    if args.llm_server:
        from appliance import models
        from tests.llama_server import LlamaServer

        # Each slot as large as one of the box's own contexts (4096 tokens).
        server = LlamaServer(models.resolve("llm", None).path, slots=args.llm_server, context=4096 * args.llm_server)
        print(f"llama-server with {args.llm_server} slots: {server.start().url}", flush=True)
        env |= {"APPLIANCE_LLM_SERVER_URL": server.url, "APPLIANCE_EXTRACTION_SERVER_URL": server.url}
    name = "conversation.json"
    if args.llm_server:
        name = f"conversation-llm-server-{args.llm_server}.json"
    elif args.llm_sequences:
        name = f"conversation-llm-sequences-{args.llm_sequences}.json"
    args.out = args.out or str(HERE / "results" / name)
    appliance = ServerProcess(data_dir, env=env)
    appliance.start(timeout=180)
    out: dict[str, object] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine()}
    out["llm"] = (
        f"llama-server, {args.llm_server} slots, same machine"
        if server
        else f"one context, {args.llm_sequences} sequences decoded in one batch"
        if args.llm_sequences
        else "local contexts (the pool)"
    )
    # Other work on the 2 cores shows in every figure: the 1-minute load at the start and after each phase.
    load: dict[str, float] = {"start": round(os.getloadavg()[0], 2)}
    out["load_average"] = load
    try:
        bench = Bench(appliance)
        while bench.api.get("/readyz").json()["checks"].get("voice") is not True:
            time.sleep(0.5)
        pid = appliance.proc.pid
        time.sleep(2)
        out["idle_rss_mb"] = round(rss_mb(pid))
        print(f"idle RSS with models loaded: {out['idle_rss_mb']} MB", flush=True)

        keys = ("latency_ms", "stt_ms", "llm_first_token_ms", "first_chunk_ms", "first_tts_ms", "tts_ms")
        per_voice = {}
        for voice in [v for v in args.voices.split(",") if v]:
            measured = bench.voice(voice, args.turns)
            turns = measured.pop("agent_turns")
            measured["agent_breakdown_ms"] = {key: stats([t[key] for t in turns]) for key in keys}
            measured["agent_turns"] = turns  # each turn's breakdown and words: the profile behind the figures
            per_voice[voice] = measured
            print(f"{voice}: " + json.dumps({k: v for k, v in measured.items() if k != "agent_turns"}), flush=True)
        out["reply_latency_per_voice"] = per_voice
        load["after_latency"] = round(os.getloadavg()[0], 2)

        stops: list[float] = []
        for n in range(args.barge):
            _calls, person = bench.calls("interrupter", 1)
            stops += [x for p in person for x in p["barge_in_stop_ms"]]
            print(f"barge-in call {n + 1}: {stops}", flush=True)
        out["barge_in_stop_at_caller_ms"] = stats(stops)
        load["after_barge_in"] = round(os.getloadavg()[0], 2)

        sweep = {}
        for level in [int(x) for x in args.sweep.split(",") if x]:
            sampler = Sampler(
                {"appliance": pid, **({"llama-server": server.proc.pid} if server and server.proc else {})}
            )
            stop = threading.Event()

            def sample(sampler: Sampler = sampler, stop: threading.Event = stop) -> None:
                while not stop.wait(1.0):
                    sampler.sample()

            thread = threading.Thread(target=sample, daemon=True)
            thread.start()
            calls, person = bench.calls("reschedule", level)
            stop.set()
            thread.join()
            lat = [x for p in person for x in p["reply_latency_ms"]]
            summaries = sampler.summary()
            summary = summaries["appliance"]
            sweep[level] = {
                "reply_latency_at_caller_ms": stats(lat),
                "completed": sum(c["status"] == "completed" for c in calls),
                "cpu_percent_of_one_core": {"mean": summary["cpu_pct_mean"], "max": summary["cpu_pct_max"]},
                "peak_rss_mb": round(summary["rss_mb_max"]),
            }
            if "llama-server" in summaries:
                used = summaries["llama-server"]
                sweep[level]["llama_server_cpu_percent_of_one_core"] = {
                    "mean": used["cpu_pct_mean"],
                    "max": used["cpu_pct_max"],
                }
            print(f"{level} simultaneous: {sweep[level]}", flush=True)
        out["concurrency"] = sweep
        load["end"] = round(os.getloadavg()[0], 2)
        if sweep:
            top = max(sweep)
            out["rss_per_extra_call_mb"] = round((sweep[top]["peak_rss_mb"] - out["idle_rss_mb"]) / max(1, top), 1)
    finally:
        appliance.stop()
        if server is not None:
            server.stop()
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
