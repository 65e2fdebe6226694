"""The loaded models, shared by every conversation in the process (loading them is the slow part)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from appliance import models
from appliance.voice.llm import LlmPool
from appliance.voice.llm_batch import BatchedLlm
from appliance.voice.questions import QuestionBook
from appliance.voice.ringing import Ringing
from appliance.voice.served_llm import ServedLlm
from appliance.voice.speech_first import SpeechFirst
from appliance.voice.stt import Transcriber
from appliance.voice.tts import Synthesizer

if TYPE_CHECKING:
    from llama_cpp import Llama

    from appliance.model_server import ModelServer
    from appliance.voice.transcript import CallSink

log = structlog.get_logger(__name__)
LOAD_WAIT_SECONDS = 300.0
PHRASES = 256  # short phrases kept per voice once synthesised (≈ 10 KB each)


class VoiceEngine:
    def __init__(
        self,
        *,
        llm_model: str = "",
        stt_model: str = "",
        llm_contexts: int = 1,
        llm_sequences: int = 0,
        threads: int = 2,
        llm_server: ModelServer | None = None,
    ) -> None:
        """`llm_sequences` > 0: one context decoding that many calls in a batch (llm_batch.py) instead of a pool
        of `llm_contexts`. `llm_server`: where replies are written while it answers (served_llm.py)."""
        self._llm_id = llm_model or None
        self._llm_server = llm_server
        self._stt_id = stt_model or None
        self._contexts = llm_contexts
        self._sequences = llm_sequences
        self._threads = threads
        self._voices: dict[str, Synthesizer] = {}
        self.priority = SpeechFirst()  # one for the process: every call's speech before anyone's generation
        self.stt: Transcriber | None = None
        self.llm: LlmPool | BatchedLlm | ServedLlm | None = None
        self._ready = asyncio.Event()
        self._loaded = threading.Event()  # the same, for threads
        self.error: str | None = None
        self.ringing = Ringing(self)  # outbound calls' prompts, read while the line rings
        self.questions = QuestionBook(None)  # each agent's questions for its `returns` fields, once written
        self.conversations: dict[str, CallSink] = {}  # the calls in conversation now, and where their events go

    async def load(self) -> None:
        """Load STT, the default voice and the LLM contexts in a thread, logging each step."""
        try:
            stt = models.resolve("stt", self._stt_id)
            llm = models.resolve("llm", self._llm_id)
            started = time.monotonic()
            log.info("voice.loading", step="speech-to-text", model=stt.id)
            self.stt = await asyncio.to_thread(Transcriber, stt.path, self._threads, self.priority)
            log.info("voice.loading", step="voice", model=models.DEFAULT_VOICE)
            voice = await self.voice(None)
            log.info(
                "voice.loading", step="language model", model=llm.id, contexts=self._contexts, sequences=self._sequences
            )
            pool: LlmPool | BatchedLlm
            if self._sequences:
                pool = await asyncio.to_thread(
                    BatchedLlm, llm.path, self._sequences, 4096, self._threads, self.priority
                )
            else:
                pool = await asyncio.to_thread(LlmPool, llm.path, self._contexts, 4096, self._threads, self.priority)
            self.llm = pool if self._llm_server is None else ServedLlm(self._llm_server, pool, self._call_event)
            self.questions.model = self.llm
            log.info("voice.loading", step="warm-up")
            await asyncio.to_thread(self._warm_up, voice)
            log.info("voice.ready", seconds=round(time.monotonic() - started, 1))
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("voice.load_failed", error=self.error)
        finally:
            self._ready.set()
            self._loaded.set()

    def _warm_up(self, voice: Synthesizer) -> None:
        """One synthesis, one transcription and a short generation, so that the first caller does not wait for
        the first-run allocations of onnxruntime and CTranslate2 (≈ 25 ms and ≈ 50 ms here:
        `bench/cold_start.py`) and llama.cpp's slow first evaluations."""
        assert self.stt is not None and self.llm is not None
        self.stt.transcribe(voice.synthesize("Hello, this is a test of the line."))
        # llama.cpp's first evaluations in a process run several times slower than the next ones (a 40-token
        # reply took 22 s, then 3 s, here): pay that now, not in the first call's opening.
        for context in self.llm.contexts:
            context.create_completion("Hello, this is a test of the line.", max_tokens=8, temperature=0.0)
            context.reset()

    def _call_event(self, call_id: str, data: dict[str, object]) -> bool:
        if (sink := self.conversations.get(call_id)) is None:
            return False
        sink.event("model_server_fallback", dict(data))
        return True

    def llama_weights(self, path: Path) -> Llama | None:
        """A conversation context whose weights are the model at `path`, for another context to share
        (the extractor's). Called from a worker thread; waits for the loading under way."""
        self._loaded.wait(LOAD_WAIT_SECONDS)
        if self.llm is None or self.llm.model_path != path:
            return None
        return self.llm.contexts[0]

    async def ready(self) -> bool:
        await self._ready.wait()
        return self.error is None

    @property
    def loaded(self) -> bool:
        return self._ready.is_set() and self.error is None

    async def voice(self, voice_id: str | None) -> Synthesizer:
        """The Piper voice `voice_id` (default voice when None), loaded on first use."""
        model = models.resolve("voice", voice_id)
        if model.id not in self._voices:
            self._voices[model.id] = await asyncio.to_thread(Synthesizer, Path(model.path), self.priority, PHRASES)
        return self._voices[model.id]
