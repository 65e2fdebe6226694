"""CPU cost of the RTP media path: N RtpEndpoints in one event loop, each receiving and sending 50 packets/s.

The far side (standing in for Asterisk) is a second process running the same endpoints, so its CPU
is not counted. Prints the measured process's CPU % (100 % = one core), the cost per packet, and
the send-interval jitter seen by the far side.

    .venv/bin/python bench/media.py [--calls 20] [--seconds 20] [--loop asyncio|uvloop] [--json out.json]
"""

from __future__ import annotations

import argparse
import array
import asyncio
import itertools
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.logs import configure_logging
from appliance.telephony.media import RtpEndpoint

CHUNK_SECONDS = 1.0  # how much audio the "TTS" hands over at a time


def tone(freq: float, seconds: float) -> bytes:
    n = int(8000 * seconds)
    return array.array("h", (int(8000 * math.sin(2 * math.pi * freq * i / 8000)) for i in range(n))).tobytes()


async def talk(endpoint: RtpEndpoint, chunk: bytes, stop: asyncio.Event) -> None:
    """Keep about a second of audio queued, like a TTS producer a little ahead of playout."""
    endpoint.send(chunk[: len(chunk) // 2])  # half a second of head start
    while not stop.is_set():
        endpoint.send(chunk)
        await asyncio.sleep(CHUNK_SECONDS)


async def listen(endpoint: RtpEndpoint, arrivals: list[float]) -> None:
    loop = asyncio.get_running_loop()
    async for frame in endpoint.frames():
        arrivals.append(loop.time())
        _ = len(frame.pcm)  # the consumer (VAD, STT) would start here


async def run_endpoints(n: int, remotes: list[tuple[str, int]] | None, seconds: float) -> dict[str, object]:
    endpoints = [await RtpEndpoint.open() for _ in range(n)]
    if remotes is None:  # measured side: start the far side and exchange ports
        ports = ",".join(str(e.local_address[1]) for e in endpoints)
        peer = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--peer",
            ports,
            "--seconds",
            str(seconds + 2),
            "--loop",
            ARGS.loop,
            stdout=subprocess.PIPE,
        )
        assert peer.stdout is not None
        peer_ports = [int(p) for p in (await peer.stdout.readline()).decode().split(",")]
        remotes = [("127.0.0.1", p) for p in peer_ports]
    else:
        peer = None
        print(",".join(str(e.local_address[1]) for e in endpoints), flush=True)
    for endpoint, remote in zip(endpoints, remotes, strict=True):
        endpoint.set_remote(*remote)

    stop = asyncio.Event()
    chunk = tone(440, CHUNK_SECONDS)
    arrivals: list[list[float]] = [[] for _ in endpoints]
    tasks = [asyncio.create_task(talk(e, chunk, stop)) for e in endpoints]
    tasks += [asyncio.create_task(listen(e, a)) for e, a in zip(endpoints, arrivals, strict=True)]

    await asyncio.sleep(2.0)  # warm-up: sockets, first talkspurt
    sent0 = sum(e.stats.packets_sent for e in endpoints)
    recv0 = sum(e.stats.packets_received for e in endpoints)
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    sent = sum(e.stats.packets_sent for e in endpoints) - sent0
    received = sum(e.stats.packets_received for e in endpoints) - recv0

    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for endpoint in endpoints:
        await endpoint.close()

    result: dict[str, object] = {
        "calls": n,
        "seconds": round(wall, 2),
        "cpu_percent_of_one_core": round(100 * cpu / wall, 2),
        "packets_sent_per_s": round(sent / wall),
        "packets_received_per_s": round(received / wall),
        "cpu_us_per_packet": round(1e6 * cpu / max(1, sent + received), 1),
        "pacer_resyncs": sum(e.stats.pacer_resyncs for e in endpoints),
        "frames_dropped": sum(e.stats.frames_dropped for e in endpoints),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "send_interval_ms": _intervals(arrivals),  # what this side received = the other side's pacing
    }
    if peer is not None:
        assert peer.stdout is not None
        result["peer"] = json.loads((await peer.stdout.read()) or b"{}")
        await peer.wait()
    return result


def _intervals(arrivals: list[list[float]]) -> dict[str, float]:
    """Inter-arrival times in ms, pooled over endpoints."""
    gaps = sorted(1000 * (b - a) for times in arrivals for a, b in itertools.pairwise(times))
    if not gaps:
        return {}
    return {
        "p50": round(statistics.median(gaps), 2),
        "p99": round(gaps[int(0.99 * (len(gaps) - 1))], 2),
        "max": round(gaps[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--peer", help=argparse.SUPPRESS)  # internal: the far side, given our ports
    global ARGS
    ARGS = parser.parse_args()
    configure_logging("warning")  # logs to stderr: the peer's stdout carries ports and results
    if ARGS.loop == "uvloop":
        import uvloop

        uvloop.install()
    if ARGS.peer:
        remotes = [("127.0.0.1", int(p)) for p in ARGS.peer.split(",")]
        result = asyncio.run(run_endpoints(len(remotes), remotes, ARGS.seconds))
        print(json.dumps(result), flush=True)
        return
    result = asyncio.run(run_endpoints(ARGS.calls, None, ARGS.seconds))
    result["loop"] = ARGS.loop
    result["machine"] = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    )
    print(json.dumps(result, indent=2))
    if ARGS.json:
        ARGS.json.write_text(json.dumps(result, indent=2) + "\n")


ARGS: argparse.Namespace

if __name__ == "__main__":
    main()
