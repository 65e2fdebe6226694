"""The language model on a real llama.cpp `llama-server` (built from the vendored llama.cpp by
scripts/llama-server.sh) serving the same GGUF as the local contexts: replies, grammar-constrained writing
and the extraction come from the server, the local model takes over when the server is killed, and the
server is taken back once it answers again. The smallest installed model keeps it quick; the default model
on a server, in whole calls, is tests/e2e/test_model_server_calls.py."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from llama_cpp.llama_grammar import json_schema_to_gbnf

from appliance import models
from appliance.model_server import ModelServer
from appliance.results.extraction import Extractor
from appliance.voice.llm import LlmPool
from appliance.voice.served_llm import ServedLlm
from tests.llama_server import LlamaServer

pytestmark = [pytest.mark.integration, pytest.mark.models]
SMALL = "SmolLM2-135M-Instruct.Q4_1"
MESSAGES = [
    {"role": "system", "content": "You are Sam from Acme Clinic. Answer in one short sentence."},
    {"role": "user", "content": "Hello, who is this?"},
]
SCHEMA = {
    "type": "object",
    "properties": {"confirmed": {"type": "boolean"}, "day": {"enum": ["monday", "tuesday"]}},
    "required": ["confirmed", "day"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def gguf() -> Any:
    return models.resolve("llm", SMALL).path


@pytest.fixture(scope="module")
def server(gguf: Any) -> Iterator[LlamaServer]:
    running = LlamaServer(gguf, context=4096).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def pool(gguf: Any) -> LlmPool:
    return LlmPool(gguf, size=1, n_ctx=2048)


def served(server: LlamaServer, pool: LlmPool, events: list[dict[str, Any]]) -> ServedLlm:
    client = ModelServer(server.url, "llm", timeout_seconds=10, retry_seconds=0.5)
    return ServedLlm(client, pool, lambda _call, data: events.append(data) is None)


async def reply(model: ServedLlm, call_id: str) -> str:
    return "".join([piece async for piece in model.stream(call_id, MESSAGES, max_tokens=24, temperature=0.0)])


def test_the_server_writes_replies_and_constrained_answers(server: LlamaServer, pool: LlmPool) -> None:
    events: list[dict[str, Any]] = []
    model = served(server, pool, events)
    before, local_before = server.tokens_predicted(), pool.contexts[0].n_tokens
    text = asyncio.run(reply(model, "a"))
    assert text.strip() and server.tokens_predicted() > before
    assert pool.contexts[0].n_tokens == local_before  # the local context read nothing
    written = asyncio.run(model.complete("b", MESSAGES, "", json_schema_to_gbnf(json.dumps(SCHEMA)), 40))
    jsonschema.validate(json.loads(written), SCHEMA)
    assert events == []


def test_the_extraction_keeps_its_schema_on_the_server(server: LlamaServer, gguf: Any) -> None:
    client = ModelServer(server.url, "extraction", timeout_seconds=10)
    extractor = Extractor(model_path=gguf, n_ctx=2048, server=client)
    returns = {"type": "object", "properties": SCHEMA["properties"]}
    transcript = [("agent", "Can you come on Tuesday at ten?"), ("user", "Yes, Tuesday at ten works for me.")]
    before = server.tokens_predicted()
    outcome = extractor.extract(returns, transcript)
    assert outcome.status == "completed", outcome.error
    assert server.tokens_predicted() > before and set(outcome.result or {}) == {"confirmed", "day"}
    assert extractor._llm is not None and extractor._llm.n_tokens == 0  # formatted the prompt, generated nothing


def test_a_killed_server_is_stood_in_for_and_taken_back_when_it_answers(gguf: Any, pool: LlmPool) -> None:
    flaky = LlamaServer(gguf, slots=1, context=2048).start()
    events: list[dict[str, Any]] = []
    model = served(flaky, pool, events)
    try:
        assert asyncio.run(reply(model, "c")).strip()
        flaky.stop()
        started = time.monotonic()
        assert asyncio.run(reply(model, "c")).strip()  # written here: the caller hears a reply all the same
        assert time.monotonic() - started < 10  # a refused connection is known at once, not after a timeout
        assert [e["role"] for e in events] == ["llm"] and "ConnectError" in events[0]["error"]
        assert model.server.outages == 1
        flaky.start()
        time.sleep(0.6)  # past retry_seconds: the next reply tries the server again
        assert model.server.up
        before = flaky.tokens_predicted()
        assert asyncio.run(reply(model, "c")).strip()
        assert flaky.tokens_predicted() > before and model.server.up and len(events) == 1
    finally:
        flaky.stop()
        pool.forget("c")
