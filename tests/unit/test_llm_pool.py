"""The llama.cpp context pool with the smallest installed model: calls take turns on one context, and each
gets its own conversation back (KV-cache snapshots), whatever the order."""

from __future__ import annotations

import asyncio

import pytest

from appliance import models
from appliance.voice.llm import LlmPool


@pytest.fixture
def pool() -> LlmPool:
    try:
        small = models.resolve("llm", "SmolLM2-135M-Instruct.Q4_1")
    except models.ModelMissing as exc:
        pytest.skip(str(exc))
    return LlmPool(small.path, size=1, n_ctx=1024)


async def reply(pool: LlmPool, call_id: str, text: str) -> str:
    messages = [{"role": "system", "content": "Repeat the user's word."}, {"role": "user", "content": text}]
    return "".join([piece async for piece in pool.stream(call_id, messages, max_tokens=8, temperature=0.0)])


async def test_calls_taking_turns_on_one_context_get_the_same_answers_as_alone(pool: LlmPool) -> None:
    alone = await reply(pool, "a", "banana")
    pool.forget("a")
    interleaved = await asyncio.gather(reply(pool, "a", "banana"), reply(pool, "b", "cherry"))
    again = await reply(pool, "a", "banana")  # context was b's: a's snapshot comes back
    assert interleaved[0] == alone == again
    assert set(pool._snapshots) == {"b"}
    pool.forget("a")
    pool.forget("b")
    assert not pool._snapshots


async def test_a_waiting_calls_snapshot_holds_its_kv_cache_not_a_copy_of_the_logits(pool: LlmPool) -> None:
    await asyncio.gather(reply(pool, "e", "banana"), reply(pool, "f", "cherry"))
    (waiting,) = pool._snapshots.values()
    held = waiting.llama_state_size + waiting.scores.nbytes + waiting.input_ids.nbytes
    # llama-cpp-python's save_state also copies a logits row per token: 196 KB each with SmolLM2's vocabulary.
    assert held < 2**20, f"{held / 2**20:.1f} MB for {waiting.n_tokens} tokens"
    pool.forget("e")
    pool.forget("f")


async def test_a_cancelled_reply_hands_the_context_back(pool: LlmPool) -> None:
    streaming = asyncio.Event()

    async def consume() -> None:
        async for _piece in pool.stream("c", [{"role": "user", "content": "Count to fifty."}], max_tokens=200):
            streaming.set()
            await asyncio.sleep(1)  # a slow consumer: still mid-reply when cancelled

    task = asyncio.create_task(consume())
    await asyncio.wait_for(streaming.wait(), timeout=60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.wait_for(reply(pool, "d", "plum"), timeout=60)
