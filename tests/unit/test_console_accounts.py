"""Console users and sessions: scrypt hashes, expiry, sign-out, the first user made once."""

from __future__ import annotations

import time

import pytest
import sqlite_utils

from appliance.console import accounts
from appliance.errors import Conflict, InvalidInput
from appliance.store.db import open_db


@pytest.fixture
def db() -> sqlite_utils.Database:
    return open_db(":memory:")


def test_passwords_are_stored_as_salted_scrypt_hashes(db: sqlite_utils.Database) -> None:
    accounts.create_user(db, "ops", "correct horse battery")
    stored = db.execute("SELECT password_hash FROM console_users").fetchone()[0]
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert accounts.hash_password("same password") != accounts.hash_password("same password")  # salted
    assert accounts.authenticate(db, "ops", "correct horse battery")
    assert accounts.authenticate(db, "ops", "correct horse batter") is None
    assert accounts.authenticate(db, "nobody", "correct horse battery") is None


def test_short_passwords_and_duplicate_names_are_refused(db: sqlite_utils.Database) -> None:
    with pytest.raises(InvalidInput, match="at least 10"):
        accounts.create_user(db, "ops", "short")
    accounts.create_user(db, "ops", "long enough pass")
    with pytest.raises(Conflict):
        accounts.create_user(db, "ops", "another long pass")


def test_a_session_ends_at_sign_out_and_when_it_expires(db: sqlite_utils.Database) -> None:
    user = accounts.create_user(db, "ops", "long enough pass")
    token = accounts.open_session(db, user)
    assert accounts.session_user(db, token) == "ops"
    assert db.execute("SELECT COUNT(*) FROM console_sessions WHERE token_hash = ?", [token]).fetchone()[0] == 0
    accounts.close_session(db, token)
    assert accounts.session_user(db, token) is None
    stale = accounts.open_session(db, user)
    db.execute("UPDATE console_sessions SET expires_at = ?", [time.time() - 1])
    assert accounts.session_user(db, stale) is None


def test_the_first_user_is_made_once(db: sqlite_utils.Database) -> None:
    password = accounts.ensure_first_user(db)
    assert password and accounts.authenticate(db, "admin", password)
    assert accounts.ensure_first_user(db) is None
