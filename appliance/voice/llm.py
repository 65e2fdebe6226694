"""llama.cpp contexts for the conversation: a small pool, streamed generation off the event loop.

A llama context is not thread-safe, so each live conversation borrows one for a reply. The contexts share
one copy of the weights; each adds its KV cache and compute buffers. There are few (one by default: on
two cores two generations at once are no faster than one after the other). A context keeps its KV
cache and llama-cpp-python reuses the longest common token prefix, so a call that gets the context back
only evaluates its new turn. When calls take turns on a context, the one leaving keeps a snapshot of
its cache (a few MB: only the KV cells in use, not llama-cpp-python's copy of the logits) that is put
back when it returns. `warm()` evaluates a call's system prompt before the first reply for the same
reason, and `prefill()` the next prompt as far as it is known (the history, the caller's words so far)
while the caller is still talking, so that at the end of the turn only the last words and the reply's
header are read: the first token then comes ≈ 180 ms after the turn's text instead of ≈ 400 ms
(bench/conversation.py).
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import Llama, LlamaGrammar, LlamaState

from appliance.llama_loading import load_llama
from appliance.voice.call_prompts import CallPrompts, Message
from appliance.voice.speech_first import SpeechFirst

MAX_SNAPSHOTS = 64  # KV-cache snapshots of calls waiting for a context (a few MB each)
PREFILL_CHUNK = 4  # tokens per decode while prefilling: a reply that wants the context waits one chunk at most


class Completing:
    """`complete`, for each conversation model (the pool, the batched context, a model server): its
    `complete_unless` that nothing abandons."""

    async def complete_unless(
        self,
        call_id: str,
        messages: list[Message],
        opening: str,
        grammar: str,
        max_tokens: int,
        abandon: Callable[[], bool] | None,
    ) -> str | None:
        raise NotImplementedError

    async def complete(self, call_id: str, messages: list[Message], opening: str, grammar: str, max_tokens: int) -> str:
        """The reply to `messages` written from `opening` on (text the model is made to have written
        already: "<tool_call>\n"), under a `grammar` (GBNF text), greedy. Only for a model with a chat template."""
        written = await self.complete_unless(call_id, messages, opening, grammar, max_tokens, None)
        assert written is not None  # only an abandon check stops a writing
        return written


class LlmPool(Completing):
    def __init__(
        self, model_path: Path, size: int = 1, n_ctx: int = 4096, threads: int = 2, priority: SpeechFirst | None = None
    ) -> None:
        self.model_path = model_path
        self._priority = priority or SpeechFirst()  # alone: no speech work ever makes it wait
        first = load_llama(str(model_path), n_ctx=n_ctx, n_threads=threads, n_batch=256)
        more = [
            load_llama(str(model_path), weights_of=first, n_ctx=n_ctx, n_threads=threads, n_batch=256)
            for _ in range(size - 1)
        ]
        self._contexts = [first, *more]
        self._free: list[int] = list(range(size))
        self._owner: dict[int, str] = {}  # context → the call whose prompt its cache holds
        self._snapshots: OrderedDict[str, LlamaState] = OrderedDict()
        self._available = asyncio.Condition()
        self._waiting = 0  # replies waiting for a context: a prefill gives its context up to them
        self.prompts = CallPrompts(first)

    @property
    def contexts(self) -> list[Llama]:
        return self._contexts

    @property
    def templated(self) -> bool:
        """Whether the model has a chat template (complete() and prefill() need one)."""
        return self.prompts.templated

    async def _acquire(self, call_id: str) -> int:
        async with self._available:
            self._waiting += 1
            try:
                await self._available.wait_for(lambda: bool(self._free))
            finally:
                self._waiting -= 1
            # Prefer the context that last served this call: its KV cache already holds the prompt.
            index = self._held_by(call_id)
            if index is None:
                index = next((i for i in self._free if i not in self._owner), self._free[0])
            self._free.remove(index)
            previous = self._owner.get(index)
            self._owner[index] = call_id
        if previous != call_id:
            await self._on_context(index, self._switch, index, previous, call_id)
        return index

    async def _on_context(self, index: int, fn: Any, *args: Any, release: bool = False, **kwargs: Any) -> Any:
        """Run `fn` in a worker thread. If we are cancelled meanwhile, the context is handed back only once
        the thread is done with it (it cannot be stopped), never while it still runs."""
        work = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
        try:
            result = await asyncio.shield(work)
        except asyncio.CancelledError:
            loop = asyncio.get_running_loop()
            work.add_done_callback(lambda _done: loop.create_task(self._release(index)))
            raise
        except Exception:
            await self._release(index)
            raise
        if release:
            await self._release(index)
        return result

    def _switch(self, index: int, previous: str | None, call_id: str) -> None:
        """Keep the leaving call's KV cache, put back the arriving call's (runs in a worker thread)."""
        context = self._contexts[index]
        if previous is not None:
            self._snapshots[previous] = snapshot(context)
            while len(self._snapshots) > MAX_SNAPSHOTS:
                self._snapshots.popitem(last=False)
        if (saved := self._snapshots.pop(call_id, None)) is not None:
            context.load_state(saved)

    async def _release(self, index: int) -> None:
        async with self._available:
            self._free.append(index)
            # Everyone re-checks: a waiting prefill wants only its own call's context, so waking just one
            # waiter could wake that prefill and leave a reply waiting beside a free context.
            self._available.notify_all()

    def offer(self, call_id: str, tools: list[dict[str, Any]]) -> bool:
        return self.prompts.offer(call_id, tools)

    def forget(self, call_id: str) -> None:
        """The call ended: its contexts are free for anyone, its snapshot is dropped."""
        self._snapshots.pop(call_id, None)
        self.prompts.forget(call_id)
        for index, owner in list(self._owner.items()):
            if owner == call_id:
                del self._owner[index]

    async def warm(self, call_id: str, messages: list[Message]) -> None:
        """Evaluate the fixed start of a call's prompt now, so the first reply only reads the new turn."""
        index = await self._acquire(call_id)
        context = self._contexts[index]
        await self._on_context(
            index,
            context.create_chat_completion,
            messages=messages,
            tools=self.prompts.tools(call_id),
            max_tokens=1,
            temperature=0.0,
            release=True,
        )

    def _held_by(self, call_id: str) -> int | None:
        """A free context whose cache holds this call."""
        return next((i for i in self._free if self._owner.get(i) == call_id), None)

    async def _take_own(self, call_id: str) -> int | None:
        """The free context that holds this call, taken; None when another call has it now."""
        async with self._available:
            # The call's own reply may be handing its context back right now: wait for that, not for others.
            await self._available.wait_for(
                lambda: self._held_by(call_id) is not None or call_id not in self._owner.values()
            )
            index = self._held_by(call_id)
            if index is not None:
                self._free.remove(index)
            return index

    def can_prefill(self, call_id: str) -> bool:
        """Whether a free context holds this call's cache: prefilling never moves a call to another context."""
        return self.prompts.templated and self._held_by(call_id) is not None

    async def prefill(self, call_id: str, messages: list[Message], user_so_far: str) -> int:
        """Evaluate the prompt of the call's next reply up to the caller's words so far (after `messages`).
        Best effort: skipped when no context holds the call, stopped between chunks when a reply wants
        the context, paused while speech work runs. Returns the number of tokens evaluated."""
        if not self.prompts.templated:
            return 0
        # Formatted before a context is taken: a template that fails here must not keep one.
        tokens = self.prompts.known_tokens(call_id, messages, user_so_far)
        index = await self._take_own(call_id)
        if index is None:
            return 0
        return await self._on_context(index, self._extend, self._contexts[index], tokens, release=True)

    def _extend(self, context: Llama, tokens: list[int]) -> int:
        """Bring the context's cache to `tokens`, keeping the prefix it already holds (a worker thread)."""
        kept = _common_prefix(context.input_ids[: context.n_tokens].tolist(), tokens)
        if kept == len(tokens):
            return 0  # nothing new; what the cache holds beyond is the next prompt's business
        context.n_tokens = kept  # eval() drops the cache from here on
        evaluated = 0
        while kept + evaluated < len(tokens) and not self._waiting:
            self._priority.wait()
            chunk = tokens[kept + evaluated : kept + evaluated + PREFILL_CHUNK]
            context.eval(chunk)
            evaluated += len(chunk)
        return evaluated

    async def stream(
        self,
        call_id: str,
        messages: list[Message],
        *,
        max_tokens: int = 120,
        temperature: float = 0.4,
        words_only: bool = False,
    ) -> AsyncIterator[str]:
        """Text pieces as they are generated. Closing the iterator stops generation within a token.
        `words_only`: no "<" (no mark, no tag: the end-of-call mark and a call's tag both open with it)."""
        index = await self._acquire(call_id)
        bias = self.prompts.words_only_bias() if words_only else None
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        stop = threading.Event()
        tools = self.prompts.tools(call_id)

        def produce() -> None:
            try:
                chunks: Any = self._contexts[index].create_chat_completion(
                    messages=messages,
                    tools=tools,
                    stream=True,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    top_p=0.9,
                    logit_bias=bias,
                )
                for chunk in chunks:
                    if stop.is_set():
                        break
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        loop.call_soon_threadsafe(queue.put_nowait, piece)
                    self._priority.wait()  # the next token waits while speech is synthesised
            except BaseException as exc:  # handed to the consumer, which re-raises it on the loop
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = asyncio.ensure_future(asyncio.to_thread(produce))
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            # The context is free only once the thread has let go of it; do not wait for that here.
            worker.add_done_callback(lambda _done: loop.create_task(self._release(index)))

    async def complete_unless(
        self,
        call_id: str,
        messages: list[Message],
        opening: str,
        grammar: str,
        max_tokens: int,
        abandon: Callable[[], bool] | None,
    ) -> str | None:
        """`complete`, with `abandon` asked at each token: true stops the writing (None), freeing the context
        for whoever needs it more."""
        prompt = self.prompts.text(call_id, messages) + opening
        rules = LlamaGrammar.from_string(grammar, verbose=False)
        index = await self._acquire(call_id)
        context = self._contexts[index]

        def run() -> str | None:
            self._priority.wait()
            if abandon is not None and abandon():
                return None
            if abandon is None:
                out: Any = context.create_completion(prompt, grammar=rules, max_tokens=max_tokens, temperature=0.0)
                return out["choices"][0]["text"]
            written = []
            stream: Any = context.create_completion(
                prompt, grammar=rules, max_tokens=max_tokens, temperature=0.0, stream=True
            )
            try:
                for chunk in stream:
                    if abandon():
                        return None
                    written.append(chunk["choices"][0]["text"])
            finally:
                stream.close()
            return "".join(written)

        return await self._on_context(index, run, release=True)


def _common_prefix(a: list[int], b: list[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def snapshot(context: Llama) -> LlamaState:
    """`context.save_state()` without its copy of the logits. llama-cpp-python keeps up to n_batch rows of
    them and copies those into every state: 256 rows of 151,936 floats, 155 MB per waiting call with Qwen's
    vocabulary, and as much copied back on every switch. Nothing reads them: a restored context decodes
    its next tokens before it samples (`load_state` sets `_requires_eval`), so one row of zeros stands in."""
    size = llama_cpp.llama_state_get_size(context.ctx)
    buffer = (ctypes.c_uint8 * size)()
    used = llama_cpp.llama_state_get_data(context.ctx, buffer, size)
    return LlamaState(
        input_ids=context.input_ids.copy(),
        scores=np.zeros((1, context.n_vocab()), dtype=np.single),  # broadcast over the rows load_state fills
        n_tokens=context.n_tokens,
        llama_state=ctypes.string_at(buffer, used),
        llama_state_size=used,
        seed=context._seed,
    )
