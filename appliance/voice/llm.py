"""llama.cpp contexts for the conversation: a small pool, streamed generation off the event loop.

A llama context is not thread-safe, so each live conversation borrows one for a reply. Contexts
share the weights (the GGUF is memory-mapped), and each keeps its KV cache: llama-cpp-python reuses
the longest common token prefix, so when a call gets the same context back, only the new turn is
evaluated. `warm()` evaluates a call's system prompt at dial time for the same reason.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from llama_cpp import Llama

Message = dict[str, str]


class LlmPool:
    def __init__(self, model_path: Path, size: int = 2, n_ctx: int = 4096, threads: int = 2) -> None:
        self.model_path = model_path
        self._contexts = [
            Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=threads, n_batch=256, verbose=False)
            for _ in range(size)
        ]
        self._free: list[int] = list(range(size))
        self._owner: dict[int, str] = {}  # context → the call whose prompt its cache holds
        self._available = asyncio.Condition()

    async def _acquire(self, call_id: str) -> int:
        async with self._available:
            await self._available.wait_for(lambda: bool(self._free))
            # Prefer the context that last served this call: its KV cache already holds the prompt.
            index = next((i for i in self._free if self._owner.get(i) == call_id), None)
            if index is None:
                index = next((i for i in self._free if i not in self._owner), self._free[0])
            self._free.remove(index)
            self._owner[index] = call_id
            return index

    async def _release(self, index: int) -> None:
        async with self._available:
            self._free.append(index)
            self._available.notify()

    def forget(self, call_id: str) -> None:
        """The call ended: its contexts are free for anyone."""
        for index, owner in list(self._owner.items()):
            if owner == call_id:
                del self._owner[index]

    async def warm(self, call_id: str, messages: list[Message]) -> None:
        """Evaluate the fixed start of a call's prompt now, so the first reply only reads the new turn."""
        index = await self._acquire(call_id)
        try:
            await asyncio.to_thread(
                self._contexts[index].create_chat_completion, messages=messages, max_tokens=1, temperature=0.0
            )
        finally:
            await self._release(index)

    async def stream(
        self, call_id: str, messages: list[Message], *, max_tokens: int = 120, temperature: float = 0.4
    ) -> AsyncIterator[str]:
        """Text pieces as they are generated. Closing the iterator stops generation within a token."""
        index = await self._acquire(call_id)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def produce() -> None:
            try:
                chunks: Any = self._contexts[index].create_chat_completion(
                    messages=messages, stream=True, max_tokens=max_tokens, temperature=temperature, top_p=0.9
                )
                for chunk in chunks:
                    if stop.is_set():
                        break
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        loop.call_soon_threadsafe(queue.put_nowait, piece)
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
