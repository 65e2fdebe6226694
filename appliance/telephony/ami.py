"""AMI over panoramisk: trunk registration and contact reachability (ARI drives the calls)."""

from __future__ import annotations

import asyncio
from typing import Any

from panoramisk import Manager

REGISTRATION = {"registered": "registered", "rejected": "rejected", "unregistered": "unregistered"}


class AmiClient:
    def __init__(self, port: int, user: str, secret: str, host: str = "127.0.0.1") -> None:
        self._config = {
            "host": host,
            "port": port,
            "username": user,
            "secret": secret,
            "ping_delay": 10,
            "reconnect_timeout": 1,
        }
        self._manager: Manager | None = None

    async def _connected(self) -> Manager:
        if self._manager is None:
            # panoramisk needs the running loop at construction on Python 3.11+.
            self._manager = Manager(loop=asyncio.get_running_loop(), **self._config)
            await asyncio.wait_for(self._manager.connect(), timeout=5)
        return self._manager

    async def _list(self, action: str) -> list[dict[str, Any]]:
        manager = await self._connected()
        reply = await asyncio.wait_for(manager.send_action({"Action": action}), timeout=5)
        messages = reply if isinstance(reply, list) else [reply]
        return [dict(m) for m in messages]

    async def registrations(self) -> dict[str, str]:
        """registration section name → registered | unregistered | rejected."""
        out = {}
        for m in await self._list("PJSIPShowRegistrationsOutbound"):
            if m.get("Event") == "OutboundRegistrationDetail":
                out[m["ObjectName"]] = REGISTRATION.get(str(m.get("Status", "")).lower(), "unregistered")
        return out

    async def contacts(self) -> dict[str, bool | None]:
        """endpoint/aor name → reachable (True/False), None when not qualified."""
        out: dict[str, bool | None] = {}
        for m in await self._list("PJSIPShowContacts"):
            if m.get("Event") != "ContactList":
                continue
            status = str(m.get("Status", "")).lower()
            value = True if status == "reachable" else False if status == "unreachable" else None
            out[str(m.get("Aor") or m.get("Endpoint") or "")] = value
        return out

    async def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
            self._manager = None
