"""Cursor paging shared by the list queries: newest first, `starting_after=<id>`."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from appliance.errors import InvalidInput

MAX_LIMIT = 200


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, got {limit}", field="limit")
    return limit


def page_clause(
    db: sqlite_utils.Database, table: str, starting_after: str | None, alias: str, order_col: str = "rowid"
) -> tuple[str, list[Any]]:
    """A WHERE fragment selecting rows older than the cursor row (ordered by `order_col` descending)."""
    if starting_after is None:
        return "1=1", []
    row = db.execute(f"SELECT {order_col} FROM {table} WHERE id = ?", [starting_after]).fetchone()
    if row is None:
        raise InvalidInput(f"starting_after {starting_after!r} is not a known id", field="starting_after")
    return f"{alias}.{order_col} < ?", [row[0]]
