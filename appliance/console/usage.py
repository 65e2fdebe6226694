"""Usage: billed minutes per day (an SVG bar chart drawn on the server) and per agent, with a CSV export."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from litestar import Response, get
from litestar.response import Template

from appliance.runtime import Runtime
from appliance.store import agents as agent_store
from appliance.store.records import UsageRow
from appliance.store.usage import usage

DAYS = 30
CHART_W, CHART_H, PAD = 720, 180, 28


def _window(days: int) -> tuple[date, date]:
    end = date.today()
    return end - timedelta(days=days - 1), end


def _daily(rows: list[UsageRow], start: date, days: int) -> list[UsageRow]:
    """One row for every day of the window, zero where nothing happened."""
    by_key = {r.key: r for r in rows}
    days_ = [(start + timedelta(days=i)).isoformat() for i in range(days)]
    return [by_key.get(d) or UsageRow(d, 0, 0, 0, 0.0, 0) for d in days_]


def bars(daily: list[UsageRow]) -> list[dict[str, Any]]:
    """Bar geometry for the chart; heights scale to the busiest day."""
    top = max((r.billed_minutes for r in daily), default=0) or 1
    width = (CHART_W - PAD) / max(len(daily), 1)
    plot = CHART_H - PAD
    return [
        {
            "x": round(PAD + i * width + 1, 1),
            "w": round(max(width - 2, 1), 1),
            "h": round(plot * r.billed_minutes / top, 1),
            "y": round(plot - plot * r.billed_minutes / top, 1),
            "day": r.key,
            "minutes": r.billed_minutes,
            "calls": r.calls,
        }
        for i, r in enumerate(daily)
    ]


@get("/usage")
async def usage_page(runtime: Runtime, days: int = DAYS) -> Template:
    days = min(max(days, 1), 366)
    start, end = _window(days)
    report = usage(runtime.db, start.isoformat(), (end + timedelta(days=1)).isoformat())
    daily = _daily(report.by_day, start, days)
    names = {a.id: a.name for a in agent_store.list_agents(runtime.db, None, 500, None)}
    context = {
        "report": report,
        "bars": bars(daily),
        "top": max((r.billed_minutes for r in daily), default=0),
        "chart": {"w": CHART_W, "h": CHART_H, "pad": PAD},
        "names": names,
        "days": days,
        "active": "usage",
    }
    return Template("usage.html", context=context)


@get("/usage.csv", media_type="text/csv")
async def usage_csv(runtime: Runtime, days: int = DAYS) -> Response[str]:
    days = min(max(days, 1), 366)
    start, end = _window(days)
    report = usage(runtime.db, start.isoformat(), (end + timedelta(days=1)).isoformat())
    names = {a.id: a.name for a in agent_store.list_agents(runtime.db, None, 500, None)}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["kind", "key", "name", "calls", "answered", "billed_seconds", "billed_minutes"])
    for r in _daily(report.by_day, start, days):
        writer.writerow(["day", r.key, "", r.calls, r.answered, r.billed_seconds, r.billed_minutes])
    for r in report.by_agent:
        writer.writerow(["agent", r.key, names.get(r.key, ""), r.calls, r.answered, r.billed_seconds, r.billed_minutes])
    headers = {"Content-Disposition": f'attachment; filename="usage-{start}-{end}.csv"'}
    return Response(out.getvalue(), media_type="text/csv", headers=headers)
