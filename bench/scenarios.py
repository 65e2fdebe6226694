"""Task success: scripted calls over real SIP to the loopback carrier's simulated person.

Each scenario of bench/data/scenarios.yaml (eight agent kinds, callers who cooperate, hesitate, refuse, ask
back, answer before being asked, talk over the agent, pause, or leave early) is called once per caller
voice, with the real models. A call succeeds when every objective check of bench/scenario_checks.py
passes and every scored result field is right. Reported per scenario, per agent kind, per behaviour and
in total, beside the reply latency at the caller and the turns per call. Writes
bench/results/scenarios.json (with each call's transcript, so a failure can be read).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.call_status import TERMINAL
from bench import scenario_checks as checks
from bench.conversation import stats
from bench.procstat import machine
from tests.support import ServerProcess

HERE = Path(__file__).resolve().parent
VOICES = ["piper", "espeak"]
INBOUND_NUMBER = "+14155550190"
RING_SECONDS = 3  # the callee picks up after one ring or so, as people do


class Runner:
    def __init__(self, appliance: ServerProcess, spec: dict[str, Any]) -> None:
        self.appliance = appliance
        self.api = appliance.client()
        self.spec = spec
        self.results_file = appliance.data_dir / "carrier" / "person-results.jsonl"
        loopback = next(t for t in self.api.get("/v1/trunks").json() if t["name"] == "loopback")
        number = self.api.post("/v1/numbers", json={"e164": INBOUND_NUMBER, "trunk_id": loopback["id"]}).json()
        self.agents: dict[str, dict[str, Any]] = {}
        self.people: list[dict[str, Any]] = []  # the last call's person results: the caller, a transfer's destination
        for kind, agent in spec["agents"].items():
            body = {**agent["body"], "max_duration_seconds": 150}
            if agent.get("inbound"):
                body["number_ids"] = [number["id"]]
            created = self.api.post("/v1/agents", json=body)
            assert created.status_code == 201, created.text
            self.agents[kind] = created.json()
        self._await_questions()

    def _await_questions(self, timeout: float = 300) -> None:
        """Until each agent's prepared questions are written (the box writes them once an agent is saved, while
        no call runs), as for a user who saves an agent and calls later."""
        wanted = {a["id"] for a in self.agents.values() if a.get("returns")}
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.closing(sqlite3.connect(self.appliance.data_dir / "appliance.db")) as db:
                done = {r[0] for r in db.execute("SELECT agent_id FROM agent_questions WHERE key IS NOT NULL")}
            print(f"questions written for {len(wanted & done)} of {len(wanted)} agents", flush=True)
            if wanted <= done or time.monotonic() > deadline:
                return
            time.sleep(5)

    def person_lines(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.results_file.read_text().splitlines()] if self.results_file.exists() else []

    def call(self, scenario: dict[str, Any], voice: str) -> dict[str, Any]:
        kind = self.spec["agents"][scenario["agent"]]
        inbound = bool(kind.get("inbound"))
        script = {"name": f"{scenario['agent']}-{scenario['behaviour']}", "voice": voice, "lines": scenario["lines"]}
        script["greeting"] = None if inbound else "Hello?"
        script["ring_seconds"] = 0 if inbound else RING_SECONDS
        target = self.appliance.data_dir / "carrier" / "person.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(script))
        before = len(self.person_lines())
        if inbound:
            started = time.time()
            env = {**os.environ, **self.appliance.env}
            cmd = [sys.executable, "-m", "appliance.cli", "carrier", "call", "--to", INBOUND_NUMBER]
            subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=60)
            call = self._inbound_call(started)
        else:
            body = {"agent_id": self.agents[scenario["agent"]]["id"], "to": scenario.get("to", "+12025550101")}
            if scenario.get("context"):
                body["context"] = scenario["context"]
            created = self.api.post("/v1/calls", json=body)
            assert created.status_code == 201, created.text
            call = self.appliance.wait_for(created.json()["id"], TERMINAL, timeout=240)
        deadline = time.monotonic() + 240
        while call["result_status"] == "pending" and time.monotonic() < deadline:
            time.sleep(1)
            call = self.api.get(f"/v1/calls/{call['id']}").json()
        deadline = time.monotonic() + 20
        # Every person on the call writes a line as their leg closes (a transfer's destination too).
        while len(self.person_lines()) < before + scenario.get("people", 1) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.people = self.person_lines()[before:]
        person = next((p for p in self.people if p.get("script") == script["name"]), (self.people or [{}])[0])
        segments = self.api.get(f"/v1/calls/{call['id']}/transcript").json()["segments"]
        events = self.api.get(f"/v1/calls/{call['id']}/events").json()["events"]
        judged = self.judge(scenario, kind, call, segments, person, inbound)
        # Replies the person spoke over in a pause (their first words played, the rest still being written).
        judged["replies_cut"] = [e["data"] for e in events if e["type"] == "reply_cut"]
        # Sentences the agent did not speak: they stated a number nobody gave (voice/reply.py).
        judged["withheld"] = [e["data"]["said"] for e in events if e["type"] == "reply_withheld"]
        return judged

    def _inbound_call(self, since: float) -> dict[str, Any]:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            calls = self.api.get("/v1/calls", params={"direction": "inbound", "limit": 5}).json()["data"]
            mine = [c for c in calls if c["to_number"] == INBOUND_NUMBER and c["created_at"] >= _iso(since)]
            if mine and mine[0]["status"] in TERMINAL:
                return mine[0]
            time.sleep(0.5)
        raise TimeoutError("the inbound call did not end")

    def judge(
        self,
        scenario: dict[str, Any],
        kind: dict[str, Any],
        call: dict[str, Any],
        segments: list[dict[str, Any]],
        person: dict[str, Any],
        inbound: bool,
    ) -> dict[str, Any]:
        body = kind["body"]
        brief = "\n".join(
            str(x)
            for x in (body.get("persona"), body.get("instructions"), body.get("first_message"), scenario.get("context"))
            if x
        )
        spoken = [s for s in segments if s["role"] in ("agent", "user")]
        failed: dict[str, Any] = {}
        if not checks.introduced(spoken, kind["who"], kind["why"], outbound=not inbound):
            failed["introduced"] = next((s["text"] for s in spoken if s["role"] == "agent"), None)
        if missing := checks.asked(spoken, scenario.get("asks") or {}):
            failed["asked"] = missing
        if made_up := checks.invented(spoken, brief, date.fromisoformat(call["created_at"][:10])):
            failed["invented"] = made_up
        if as_model := checks.speaks_as_a_model(spoken):
            failed["identity"] = as_model
        if not checks.heard_out(person.get("said", []), scenario["lines"], greeting=not inbound):
            failed["heard_out"] = person.get("said")
        if not checks.answered(spoken):
            failed["answered"] = True
        if not checks.polite_end(spoken):
            failed["polite_end"] = next((s["text"] for s in reversed(spoken) if s["role"] == "agent"), None)
        fields = checks.score_result(
            call.get("result"), scenario.get("expect") or {}, date.fromisoformat(call["created_at"][:10])
        )
        right = all(v == "right" for v in fields.values())
        return {
            "agent": scenario["agent"],
            "behaviour": scenario["behaviour"],
            "status": call["status"],
            "end_reason": call.get("end_reason"),
            "success": call["status"] == "completed" and not failed and right,
            "failed_checks": failed,
            "fields": fields,
            "result": call.get("result"),
            "turns": sum(s["role"] == "user" for s in spoken),
            "reply_latency_ms": person.get("reply_latency_ms", []),
            "transcript": [f"{s['role']}: {s['text']}" for s in spoken],
        }


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts - 1))


def summary(calls: list[dict[str, Any]]) -> dict[str, Any]:
    def rate(group: list[dict[str, Any]]) -> dict[str, Any]:
        return {"calls": len(group), "success": sum(c["success"] for c in group)}

    by_kind, by_behaviour = defaultdict(list), defaultdict(list)
    for c in calls:
        by_kind[c["agent"]].append(c)
        by_behaviour[c["behaviour"]].append(c)
    fields = [v for c in calls for v in c["fields"].values()]
    failures: dict[str, int] = defaultdict(int)
    for c in calls:
        for check in c["failed_checks"]:
            failures[check] += 1
    return {
        "task_success": rate(calls),
        "result_fields": {k: fields.count(k) for k in ("right", "missed", "invented", "wrong")},
        "failed_checks": dict(failures),
        "sentences_withheld": sum(len(c.get("withheld", [])) for c in calls),
        "per_agent_kind": {k: rate(v) for k, v in by_kind.items()},
        "per_behaviour": {k: rate(v) for k, v in by_behaviour.items()},
        "reply_latency_at_caller_ms": stats([x for c in calls for x in c["reply_latency_ms"]]),
        "turns_per_call": stats([c["turns"] for c in calls]),
        "replies_cut": sum(len(c.get("replies_cut", [])) for c in calls),
    }


def run_calls(
    prefix: str,
    make_runner: Callable[[ServerProcess], Runner],
    scenarios: list[dict[str, Any]],
    voices: list[str],
    out_path: Path,
    verdict: Callable[[dict[str, Any]], str],
    summarize: Callable[[list[dict[str, Any]]], dict[str, Any]],
) -> dict[str, Any]:
    """Each scenario called once per voice on a fresh appliance; the results, also written to `out_path`
    (and, call by call while it runs, to its .partial.jsonl)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # killed: still stop the appliance (finally below)
    appliance = ServerProcess(Path(tempfile.mkdtemp(prefix=prefix)), env={"APPLIANCE_VOICE": "true"})
    appliance.start(timeout=180).wait_for_voice(timeout=300)
    out: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine()}
    out["load_average_start"] = round(os.getloadavg()[0], 2)
    partial_path = out_path.with_suffix(".partial.jsonl")
    try:
        runner = make_runner(appliance)
        per_voice = {}
        for voice in voices:
            calls = []
            for i, scenario in enumerate(scenarios):
                calls.append(runner.call(scenario, voice))
                c = calls[-1]
                print(f"{voice} {i + 1}/{len(scenarios)} {c['agent']}/{c['behaviour']}: {verdict(c)}", flush=True)
                with partial_path.open("a") as partial:  # read while it runs
                    partial.write(json.dumps({"voice": voice, **c}) + "\n")
            per_voice[voice] = {"summary": summarize(calls), "calls": calls}
            print(f"{voice}: {json.dumps(per_voice[voice]['summary'])}", flush=True)
        out["per_voice"] = per_voice
        out["load_average_end"] = round(os.getloadavg()[0], 2)
    finally:
        appliance.stop()
    out_path.write_text(json.dumps(out, indent=2) + "\n")
    partial_path.unlink(missing_ok=True)  # all of it is in the results now
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--voices", default=",".join(VOICES), help="the person's voices (carrier script `voice`)")
    parser.add_argument("--only", default="", help="run only scenarios whose agent kind is in this list")
    parser.add_argument("--out", default=str(HERE / "results" / "scenarios.json"), help="where the results go")
    args = parser.parse_args()
    spec = yaml.safe_load((HERE / "data" / "scenarios.yaml").read_text())
    chosen = [s for s in spec["scenarios"] if not args.only or s["agent"] in args.only.split(",")]

    def verdict(c: dict[str, Any]) -> str:
        return "ok" if c["success"] else f"FAIL {json.dumps(c['failed_checks'])[:300]} {c['fields']}"

    out = run_calls(
        "bench-scenarios-",
        lambda appliance: Runner(appliance, spec),
        chosen,
        args.voices.split(","),
        Path(args.out),
        verdict,
        summary,
    )
    print(json.dumps({v: r["summary"] for v, r in out["per_voice"].items()}, indent=2))


if __name__ == "__main__":
    main()
