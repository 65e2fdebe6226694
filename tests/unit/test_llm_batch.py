"""One context writing several calls' replies in one batch, with the smallest installed model: each call gets
its own answer (its own sequence), constrained writing keeps its grammar, a closed stream stops, a call's
cache is kept between turns and dropped when the call ends."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import jsonschema
import pytest
from llama_cpp import _internals as internals
from llama_cpp.llama_grammar import json_schema_to_gbnf

from appliance import models
from appliance.voice.llm_batch import BatchedLlm


@pytest.fixture(scope="module")
def batched() -> BatchedLlm:
    try:
        small = models.resolve("llm", "SmolLM2-135M-Instruct.Q4_1")
    except models.ModelMissing as exc:
        pytest.skip(str(exc))
    return BatchedLlm(small.path, sequences=3, n_ctx=1024)


def gone(done: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Whether `done()` turns true within `seconds` (the decoding thread's next steps, on a busy machine)."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def repeat(word: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Say the word {word}."}]


async def reply(model: BatchedLlm, call_id: str, word: str, max_tokens: int = 8) -> str:
    pieces = [p async for p in model.stream(call_id, repeat(word), max_tokens=max_tokens, temperature=0.0)]
    return "".join(pieces)


def test_replies_written_together_are_each_their_own_calls(batched: BatchedLlm) -> None:
    async def run() -> list[str]:
        return await asyncio.gather(
            reply(batched, "a", "banana"), reply(batched, "b", "cherry"), reply(batched, "c", "apple")
        )

    banana, cherry, apple = asyncio.run(run())
    assert "banana" in banana.lower() and "cherry" in cherry.lower() and "apple" in apple.lower()
    assert "cherry" not in banana.lower() and "banana" not in cherry.lower()
    for call in "abc":
        batched.forget(call)


def test_a_call_beyond_the_sequences_takes_the_least_recent_ones(batched: BatchedLlm) -> None:
    words = ["one", "two", "three", "four"]

    async def run() -> list[str]:
        return [await reply(batched, call, word) for call, word in zip("wxyz", words, strict=True)]

    answers = asyncio.run(run())
    assert [w in a.lower() for a, w in zip(answers, words, strict=True)] == [True] * 4
    assert "w" not in batched._seat and set(batched._seat) == {"x", "y", "z"}
    for call in "xyz":
        batched.forget(call)


def test_constrained_writing_keeps_to_its_schema_beside_a_reply(batched: BatchedLlm) -> None:
    schema = {
        "type": "object",
        "properties": {"fruit": {"enum": ["banana", "cherry"]}, "count": {"type": "integer"}},
        "required": ["fruit", "count"],
        "additionalProperties": False,
    }
    grammar = json_schema_to_gbnf(json.dumps(schema))

    async def run() -> tuple[str, str]:
        written = batched.complete("q", repeat("banana"), "", grammar, 40)
        return await asyncio.gather(written, reply(batched, "r", "cherry"))

    written, cherry = asyncio.run(run())
    jsonschema.validate(json.loads(written), schema)
    assert "cherry" in cherry.lower()
    batched.forget("q")
    batched.forget("r")


def test_an_abandoned_writing_is_none_and_a_closed_stream_stops(batched: BatchedLlm) -> None:
    grammar = json_schema_to_gbnf(json.dumps({"type": "string"}))
    assert asyncio.run(batched.complete_unless("s", repeat("x"), "", grammar, 40, lambda: True)) is None

    async def first_piece() -> str:
        stream = batched.stream("s", repeat("a long story"), max_tokens=200, temperature=0.7)
        piece = await anext(stream)
        await stream.aclose()
        return piece

    assert asyncio.run(first_piece())
    assert gone(lambda: not batched._jobs)  # at the next step, not after its 200 tokens
    batched.forget("s")


def test_a_calls_next_turn_reads_only_what_is_new_and_its_end_empties_its_sequence(batched: BatchedLlm) -> None:
    first = repeat("banana")
    asyncio.run(batched.warm("t", first))
    seq = batched._seat["t"]
    held = list(batched._held[seq])
    assert held == batched.prompts.tokens("t", first)
    asyncio.run(reply(batched, "t", "banana"))
    assert batched._held[seq][: len(held)] == held  # the prompt read once, the reply after it
    assert batched.can_prefill("t")
    batched.forget("t")
    assert not batched.can_prefill("t") and gone(lambda: batched._held[seq] == [])


def test_a_requester_whose_event_loop_is_gone_leaves_the_decoding_going(batched: BatchedLlm) -> None:
    closed = asyncio.new_event_loop()
    closed.close()
    sampler = internals.LlamaSampler()
    sampler.add_greedy()
    tokens = batched.prompts.tokens("u", repeat("a long story"))
    # Its pieces cannot be handed over (a process shutting down, a test's loop ended mid-reply): the job ends.
    asyncio.run(
        batched._run("u", tokens, 50, sampler, lambda item: closed.call_soon_threadsafe(print, item), lambda: False)
    )
    assert gone(lambda: not batched._jobs)
    assert "banana" in asyncio.run(reply(batched, "v", "banana")).lower()  # the decoding thread lives on
    batched.forget("u")
    batched.forget("v")
