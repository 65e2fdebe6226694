"""/v1/extractions: the extraction that runs after a call, on a transcript you give (to test a schema)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import msgspec
from litestar import Controller, Request, post

from appliance.results.schema import returns_to_schema
from appliance.runtime import Runtime

from .edge import ERROR_RESPONSES
from .schemas import CreateExtraction, strict_body


class ExtractionResult(msgspec.Struct, kw_only=True):
    result: dict[str, Any] | None
    result_status: Literal["completed", "failed"]
    result_error: str | None


class ExtractionController(Controller):
    path = "/extractions"
    tags = ["results"]

    @post("/", responses=ERROR_RESPONSES, status_code=200)
    async def extract(
        self, runtime: Runtime, data: CreateExtraction, request: Request[Any, Any, Any]
    ) -> ExtractionResult:
        data = await strict_body(request, CreateExtraction)
        returns_to_schema(data.returns)  # a bad schema is the client's 400, not a failed extraction
        turns = [(t.role, t.text) for t in data.transcript]
        # The model runs in a thread (seconds of CPU); calls' extractions share it and take turns.
        outcome = await asyncio.to_thread(
            runtime.extractor.extract, data.returns, turns, data.instructions, data.context
        )
        return ExtractionResult(result=outcome.result, result_status=outcome.status, result_error=outcome.error)
