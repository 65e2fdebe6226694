"""Opening the SQLite store: WAL mode, foreign keys, numbered migrations applied at start."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils
import structlog

from appliance.store.migrations import MIGRATIONS
from appliance.store.sealed import attach, seal_clear_values

log = structlog.get_logger(__name__)


class StoreUnavailable(RuntimeError):
    """The database cannot be opened or brought up to date (read-only or full disk, missing permissions)."""


def open_db(path: Path | str, secret_key: str = "") -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path`, bring its schema up to date and seal any secret
    still in clear (`secret_key`: see appliance.store.sealed)."""
    try:
        return _open(path, secret_key)
    except (sqlite3.OperationalError, OSError) as exc:
        raise StoreUnavailable(
            f"cannot open the database {path}: {exc} (is the data directory writable, with free space?)"
        ) from exc


def _open(path: Path | str, secret_key: str) -> sqlite_utils.Database:
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # One connection, used from the event loop thread and the CLI; autocommit mode so that
    # `transaction()` below decides exactly where each transaction starts and ends.
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes; WAL fsyncs at checkpoint
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    # Deleted and overwritten values (a secret before sealing, an erased transcript) are zeroed in the file,
    # free pages included (FAST would leave them in freed pages: see store/erasure.py).
    conn.execute("PRAGMA secure_delete=ON")
    db = sqlite_utils.Database(conn)
    migrate(db)
    sealer = attach(db, None if str(path) == ":memory:" else Path(path), secret_key)
    with transaction(db):
        sealed = seal_clear_values(db, sealer)
    if sealed:  # the clear values are still in the WAL's older frames: fold it into the database and empty it
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def schema_version(db: sqlite_utils.Database) -> int:
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(db: sqlite_utils.Database) -> None:
    """Apply every migration newer than the stored version, each in its own transaction."""
    current = schema_version(db)
    for number, sql in enumerate(MIGRATIONS, start=1):
        if number <= current:
            continue
        with transaction(db):
            for statement in _statements(sql):
                db.execute(statement)
            db.execute("INSERT INTO schema_version (version) VALUES (?)", [number])
        log.info("store.migrated", version=number)


def _statements(sql: str) -> list[str]:
    # executescript() would COMMIT the open transaction; split instead (no ';' inside our DDL strings).
    return [s.strip() for s in sql.split(";") if s.strip()]


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception: nothing half-written."""
    conn = db.conn
    if conn.in_transaction:  # nested use joins the outer transaction
        yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
