"""Quick and full runs of the reliability suite: `make test` runs the quick counts, `make reliability` the full
ones (APPLIANCE_RELIABILITY=full); tests that only make sense at full size are skipped in quick runs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

FULL = os.environ.get("APPLIANCE_RELIABILITY") == "full"
REPORT = Path(__file__).resolve().parents[2] / "build" / "reliability.jsonl"
full_only = pytest.mark.skipif(not FULL, reason="long run: make reliability (APPLIANCE_RELIABILITY=full)")


def count(quick: int, full: int) -> int:
    """How many of something (requests, calls) this run makes."""
    return full if FULL else quick


def report(name: str, **figures: object) -> None:
    """Append one run's figures to build/reliability.jsonl (RELIABILITY.md quotes them)."""
    REPORT.parent.mkdir(exist_ok=True)
    line = {"test": name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "full": FULL,
            "loadavg": os.getloadavg(), **figures}  # fmt: skip
    with REPORT.open("a") as f:
        f.write(json.dumps(line) + "\n")
