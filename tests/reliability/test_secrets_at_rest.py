"""Secrets at rest: trunk passwords and webhook secrets are sealed in SQLite; a copy of the database files
alone shows none of them, and a database from before sealing is sealed when opened."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from appliance.store import trunks as trunk_store
from appliance.store import webhooks as webhook_store
from appliance.store.db import open_db
from appliance.store.sealed import KEY_FILE, SecretKeyError
from tests.support import ServerProcess

TRUNK_PASSWORD = "Tr0nk-Pa55-xyzzy-42"


def database_bytes(data_dir: Path) -> bytes:
    """What a backup of the database would hold: the file, its WAL and shared memory."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("appliance.db*")))


def visible(secret: str) -> list[bytes]:
    """The forms a secret could be found in: as is, and its decoded base64 body for whsec_ secrets."""
    forms = [secret.encode()]
    if secret.startswith("whsec_"):
        forms.append(base64.b64decode(secret.removeprefix("whsec_")))
    return forms


def test_backup_of_the_database_shows_no_secret_in_clear(api_server: ServerProcess, api: httpx.Client) -> None:
    trunk = api.post(
        "/v1/trunks",
        json={"name": "sealed", "host": "192.0.2.10", "username": "acct", "password": TRUNK_PASSWORD, "register": True},
    )
    assert trunk.status_code == 201, trunk.text
    endpoint = api.post("/v1/webhook_endpoints", json={"url": "http://192.0.2.20/hook"}).json()
    rotated = api.post(f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret").json()
    inline = api_server.inline_secret()
    secrets = [TRUNK_PASSWORD, endpoint["signing_secret"], rotated["signing_secret"], inline]
    assert all(s and len(s) > 10 for s in secrets)
    assert trunk.json()["has_password"] and "password" not in trunk.json()

    stored = database_bytes(api_server.data_dir)
    leaks = [s for s in secrets for form in visible(s) if form in stored]
    assert leaks == []
    assert b"fernet:" in stored


def test_clear_secrets_from_before_sealing_are_sealed_when_the_database_opens(tmp_path: Path) -> None:
    db = open_db(tmp_path / "appliance.db")
    trunk_id = trunk_store.create_trunk(db, {"name": "old", "host": "192.0.2.1"})
    endpoint = webhook_store.create_endpoint(db, "http://192.0.2.2/h", None, ["*"])
    # what an appliance from before sealing wrote
    db.execute("UPDATE trunks SET password = ? WHERE id = ?", [TRUNK_PASSWORD, trunk_id])
    db.execute("UPDATE webhook_endpoints SET secret = ? WHERE id = ?", ["whsec_old-clear-secret", endpoint.id])
    db.conn.close()
    assert TRUNK_PASSWORD.encode() in database_bytes(tmp_path)

    reopened = open_db(tmp_path / "appliance.db")
    assert TRUNK_PASSWORD.encode() not in database_bytes(tmp_path)
    assert b"whsec_old-clear-secret" not in database_bytes(tmp_path)
    assert trunk_store.get_trunk_row(reopened, trunk_id)["password"] == TRUNK_PASSWORD
    delivery = {"endpoint_id": endpoint.id}
    assert webhook_store.secret_for(reopened, delivery) == "whsec_old-clear-secret"
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600


def test_key_from_the_environment_is_used_instead_of_a_key_file(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    db = open_db(tmp_path / "appliance.db", key)
    trunk_id = trunk_store.create_trunk(db, {"name": "t", "host": "192.0.2.1", "password": TRUNK_PASSWORD})
    assert not (tmp_path / KEY_FILE).exists()
    db.conn.close()
    assert trunk_store.get_trunk_row(open_db(tmp_path / "appliance.db", key), trunk_id)["password"] == TRUNK_PASSWORD
    with pytest.raises(SecretKeyError, match="does not open"):
        trunk_store.get_trunk_row(open_db(tmp_path / "appliance.db", Fernet.generate_key().decode()), trunk_id)
