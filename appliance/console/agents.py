"""Console pages for agents: list, create, edit, archive, voice sample, and "Place a test call"."""

from __future__ import annotations

import asyncio
import io
import json
import wave
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.response import Redirect, Template

from appliance import models
from appliance.api.agents import check_agent_fields, check_consent
from appliance.api.schemas import CreateAgent, CreateCall, UpdateAgent
from appliance.calling import queue_call
from appliance.errors import ApplianceError, InvalidInput
from appliance.privacy.pii import KINDS
from appliance.results.schema import returns_to_schema
from appliance.runtime import Runtime
from appliance.store import agents as store
from appliance.store import numbers as number_store
from appliance.store import questions as question_store
from appliance.store.records import Agent

from .forms import FormError, form_errors, integer, json_value, text, to_body

TEST_NUMBER = "+12025550101"  # the simulated person on the loopback carrier
SAMPLE_LINE = "Hi, this is your assistant calling. Do you have a minute to confirm your appointment?"
_TEXT_FIELDS = (
    "persona",
    "instructions",
    "voice",
    "webhook_url",
    "first_message",
    "voicemail_message",
    "recording_notice",
)
_RETENTION_FIELDS = ("recording_retention_days", "transcript_retention_days")
_INT_FIELDS = ("max_duration_seconds", "silence_timeout_seconds", "ring_timeout_seconds")


def agent_fields(form: FormMultiDict, creating: bool) -> dict[str, Any]:
    """Every field of the agent form, typed; blank optional fields are null. Raises FormError."""
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {"name": text(form, "name") or ""}
    if creating:
        fields["type"] = form.get("type") or "outbound"
    for name in _TEXT_FIELDS:
        fields[name] = text(form, name)
    fields["language"] = text(form, "language") or "en"
    fields["voicemail_action"] = form.get("voicemail_action") or "hangup"
    fields["number_ids"] = [n for n in form.getall("number_ids", []) if n]
    fields["primary_number_id"] = text(form, "primary_number_id")
    for name in _INT_FIELDS:
        integer(form, name, fields, errors)
    json_value(form, "returns", fields, errors, None)
    json_value(form, "tools", fields, errors, [])
    json_value(form, "analysis", fields, errors, None)
    fields["redact"] = [k for k in form.getall("redact", []) if k]
    fields["redact_exempt_fields"] = [
        n.strip() for n in (text(form, "redact_exempt_fields") or "").split(",") if n.strip()
    ]
    fields["recording"] = form.get("recording") or "on"
    for name in _RETENTION_FIELDS:
        fields[name] = None  # blank: keep for ever
        integer(form, name, fields, errors)
    if errors:
        raise FormError(errors)
    return fields


def _kind(prop: dict[str, Any]) -> str:
    """A field's type for people: "boolean", "string|number" — null (not settled) is implied for all."""
    kind = prop.get("type", "object")
    return "|".join(k for k in kind if k != "null") if isinstance(kind, list) else str(kind)


def _form_values(agent: Agent | None, form: FormMultiDict | None = None) -> dict[str, Any]:
    """What the form shows: the submitted values after an error, else the agent's."""
    if form is not None:
        values: dict[str, Any] = {k: form.get(k, "") for k in form}
        values["number_ids"] = form.getall("number_ids", [])
        values["redact"] = form.getall("redact", [])
        return values
    if agent is None:
        return {"type": "outbound", "language": "en", "voicemail_action": "hangup", "number_ids": [], "redact": []}
    values = {f: getattr(agent, f) for f in agent.__struct_fields__}
    values["returns"] = json.dumps(agent.returns, indent=2) if agent.returns else ""
    values["tools"] = json.dumps(agent.tools, indent=2) if agent.tools else ""
    values["analysis"] = json.dumps(agent.analysis, indent=2) if agent.analysis else ""
    values["redact_exempt_fields"] = ", ".join(agent.redact_exempt_fields)
    return values


def _returns_fields(agent: Agent | None) -> dict[str, str]:
    """The agent's `returns` fields (the shorthand or a schema), each with its description."""
    if agent is None or not agent.returns:
        return {}
    properties = returns_to_schema(agent.returns)["properties"]
    return {name: str(prop.get("description") or "") for name, prop in properties.items()}


def _form_page(
    runtime: Runtime, agent: Agent | None, errors: dict[str, str], form: FormMultiDict | None = None
) -> Template:
    status = 400 if errors else 200
    context = {
        "agent": agent,
        "values": _form_values(agent, form),
        "errors": errors,
        "voices": sorted(models.installed_voices()),
        "pii_kinds": KINDS,
        "default_voice": models.DEFAULT_VOICE,
        "numbers": number_store.list_numbers(runtime.db, limit=200).data,
        "questions": question_store.get(runtime.db, agent.id) if agent else None,
        "question_fields": _returns_fields(agent),
        "question_errors": {},
        "active": "agents",
    }
    return Template("agents/form.html", context=context, status_code=status)


