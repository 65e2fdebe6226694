"""A thread at the lowest CPU priority, for work that must never slow down a live call.

Linux keeps a nice value per thread (`setpriority(PRIO_PROCESS, tid)` changes one thread only), and
a thread starts with the nice value of the thread that created it. llama.cpp computes on OpenMP
worker threads that its calling thread creates (libgomp keeps one team per calling thread), so
everything a model does from this thread runs at nice 19, while the voice engine's threads stay at 0:
the kernel gives the extraction only the CPU the calls leave idle, and a call that starts in the
middle of an extraction gets the cores back at once, without the extraction being stopped.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import structlog

log = structlog.get_logger(__name__)

LOWEST = 19
P = ParamSpec("P")
T = TypeVar("T")


def lower_this_thread(niceness: int) -> None:
    """Set the calling thread's nice value (only this thread's, and those it creates from now on)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except OSError as exc:  # raising a nice value is always allowed on Linux; say so if a kernel refuses
        log.warning("background.nice_refused", niceness=niceness, error=str(exc))


class BackgroundThread:
    """One worker thread at `niceness`; `run` awaits a blocking function on it."""

    def __init__(self, name: str, niceness: int = LOWEST) -> None:
        self.niceness = niceness
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=name, initializer=lower_this_thread, initargs=(niceness,)
        )

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        """No new work; a function still running finishes on its own (the executor does not wait for it)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
