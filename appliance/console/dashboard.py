"""The dashboard: today's calls by outcome, billed minutes, live calls, Asterisk / trunk / model health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, get
from litestar.response import Template

from appliance.clock import iso
from appliance.runtime import Runtime
from appliance.store import calls as call_store
from appliance.store import trunks as trunk_store

from .labels import OUTCOMES, call_label, outcome

LIVE = ("initiated", "ringing", "in_progress")


def today_outcomes(runtime: Runtime) -> tuple[dict[str, int], float]:
    """Calls created since midnight UTC by outcome, and their billed minutes."""
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = runtime.db.execute(
        "SELECT status, answered_by, answered_at, COALESCE(billed_duration_seconds, 0) FROM calls "
        "WHERE created_at >= ? AND created_at < ?",
        [iso(start), iso(start + timedelta(days=1))],
    ).fetchall()
    counts = dict.fromkeys(OUTCOMES, 0)
    billed = 0
    for status, answered_by, answered_at, seconds in rows:
        bucket = outcome(status, answered_by, answered_at)
        if bucket:
            counts[bucket] += 1
        billed += seconds
    return counts, round(billed / 60, 1)


def health(runtime: Runtime) -> list[tuple[str, bool, str]]:
    """(name, good, detail) for what makes calls work."""
    telephony = runtime.telephony
    if telephony is None:
        items = [("Asterisk", False, "not started")]
    else:
        why = telephony.not_ready_because()
        items = [("Asterisk", why is None, why or "running")]
    state = telephony.trunk_state() if telephony else {}
    for trunk in trunk_store.list_trunks(runtime.db, state):
        good = trunk.registration_status in ("registered", "not_applicable") and trunk.reachable is not False
        items.append((f"Trunk {trunk.name}", good, trunk.registration_status.replace("_", " ")))
    if runtime.settings.voice:
        voice = runtime.voice
        items.append(("Voice models", bool(voice and voice.loaded), "loaded" if voice and voice.loaded else "loading"))
    return items


@get("/")
async def dashboard(runtime: Runtime, request: Request[Any, Any, Any]) -> Template:
    counts, billed = today_outcomes(runtime)
    live = [c for s in LIVE for c in call_store.list_calls(runtime.db, status=s, limit=50).data]
    context = {
        "counts": counts,
        "billed_minutes": billed,
        "live": [(c, call_label(c)) for c in live],
        "health": health(runtime),
        "active": "dashboard",
    }
    # The live part refreshes itself every few seconds through htmx.
    template = "dashboard_live.html" if request.headers.get("hx-request") else "dashboard.html"
    return Template(template, context=context)