class AgentPages(Controller):
    path = "/agents"

    @get("/")
    async def list_page(self, runtime: Runtime, archived: bool = False) -> Template:
        agents = [a for a in store.list_agents(runtime.db, None, 200, None) if bool(a.archived_at) == archived]
        return Template("agents/list.html", context={"agents": agents, "archived": archived, "active": "agents"})

    @get("/new")
    async def new_page(self, runtime: Runtime) -> Template:
        return _form_page(runtime, None, {})

    @post("/new")
    async def create(self, runtime: Runtime, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        try:
            body = to_body(CreateAgent, agent_fields(form, creating=True))
            fields = check_agent_fields(body.sent(), runtime.settings.url_allowlist)
            check_consent(fields)
            agent_id = store.create_agent(runtime.db, fields)
            runtime.agent_saved(agent_id)
        except (FormError, ApplianceError) as exc:
            return _form_page(runtime, None, form_errors(exc), form)
        return Redirect(f"/agents/{agent_id}", status_code=303)

    @post("/check-returns")
    async def check_returns(self, request: Request[Any, Any, Any]) -> Template:
        """The `returns` editor checks as you type, with the same conversion the agent is saved with."""
        form = await request.form()
        fields: dict[str, Any] = {}
        errors: dict[str, str] = {}
        json_value(form, "returns", fields, errors, None)
        summary = None
        if not errors and fields["returns"] is not None:
            try:
                schema = returns_to_schema(fields["returns"])
                summary = ", ".join(f"{k}: {_kind(v)}" for k, v in schema["properties"].items())
            except ApplianceError as exc:
                errors = form_errors(exc)
        return Template("agents/_returns_check.html", context={"errors": errors, "summary": summary})

    @get("/{agent_id:str}")
    async def edit_page(self, runtime: Runtime, agent_id: str) -> Template:
        return _form_page(runtime, store.get_agent(runtime.db, agent_id), {})

    @post("/{agent_id:str}")
    async def update(self, runtime: Runtime, agent_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
        agent = store.get_agent(runtime.db, agent_id)
        form = await request.form()
        try:
            body = to_body(UpdateAgent, agent_fields(form, creating=False))
            fields = body.sent()
            if not fields.get("name"):
                raise InvalidInput("name cannot be empty", field="name")
            fields = check_agent_fields(fields, runtime.settings.url_allowlist)
            check_consent(fields)  # the form sends every field
            store.update_agent(runtime.db, agent_id, fields)
            runtime.agent_saved(agent_id)
        except (FormError, ApplianceError) as exc:
            return _form_page(runtime, agent, form_errors(exc), form)
        return Redirect(f"/agents/{agent_id}?saved=1", status_code=303)

    @post("/{agent_id:str}/archive")
    async def archive(self, runtime: Runtime, agent_id: str) -> Redirect:
        store.archive_agent(runtime.db, agent_id)
        return Redirect("/agents", status_code=303)

    @post("/{agent_id:str}/questions")
    async def save_questions(self, runtime: Runtime, agent_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
        """A person's words for the questions the agent asks for its `returns` fields (an emptied one leaves
        its field to the model again)."""
        agent = store.get_agent(runtime.db, agent_id)
        form = await request.form()
        fields = list(_returns_fields(agent))
        changes = {k.removeprefix("q."): str(v) for k, v in form.items() if k.startswith("q.")}
        try:
            question_store.edit(runtime.db, agent_id, fields, changes)
        except ApplianceError as exc:
            page = _form_page(runtime, agent, {})
            page.context.update(question_errors={exc.field or "questions": exc.message}, question_values=changes)
            page.status_code = 400
            return page
        return Redirect(f"/agents/{agent_id}?questions_saved=1#questions", status_code=303)

    @post("/{agent_id:str}/call")
    async def test_call(self, runtime: Runtime, agent_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
        """Dial through the same path as POST /v1/calls; errors come back beside the form."""
        form = await request.form()
        fields: dict[str, Any] = {"agent_id": agent_id, "to": text(form, "to") or TEST_NUMBER}
        errors: dict[str, str] = {}
        json_value(form, "context", fields, errors, None)
        try:
            if errors:
                raise FormError(errors)
            call, _ = queue_call(runtime, to_body(CreateCall, fields))
        except (FormError, ApplianceError) as exc:
            agent = store.get_agent(runtime.db, agent_id)
            page = _form_page(runtime, agent, {})
            page.context.update(call_errors=form_errors(exc), call_to=fields["to"])
            page.status_code = 400
            return page
        return Redirect(f"/calls/{call.id}", status_code=303)


@get("/voices/{voice_id:str}/sample.wav", media_type="audio/wav")
async def voice_sample(runtime: Runtime, voice_id: str) -> Response[bytes]:
    """A line in the voice as callers hear it (8 kHz): the engine's loaded voice when it runs."""
    if voice_id not in models.installed_voices():
        raise InvalidInput(f"voice {voice_id!r} is not installed", field="voice")
    pcm = await _synthesize(runtime, voice_id, SAMPLE_LINE)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(pcm)
    return Response(out.getvalue(), media_type="audio/wav", headers={"Cache-Control": "private, max-age=3600"})


async def _synthesize(runtime: Runtime, voice_id: str, line: str) -> bytes:
    if runtime.voice is not None:
        synthesizer = await runtime.voice.voice(voice_id)
    else:
        from appliance.voice.tts import Synthesizer  # heavy (onnxruntime): only when asked for

        synthesizer = await asyncio.to_thread(Synthesizer, models.resolve("voice", voice_id).path)
    return await asyncio.to_thread(synthesizer.synthesize, line)
