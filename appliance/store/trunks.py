"""SIP trunks: stored and validated here (passwords sealed); rendered into PJSIP config by the telephony side."""

from __future__ import annotations

import re
import uuid
from typing import Any

import sqlite_utils

from appliance import did_ranges, validation
from appliance.clock import now_iso
from appliance.errors import Conflict, InvalidInput, NotFound
from appliance.store.db import transaction
from appliance.store.jsoncol import dumps, loads
from appliance.store.records import Trunk
from appliance.store.sealed import sealer

LOOPBACK = "loopback"
CODECS = ("ulaw", "alaw", "g722")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
# Registration state is live data from Asterisk; the API passes it in.
TrunkState = dict[str, tuple[str, bool | None]]


def _check(fields: dict[str, Any]) -> None:
    if "name" in fields and not NAME.match(fields["name"]):
        raise InvalidInput(
            "name must be 1-64 letters, digits, space, _ . - (starting with a letter or digit)", field="name"
        )
    if "host" in fields:
        validation.host(fields["host"], "host")
    if "from_domain" in fields and fields["from_domain"] is not None:
        validation.host(fields["from_domain"], "from_domain")
    if "codecs" in fields:
        codecs = fields["codecs"]
        if not codecs or len(set(codecs)) != len(codecs) or any(c not in CODECS for c in codecs):
            raise InvalidInput(
                f"codecs must be a non-empty list of distinct values from {', '.join(CODECS)}", field="codecs"
            )
    for f in ("username", "password"):
        value = fields.get(f)
        if value is not None and (not value or any(c in value for c in "\r\n;[]")):
            raise InvalidInput(f"{f} must be non-empty and hold no line breaks, ';' or brackets", field=f)
    if "did_ranges" in fields:
        fields["did_ranges"] = did_ranges.check_ranges(fields["did_ranges"])
    if "inbound_addresses" in fields:
        fields["inbound_addresses"] = [
            validation.network(value, f"inbound_addresses[{i}]") for i, value in enumerate(fields["inbound_addresses"])
        ]


def create_trunk(db: sqlite_utils.Database, fields: dict[str, Any], *, builtin: bool = False) -> str:
    _check(fields)
    if fields.get("register") and not (fields.get("username") and fields.get("password")):
        raise InvalidInput("a trunk with register=true needs username and password", field="register")
    now = now_iso()
    row = {
        "id": str(uuid.uuid4()),
        "name": fields["name"],
        "host": fields["host"],
        "port": fields.get("port", 5060),
        "transport": fields.get("transport", "udp"),
        "username": fields.get("username"),
        "password": sealer(db).seal(fields.get("password")),
        "register": int(bool(fields.get("register", False))),
        "from_domain": fields.get("from_domain"),
        "codecs": dumps(fields.get("codecs") or ["ulaw", "alaw"]),
        "max_channels": fields.get("max_channels"),
        "did_ranges": dumps(fields.get("did_ranges") or []),
        "inbound_addresses": dumps(fields.get("inbound_addresses") or []),
        "builtin": int(builtin),
        "created_at": now,
        "updated_at": now,
    }
    with transaction(db):
        if db.execute("SELECT 1 FROM trunks WHERE name = ?", [row["name"]]).fetchone():
            raise Conflict(f"a trunk named {row['name']!r} exists", code="trunk_name_taken")
        db["trunks"].insert(row)
    return row["id"]


def update_trunk(db: sqlite_utils.Database, trunk_id: str, fields: dict[str, Any]) -> None:
    _check(fields)
    with transaction(db):
        row = get_trunk_row(db, trunk_id)
        if row["builtin"] and set(fields) - {"did_ranges"}:
            # The test carrier delivers any DID: which ones it offers is the one thing to choose.
            raise Conflict(
                "the built-in loopback trunk cannot be changed (except its did_ranges)", code="trunk_builtin"
            )
        merged = {**row, **fields}
        if merged.get("register") and not (merged.get("username") and merged.get("password")):
            raise InvalidInput("a trunk with register=true needs username and password", field="register")
        if (
            "name" in fields
            and db.execute("SELECT 1 FROM trunks WHERE name = ? AND id != ?", [fields["name"], trunk_id]).fetchone()
        ):
            raise Conflict(f"a trunk named {fields['name']!r} exists", code="trunk_name_taken")
        update = dict(fields)
        for key in ("codecs", "did_ranges", "inbound_addresses"):
            if key in update:
                update[key] = dumps(update[key])
        if "register" in update:
            update["register"] = int(bool(update["register"]))
        if "password" in update:
            update["password"] = sealer(db).seal(update["password"])
        update["updated_at"] = now_iso()
        db["trunks"].update(trunk_id, update)


