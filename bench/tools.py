"""Tools during calls: scripted calls over real SIP to the loopback carrier's simulated person, with agents
whose HTTP tools this script serves on loopback (bench/data/tools.yaml).

Per call, from its transcript (`tool` segments), events and the tool server's own log: was each wanted tool
called with the right arguments, did a tool run when none was wanted, did a confirm_first_write tool run
without the caller's clear yes, and how long the caller waited for the first words of a turn that called a
tool against one that did not (the turn events' `latency_ms`, which tests/e2e holds to the call's
recording). Writes bench/results/tools.json with each call's transcript.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.voice.tool_calls import clear_yes
from bench.conversation import stats
from bench.scenarios import Runner, run_calls
from tests.tool_server import Answer, ToolRequest, ToolServer

HERE = Path(__file__).resolve().parent
VOICES = ["piper", "espeak", "espeak:en-gb-scotland+f3"]


def route(value: dict[str, Any]) -> Any:
    """A tool answer that echoes the day asked for (a lookup answers the question put to it)."""

    def answer(request: ToolRequest) -> Answer:
        arguments = request.json().get("arguments") or {}
        body = {**value, **({"day": arguments["day"]} if "day" in value and "day" in arguments else {})}
        return 200, {"content-type": "application/json"}, json.dumps(body).encode()

    return answer


def _plain(text: str) -> str:
    return re.sub(r"(?<=\d)[\s,.-]+(?=\d)", "", text.casefold())  # "4 4 1 7" and "4,417" are 4417


class ToolRunner(Runner):
    def judge(
        self,
        scenario: dict[str, Any],
        kind: dict[str, Any],
        call: dict[str, Any],
        segments: list[dict[str, Any]],
        person: dict[str, Any],
        inbound: bool,
    ) -> dict[str, Any]:
        events = self.api.get(f"/v1/calls/{call['id']}/events").json()["events"]
        lines = [(s["role"], s["text"]) for s in segments if s["role"] in ("agent", "user", "tool")]
        calls: list[dict[str, Any]] = []
        tool_turns: set[str] = set()
        for i, (role, text) in enumerate(lines):
            if role == "tool":
                record = json.loads(text)
                before = [t for r, t in lines[:i] if r == "user"]
                record["after_user"] = before[-1] if before else None
                calls.append(record)
                if before:
                    tool_turns.add(before[-1])
        want: dict[str, list[str]] = scenario.get("want") or {}
        wanted = {}
        for name, words in want.items():
            made = [c for c in calls if c["name"] == name]
            wanted[name] = {
                "called": bool(made),
                "arguments_right": any(
                    all(_plain(w) in _plain(json.dumps(c["arguments"])) for w in words) for c in made
                ),
            }
        writes = [c for c in calls if c["name"] == "book_slot" and c["outcome"] == "ok"]
        allowed = set(want) | ({"book_slot"} if scenario.get("writes_ok") else set())
        unwanted = [c for c in calls if c["name"] not in allowed]
        turns = [e["data"] for e in events if e["type"] == "turn" and e["data"].get("user")]
        return {
            "agent": scenario["agent"],
            "behaviour": scenario["behaviour"],
            "status": call["status"],
            "end_reason": call.get("end_reason"),
            "wanted": wanted,
            "unwanted_calls": [{"name": c["name"], "arguments": c["arguments"]} for c in unwanted],
            "writes_without_yes": [c for c in writes if not (c["after_user"] and clear_yes(c["after_user"]))],
            "writes": len(writes),
            "tool_calls": [{k: c[k] for k in ("name", "arguments", "outcome", "ms")} for c in calls],
            "latency_tool_turn_ms": [t["latency_ms"] for t in turns if t["user"] in tool_turns],
            "latency_plain_turn_ms": [t["latency_ms"] for t in turns if t["user"] not in tool_turns],
            "reply_latency_ms": person.get("reply_latency_ms", []),
            "transcript": [f"{r}: {t}" for r, t in lines],
        }


def summary(calls: list[dict[str, Any]]) -> dict[str, Any]:
    wanted = [w for c in calls for w in c["wanted"].values()]
    return {
        "calls": len(calls),
        "completed": sum(c["status"] == "completed" for c in calls),
        "right_tool": {"wanted": len(wanted), "called": sum(w["called"] for w in wanted)},
        "right_arguments": sum(w["arguments_right"] for w in wanted),
        "unwanted_calls": sum(len(c["unwanted_calls"]) for c in calls),
        "calls_with_unwanted": sum(bool(c["unwanted_calls"]) for c in calls),
        "writes": sum(c["writes"] for c in calls),
        "writes_without_yes": sum(len(c["writes_without_yes"]) for c in calls),
        "tool_ms": stats([t["ms"] for c in calls for t in c["tool_calls"]]),
        "latency_tool_turn_ms": stats([x for c in calls for x in c["latency_tool_turn_ms"]]),
        "latency_plain_turn_ms": stats([x for c in calls for x in c["latency_plain_turn_ms"]]),
        "outcomes": {
            o: sum(t["outcome"] == o for c in calls for t in c["tool_calls"])
            for o in ("ok", "confirmation_required", "error", "timeout")
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--voices", default=",".join(VOICES), help="the person's voices (carrier script `voice`)")
    parser.add_argument("--only", default="", help="run only these behaviours (comma-separated)")
    parser.add_argument("--out", default=str(HERE / "results" / "tools.json"), help="where the results go")
    args = parser.parse_args()
    spec = yaml.safe_load((HERE / "data" / "tools.yaml").read_text())
    if args.only:
        spec["scenarios"] = [s for s in spec["scenarios"] if s["behaviour"] in args.only.split(",")]
    server = ToolServer().start()
    for path, value in spec["routes"].items():
        server.routes[path] = route(value)
    base = server.url("")
    for agent in spec["agents"].values():
        for tool in agent["body"].get("tools", []):
            tool["url"] = tool["url"].replace("{tools}", base)

    def verdict(c: dict[str, Any]) -> str:
        return json.dumps({k: c[k] for k in ("wanted", "unwanted_calls", "writes")})

    try:
        out = run_calls(
            "bench-tools-",
            lambda appliance: ToolRunner(appliance, spec),
            spec["scenarios"],
            args.voices.split(","),
            Path(args.out),
            verdict,
            summary,
        )
    finally:
        server.stop()
    out["all"] = summary([c for v in out["per_voice"].values() for c in v["calls"]])
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out["all"], indent=2))


if __name__ == "__main__":
    main()
