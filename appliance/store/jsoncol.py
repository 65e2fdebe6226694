"""JSON columns: encode on write, decode on read."""

from __future__ import annotations

from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def dumps(value: Any) -> str | None:
    return None if value is None else _encoder.encode(value).decode()


def loads(value: str | None) -> Any:
    return None if value is None else _decoder.decode(value)
