"""Cursor paging shared by the list queries: newest first, `starting_after=<id>` (older) and
`ending_before=<id>` (newer), with `has_more` read from one row past the page."""

from __future__ import annotations

from typing import Any, NamedTuple, TypeVar

import sqlite_utils

from appliance.errors import InvalidInput

MAX_LIMIT = 200
T = TypeVar("T")


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
    return f"{alias}.{order_col} < ?", [_position(db, table, order_col, starting_after, "starting_after")]


class Window(NamedTuple):
    """Rows between two cursors. Going back from `ending_before` reads upwards from the cursor (the page
    closest to it), so the rows come oldest first and `page()` turns them round."""

    where: str
    params: list[Any]
    order: str  # ORDER BY clause body
    backward: bool


def window(
    db: sqlite_utils.Database,
    table: str,
    alias: str,
    starting_after: str | None,
    ending_before: str | None,
    order_col: str = "rowid",
) -> Window:
    where, params = ["1=1"], []
    if starting_after is not None:
        where.append(f"{alias}.{order_col} < ?")
        params.append(_position(db, table, order_col, starting_after, "starting_after"))
    if ending_before is not None:
        where.append(f"{alias}.{order_col} > ?")
        params.append(_position(db, table, order_col, ending_before, "ending_before"))
    backward = ending_before is not None and starting_after is None
    order = f"{alias}.{order_col} {'ASC' if backward else 'DESC'}"
    return Window(" AND ".join(where), params, order, backward)


def page(rows: list[T], limit: int, backward: bool) -> tuple[list[T], bool]:
    """(the page newest first, whether more rows lie beyond it); `rows` were read with LIMIT limit + 1."""
    has_more = len(rows) > limit
    rows = rows[:limit]
    if backward:
        rows.reverse()
    return rows, has_more


def _position(db: sqlite_utils.Database, table: str, order_col: str, row_id: str, field: str) -> Any:
    row = db.execute(f"SELECT {order_col} FROM {table} WHERE id = ?", [row_id]).fetchone()
    if row is None:
        raise InvalidInput(f"{field} {row_id!r} is not a known id", field=field)
    return row[0]
