"""The model-server client against scripted HTTP answers: what it sends, what it streams back, and how a
failing server is passed over and taken back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from appliance.model_server import ModelServer, ServerDown


def sse(*texts: str, done: bool = True) -> bytes:
    events = [f"data: {json.dumps({'choices': [{'text': t, 'index': 0}]})}\n\n" for t in texts]
    return ("".join(events) + ("data: [DONE]\n\n" if done else "")).encode()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def server(handler: Any, clock: Clock | None = None) -> ModelServer:
    return ModelServer(
        "http://llm.lan:8081/", "llm", transport=httpx.MockTransport(handler), clock=clock or Clock(), retry_seconds=15
    )


def test_it_streams_the_completion_of_the_token_ids_it_sends() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url == "http://llm.lan:8081/v1/completions"
        seen.append(json.loads(request.content))
        return httpx.Response(200, content=sse("Hello", "", " there."))

    pieces = server(handler).generate(
        [1, 2, 3], max_tokens=40, temperature=0.4, top_p=0.9, grammar='root ::= "x"', logit_bias={27: -100.0}
    )
    assert list(pieces) == ["Hello", " there."]
    body = seen[0]
    assert body["prompt"] == [1, 2, 3] and body["max_tokens"] == 40 and body["stream"] is True
    assert body["grammar"] == 'root ::= "x"' and body["logit_bias"] == {"27": -100.0}
    assert body["temperature"] == 0.4 and body["top_p"] == 0.9 and body["cache_prompt"] is True


def test_an_api_key_goes_as_a_bearer_token() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer s3cret"
        return httpx.Response(200, content=sse("ok"))

    client = ModelServer("http://llm.lan:8081", "llm", api_key="s3cret", transport=httpx.MockTransport(handler))
    assert list(client.generate([1], max_tokens=4, temperature=0.0)) == ["ok"]


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, text="boom"),
        httpx.Response(503, json={"error": {"message": "Loading model"}}),
        httpx.Response(200, content=b"data: not json\n\n"),
        httpx.Response(200, content=b'data: {"error": {"message": "grammar failed"}}\n\n'),
        httpx.Response(200, content=b'data: {"choices": []}\n\n'),
    ],
)
def test_an_answer_it_cannot_use_is_a_server_down(answer: httpx.Response) -> None:
    client = server(lambda _request: answer)
    with pytest.raises(ServerDown) as failed:
        list(client.generate([1], max_tokens=4, temperature=0.0))
    assert failed.value.pieces == 0 and not client.up


def test_a_refused_connection_is_a_server_down() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ServerDown, match="ConnectError"):
        list(server(handler).generate([1], max_tokens=4, temperature=0.0))


class BrokenOff(httpx.SyncByteStream):
    """Two tokens, then the server dies mid-stream."""

    def __iter__(self) -> Iterator[bytes]:
        yield sse("One", " two", done=False)
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


def test_a_stream_broken_off_says_how_much_had_arrived() -> None:
    client = server(lambda _request: httpx.Response(200, stream=BrokenOff()))
    got: list[str] = []
    with pytest.raises(ServerDown) as failed:
        for piece in client.generate([1], max_tokens=4, temperature=0.0):
            got.append(piece)
    assert got == ["One", " two"] and failed.value.pieces == 2


def test_a_failed_server_is_passed_over_then_tried_again_and_taken_back() -> None:
    clock, answers = Clock(), [httpx.Response(500), httpx.Response(500), httpx.Response(200, content=sse("back"))]
    client = server(lambda _request: answers.pop(0), clock)
    with pytest.raises(ServerDown):
        list(client.generate([1], max_tokens=4, temperature=0.0))
    assert not client.up and client.outages == 1
    clock.now += 14.9
    assert not client.up
    clock.now += 0.2
    assert client.up  # tried again…
    with pytest.raises(ServerDown):
        list(client.generate([1], max_tokens=4, temperature=0.0))
    assert client.outages == 1  # …and still down: the same outage
    clock.now += 15.1
    assert list(client.generate([1], max_tokens=4, temperature=0.0)) == ["back"]
    assert client.up and client.outages == 1
    answers.append(httpx.Response(500))
    with pytest.raises(ServerDown):
        list(client.generate([1], max_tokens=4, temperature=0.0))
    assert client.outages == 2  # it answered in between: a new outage


def test_stop_ends_the_stream_between_two_pieces() -> None:
    client = server(lambda _request: httpx.Response(200, content=sse("a", "b", "c")))
    got: list[str] = []
    for piece in client.generate([1], max_tokens=4, temperature=0.0, stop=lambda: len(got) >= 2):
        got.append(piece)
    assert got == ["a", "b"] and client.up
