""" "Talk to this agent": the page, and the WebRTC offer/answer exchange its script makes (JSON, CSRF header).

The conversation is a call record like any other, so the page embeds the call's live panel (transcript over
SSE, then the result) beside the microphone controls."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Template

from appliance.errors import ApplianceError, InvalidInput, TelephonyUnavailable
from appliance.runtime import Runtime
from appliance.store import agents as store

if TYPE_CHECKING:
    from appliance.telephony.browser_calls import BrowserCalls  # aiortc loads only with the voice engine


def _unavailable(runtime: Runtime) -> str | None:
    """Why nobody can talk to an agent right now (None: they can)."""
    if runtime.telephony is None or runtime.telephony.browser is None:
        return "The voice engine is off on this appliance (APPLIANCE_VOICE=false), so there is nobody to talk to."
    if runtime.voice is None or not runtime.voice.loaded:
        return "The voice models are still loading; try again in a moment."
    return None


def _browser(runtime: Runtime) -> BrowserCalls:
    if why := _unavailable(runtime):
        raise TelephonyUnavailable(why, code="voice_unavailable")
    assert runtime.telephony is not None and runtime.telephony.browser is not None
    return runtime.telephony.browser


def _error(exc: ApplianceError) -> Response[dict[str, Any]]:
    body = {"error": exc.message, "code": exc.code, **({"field": exc.field} if exc.field else {})}
    return Response(body, status_code=exc.status_code)


class TalkPages(Controller):
    path = "/"

    @get("/agents/{agent_id:str}/talk")
    async def talk_page(self, runtime: Runtime, agent_id: str) -> Template:
        agent = store.get_agent(runtime.db, agent_id)
        context = {"agent": agent, "unavailable": _unavailable(runtime), "active": "agents"}
        return Template("agents/talk.html", context=context)

    @post("/agents/{agent_id:str}/talk", status_code=201)
    async def offer(self, runtime: Runtime, agent_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
        """The browser's SDP offer in, our answer and the new call's id out."""
        try:
            try:
                offer = json.loads(await request.body())
            except ValueError:
                raise InvalidInput("the body must be a JSON SDP offer: {type, sdp}", field="sdp") from None
            if not isinstance(offer, dict):
                raise InvalidInput("the body must be a JSON SDP offer: {type, sdp}", field="sdp")
            call_id, sdp = await _browser(runtime).start(agent_id, offer)
        except ApplianceError as exc:
            return _error(exc)
        return Response({"call_id": call_id, "type": "answer", "sdp": sdp}, status_code=201)

    @post("/calls/{call_id:str}/hangup", status_code=200)
    async def hang_up(self, runtime: Runtime, call_id: str) -> Response[Any]:
        """The person pressed "Hang up": end their conversation (it then ends like any call)."""
        try:
            await _browser(runtime).end(call_id)
        except ApplianceError as exc:
            return _error(exc)
        return Response({"call_id": call_id, "ended": True})
