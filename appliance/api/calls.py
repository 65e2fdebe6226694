"""/v1/calls: dispatch, list, get, transcript, events, recording, cancel; /v1/usage."""

from __future__ import annotations

import hashlib
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import msgspec
import sqlite_utils
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import Parameter
from litestar.response import File

from appliance import validation
from appliance.call_status import STATUSES, TERMINAL
from appliance.errors import Conflict, InvalidInput, NotFound, RateLimited
from appliance.runtime import Runtime
from appliance.store import agents as agent_store
from appliance.store import calls as store
from appliance.store import erasure
from appliance.store import numbers as number_store
from appliance.store import trunks as trunk_store
from appliance.store.paging import check_limit
from appliance.store.records import Call, CallEvents, CallList, Transcript, Usage
from appliance.store.usage import usage

from .edge import ERROR_RESPONSES
from .legacy_calls import implicit_agent, legacy_caller_id, refuse_agent_fields
from .schemas import CreateCall, strict_body


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


def dispatch_call(
    runtime: Runtime, data: CreateCall, idempotency_key: str | None = None, request_hash: str | None = None
) -> tuple[Call, bool]:
    """Check a call request against the store and queue it: (the call, whether it was created now).
    Used by POST /v1/calls and the console's "Place a test call"."""
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


class DeletedCall(msgspec.Struct, kw_only=True):
    id: str
    deleted: bool = True


class CallController(Controller):
    path = "/calls"
    tags = ["calls"]

    @post("/", responses=ERROR_RESPONSES)
    async def create_call(
        self,
        runtime: Runtime,
        data: CreateCall,
        request: Request[Any, Any, Any],
        idempotency_key: Annotated[str | None, Parameter(header="Idempotency-Key", max_length=255)] = None,
    ) -> Response[Call]:
        data = await strict_body(request, CreateCall)
        request_hash = hashlib.sha256(await request.body()).hexdigest() if idempotency_key is not None else None
        call, created = dispatch_call(runtime, data, idempotency_key, request_hash)
        headers = {} if created else {"Idempotent-Replayed": "true"}
        return Response(call, status_code=201, headers=headers)

    @get("/", responses=ERROR_RESPONSES)
    async def list_calls(
        self,
        runtime: Runtime,
        status: str | None = None,
        direction: str | None = None,
        agent_id: str | None = None,
        limit: int = 50,
        starting_after: str | None = None,
        ending_before: str | None = None,
    ) -> CallList:
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status")
        if direction is not None and direction not in ("inbound", "outbound"):
            raise InvalidInput("direction must be inbound or outbound", field="direction")
        return store.list_calls(
            runtime.db,
            status=status,
            direction=direction,
            agent_id=agent_id,
            limit=check_limit(limit),
            starting_after=starting_after,
            ending_before=ending_before,
        )

    @get("/{call_id:str}", responses=ERROR_RESPONSES)
    async def get_call(self, runtime: Runtime, call_id: str) -> Call:
        return store.get_call(runtime.db, call_id)

    @get("/{call_id:str}/transcript", responses=ERROR_RESPONSES)
    async def get_transcript(self, runtime: Runtime, call_id: str) -> Transcript:
        return store.transcript(runtime.db, call_id)

    @get("/{call_id:str}/events", responses=ERROR_RESPONSES)
    async def get_events(self, runtime: Runtime, call_id: str) -> CallEvents:
        return store.events(runtime.db, call_id)

    @get("/{call_id:str}/recording", responses=ERROR_RESPONSES, media_type="audio/wav")
    async def get_recording(self, runtime: Runtime, call_id: str) -> File:
        row = store.call_row(runtime.db, call_id)
        path = row["recording_path"]
        if not path or not Path(path).is_file():
            raise NotFound(f"call {call_id} has no recording", code="recording_not_found")
        return File(path=path, filename=f"{call_id}.wav", media_type="audio/wav")

    @delete("/{call_id:str}/recording", responses=ERROR_RESPONSES, status_code=200)
    async def delete_recording(self, runtime: Runtime, call_id: str) -> Call:
        """The recording's bytes overwritten and unlinked (extension); 409 while the call is live."""
        erasure.delete_recording(runtime.db, call_id, "request")
        return store.get_call(runtime.db, call_id)

    @delete("/{call_id:str}/transcript", responses=ERROR_RESPONSES, status_code=200)
    async def delete_transcript(self, runtime: Runtime, call_id: str) -> Call:
        """The transcript and the words in the call's events, erased from the database file (extension)."""
        erasure.delete_transcript(runtime.db, call_id, "request")
        runtime.plain.forget(call_id)
        return store.get_call(runtime.db, call_id)

    @delete("/{call_id:str}", responses=ERROR_RESPONSES, status_code=200)
    async def delete_call(self, runtime: Runtime, call_id: str) -> DeletedCall:
        """The call and all it holds: recording, transcript, events, webhook events (extension)."""
        erasure.delete_call(runtime.db, call_id)
        runtime.plain.forget(call_id)
        return DeletedCall(id=call_id)

    @post("/{call_id:str}/cancel", responses=ERROR_RESPONSES, status_code=200)
    async def cancel_call(self, runtime: Runtime, call_id: str) -> Call:
        call = store.get_call(runtime.db, call_id)
        if call.status in TERMINAL:
            raise Conflict(f"call {call_id} already ended ({call.status})", code="call_already_ended")
        if call.status == "queued":
            # Not handed to Asterisk yet: cancel in the store (a racing dispatch sees the terminal status).
            store.transition(runtime.db, call_id, "canceled", end_reason="canceled")
        elif runtime.telephony is not None:
            await runtime.telephony.cancel(call_id)
        return store.get_call(runtime.db, call_id)


class UsageController(Controller):
    path = "/usage"
    tags = ["usage"]

    @get("/", responses=ERROR_RESPONSES)
    async def get_usage(
        self,
        runtime: Runtime,
        from_: Annotated[date | None, Parameter(query="from")] = None,
        to: date | None = None,
    ) -> Usage:
        end = to or date.today()
        start = from_ or end - timedelta(days=29)
        if start > end:
            raise InvalidInput("from must not be after to", field="from")
        return usage(runtime.db, start.isoformat(), (end + timedelta(days=1)).isoformat())
