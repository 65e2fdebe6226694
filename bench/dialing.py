"""Dialing through real Asterisk and the loopback carrier:
1. call set-up rate: N calls to the busy number (+12025550102), created at once, until all are terminal;
2. 20 simultaneous answered calls held for 30 s: CPU and memory of Asterisk and the appliance;
lost or stuck calls are counted (must be 0). Writes bench/results/dialing.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from appliance.call_status import TERMINAL
from bench.procstat import Sampler
from tests.support import ServerProcess

RESULTS = Path(__file__).resolve().parent / "results"


def wait_all(api, ids: list[str], timeout: float, on_tick=None) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict] = {}
    while time.monotonic() < deadline and len(done) < len(ids):
        for call in api.get("/v1/calls", params={"limit": 200}).json()["data"]:
            if call["id"] in ids and call["status"] in TERMINAL:
                done[call["id"]] = call
        if on_tick:
            on_tick()
        time.sleep(0.5)
    return done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup-calls", type=int, default=100)
    parser.add_argument("--held-calls", type=int, default=20)
    parser.add_argument("--hold-seconds", type=int, default=30)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-dial-"))
    server = ServerProcess(
        data,
        env={
            "APPLIANCE_MAX_CONCURRENT_CALLS": str(max(24, args.held_calls)),
            "APPLIANCE_CALLS_PER_MINUTE": "0",
            "APPLIANCE_LOG_LEVEL": "warning",
        },
    ).start()
    result: dict = {
        "benchmark": "dialing",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    try:
        asterisk_pid = int((data / "asterisk/var/run/asterisk.pid").read_text())
        with server.client() as api:
            busy_agent = api.post("/v1/agents", json={"name": "bench", "type": "outbound"}).json()
            print(f"==> set-up rate: {args.setup_calls} calls to the busy number", flush=True)
            started = time.monotonic()
            ids = [
                api.post("/v1/calls", json={"agent_id": busy_agent["id"], "to": "+12025550102"}).json()["id"]
                for _ in range(args.setup_calls)
            ]
            done = wait_all(api, ids, timeout=300)
            elapsed = time.monotonic() - started
            statuses = [c["status"] for c in done.values()]
            result["setup"] = {
                "calls": args.setup_calls,
                "seconds": round(elapsed, 2),
                "calls_per_second": round(args.setup_calls / elapsed, 2),
                "busy": statuses.count("busy"),
                "other_status": len(statuses) - statuses.count("busy"),
                "stuck": args.setup_calls - len(done),
            }
            print(f"    {result['setup']}", flush=True)

            print(f"==> {args.held_calls} answered calls held {args.hold_seconds} s", flush=True)
            hold_agent = api.post(
                "/v1/agents", json={"name": "hold", "type": "outbound", "max_duration_seconds": args.hold_seconds}
            ).json()
            sampler = Sampler({"asterisk": asterisk_pid, "appliance": server.proc.pid})
            ids = [
                api.post("/v1/calls", json={"agent_id": hold_agent["id"], "to": "+12025550101"}).json()["id"]
                for _ in range(args.held_calls)
            ]
            peak_live = 0

            def tick() -> None:
                nonlocal peak_live
                sampler.sample()
                params = {"status": "in_progress", "agent_id": hold_agent["id"]}
                live = api.get("/v1/calls", params=params).json()["data"]
                peak_live = max(peak_live, len(live))

            done = wait_all(api, ids, timeout=args.hold_seconds + 60, on_tick=tick)
            reasons = [c["end_reason"] for c in done.values()]
            result["held"] = {
                "calls": args.held_calls,
                "hold_seconds": args.hold_seconds,
                "peak_simultaneous": peak_live,
                "completed_at_max_duration": reasons.count("max_duration"),
                "lost_or_stuck": args.held_calls - reasons.count("max_duration"),
                "processes": sampler.summary(),
            }
            print(f"    {result['held']}", flush=True)
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dialing.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
