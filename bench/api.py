"""API throughput: requests/s and latency percentiles of POST /v1/calls and GET /v1/calls/{id}
against a real `appliance serve` (API-only mode: we measure the HTTP + SQLite path, not dialing).

Load comes from wrk (C, Debian package) so the load generator takes as little of the 2 cores as
possible. Writes bench/results/api.json and prints a BENCHMARKS.md row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import ServerProcess

RESULTS = Path(__file__).resolve().parent / "results"


def wrk(url: str, key: str, seconds: int, connections: int, script: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script.replace("$KEY", key))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", f.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(f.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {m.group(1): _ms(m.group(2)) for m in re.finditer(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": round(rps, 1),
        "p50_ms": pct["50"],
        "p90_ms": pct["90"],
        "p99_ms": pct["99"],
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return round(float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit], 3)


CREATE = textwrap.dedent("""
    wrk.method = "POST"
    wrk.headers["Authorization"] = "Bearer $KEY"
    wrk.headers["Content-Type"] = "application/json"
    wrk.body = '{"agent_id": "$AGENT", "to": "+12025550102", "context": {"name": "Alex"}}'
""")
GET = textwrap.dedent("""
    wrk.headers["Authorization"] = "Bearer $KEY"
""")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
    data = Path(tempfile.mkdtemp(prefix="bench-api-"))
    server = ServerProcess(
        data,
        env={
            "APPLIANCE_TELEPHONY": "false",
            "APPLIANCE_CALLS_PER_MINUTE": "0",
            "APPLIANCE_MAX_QUEUED_CALLS": "100000000",
            "APPLIANCE_LOG_LEVEL": "warning",
        },
    ).start()
    try:
        with server.client() as api:
            agent = api.post("/v1/agents", json={"name": "bench", "type": "outbound"}).json()
            call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550102"}).json()
        print(f"==> POST /v1/calls, {args.connections} connections, {args.seconds} s", flush=True)
        create = wrk(
            f"{server.url}/v1/calls", server.key, args.seconds, args.connections, CREATE.replace("$AGENT", agent["id"])
        )
        print(f"    {create}", flush=True)
        print(f"==> GET /v1/calls/{{id}}, {args.connections} connections, {args.seconds} s", flush=True)
        get = wrk(f"{server.url}/v1/calls/{call['id']}", server.key, args.seconds, args.connections, GET)
        print(f"    {get}", flush=True)
        calls = httpx.get(f"{server.url}/v1/usage", headers={"Authorization": f"Bearer {server.key}"}).json()
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    result = {
        "benchmark": "api",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "load": {"tool": "wrk -t2", "connections": args.connections, "seconds": args.seconds},
        "create_call": create,
        "get_call": get,
        "calls_created_total": calls["total"]["calls"],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"| POST /v1/calls | {create['rps']:.0f} req/s | p50 {create['p50_ms']} ms | p99 {create['p99_ms']} ms |")
    print(f"| GET /v1/calls/{{id}} | {get['rps']:.0f} req/s | p50 {get['p50_ms']} ms | p99 {get['p99_ms']} ms |")


if __name__ == "__main__":
    main()
