"""Secrets the appliance makes for itself (signing and CSRF keys), created once and kept in the store (sealed)."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from appliance.store.sealed import sealer


def stored_secret(db: sqlite_utils.Database, name: str, make: Callable[[], str]) -> str:
    """The secret called `name`, made with `make()` on first use; concurrent first uses agree on one value."""
    box = sealer(db)
    row = db.execute("SELECT value FROM appliance_secrets WHERE name = ?", [name]).fetchone()
    if row:
        return box.open(row[0])
    db.execute("INSERT OR IGNORE INTO appliance_secrets (name, value) VALUES (?, ?)", [name, box.seal(make())])
    return box.open(db.execute("SELECT value FROM appliance_secrets WHERE name = ?", [name]).fetchone()[0])
