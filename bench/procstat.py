"""CPU and memory of a process from /proc, for benchmarks."""

from __future__ import annotations

import os
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """CPU % (of one core) and RSS of some processes, sampled as you call `sample()`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._last = {name: (time.monotonic(), cpu_seconds(pid)) for name, pid in pids.items()}
        self.cpu: dict[str, list[float]] = {name: [] for name in pids}
        self.rss: dict[str, list[float]] = {name: [] for name in pids}

    def sample(self) -> None:
        for name, pid in self.pids.items():
            now, cpu = time.monotonic(), cpu_seconds(pid)
            then, before = self._last[name]
            self.cpu[name].append(100 * (cpu - before) / max(now - then, 1e-6))
            self.rss[name].append(rss_mb(pid))
            self._last[name] = (now, cpu)

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for name in self.pids:
            cpu, rss = self.cpu[name] or [0.0], self.rss[name] or [0.0]
            out[name] = {
                "cpu_pct_mean": round(sum(cpu) / len(cpu), 1),
                "cpu_pct_max": round(max(cpu), 1),
                "rss_mb_max": round(max(rss), 1),
            }
        return out


def machine() -> str:
    """The CPU model, core count and Python version, for the results files."""
    import platform

    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    return f"{cpu}, {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
