"""Secrets at rest: trunk passwords, webhook signing secrets and the appliance's own keys are stored
Fernet-encrypted (AES-128-CBC + HMAC-SHA256), so a copy of the SQLite file alone does not expose them.

The key comes from `secret_key` (APPLIANCE_SECRET_KEY) when set, else from `secret.key` beside the database,
created owner-only on first start. Keep the key out of backups of the database (or set it in the environment).
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import sqlite_utils
import structlog
from cryptography.fernet import Fernet, InvalidToken

log = structlog.get_logger(__name__)

PREFIX = "fernet:"  # marks a sealed value; anything else in a sealed column is a clear value from before sealing
KEY_FILE = "secret.key"
# (table, key column, secret column): every column that holds a secret.
SEALED_COLUMNS = (
    ("trunks", "id", "password"),
    ("webhook_endpoints", "id", "secret"),
    ("appliance_secrets", "name", "value"),
)


class SecretKeyError(RuntimeError):
    """The secret key is missing, malformed, or not the one the stored secrets were sealed with."""


class Sealer:
    """Seals and opens the secret columns of one database."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            where = "secret_key, or data_dir/secret.key"
            raise SecretKeyError(f"the secret key ({where}) is not a Fernet key: {exc}") from None

    def seal(self, value: str | None) -> str | None:
        if value is None:
            return None
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str | None) -> str | None:
        if value is None or not value.startswith(PREFIX):
            return value
        try:
            return self._fernet.decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                "a stored secret does not open with this secret key (secret.key replaced, or APPLIANCE_SECRET_KEY "
                "changed?)"
            ) from None


_SEALERS: weakref.WeakKeyDictionary[sqlite_utils.Database, Sealer] = weakref.WeakKeyDictionary()


def sealer(db: sqlite_utils.Database) -> Sealer:
    """The sealer `open_db` attached to this database."""
    return _SEALERS[db]


def attach(db: sqlite_utils.Database, db_path: Path | None, secret_key: str = "") -> Sealer:
    """Attach the sealer for `db`: key from `secret_key`, else the key file beside `db_path` (an in-memory
    database gets a key of its own)."""
    if secret_key:
        key = secret_key.encode()
    elif db_path is None:
        key = Fernet.generate_key()
    else:
        key = _key_file(db_path.parent / KEY_FILE)
    found = Sealer(key)
    _SEALERS[db] = found
    return found


def _key_file(path: Path) -> bytes:
    """The key in `path`, created owner-only (and exactly once, if two processes start together)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(Fernet.generate_key())
    log.info("store.secret_key_created", path=str(path))
    return path.read_bytes().strip()


def seal_clear_values(db: sqlite_utils.Database, found: Sealer) -> int:
    """Encrypt every secret stored in clear (rows written before sealing existed); returns how many.
    The data migration that follows the numbered ones: it runs at each open and finds nothing once done."""
    sealed = 0
    for table, key, column in SEALED_COLUMNS:
        if not db[table].exists():
            continue
        rows = db.execute(
            f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} NOT LIKE ?", [PREFIX + "%"]
        ).fetchall()
        for row_key, value in rows:
            db.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", [found.seal(value), row_key])
            sealed += 1
    if sealed:
        log.info("store.secrets_sealed", count=sealed)
    return sealed
