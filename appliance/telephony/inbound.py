"""Inbound calls from trunks: which agent answers a DID (the number's inbound agent), and the call records
of answered and rejected arrivals. The dialer owns the channel; this decides and records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance import validation
from appliance.store import agents as agent_store
from appliance.store import calls as store
from appliance.store import numbers as number_store
from appliance.store.records import Number
from appliance.telephony.ari_events import StasisStart

# The snapshot of a rejected inbound call: no agent answered it.
_NO_AGENT: dict[str, Any] = dict.fromkeys(("id", "name", *agent_store.DEFAULTS)) | {
    "language": "en",
    "tools": [],
    "voicemail_action": "hangup",
    "max_duration_seconds": 0,
    "silence_timeout_seconds": 0,
    "ring_timeout_seconds": 0,
}


@dataclass(frozen=True)
class InboundRoute:
    did: str
    caller: str | None
    number: Number | None
    agent: dict[str, Any] | None  # None: no inbound agent answers the DID, the call is rejected


def route(db: sqlite_utils.Database, event: StasisStart) -> InboundRoute | None:
    """Who answers a channel the appliance-inbound context put into Stasis (None: not an inbound arrival)."""
    if not event.args or event.args[0] != "inbound":
        return None
    did = normalise(event.args[1] if len(event.args) > 1 else "")
    caller = normalise(event.args[2] if len(event.args) > 2 else "") or None
    number = number_store.number_by_e164(db, did) if did else None
    agent = agent_store.agent_row(db, number.inbound_agent_id) if number and number.inbound_agent_id else None
    return InboundRoute(did, caller, number, agent)


def record_rejected(db: sqlite_utils.Database, arrival: InboundRoute) -> None:
    """A call to a DID no agent answers, kept as a failed call (the box's owner sees who called what)."""
    call_id, _ = _create(db, arrival, _NO_AGENT, trunk_id=None)
    message = f"no inbound agent answers {arrival.did or 'this number'}"
    store.transition(db, call_id, "failed", error_code="no_agent", error_message=message)


def record_answering(db: sqlite_utils.Database, arrival: InboundRoute, channel_id: str) -> str:
    """The call record of an arrival its agent answers (`initiated`, on its channel); returns its id."""
    assert arrival.agent is not None and arrival.number is not None
    call_id, _ = _create(db, arrival, arrival.agent, trunk_id=arrival.number.trunk_id)
    store.set_fields(db, call_id, channel_id=channel_id)
    return call_id


def _create(
    db: sqlite_utils.Database, arrival: InboundRoute, agent: dict[str, Any], trunk_id: str | None
) -> tuple[str, bool]:
    call, created = store.create_call(
        db,
        agent=agent,
        direction="inbound",
        to_number=arrival.did or "unknown",
        from_number=arrival.caller,
        trunk_id=trunk_id,
        instructions=None,
        context={},
        metadata={},
        webhook_url=None,
        status="initiated",
    )
    return call.id, created


def normalise(number: str) -> str:
    """A DID or caller number from SIP → E.164 when it looks like one ("12025550101" → "+12025550101")."""
    number = number.strip()
    if number and not number.startswith("+") and number.isdigit() and len(number) >= 8:
        number = "+" + number
    try:
        return validation.e164(number, "did") if number else ""
    except Exception:
        return number
