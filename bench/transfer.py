"""Transfers and keys during calls: scripted calls over real SIP to the loopback carrier, with agents that have
the call-control built-ins (bench/data/transfer.yaml): a caller who asks for a person (put through to the
carrier's front desk, a simulated person of its own, by a cold transfer or by a warm one that asks the desk
first), one who asks for nobody, destinations that decline, and a phone menu the agent works with `send_dtmf`.

Per call: was the caller put through when they asked (the call ends `transferred`, and the front desk answered
the caller's words after the bridge: its second line waits for speech it hears), was anyone transferred who
did not ask, was a declined transfer told to the caller, was the menu's key received exactly (the carrier's
own record of the key its menu read), and how long a transfer took: from the decision (the tool starting) to
the bridge, and from the end of the caller's request to the bridge. Writes bench/results/transfer.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.conversation import stats
from bench.scenarios import Runner, run_calls

HERE = Path(__file__).resolve().parent
VOICES = ["piper", "espeak", "espeak:en-gb-scotland+f3"]


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


class TransferRunner(Runner):
    def judge(
        self,
        scenario: dict[str, Any],
        kind: dict[str, Any],
        call: dict[str, Any],
        segments: list[dict[str, Any]],
        person: dict[str, Any],
        inbound: bool,
    ) -> dict[str, Any]:
        tools = [(i, json.loads(s["text"])) for i, s in enumerate(segments) if s["role"] == "tool"]
        transfers = [(i, t) for i, t in tools if t["name"] == "transfer_call"]
        keys = [t for _, t in tools if t["name"] == "send_dtmf"]
        desk = next((p for p in self.people if p.get("script") in ("operator", "warm_desk")), None)
        mode = next((t["config"]["mode"] for t in kind["body"].get("tools", []) if t["name"] == "transfer_call"), None)
        ask_to_bridge = None
        if transfers and transfers[0][1]["outcome"] == "ok":
            i = transfers[0][0]
            asked = [s for s in segments[:i] if s["role"] == "user"]
            if asked:
                ask_to_bridge = int((_at(segments[i]["ended_at"]) - _at(asked[-1]["ended_at"])).total_seconds() * 1000)
        want = scenario.get("want")
        if want == "transferred":
            ok = call.get("end_reason") == "transferred" and desk is not None and len(desk["said"]) >= 2
        elif want == "told_declined":
            told = bool(transfers) and any(s["role"] == "agent" for s in segments[transfers[0][0] + 1 :])
            ok = told and transfers[0][1]["outcome"] == "error" and call.get("end_reason") != "transferred"
        elif want == "key":
            pressed = keys[0]["arguments"].get("digits") if keys else None
            ok = pressed == scenario["key"] and desk is not None and desk.get("ivr_choice") == scenario["key"]
        else:
            ok = not transfers
        return {
            "agent": scenario["agent"],
            "behaviour": scenario["behaviour"],
            "want": want or "no_transfer",
            "mode": mode,
            "ok": ok,
            "status": call["status"],
            "end_reason": call.get("end_reason"),
            "transferred_to": call.get("transferred_to"),
            "transfers": [
                {k: t[k] for k in ("outcome", "ms") if k in t} | {"error": t.get("error")} for _, t in transfers
            ],
            "keys": [t["arguments"].get("digits") for t in keys],
            "ivr_choice": desk.get("ivr_choice") if desk else None,
            "transfer_ms": [t["ms"] for _, t in transfers if t["outcome"] == "ok"],
            "ask_to_bridge_ms": ask_to_bridge,
            "desk_said": desk["said"] if desk else None,
            "transcript": [f"{s['role']}: {s['text']}" for s in segments],
        }


def summary(calls: list[dict[str, Any]]) -> dict[str, Any]:
    def rate(want: str) -> dict[str, int]:
        group = [c for c in calls if c["want"] == want]
        return {"calls": len(group), "ok": sum(c["ok"] for c in group)}

    return {
        "calls": len(calls),
        "put_through": rate("transferred"),
        "declined_told": rate("told_declined"),
        "no_transfer_wanted": rate("no_transfer"),
        "menu_key_exact": rate("key"),
        "unwanted_transfers": sum(bool(c["transfers"]) for c in calls if c["want"] == "no_transfer"),
        **{
            f"{mode}_{name}": stats(values)
            for mode in ("cold", "warm")
            for name, values in (
                ("decision_to_bridge_ms", [ms for c in calls if c["mode"] == mode for ms in c["transfer_ms"]]),
                (
                    "request_to_bridge_ms",
                    [c["ask_to_bridge_ms"] for c in calls if c["mode"] == mode and c["ask_to_bridge_ms"] is not None],
                ),
            )
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--voices", default=",".join(VOICES), help="the caller's voices (carrier script `voice`)")
    parser.add_argument("--out", default=str(HERE / "results" / "transfer.json"), help="where the results go")
    args = parser.parse_args()
    spec = yaml.safe_load((HERE / "data" / "transfer.yaml").read_text())
    out = run_calls(
        "bench-transfer-",
        lambda appliance: TransferRunner(appliance, spec),
        spec["scenarios"],
        args.voices.split(","),
        Path(args.out),
        lambda c: json.dumps({k: c[k] for k in ("want", "ok", "end_reason", "transfers", "keys")}),
        summary,
    )
    out["all"] = summary([c for v in out["per_voice"].values() for c in v["calls"]])
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out["all"], indent=2))


if __name__ == "__main__":
    main()
