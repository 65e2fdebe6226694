"""/v1/calls: dispatch, list, get, transcript, events, recording, cancel; /v1/usage."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import Parameter
from litestar.response import File

from appliance.call_status import STATUSES, TERMINAL
from appliance.calling import queue_call
from appliance.errors import Conflict, InvalidInput, NotFound
from appliance.runtime import Runtime
from appliance.store import calls as store
from appliance.store import erasure
from appliance.store.paging import check_limit
from appliance.store.records import Call, CallEvents, CallList, Transcript, Usage
from appliance.store.usage import usage

from .edge import ERROR_RESPONSES
from .schemas import CreateCall, strict_body


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
        call, created = queue_call(runtime, data, idempotency_key, request_hash)
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
