"""The hosted service's legacy dispatch: `POST /v1/calls` without `agent_id`, the call carrying what an
agent would (`prompt`, `returns`, `tools`...). It runs with an implicit agent snapshot; no agent row is made."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from appliance import validation
from appliance.config import Settings
from appliance.errors import InvalidInput
from appliance.store import agents as agent_store
from appliance.store import numbers as number_store

from .agents import check_agent_fields
from .schemas import CreateCall

DEFAULT_PROMPT = "Hello from CallingBox."  # the hosted service's default
# Fields an agent owns: a call of an agent cannot override them.
AGENT_OWNED = ("returns", "language", "voicemail_action", "tools")


def refuse_agent_fields(data: CreateCall) -> None:
    """With `agent_id`, the legacy fields would silently lose to the agent's: refuse them instead."""
    for name in AGENT_OWNED:
        if getattr(data, name) is not None:
            raise InvalidInput(
                f"{name} belongs to the agent: set it on agent {data.agent_id}, "
                "or send the call without agent_id (legacy dispatch)",
                field=name,
            )


def implicit_agent(data: CreateCall, settings: Settings) -> dict[str, Any]:
    """The snapshot a legacy call runs with, every field checked as an agent's would be."""
    if data.instructions is not None and data.prompt is not None:
        raise InvalidInput("send instructions or the legacy prompt, not both", field="prompt")
    fields: dict[str, Any] = {
        **agent_store.DEFAULTS,
        "instructions": data.prompt if data.prompt is not None else data.instructions or DEFAULT_PROMPT,
        "language": data.language or "en",
        "returns": data.returns,
        "tools": data.tools or [],
        "voicemail_action": data.voicemail_action or "hangup",
    }
    check_agent_fields(fields, settings.url_allowlist)
    # The call's webhook_url is checked (and applied) by the dispatch, as for an agent's call.
    return {"id": None, "name": None, **fields}


def legacy_caller_id(db: sqlite_utils.Database, from_number: str | None) -> tuple[str | None, str | None]:
    """(caller ID, its trunk): the number asked for, which must be one of the box's active numbers, else
    the oldest active number on a trunk, else none (the trunk's default caller ID)."""
    if from_number is not None:
        e164 = validation.e164(from_number, "from_number")
        number = number_store.number_by_e164(db, e164)
        if number is None or number.status != "active":
            raise InvalidInput(
                f"from_number {e164} is not an active number of this box (register or purchase it first)",
                field="from_number",
            )
        return number.e164, number.trunk_id
    oldest = number_store.oldest_dialing_number(db)
    return (oldest.e164, oldest.trunk_id) if oldest else (None, None)
