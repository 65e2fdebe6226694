"""Replies from a model server with the local model standing in: which one writes, what the call is told."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from appliance.model_server import ModelServer
from appliance.voice.served_llm import ServedLlm
from tests.unit.test_model_server import BrokenOff, Clock, sse


class Prompts:
    """A prompt is three token ids."""

    def tokens(self, call_id: str, messages: list[dict[str, str]], opening: str = "") -> list[int]:
        return [7, len(messages), len(opening)]

    def words_only_bias(self) -> dict[int, float]:
        return {27: -100.0}


class LocalPool:
    """The local contexts: a reply is "local"."""

    templated = True
    prompts = Prompts()

    def __init__(self) -> None:
        self.streams = 0
        self.warmed: list[str] = []

    async def stream(self, call_id: str, messages: Any, **_: Any) -> AsyncIterator[str]:
        self.streams += 1
        yield "local"

    async def complete_unless(self, *args: Any) -> str:
        return '{"local": true}'

    async def warm(self, call_id: str, messages: Any) -> None:
        self.warmed.append(call_id)

    def forget(self, call_id: str) -> None:
        pass


def served(handler: Callable[[httpx.Request], httpx.Response], clock: Clock | None = None) -> tuple[Any, ...]:
    events: list[tuple[str, dict[str, Any]]] = []
    local = LocalPool()
    server = ModelServer("http://llm.lan:8081", "llm", transport=httpx.MockTransport(handler), clock=clock or Clock())
    model = ServedLlm(server, local, lambda call_id, data: events.append((call_id, data)) is None)  # type: ignore[arg-type]
    return model, local, events


async def reply(model: ServedLlm, **kwargs: Any) -> str:
    return "".join([piece async for piece in model.stream("call-1", [{"role": "user", "content": "Hi"}], **kwargs)])


def test_the_server_writes_the_reply_while_it_answers() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, content=sse("Hello", " Alex."))

    model, local, events = served(handler)
    assert asyncio.run(reply(model, words_only=True)) == "Hello Alex."
    assert local.streams == 0 and events == []
    assert bodies[0]["prompt"] == [7, 1, 0] and bodies[0]["logit_bias"] == {"27": -100.0}


def test_a_server_that_fails_before_a_word_is_not_heard_and_the_call_is_told_once() -> None:
    model, local, events = served(lambda _request: httpx.Response(503))
    assert asyncio.run(reply(model)) == "local"
    assert asyncio.run(reply(model)) == "local"  # passed over now: straight to the local model
    assert local.streams == 2
    assert [(call, data["role"], data["words_served"]) for call, data in events] == [("call-1", "llm", 0)]
    assert "HTTP 503" in events[0][1]["error"]


def test_a_reply_the_server_broke_off_ends_with_the_words_already_spoken() -> None:
    model, local, events = served(lambda _request: httpx.Response(200, stream=BrokenOff()))
    assert asyncio.run(reply(model)) == "One two"
    assert local.streams == 0 and events[0][1]["words_served"] == 2


def test_a_call_that_cannot_take_the_event_yet_is_told_at_its_next_reply() -> None:
    calls: list[str] = []
    server = ModelServer("http://llm.lan:8081", "llm", transport=httpx.MockTransport(lambda _r: httpx.Response(500)))
    model = ServedLlm(server, LocalPool(), lambda call_id, _data: bool(calls.append(call_id)) or len(calls) > 1)  # type: ignore[arg-type]
    asyncio.run(model.warm("call-1", []))  # while the line rings: the call has no events yet
    asyncio.run(reply(model))  # the server is passed over now, and the call is told
    asyncio.run(reply(model))
    assert calls == ["call-1", "call-1"]


def test_a_new_outage_is_reported_again() -> None:
    clock = Clock()
    answers = [httpx.Response(500), httpx.Response(200, content=sse("Back.")), httpx.Response(500)]
    model, _local, events = served(lambda _request: answers.pop(0), clock)
    asyncio.run(reply(model))
    clock.now += 16
    assert asyncio.run(reply(model)) == "Back."
    asyncio.run(reply(model))
    assert len(events) == 2


def test_constrained_writing_sends_the_grammar_and_falls_back_whole() -> None:
    bodies: list[dict[str, Any]] = []
    answers = [httpx.Response(200, content=sse('{"a"', ": 1}")), httpx.Response(500)]

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return answers.pop(0)

    model, _local, _events = served(handler)
    messages = [{"role": "user", "content": "Hi"}]
    assert asyncio.run(model.complete("call-1", messages, "<tool_call>\n", 'root ::= "{"', 64)) == '{"a": 1}'
    assert bodies[0]["grammar"] == 'root ::= "{"' and bodies[0]["temperature"] == 0.0
    assert bodies[0]["prompt"] == [7, 1, len("<tool_call>\n")]
    assert asyncio.run(model.complete("call-1", messages, "", 'root ::= "{"', 64)) == '{"local": true}'


def test_an_abandoned_writing_is_none() -> None:
    model, _local, _events = served(lambda _request: httpx.Response(200, content=sse("a", "b")))
    written = asyncio.run(model.complete_unless("q", [], "", "root ::= x", 8, lambda: True))
    assert written is None


def test_warming_reads_the_prompt_on_the_server_or_else_locally() -> None:
    bodies: list[dict[str, Any]] = []
    answers = [httpx.Response(200, content=sse("x")), httpx.Response(500)]

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return answers.pop(0)

    model, local, _events = served(handler)
    asyncio.run(model.warm("call-1", [{"role": "system", "content": "You call for the clinic."}]))
    assert bodies[0]["max_tokens"] == 1 and local.warmed == []
    asyncio.run(model.warm("call-1", []))
    assert local.warmed == ["call-1"]
