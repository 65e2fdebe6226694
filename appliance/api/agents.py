"""/v1/agents: agents, their numbers and primary number."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import Parameter

from appliance import validation
from appliance.errors import InvalidInput
from appliance.models import installed_voices
from appliance.privacy.pii import check_kinds
from appliance.results.analysis import check_analysis
from appliance.results.schema import FIELD_NAME, returns_to_schema
from appliance.runtime import Runtime
from appliance.store import agents as store
from appliance.store.paging import check_limit, page
from appliance.store.records import Agent, AgentList
from appliance.tools import validate_tools

from .edge import ERROR_RESPONSES
from .schemas import AttachNumber, CreateAgent, SetPrimaryNumber, UpdateAgent, strict_body


def check_agent_fields(fields: dict[str, Any], url_allowlist: list[str]) -> dict[str, Any]:
    """Rules beyond types: installed voice, language tag, returns schema, analysis block, redaction kinds,
    tools, webhook URL."""
    if fields.get("voice") is not None:
        voices = installed_voices()
        if fields["voice"] not in voices:
            names = ", ".join(sorted(voices)) or "none"
            raise InvalidInput(f"voice {fields['voice']!r} is not installed; installed voices: {names}", field="voice")
    if "language" in fields:
        validation.language(fields["language"])
    if fields.get("returns") is not None:
        returns_to_schema(fields["returns"])
    if "analysis" in fields:
        fields["analysis"] = check_analysis(fields["analysis"])
    if "redact" in fields:
        fields["redact"] = check_kinds(fields["redact"])
    if "redact_exempt_fields" in fields:
        for i, name in enumerate(fields["redact_exempt_fields"]):
            if not FIELD_NAME.match(name):
                where = f"redact_exempt_fields[{i}]"
                raise InvalidInput(f"{where}: {name!r} is not a result field name", field=where)
    if "tools" in fields:
        fields["tools"] = validate_tools(fields["tools"], url_allowlist)
    if fields.get("webhook_url") is not None:
        validation.allowed_url(fields["webhook_url"], "webhook_url", url_allowlist)
    return fields


def check_consent(agent: dict[str, Any]) -> None:
    """Recording after consent needs a notice to consent to (`agent`: the fields as they will be saved)."""
    if agent.get("recording") == "after_consent" and not (agent.get("recording_notice") or "").strip():
        raise InvalidInput(
            'recording "after_consent" needs a recording_notice that asks, e.g. "This call is recorded. Is that okay?"',
            field="recording_notice",
        )


class AgentController(Controller):
    path = "/agents"
    tags = ["agents"]

    @get("/", responses=ERROR_RESPONSES)
    async def list_agents(
        self,
        runtime: Runtime,
        agent_type: Annotated[Literal["inbound", "outbound"] | None, Parameter(query="type")] = None,
        limit: int = 50,
        starting_after: str | None = None,
    ) -> AgentList:
        agents = store.list_agents(runtime.db, agent_type, check_limit(limit) + 1, starting_after)
        return AgentList(*page(agents, limit, backward=False))

    @post("/", responses=ERROR_RESPONSES)
    async def create_agent(self, runtime: Runtime, data: CreateAgent, request: Request[Any, Any, Any]) -> Agent:
        data = await strict_body(request, CreateAgent)
        fields = check_agent_fields(data.sent(), runtime.settings.url_allowlist)
        check_consent(fields)
        agent_id = store.create_agent(runtime.db, fields)
        runtime.agent_saved(agent_id)
        return store.get_agent(runtime.db, agent_id)

    @get("/{agent_id:str}", responses=ERROR_RESPONSES)
    async def get_agent(self, runtime: Runtime, agent_id: str) -> Agent:
        return store.get_agent(runtime.db, agent_id)

    @patch("/{agent_id:str}", responses=ERROR_RESPONSES)
    async def update_agent(
        self, runtime: Runtime, agent_id: str, data: UpdateAgent, request: Request[Any, Any, Any]
    ) -> Agent:
        data = await strict_body(request, UpdateAgent)
        fields = data.sent()
        current = store.get_agent(runtime.db, agent_id)  # 404 before 400 for an unknown id
        if "type" in fields:
            raise InvalidInput("type is fixed at creation and cannot be changed", field="type")
        if fields.get("name", "") is None:
            raise InvalidInput("name cannot be null", field="name")
        fields = check_agent_fields(fields, runtime.settings.url_allowlist)
        check_consent({"recording": current.recording, "recording_notice": current.recording_notice, **fields})
        store.update_agent(runtime.db, agent_id, fields)
        runtime.agent_saved(agent_id)
        return store.get_agent(runtime.db, agent_id)

    @delete("/{agent_id:str}", responses=ERROR_RESPONSES, status_code=200)
    async def archive_agent(self, runtime: Runtime, agent_id: str) -> Agent:
        store.archive_agent(runtime.db, agent_id)
        return store.get_agent(runtime.db, agent_id)

    @post("/{agent_id:str}/numbers", responses=ERROR_RESPONSES, status_code=200)
    async def attach_number(
        self, runtime: Runtime, agent_id: str, data: AttachNumber, request: Request[Any, Any, Any]
    ) -> Agent:
        data = await strict_body(request, AttachNumber)
        store.get_agent(runtime.db, agent_id)
        store.attach_number(runtime.db, agent_id, data.number_id, data.set_as_primary)
        return store.get_agent(runtime.db, agent_id)

    @delete("/{agent_id:str}/numbers/{number_id:str}", responses=ERROR_RESPONSES, status_code=200)
    async def detach_number(self, runtime: Runtime, agent_id: str, number_id: str) -> Agent:
        store.detach_number(runtime.db, agent_id, number_id)
        return store.get_agent(runtime.db, agent_id)

    @put("/{agent_id:str}/primary-number", responses=ERROR_RESPONSES)
    async def set_primary_number(
        self, runtime: Runtime, agent_id: str, data: SetPrimaryNumber, request: Request[Any, Any, Any]
    ) -> Agent:
        data = await strict_body(request, SetPrimaryNumber)
        store.get_agent(runtime.db, agent_id)
        store.set_primary_number(runtime.db, agent_id, data.number_id)
        return store.get_agent(runtime.db, agent_id)
