"""One llama.cpp context that writes several calls' replies in one batch (`llm_sequences` > 0).

The pool (llm.py) gives each reply a context of its own for its whole length: calls take turns, and a
call that waits keeps a snapshot of its KV cache, copied out and back in. Here every call has a sequence of
its own in one context (`n_seq_max`), its KV cache stays there between turns, and one thread decodes: each
step is one `llama_batch` holding the next token of every reply being written, and a chunk of each prompt
being read. On a CPU, decoding one token costs about as much as decoding a few at once (the weights are read
from memory once per step either way), so four replies written together take far less than four times one:
bench/conversation.py measures it against the pool.

The interface is the pool's (stream, complete, warm, prefill, ...), so the voice engine takes either.
"""

from __future__ import annotations

import asyncio
import ctypes
import random
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
import structlog
from llama_cpp import Llama, LlamaGrammar
from llama_cpp import _internals as internals

from appliance.llama_loading import load_llama
from appliance.voice.call_prompts import CallPrompts, Message
from appliance.voice.llm import Completing, _common_prefix
from appliance.voice.speech_first import SpeechFirst

log = structlog.get_logger(__name__)
BATCH = 512  # tokens decoded per step, all sequences together
READ_CHUNK = 64  # a prompt's tokens read per step: a long prompt must not hold up the replies being written
PREFILL_CHUNK = 8  # the caller's words read ahead per step (best effort, beside the replies)


@dataclass(eq=False)
class _Job:
    seq: int
    tokens: list[int]  # what the sequence must hold before writing: the whole prompt
    write: int  # tokens to write; 0 = only read the prompt (warm, prefill)
    sampler: internals.LlamaSampler | None
    emit: Callable[[str | BaseException | None], None]  # pieces, then None (or an error); any thread
    stop: Callable[[], bool]
    finished: Callable[[], None]  # any thread
    chunk: int = READ_CHUNK
    read: int = -1  # tokens of the prompt the sequence holds; -1 = not compared with its cache yet
    written: int = 0
    last: int | None = None  # the token written last, fed at the next step
    pending: bytes = b""  # the start of a character cut between two tokens
    done: bool = False


