"""The do-not-call list: numbers no campaign dials, each with why and when it was added."""

from __future__ import annotations

from typing import Literal

import msgspec
import sqlite_utils

from appliance.clock import now_iso
from appliance.errors import InvalidInput, NotFound
from appliance.store.db import transaction


class DncEntry(msgspec.Struct, kw_only=True):
    number: str
    reason: str | None
    source: Literal["api", "console", "keypad", "speech"]  # keypad: the opt-out key in a call; speech: asked in one
    call_id: str | None  # the call the number opted out in
    created_at: str


class DncList(msgspec.Struct):
    data: list[DncEntry]


def add(
    db: sqlite_utils.Database, number: str, reason: str | None, source: str, call_id: str | None = None
) -> tuple[DncEntry, bool]:
    """Add a number (E.164, checked by the caller); (the entry, whether it is new). A number already listed
    keeps its first entry: the date it opted out is the one that matters."""
    with transaction(db):
        existing = entry(db, number)
        if existing is not None:
            return existing, False
        db["dnc"].insert(
            {"number": number, "reason": reason, "source": source, "call_id": call_id, "created_at": now_iso()}
        )
    return get(db, number), True


def entry(db: sqlite_utils.Database, number: str) -> DncEntry | None:
    row = next(db.query("SELECT * FROM dnc WHERE number = ?", [number]), None)
    return None if row is None else DncEntry(**row)


def get(db: sqlite_utils.Database, number: str) -> DncEntry:
    found = entry(db, number)
    if found is None:
        raise NotFound(f"{number} is not on the do-not-call list", code="dnc_not_found")
    return found


def listed(db: sqlite_utils.Database, number: str) -> bool:
    return db.execute("SELECT 1 FROM dnc WHERE number = ?", [number]).fetchone() is not None


def remove(db: sqlite_utils.Database, number: str) -> None:
    get(db, number)
    db.execute("DELETE FROM dnc WHERE number = ?", [number])


def list_entries(db: sqlite_utils.Database, limit: int, starting_after: str | None) -> list[DncEntry]:
    """Newest first; the cursor is a number."""
    where, params = "1=1", []
    if starting_after is not None:
        cursor = db.execute("SELECT rowid FROM dnc WHERE number = ?", [starting_after]).fetchone()
        if cursor is None:
            raise InvalidInput(f"starting_after {starting_after!r} is not on the list", field="starting_after")
        where, params = "rowid < ?", [cursor[0]]
    rows = db.query(f"SELECT * FROM dnc WHERE {where} ORDER BY rowid DESC LIMIT ?", [*params, limit])
    return [DncEntry(**r) for r in rows]
