"""Placing a call, the use case behind `POST /v1/calls` and the console's "Place a test call": check the request
against the store, choose the trunk, snapshot the agent onto a queued call and wake the dialer and the outbox."""

from __future__ import annotations

import time
from typing import Any

import sqlite_utils

from appliance import validation
from appliance.api.legacy_calls import implicit_agent, legacy_caller_id, refuse_agent_fields
from appliance.api.schemas import CreateCall
from appliance.errors import InvalidInput, RateLimited
from appliance.runtime import Runtime
from appliance.store import agents as agent_store
from appliance.store import calls as store
from appliance.store import numbers as number_store
from appliance.store import trunks as trunk_store
from appliance.store.records import Call


def choose_trunk(db: sqlite_utils.Database, to: str, from_trunk: str | None) -> str:
    """The trunk that carries a call: the caller ID's trunk, else the test carrier for its fictional numbers,
    else the first real trunk. The caller ID's trunk wins even for the test range: a lab phone on a user
    trunk may be given a +1202555 number, which the loopback carrier would refuse with 404."""
    if from_trunk:
        return from_trunk
    loopback = trunk_store.loopback_id(db)
    if loopback and validation.is_test_number(to):
        return loopback
    for row in trunk_store.trunk_rows(db):
        if not row["builtin"]:
            return row["id"]
    raise InvalidInput(
        f"no trunk can carry a call to {to}: add a SIP trunk with POST /v1/trunks "
        "(the built-in loopback trunk only reaches the test numbers +1202555xxxx and +1555xxxxxxx)",
        field="to",
    )


def _check_rate(runtime: Runtime) -> None:
    limit = runtime.settings.calls_per_minute
    if limit:
        now = time.monotonic()
        recent = [t for t in runtime.recent_creates if t > now - 60]
        if len(recent) >= limit:
            runtime.recent_creates[:] = recent
            raise RateLimited(
                f"more than {limit} calls created in the last minute", retry_after=max(1, int(recent[0] + 60 - now) + 1)
            )
        recent.append(now)
        runtime.recent_creates[:] = recent
    queued = store.count_in_status(runtime.db, ("queued",))
    if queued >= runtime.settings.max_queued_calls:
        raise RateLimited(
            f"{queued} calls are already waiting in the queue (max_queued_calls)", retry_after=30, code="queue_full"
        )


def queue_call(
    runtime: Runtime, data: CreateCall, idempotency_key: str | None = None, request_hash: str | None = None
) -> tuple[Call, bool]:
    """Check a call request against the store and queue it: (the call, whether it was created now)."""
    db = runtime.db
    if data.agent_id is None:
        to = validation.e164(data.to, "to")
        agent = implicit_agent(data, runtime.settings)
        from_number, from_trunk = legacy_caller_id(db, data.from_number)
    else:
        agent, to, from_number, from_trunk = _agent_call(db, data)
    if data.webhook_url is not None:
        validation.allowed_url(data.webhook_url, "webhook_url", runtime.settings.url_allowlist)
    trunk_id = choose_trunk(db, to, from_trunk)
    if idempotency_key is None or not store.has_idempotency_key(db, idempotency_key):
        _check_rate(runtime)
    call, created = store.create_call(
        db,
        agent=agent,
        direction="outbound",
        to_number=to,
        from_number=from_number,
        trunk_id=trunk_id,
        instructions=data.instructions if data.instructions is not None else data.prompt,
        context=data.context or {},
        metadata=data.metadata or {},
        webhook_url=data.webhook_url,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    if created and runtime.telephony is not None:
        runtime.telephony.wake()
    if created and runtime.outbox is not None:
        runtime.outbox.wake()
    return call, created


def _agent_call(db: sqlite_utils.Database, data: CreateCall) -> tuple[dict[str, Any], str, str | None, str | None]:
    """(agent row, to, caller ID, its trunk) of a call placed by an outbound agent."""
    agent = agent_store.agent_row(db, data.agent_id)
    if agent is None:
        raise InvalidInput(f"agent_id {data.agent_id!r} is not a known agent", field="agent_id")
    if agent["archived_at"] is not None:
        raise InvalidInput(f"agent {data.agent_id} is archived and takes no calls", field="agent_id")
    if agent["type"] != "outbound":
        raise InvalidInput(f"agent {data.agent_id} is an inbound agent; calls need an outbound agent", field="agent_id")
    refuse_agent_fields(data)
    to = validation.e164(data.to, "to")
    if data.instructions is not None and data.prompt is not None:
        raise InvalidInput("send instructions or the legacy prompt, not both", field="prompt")
    from_trunk: str | None = None
    from_number = None
    if data.from_number is not None:
        from_number = validation.e164(data.from_number, "from_number")
        number = number_store.number_by_e164(db, from_number)
        if number is None or data.agent_id not in (number.outbound_agent_ids):
            raise InvalidInput(
                f"from_number {from_number} is not attached to agent {data.agent_id}", field="from_number"
            )
        from_trunk = number.trunk_id
    elif agent["primary_number_id"]:
        number = number_store.get_number(db, agent["primary_number_id"])
        from_number, from_trunk = number.e164, number.trunk_id
    return agent, to, from_number, from_trunk
