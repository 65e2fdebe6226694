"""Campaigns through real Asterisk and the loopback carrier (voice off):
1. dial rate: N contacts on distinct busy numbers (+12025552xxx: 180, then 486 after 0.5 s), one dial each, at
   `max_concurrent` = the box's capacity: dials per second the runner sustains;
2. a mixed list at full concurrency: N contacts, 40 % answered and held 10 s, 30 % busy (retried once), 20 %
   no answer (5 s ring), 10 % voicemail box: how long the whole list takes.
Writes bench/results/campaigns.json. Full size (`--contacts 100 --concurrency 8`) takes about 2 minutes.
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
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import ServerProcess

RESULTS = Path(__file__).resolve().parent / "results"
ALWAYS = {"start": "00:00", "end": "23:59", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}
NO_RETRY = {k: {"attempts": 1, "backoff_minutes": 0} for k in ("busy", "no_answer", "voicemail", "failed")}


def run(api, agent_id: str, numbers: list[str], concurrency: int, retry: dict) -> dict:
    started = time.monotonic()
    body = {"agent_id": agent_id, "contacts": [{"to": n} for n in numbers], "max_concurrent": concurrency,
            "window": ALWAYS, "retry": retry}  # fmt: skip
    campaign = api.post("/v1/campaigns", json=body).json()
    while campaign["status"] != "completed":
        assert time.monotonic() - started < 900, campaign["counters"]
        time.sleep(0.5)
        campaign = api.get(f"/v1/campaigns/{campaign['id']}").json()
    seconds = time.monotonic() - started
    contacts = api.get(f"/v1/campaigns/{campaign['id']}/contacts", params={"limit": 200}).json()["data"]
    starts = sorted(
        datetime.fromisoformat(api.get(f"/v1/calls/{i}").json()["started_at"].replace("Z", "+00:00"))
        for c in contacts
        for i in c["call_ids"]
    )
    span = (starts[-1] - starts[0]).total_seconds() if len(starts) > 1 else 0.0
    return {
        "contacts": len(numbers),
        "concurrency": concurrency,
        "dials": len(starts),
        "seconds_to_complete": round(seconds, 1),
        "dials_per_second": round((len(starts) - 1) / span, 2) if span else None,
        "outcomes": campaign["counters"]["outcomes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    n = args.contacts
    data = Path(tempfile.mkdtemp(prefix="bench-campaigns-"))
    env = {"APPLIANCE_MAX_CONCURRENT_CALLS": str(args.concurrency), "APPLIANCE_CAMPAIGN_HOURS": "00:00-23:59",
           "APPLIANCE_LOG_LEVEL": "warning"}  # fmt: skip
    server = ServerProcess(data, env=env).start()
    result: dict = {
        "benchmark": "campaigns",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "loadavg": os.getloadavg()},
    }
    try:
        with server.client() as api:
            agent = api.post("/v1/agents", json={"name": "bench", "type": "outbound", "ring_timeout_seconds": 5,
                                                 "max_duration_seconds": 10}).json()  # fmt: skip
            print(f"==> dial rate: {n} busy contacts at {args.concurrency} at once", flush=True)
            result["dial_rate"] = run(api, agent["id"], [f"+12025552{i:03d}" for i in range(n)], args.concurrency,
                                      NO_RETRY)  # fmt: skip
            print(f"    {result['dial_rate']}", flush=True)
            mix = (
                [f"+12025551{i:03d}" for i in range(n * 4 // 10)]
                + [f"+12025552{i:03d}" for i in range(500, 500 + n * 3 // 10)]
                + [f"+12025553{i:03d}" for i in range(n * 2 // 10)]
                + [f"+12025554{i:03d}" for i in range(n - n * 4 // 10 - n * 3 // 10 - n * 2 // 10)]
            )
            print(f"==> mixed list: {len(mix)} contacts at {args.concurrency} at once", flush=True)
            retry = {**NO_RETRY, "busy": {"attempts": 2, "backoff_minutes": 0}}
            result["mixed"] = run(api, agent["id"], mix, args.concurrency, retry)
            print(f"    {result['mixed']}", flush=True)
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "campaigns.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
