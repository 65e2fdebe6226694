"""Whole calls with the language model on a real llama-server (the default GGUF, as a box on the LAN would
serve it): the agent's replies and the extraction come from the server; with the server killed, the next
call goes on with the box's own model and its events say so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from appliance import models
from tests.e2e.test_conversation import APPOINTMENT, RETURNS, call_person
from tests.integration.conftest import requires_asterisk
from tests.llama_server import LlamaServer
from tests.support import ServerProcess

pytestmark = [requires_asterisk, pytest.mark.integration]


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LlamaServer]:
    server = LlamaServer(models.resolve("llm", None).path).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory, llm_server: LlamaServer) -> Iterator[ServerProcess]:
    env = {
        "APPLIANCE_VOICE": "true",
        "APPLIANCE_LLM_SERVER_URL": llm_server.url,
        "APPLIANCE_EXTRACTION_SERVER_URL": llm_server.url,
    }
    proc = ServerProcess(tmp_path_factory.mktemp("served-voice"), env=env).start(timeout=120)
    yield proc.wait_for_voice()
    proc.stop()


def test_calls_are_held_by_the_server_and_go_on_when_it_dies(box: ServerProcess, llm_server: LlamaServer) -> None:
    with box.client() as api:
        agent = api.post("/v1/agents", json={**APPOINTMENT, "returns": RETURNS}).json()
        before = llm_server.tokens_predicted()
        call, _person, segments = call_person(box, api, agent, "appointment")
        assert call["status"] == "completed", call
        replies = [s for s in segments if s["role"] == "agent"][1:]  # after the first message, which is written
        assert replies, segments
        call = box.wait_for_result(call["id"])
        assert call["result_status"] == "completed" and call["result"] == {"confirmed": True}, call
        served = llm_server.tokens_predicted() - before
        words = sum(len(s["text"].split()) for s in replies)
        assert served >= words, (served, replies)  # every reply (and the extraction) written by the server
        events = api.get(f"/v1/calls/{call['id']}/events").json()["events"]
        assert not [e for e in events if e["type"] == "model_server_fallback"], events

        llm_server.stop()
        call, _person, segments = call_person(box, api, agent, "appointment")
        assert call["status"] == "completed", call
        assert [s for s in segments if s["role"] == "agent"][1:], segments  # replies all the same, written here
        events = api.get(f"/v1/calls/{call['id']}/events").json()["events"]
        fallbacks = [e["data"] for e in events if e["type"] == "model_server_fallback"]
        assert len(fallbacks) == 1 and fallbacks[0]["role"] == "llm", events
        assert box.wait_for_result(call["id"])["result_status"] == "completed"
