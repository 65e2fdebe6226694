"""Trunks as PJSIP sees them. Section names derive from trunk ids; every value was validated on write
(appliance.store.trunks) and is checked again here, so no user text can inject config lines."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

SAFE = re.compile(r"^[A-Za-z0-9._@:+-]*$")
SAFE_SECRET = re.compile(r"^[^\r\n;\[\]]*$")


class UnsafeTrunkValue(ValueError):
    pass


def endpoint_name(trunk_id: str) -> str:
    """`trunk-<id>`: ids are uuids we generate."""
    name = "trunk-" + trunk_id
    if not re.fullmatch(r"trunk-[A-Za-z0-9-]{1,64}", name):
        raise UnsafeTrunkValue(f"bad trunk id {trunk_id!r}")
    return name


@dataclass(frozen=True)
class TrunkConfig:
    id: str
    endpoint: str
    host: str
    port: int
    transport: str
    username: str | None
    password: str | None
    register: bool
    from_domain: str | None
    codecs: tuple[str, ...]
    max_channels: int | None
    builtin: bool
    inbound_addresses: tuple[str, ...] = ()

    @property
    def host_port(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def match(self, shared_hosts: frozenset[str]) -> str:
        """Identify INVITEs from this peer: its host from any port (carriers send from several ports, and over TCP
        from ephemeral ones; a hostname is resolved by Asterisk), plus its `inbound_addresses`. Only a host that
        another peer shares (127.0.0.1 with the loopback carrier, two trunks on one address) is told by its port."""
        own = self.host_port if self.host in shared_hosts else self.host
        return ",".join((own, *self.inbound_addresses))

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TrunkConfig:
        for field in ("host", "from_domain", "username"):
            value = row.get(field)
            if value is not None and not SAFE.match(value):
                raise UnsafeTrunkValue(f"trunk {row['id']}: unsafe {field}")
        if row.get("password") is not None and not SAFE_SECRET.match(row["password"]):
            raise UnsafeTrunkValue(f"trunk {row['id']}: unsafe password")
        codecs = tuple(row["codecs"])
        if not set(codecs) <= {"ulaw", "alaw", "g722"} or row["transport"] not in ("udp", "tcp", "tls"):
            raise UnsafeTrunkValue(f"trunk {row['id']}: bad codecs or transport")
        return cls(
            id=row["id"], endpoint=endpoint_name(row["id"]), host=row["host"], port=int(row["port"]),
            transport=row["transport"], username=row.get("username"), password=row.get("password"),
            register=bool(row["register"]), from_domain=row.get("from_domain"), codecs=codecs,
            max_channels=row.get("max_channels"), builtin=bool(row["builtin"]),
            inbound_addresses=tuple(_network(row["id"], a) for a in row.get("inbound_addresses") or ()),
        )  # fmt: skip


def shared_hosts(trunks: list[TrunkConfig], carrier: bool) -> frozenset[str]:
    """Hosts more than one SIP peer sends from: there the port alone tells peers apart. The loopback carrier and
    our own transport both send from 127.0.0.1."""
    seen: set[str] = set()
    shared = {"127.0.0.1"} if carrier else set()
    for trunk in trunks:
        (shared if trunk.host in seen else seen).add(trunk.host)
    return frozenset(shared)


def _network(trunk_id: str, value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise UnsafeTrunkValue(f"trunk {trunk_id}: bad inbound address") from None
    return value
