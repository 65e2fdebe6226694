"""Usage: billed minutes and call counts by day and by agent, for chargeback."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from appliance.store.records import Usage, UsageRow

_COLUMNS = """COUNT(*) AS calls,
    SUM(CASE WHEN answered_at IS NOT NULL THEN 1 ELSE 0 END) AS answered,
    COALESCE(SUM(billed_duration_seconds), 0) AS billed,
    COALESCE(SUM(billing_amount_milli_cents), 0) AS amount"""


def usage(db: sqlite_utils.Database, start: str, end: str) -> Usage:
    """Calls created in [start, end) (ISO timestamps)."""
    where = "created_at >= ? AND created_at < ?"
    params = [start, end]
    total = db.execute(f"SELECT 'total', {_COLUMNS} FROM calls WHERE {where}", params).fetchone()
    by_day = db.execute(
        f"SELECT substr(created_at, 1, 10) AS k, {_COLUMNS} FROM calls WHERE {where} GROUP BY k ORDER BY k", params
    ).fetchall()
    by_agent = db.execute(
        f"SELECT COALESCE(agent_id, '') AS k, {_COLUMNS} FROM calls WHERE {where} GROUP BY k ORDER BY billed DESC, k",
        params,
    ).fetchall()
    return Usage(
        from_=start, to=end, total=_row(total), by_day=[_row(r) for r in by_day], by_agent=[_row(r) for r in by_agent]
    )


def _row(r: Any) -> UsageRow:
    key, calls, answered, billed, amount = r
    return UsageRow(
        key=key,
        calls=calls or 0,
        answered=answered or 0,
        billed_seconds=billed or 0,
        billed_minutes=round((billed or 0) / 60, 2),
        billing_amount_milli_cents=amount or 0,
    )
