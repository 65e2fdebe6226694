"""Console pages for calls: the filterable list, the call page (timeline, live transcript over SSE, recording,
result, webhook deliveries with replay)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import File, ServerSentEvent, Template
from litestar.response.sse import ServerSentEventMessage
from markupsafe import escape

from appliance.call_status import STATUSES, TERMINAL
from appliance.errors import NotFound
from appliance.runtime import Runtime
from appliance.store import agents as agent_store
from appliance.store import calls as store
from appliance.store import webhooks as webhook_store
from appliance.store.records import Call

from .labels import call_label

POLL_SECONDS = 0.3  # how often a live page looks for new transcript lines (reads one indexed table)
PAGE = 50


def _agent_names(runtime: Runtime) -> dict[str, str]:
    return {a.id: a.name for a in agent_store.list_agents(runtime.db, None, 500, None)}


def _call_context(runtime: Runtime, call: Call) -> dict[str, Any]:
    events = store.events(runtime.db, call.id).events
    deliveries = webhook_store.list_deliveries(runtime.db, endpoint_id=None, call_id=call.id, status=None, limit=100)
    row = store.call_row(runtime.db, call.id)
    return {
        "call": call,
        "label": call_label(call),
        "agent_name": _agent_names(runtime).get(call.agent_id or "", call.agent_id),
        "segments": store.transcript(runtime.db, call.id).segments,
        "events": events,
        "turns": [e for e in events if e.type == "turn"],
        "deliveries": deliveries,
        "live": call.status not in TERMINAL or call.result_status == "pending",
        "has_recording": bool(row["recording_path"]) and Path(row["recording_path"]).is_file(),
        "result_json": json.dumps(call.result, indent=2) if call.result is not None else None,
        "active": "calls",
    }


class CallPages(Controller):
    path = "/calls"

    @get("/")
    async def list_page(
        self,
        runtime: Runtime,
        status: str | None = None,
        direction: str | None = None,
        agent_id: str | None = None,
        starting_after: str | None = None,
    ) -> Template:
        status = status if status in STATUSES else None
        direction = direction if direction in ("inbound", "outbound") else None
        calls = store.list_calls(
            runtime.db,
            status=status,
            direction=direction,
            agent_id=agent_id or None,
            limit=PAGE,
            starting_after=starting_after or None,
        ).data
        context = {
            "calls": [(c, call_label(c)) for c in calls],
            "agents": _agent_names(runtime),
            "statuses": STATUSES,
            "filters": {"status": status, "direction": direction, "agent_id": agent_id},
            "next_after": calls[-1].id if len(calls) == PAGE else None,
            "active": "calls",
        }
        return Template("calls/list.html", context=context)

    @get("/{call_id:str}")
    async def call_page(self, runtime: Runtime, call_id: str, request: Request[Any, Any, Any]) -> Template:
        context = _call_context(runtime, store.get_call(runtime.db, call_id))
        # htmx refreshes only the call's panel once the live stream says the call is over.
        template = "calls/panel.html" if request.headers.get("hx-request") else "calls/detail.html"
        return Template(template, context=context)

    @get("/{call_id:str}/live")
    async def live(
        self, runtime: Runtime, call_id: str, request: Request[Any, Any, Any], after: int = -1
    ) -> ServerSentEvent:
        store.get_call(runtime.db, call_id)  # 404 for an unknown call before the stream starts
        segment_html = request.app.template_engine.get_template("calls/_segment.html")
        return ServerSentEvent(_live_events(runtime, call_id, segment_html.render, after))

    @get("/{call_id:str}/recording", media_type="audio/wav")
    async def recording(self, runtime: Runtime, call_id: str) -> File:
        path = store.call_row(runtime.db, call_id)["recording_path"]
        if not path or not Path(path).is_file():
            raise NotFound(f"call {call_id} has no recording", code="recording_not_found")
        return File(path=path, filename=f"{call_id}.wav", media_type="audio/wav", content_disposition_type="inline")


async def _live_events(
    runtime: Runtime, call_id: str, render_segment: Callable[..., str], after: int
) -> AsyncIterator[ServerSentEventMessage]:
    """New transcript lines and status changes as they are written; `done` when the call and its result are final.

    Reading the store (not an in-process bus) means the page is right whoever wrote the row."""
    sent = after  # the page already shows segments up to here
    shown_status = None
    while True:
        call = store.get_call(runtime.db, call_id)
        for segment in store.transcript(runtime.db, call_id).segments:
            if segment.sequence_no > sent:
                sent = segment.sequence_no
                yield ServerSentEventMessage(event="segment", data=render_segment(segment=segment))
        label, tone = call_label(call)
        if (label, call.result_status) != shown_status:
            shown_status = (label, call.result_status)
            yield ServerSentEventMessage(event="status", data=f'<span class="badge {tone}">{escape(label)}</span>')
        if call.status in TERMINAL and call.result_status != "pending":
            yield ServerSentEventMessage(event="done", data="done")
            return
        await asyncio.sleep(POLL_SECONDS)


@post("/deliveries/{delivery_id:str}/redeliver")
async def redeliver(runtime: Runtime, delivery_id: str) -> Template:
    """Send a webhook delivery again (same webhook-id); htmx swaps in the updated row."""
    delivery = webhook_store.redeliver(runtime.db, delivery_id)
    if runtime.outbox is not None:
        runtime.outbox.wake()
    return Template("calls/_delivery.html", context={"d": delivery})