def delete_trunk(db: sqlite_utils.Database, trunk_id: str) -> None:
    with transaction(db):
        row = get_trunk_row(db, trunk_id)
        if row["builtin"]:
            raise Conflict(
                "the built-in loopback trunk cannot be deleted (set loopback_trunk = false)", code="trunk_builtin"
            )
        used = db.execute("SELECT COUNT(*) FROM numbers WHERE trunk_id = ?", [trunk_id]).fetchone()[0]
        if used:
            raise Conflict(f"{used} number(s) use this trunk; release or move them first", code="trunk_in_use")
        db["trunks"].delete(trunk_id)


def get_trunk_row(db: sqlite_utils.Database, trunk_id: str) -> dict[str, Any]:
    out = next(db.query("SELECT * FROM trunks WHERE id = ?", [trunk_id]), None)
    if out is None:
        raise NotFound(f"no trunk {trunk_id!r}", code="trunk_not_found")
    out["codecs"] = loads(out["codecs"])
    out["did_ranges"] = loads(out["did_ranges"])
    out["inbound_addresses"] = loads(out["inbound_addresses"])
    out["password"] = sealer(db).open(out["password"])
    return out


def trunk_rows(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    rows = list(db.query("SELECT * FROM trunks ORDER BY created_at"))
    for r in rows:
        r["codecs"] = loads(r["codecs"])
        r["did_ranges"] = loads(r["did_ranges"])
        r["inbound_addresses"] = loads(r["inbound_addresses"])
        r["password"] = sealer(db).open(r["password"])
    return rows


def get_trunk(db: sqlite_utils.Database, trunk_id: str, state: TrunkState | None = None) -> Trunk:
    return to_record(get_trunk_row(db, trunk_id), state or {})


def list_trunks(db: sqlite_utils.Database, state: TrunkState | None = None) -> list[Trunk]:
    return [to_record(r, state or {}) for r in trunk_rows(db)]


def loopback_id(db: sqlite_utils.Database) -> str | None:
    row = db.execute("SELECT id FROM trunks WHERE builtin = 1 AND name = ?", [LOOPBACK]).fetchone()
    return row[0] if row else None


def ensure_loopback(db: sqlite_utils.Database, carrier_port: int) -> str:
    """The built-in test carrier trunk exists (and points at this instance's carrier port)."""
    existing = loopback_id(db)
    if existing:
        db["trunks"].update(existing, {"port": carrier_port, "updated_at": now_iso()})
        return existing
    return create_trunk(
        db,
        {"name": LOOPBACK, "host": "127.0.0.1", "port": carrier_port, "transport": "udp", "codecs": ["ulaw"]},
        builtin=True,
    )


def to_record(row: dict[str, Any], state: TrunkState) -> Trunk:
    registration, reachable = state.get(row["id"], ("unknown" if row["register"] else "not_applicable", None))
    return Trunk(
        id=row["id"],
        name=row["name"],
        host=row["host"],
        port=row["port"],
        transport=row["transport"],
        username=row["username"],
        has_password=bool(row["password"]),
        register=bool(row["register"]),
        from_domain=row["from_domain"],
        codecs=row["codecs"],
        max_channels=row["max_channels"],
        did_ranges=row["did_ranges"],
        inbound_addresses=row["inbound_addresses"],
        builtin=bool(row["builtin"]),
        registration_status=registration,  # type: ignore[arg-type]
        reachable=reachable,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
