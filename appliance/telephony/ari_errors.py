"""The errors of an ARI request, one class per thing a caller handles differently (gone, unreachable)."""

from __future__ import annotations

import msgspec


class AriError(Exception):
    """ARI answered with an error status (or, with status 0, could not be reached)."""

    def __init__(self, status: int, message: str, method: str = "", path: str = "") -> None:
        where = f" {method} {path}" if method else ""
        super().__init__(f"ARI{where} -> {status}: {message}")
        self.status = status
        self.message = message


class AriUnavailable(AriError):
    """No HTTP answer at all: Asterisk is down or restarting."""


class AriNotFound(AriError):
    """A 404: what the request names does not exist (any more)."""


class ChannelNotFound(AriNotFound):
    """The channel is gone (hung up): harmless for hangups and cleanup."""


class BridgeNotFound(AriNotFound):
    """The bridge is gone (destroyed already)."""


def error_for(status: int, content: bytes, method: str, path: str) -> AriError:
    """The error for an HTTP error reply; a 404 says which kind of thing is gone by the path it was asked on."""
    try:
        message = str(msgspec.json.decode(content).get("message", ""))
    except (msgspec.DecodeError, AttributeError):
        message = content.decode(errors="replace")[:200]
    cls: type[AriError] = AriError
    if status == 404:
        cls = (
            ChannelNotFound
            if path.startswith("/channels")
            else BridgeNotFound
            if path.startswith("/bridges")
            else AriNotFound
        )
    return cls(status, message, method, path)