class BatchedLlm(Completing):
    def __init__(
        self,
        model_path: Path,
        sequences: int = 4,
        n_ctx: int = 4096,
        threads: int = 2,
        priority: SpeechFirst | None = None,
    ) -> None:
        """`sequences`: calls whose KV cache is kept at once (each `n_ctx` tokens); a call beyond them takes
        the sequence of the call that spoke least recently, which reads its prompt again next time."""
        self.model_path = model_path
        self._priority = priority or SpeechFirst()
        # The tokenizer, the chat template, the weights (the extractor borrows them): a small context of its own.
        self._owner = load_llama(str(model_path), n_ctx=512, n_threads=threads, n_batch=256)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx * sequences
        params.n_batch = params.n_ubatch = BATCH
        params.n_seq_max = sequences
        params.kv_unified = False  # a KV stream per sequence: the calls share no prefix worth a unified buffer
        params.n_threads = params.n_threads_batch = threads
        self._ctx = internals.LlamaContext(model=self._owner._model, params=params, verbose=False)
        self._batch = internals.LlamaBatch(n_tokens=BATCH, embd=0, n_seq_max=1, verbose=False)
        self._vocab = self._owner._model.vocab
        self.prompts = CallPrompts(self._owner)
        self._held: list[list[int]] = [[] for _ in range(sequences)]  # the tokens in each sequence's cache
        self._seat: dict[str, int] = {}  # call → its sequence
        self._used: dict[int, int] = {}  # sequence → when its call last had a job (a counter)
        self._clock = 0
        self._jobs: list[_Job] = []
        self._clear: list[int] = []  # sequences to empty before the next step (their calls ended)
        self._wake = threading.Condition()
        self._seats = asyncio.Condition()  # a call waiting for a sequence; notified as jobs end
        self._first_steps()
        threading.Thread(target=self._decode_forever, name="llm-batch", daemon=True).start()

    def _first_steps(self) -> None:
        """llama.cpp's first evaluations in a context run several times slower than the next ones: not in a call."""
        tokens = self._owner.tokenize(b"Hello, this is a test of the line.", add_bos=False)
        for _ in range(2):
            self._batch.set_batch(tokens, 0, False)
            self._ctx.decode(self._batch)
            self._ctx.kv_cache_seq_rm(0, 0, -1)

    @property
    def contexts(self) -> list[Llama]:
        return [self._owner]

    @property
    def templated(self) -> bool:
        return self.prompts.templated

    def offer(self, call_id: str, tools: list[dict[str, Any]]) -> bool:
        return self.prompts.offer(call_id, tools)

    def forget(self, call_id: str) -> None:
        self.prompts.forget(call_id)
        seq = self._seat.pop(call_id, None)
        if seq is not None:
            self._used.pop(seq, None)
            with self._wake:
                self._clear.append(seq)
                self._wake.notify()

    def can_prefill(self, call_id: str) -> bool:
        return self.prompts.templated and call_id in self._seat

    # --- the calls' requests (event loop) -----------------------------------------------------------------

    async def warm(self, call_id: str, messages: list[Message]) -> None:
        """Read a call's prompt into its sequence now, so the first reply only reads the new turn."""
        await self._run(call_id, self.prompts.tokens(call_id, messages), 0, None, lambda _item: None, lambda: False)

    async def prefill(self, call_id: str, messages: list[Message], user_so_far: str) -> int:
        """Read the next reply's prompt as far as it is known (the caller's words so far) into the sequence."""
        if not self.can_prefill(call_id):
            return 0
        tokens = self.prompts.known_tokens(call_id, messages, user_so_far)
        before = len(self._held[self._seat[call_id]])
        await self._run(call_id, tokens, 0, None, lambda _item: None, lambda: False, chunk=PREFILL_CHUNK)
        return max(0, len(tokens) - before)

    async def stream(
        self,
        call_id: str,
        messages: list[Message],
        *,
        max_tokens: int = 120,
        temperature: float = 0.4,
        words_only: bool = False,
    ) -> AsyncIterator[str]:
        """Text pieces as they are written. Closing the iterator stops the writing at the next step."""
        sampler = internals.LlamaSampler()
        if words_only:
            sampler.add_logit_bias(self._owner.n_vocab(), self.prompts.words_only_bias())
        # llama-cpp-python's chain for these settings, so a reply reads as it would from the pool.
        if temperature == 0.0:
            sampler.add_greedy()
        else:
            sampler.add_top_k(40)
            sampler.add_top_p(0.9, 1)
            sampler.add_min_p(0.05, 1)
            sampler.add_temp(temperature)
            sampler.add_dist(random.getrandbits(32))
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        stopped = threading.Event()
        tokens = self.prompts.tokens(call_id, messages)
        run = asyncio.ensure_future(
            self._run(
                call_id,
                tokens,
                max_tokens,
                sampler,
                lambda item: loop.call_soon_threadsafe(queue.put_nowait, item),
                stopped.is_set,
            )
        )
        # A request that fails before its job runs (no sequence to be had) ends the stream with its error.
        run.add_done_callback(lambda done: done.cancelled() or queue.put_nowait(done.exception()))
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stopped.set()  # the job ends at the next step; nothing waits for it here

    async def complete_unless(
        self,
        call_id: str,
        messages: list[Message],
        opening: str,
        grammar: str,
        max_tokens: int,
        abandon: Callable[[], bool] | None,
    ) -> str | None:
        """The reply written from `opening` on under `grammar` (GBNF), greedy; None when `abandon` turned true."""
        sampler = internals.LlamaSampler()
        sampler.add_grammar(self._owner._model, LlamaGrammar.from_string(grammar, verbose=False))
        sampler.add_greedy()
        pieces: list[str] = []
        failed: list[BaseException] = []

        def keep(item: str | BaseException | None) -> None:
            if isinstance(item, str):
                pieces.append(item)
            elif item is not None:
                failed.append(item)

        stop = abandon or (lambda: False)
        await self._run(call_id, self.prompts.tokens(call_id, messages, opening), max_tokens, sampler, keep, stop)
        if failed:
            raise failed[0]
        return None if abandon is not None and abandon() else "".join(pieces)

    async def _run(
        self,
        call_id: str,
        tokens: list[int],
        write: int,
        sampler: internals.LlamaSampler | None,
        emit: Callable[[str | BaseException | None], None],
        stop: Callable[[], bool],
        chunk: int = READ_CHUNK,
    ) -> None:
        loop = asyncio.get_running_loop()
        seq = await self._take_seat(call_id)
        finished = loop.create_future()
        job = _Job(seq, tokens, write, sampler, emit, stop, lambda: loop.call_soon_threadsafe(_resolve, finished))
        with self._wake:
            for other in self._jobs:
                if other.seq == seq and not other.write:
                    other.stop = lambda: True  # a reading ahead gives way to what it was reading for
            self._jobs.append(job)
            self._wake.notify()
        try:
            await finished
        finally:
            self._used[seq] = self._tick()
            async with self._seats:
                self._seats.notify_all()

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    async def _take_seat(self, call_id: str) -> int:
        """The call's sequence: its own, else a free one, else the one whose call spoke least recently and has
        no job now (its cache is dropped); waits while every sequence is at work."""
        async with self._seats:
            while True:
                if (seq := self._seat.get(call_id)) is not None:
                    return seq
                taken = set(self._seat.values())
                free = [s for s in range(len(self._held)) if s not in taken]
                with self._wake:
                    working = {job.seq for job in self._jobs}
                idle = sorted((self._used.get(s, 0), s) for s in taken if s not in working)
                if free or idle:
                    seq = free[0] if free else idle[0][1]
                    if not free:
                        gone = next(c for c, s in self._seat.items() if s == seq)
                        del self._seat[gone]
                        with self._wake:
                            self._clear.append(seq)
                    self._seat[call_id] = seq
                    self._used[seq] = self._tick()
                    return seq
                await self._seats.wait()

    # --- the decoding thread ------------------------------------------------------------------------------

    def _decode_forever(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: bool(self._jobs or self._clear))
                cleared, jobs = set(self._clear), list(self._jobs)
                self._clear.clear()
            for seq in cleared:
                self._forget_cache(seq)
            for job in jobs:
                if job.seq in cleared and job.read >= 0:  # its call ended meanwhile
                    self._finish(job)
            jobs = [job for job in jobs if not job.done]
            if not jobs:
                continue
            self._priority.wait()  # speech first: the next step waits while a synthesis runs
            try:
                self._step(jobs)
            except Exception as exc:  # a fault in one step fails its replies, never the thread
                log.exception("voice.llm_batch_step_failed")
                for job in jobs:
                    self._forget_cache(job.seq)
                    self._finish(job, exc)

    def _step(self, jobs: list[_Job]) -> None:
        batch, rows, room, seated = self._batch.batch, [], BATCH, set()
        self._batch.reset()
        for job in jobs:
            if job.stop():
                self._finish(job)
                continue
            if job.seq in seated:
                continue  # one job per sequence at a time; the next waits for this one
            seated.add(job.seq)
            held = self._held[job.seq]
            if job.read < 0:  # first step: keep what the sequence's cache shares with this prompt
                kept = _common_prefix(held, job.tokens)
                if kept == len(job.tokens):
                    if not job.write:
                        self._finish(job)
                        continue
                    kept -= 1  # a reply needs logits: the last prompt token is read again
                self._ctx.kv_cache_seq_rm(job.seq, kept, -1)
                del held[kept:]
                job.read = kept
            if job.read < len(job.tokens):
                piece = job.tokens[job.read : job.read + min(job.chunk, room)]
                wants = job.read + len(piece) == len(job.tokens) and job.write > 0
            elif job.last is not None:
                piece, wants = [job.last], True
            else:
                continue
            if not piece or len(piece) > room:
                continue
            for i, token in enumerate(piece):
                n = batch.n_tokens
                batch.token[n], batch.pos[n] = token, len(held) + i
                batch.seq_id[n][0], batch.n_seq_id[n], batch.logits[n] = job.seq, 1, False
                batch.n_tokens += 1
            if wants:
                batch.logits[batch.n_tokens - 1] = True
                rows.append((job, batch.n_tokens - 1))
            room -= len(piece)
            held.extend(piece)
            if job.read < len(job.tokens):
                job.read += len(piece)
        if not batch.n_tokens:
            return
        self._ctx.decode(self._batch)  # a failure (a sequence's cache full) fails this step's jobs
        for job in jobs:
            if job.read == len(job.tokens) and not job.write and not job.done:
                self._finish(job)
        for job, row in rows:
            assert job.sampler is not None
            token = llama_cpp.llama_sampler_sample(job.sampler.sampler, self._ctx.ctx, row)
            if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                self._finish(job)
                continue
            job.written += 1
            job.last = token
            text, job.pending = _utf8(job.pending + self._piece(token))
            if text and not _delivered(job.emit, text):
                self._finish(job)  # nobody reads it any more
                continue
            if job.written >= job.write:
                self._finish(job)

    def _piece(self, token: int) -> bytes:
        buffer = (ctypes.c_char * 64)()
        size = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, 64, 0, False)
        return bytes(buffer[: max(0, size)])

    def _forget_cache(self, seq: int) -> None:
        self._ctx.kv_cache_seq_rm(seq, 0, -1)
        self._held[seq] = []

    def _finish(self, job: _Job, error: BaseException | None = None) -> None:
        if job.done:
            return
        job.done = True
        with self._wake:
            if job in self._jobs:
                self._jobs.remove(job)
        if job.sampler is not None:
            job.sampler.close()
        _delivered(job.emit, error)
        _delivered(job.finished)


def _delivered(hand_over: Callable[..., None], *item: str | BaseException | None) -> bool:
    """Hand `item` over to the requester's event loop; False when that loop is closed (nobody waits for it:
    a process shutting down, a test's loop ended with a reply half read). The decoding thread goes on."""
    try:
        hand_over(*item)
    except RuntimeError:
        return False
    return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _utf8(data: bytes) -> tuple[str, bytes]:
    """The text of `data`, and the start of a character it ends in the middle of (kept for the next token)."""
    for cut in range(len(data), max(-1, len(data) - 4), -1):
        try:
            return data[:cut].decode(), data[cut:]
        except UnicodeDecodeError:
            continue
    return data.decode(errors="replace"), b""
