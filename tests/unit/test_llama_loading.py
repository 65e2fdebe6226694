"""Loading a llama.cpp model must not silence the rest of the process (llama-cpp-python's verbose=False
points fds 1 and 2 at /dev/null while it loads: serve's "Ready." banner was lost that way)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from appliance import models

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys, threading, time
from appliance.llama_loading import load_llama
ticking = True
def tick():
    n = 0
    while ticking:
        print("tick", n, flush=True)
        n += 1
        time.sleep(0.01)
thread = threading.Thread(target=tick)
thread.start()
time.sleep(0.05)
load_llama(sys.argv[1], n_ctx=512, n_threads=1)
ticking = False
thread.join()
"""


def test_lines_printed_by_other_threads_while_a_model_loads_all_arrive() -> None:
    try:
        path = models.resolve("llm", None).path
    except Exception as exc:  # no model installed (make setup)
        pytest.skip(f"no language model: {exc}")
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    ticks = [int(line.split()[1]) for line in out.splitlines() if line.startswith("tick ")]
    assert len(ticks) > 10, "the load took long enough to overlap the ticks"
    assert ticks == list(range(len(ticks))), "no line was lost while the model loaded"
