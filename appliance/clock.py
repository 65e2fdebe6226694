"""Time helpers: one format for every timestamp we store and return (ISO 8601 UTC with `Z`), and the
background loops' sleep."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_iso() -> str:
    return iso(now())


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def woken_or_timed_out(wake: asyncio.Event, seconds: float) -> None:
    """Wait until `wake` is set or `seconds` pass. Not asyncio.wait_for: on Python 3.11 it drops a
    cancellation that meets the event being set, and the loop it sleeps in then outlives its stop()."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()
