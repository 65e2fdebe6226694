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


def count_evaluated(pool: LlmPool) -> list[int]:
    """Token counts of each decode on the pool's context, in order."""
    context = pool.contexts[0]
    counts: list[int] = []
    real_eval = context.eval

    def counting(tokens: list[int]) -> None:
        counts.append(len(tokens))
        real_eval(tokens)

    context.eval = counting  # type: ignore[method-assign]
    return counts


SYSTEM = [{"role": "system", "content": "You are a receptionist. Answer in one short sentence."}]
SAID = "Hello, could we move my appointment to Friday morning please?"


async def answer(pool: LlmPool, call_id: str) -> str:
    messages = [*SYSTEM, {"role": "user", "content": SAID}]
    return "".join([p async for p in pool.stream(call_id, messages, max_tokens=12, temperature=0.0)])


async def test_a_prefilled_prompt_leaves_only_the_last_words_to_read_and_changes_no_word(pool: LlmPool) -> None:
    await pool.warm("plain", SYSTEM)
    counts = count_evaluated(pool)
    plain = await answer(pool, "plain")
    unprefilled = counts[0]
    pool.forget("plain")

    await pool.warm("early", SYSTEM)
    counts.clear()
    so_far = SAID.rsplit(" ", 2)[0]  # "…to Friday": what a transcript taken while they talk would read
    assert await pool.prefill("early", SYSTEM, so_far) > 0
    assert all(n <= 4 for n in counts), counts  # in small chunks, so a reply waiting for the context is not held up
    counts.clear()
    assert await answer(pool, "early") == plain
    assert counts[0] <= unprefilled - 8, (counts[0], unprefilled)
    pool.forget("early")


async def test_prefill_never_takes_a_context_that_holds_another_call(pool: LlmPool) -> None:
    await pool.warm("owner", SYSTEM)
    counts = count_evaluated(pool)
    assert not pool.can_prefill("other")
    assert await pool.prefill("other", SYSTEM, "Hello") == 0
    assert counts == []
    assert pool.can_prefill("owner")
    pool.forget("owner")


async def test_a_prefill_gives_the_context_up_to_a_reply_that_wants_it(pool: LlmPool) -> None:
    await pool.warm("long", SYSTEM)
    counts = count_evaluated(pool)
    words = " ".join(["very"] * 400)  # 100 chunks: far longer than the reply takes to ask
    prefill = asyncio.create_task(pool.prefill("long", SYSTEM, words))
    while not counts:  # noqa: ASYNC110 (filled by the worker thread)
        await asyncio.sleep(0.001)
    said = await asyncio.wait_for(answer(pool, "long"), timeout=60)
    assert said
    assert await prefill < 400
    pool.forget("long")


async def test_a_prefill_waiting_for_its_own_busy_context_does_not_keep_a_reply_from_a_freed_one() -> None:
    try:
        small = models.resolve("llm", "SmolLM2-135M-Instruct.Q4_1")
    except models.ModelMissing as exc:
        pytest.skip(str(exc))
    pool = LlmPool(small.path, size=2, n_ctx=512)
    await pool.warm("a", SYSTEM)
    held_by_a = await pool._acquire("a")  # a's reply is being generated on the context with a's cache
    held_by_b = await pool._acquire("b")
    prefill = asyncio.create_task(pool.prefill("a", SYSTEM, "Hello"))  # waits for a's context
    await asyncio.sleep(0.05)
    reply = asyncio.create_task(answer(pool, "c"))  # waits for any context
    await asyncio.sleep(0.05)
    await pool._release(held_by_b)  # b is done: c must get that context, whatever else is waiting
    assert await asyncio.wait_for(reply, timeout=30)
    await pool._release(held_by_a)
    await asyncio.wait_for(prefill, timeout=30)


async def test_a_prompt_that_cannot_be_formatted_keeps_no_context(pool: LlmPool) -> None:
    await pool.warm("z", SYSTEM)

    def broken(**_: object) -> None:
        raise ValueError("template error")

    pool.prompts._formatter = broken  # type: ignore[assignment]
    with pytest.raises(ValueError):
        await pool.prefill("z", SYSTEM, "Hello")
    assert await asyncio.wait_for(answer(pool, "z"), timeout=30)
    pool.forget("z")
