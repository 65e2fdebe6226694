"""/v1/extractions: the extraction (and analysis) that runs after a call, on a transcript you give (to test a
schema or an analysis block)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import msgspec
from litestar import Controller, Request, post

from appliance.errors import InvalidInput
from appliance.results.analysis import check_analysis
from appliance.results.schema import returns_to_schema
from appliance.runtime import Runtime

from .edge import ERROR_RESPONSES
from .schemas import CreateExtraction, strict_body


class ExtractionResult(msgspec.Struct, kw_only=True):
    result: dict[str, Any] | None
    result_status: Literal["completed", "failed"]
    result_error: str | None
    analysis: dict[str, Any] | None


class ExtractionController(Controller):
    path = "/extractions"
    tags = ["results"]

    @post("/", responses=ERROR_RESPONSES, status_code=200)
    async def extract(
        self, runtime: Runtime, data: CreateExtraction, request: Request[Any, Any, Any]
    ) -> ExtractionResult:
        data = await strict_body(request, CreateExtraction)
        if data.returns is None and data.analysis is None:
            raise InvalidInput("send returns, analysis or both", field="returns")
        if data.returns is not None:
            returns_to_schema(data.returns)  # a bad schema is the client's 400, not a failed extraction
        analysis = check_analysis(data.analysis)
        turns = [(t.role, t.text) for t in data.transcript]
        # The model runs in a thread (seconds of CPU); calls' extractions share it and take turns.
        outcome = await asyncio.to_thread(
            runtime.extractor.extract, data.returns, turns, data.instructions, data.context, analysis
        )
        return ExtractionResult(
            result=outcome.result, result_status=outcome.status, result_error=outcome.error, analysis=outcome.analysis
        )
