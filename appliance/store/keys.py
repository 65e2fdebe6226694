"""API keys: `sk_` + 32 random bytes, stored as SHA-256 (the key has full entropy, so no slow hash is needed)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

import sqlite_utils

from appliance.clock import now_iso
from appliance.errors import NotFound
from appliance.store.records import ApiKey

PREFIX = "sk_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(db: sqlite_utils.Database, name: str) -> tuple[ApiKey, str]:
    """Create a key; the clear key is returned once and never stored."""
    key = PREFIX + secrets.token_urlsafe(32)
    row = {
        "id": str(uuid.uuid4()),
        "name": name,
        "prefix": key[:10],
        "key_hash": _hash(key),
        "created_at": now_iso(),
        "revoked_at": None,
        "last_used_at": None,
    }
    db["api_keys"].insert(row)
    return _record(row), key


def list_keys(db: sqlite_utils.Database) -> list[ApiKey]:
    return [_record(r) for r in db.query("SELECT * FROM api_keys ORDER BY created_at")]


def count_active(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL").fetchone()[0]


def revoke_key(db: sqlite_utils.Database, key_id: str) -> ApiKey:
    """Revoke by id or by the shown prefix."""
    rows = list(db.query("SELECT * FROM api_keys WHERE id = ? OR prefix = ?", [key_id, key_id]))
    if len(rows) != 1:
        raise NotFound(f"no API key {key_id!r}")
    db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [now_iso(), rows[0]["id"]])
    return _record(db["api_keys"].get(rows[0]["id"]))


def verify_key(db: sqlite_utils.Database, key: str) -> str | None:
    """The key's id if `key` is a live key, else None."""
    if not key.startswith(PREFIX) or len(key) > 200:
        return None
    digest = _hash(key)
    row = db.execute("SELECT id, key_hash, revoked_at FROM api_keys WHERE key_hash = ?", [digest]).fetchone()
    if row is None or row[2] is not None or not hmac.compare_digest(row[1], digest):
        return None
    return row[0]


class KeyCache:
    """Verified keys kept in memory. Keys are revoked by `appliance keys revoke`, another process: SQLite's
    `data_version` changes whenever another connection commits, and any such change empties the cache,
    so a revoked key fails on the very next request."""

    def __init__(self) -> None:
        self._valid: dict[str, str] = {}
        self._version: int | None = None

    def clear(self) -> None:
        """Forget every verified key: this process revoked one (its own commits leave data_version as is)."""
        self._valid.clear()

    def verify(self, db: sqlite_utils.Database, key: str) -> str | None:
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._valid.clear()
            self._version = version
        if not key.startswith(PREFIX) or len(key) > 200:
            return None
        digest = _hash(key)  # the cache holds digests: no clear key stays in memory after its request
        if (key_id := self._valid.get(digest)) is not None:
            return key_id
        key_id = verify_key(db, key)
        if key_id is not None:
            self._valid[digest] = key_id
        return key_id


def _record(row: dict) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )
