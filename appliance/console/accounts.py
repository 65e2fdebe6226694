"""Console users and sign-in sessions. Passwords are scrypt hashes; session tokens are stored as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid

import sqlite_utils

from appliance.clock import now_iso
from appliance.errors import Conflict, InvalidInput

SESSION_SECONDS = 12 * 3600
# scrypt cost: ~50 ms per sign-in on this class of CPU, 16 MiB of memory.
_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        actual = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual.hex(), digest)


def create_user(db: sqlite_utils.Database, username: str, password: str) -> str:
    username = username.strip()
    if not username or len(username) > 64:
        raise InvalidInput("username must be 1 to 64 characters", field="username")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD} characters", field="password")
    if db.execute("SELECT 1 FROM console_users WHERE username = ?", [username]).fetchone():
        raise Conflict(f"user {username!r} already exists", code="user_exists")
    user_id = str(uuid.uuid4())
    db["console_users"].insert(
        {"id": user_id, "username": username, "password_hash": hash_password(password), "created_at": now_iso()}
    )
    return user_id


def count_users(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT COUNT(*) FROM console_users").fetchone()[0]


def ensure_first_user(db: sqlite_utils.Database) -> str | None:
    """On the very first start, an `admin` user with a random password, returned once to be printed."""
    if count_users(db):
        return None
    password = secrets.token_urlsafe(12)
    create_user(db, "admin", password)
    return password


def authenticate(db: sqlite_utils.Database, username: str, password: str) -> str | None:
    """The user's id when the password is right."""
    row = db.execute("SELECT id, password_hash FROM console_users WHERE username = ?", [username.strip()]).fetchone()
    if row is None:
        check_password(password, hash_password("timing"))  # same cost whether or not the user exists
        return None
    return row[0] if check_password(password, row[1]) else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(db: sqlite_utils.Database, user_id: str) -> str:
    token = secrets.token_urlsafe(32)
    now = time.time()
    db.execute("DELETE FROM console_sessions WHERE expires_at < ?", [now])
    db["console_sessions"].insert(
        {"token_hash": _token_hash(token), "user_id": user_id, "created_at": now, "expires_at": now + SESSION_SECONDS}
    )
    return token


def session_user(db: sqlite_utils.Database, token: str) -> str | None:
    """The signed-in username for a live session token."""
    row = db.execute(
        "SELECT u.username FROM console_sessions s JOIN console_users u ON u.id = s.user_id "
        "WHERE s.token_hash = ? AND s.expires_at > ?",
        [_token_hash(token), time.time()],
    ).fetchone()
    return row[0] if row else None


def close_session(db: sqlite_utils.Database, token: str) -> None:
    db.execute("DELETE FROM console_sessions WHERE token_hash = ?", [_token_hash(token)])
