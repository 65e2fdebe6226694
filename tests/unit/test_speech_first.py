"""Speech work before generation: text generation pauses between tokens while speech is synthesised or
transcribed, and goes on once it is done."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from appliance import models
from appliance.voice.llm import LlmPool
from appliance.voice.speech_first import SpeechFirst


def hold_speech(priority: SpeechFirst, seconds: float) -> threading.Thread:
    started = threading.Event()

    def speak() -> None:
        with priority.speech():
            started.set()
            time.sleep(seconds)

    thread = threading.Thread(target=speak)
    thread.start()
    started.wait()
    return thread


def test_generation_waits_until_no_speech_work_runs() -> None:
    priority = SpeechFirst()
    started = time.monotonic()
    priority.wait()
    assert time.monotonic() - started < 0.05, "nothing to wait for"
    first, second = hold_speech(priority, 0.3), hold_speech(priority, 0.5)
    started = time.monotonic()
    priority.wait()
    assert time.monotonic() - started >= 0.45, "both syntheses had to finish"
    first.join()
    second.join()


async def test_a_reply_pauses_between_tokens_while_speech_is_synthesised() -> None:
    try:
        small = models.resolve("llm", "SmolLM2-135M-Instruct.Q4_1")
    except models.ModelMissing as exc:
        pytest.skip(str(exc))
    priority = SpeechFirst()
    pool = LlmPool(small.path, size=1, n_ctx=1024, priority=priority)
    messages = [{"role": "user", "content": "Count from one to twenty."}]
    pieces: list[tuple[float, str]] = []
    speaking = hold_speech(priority, 1.0)
    started = time.monotonic()
    async for piece in pool.stream("a", messages, max_tokens=24, temperature=0.0):
        pieces.append((time.monotonic() - started, piece))
    await asyncio.to_thread(speaking.join)
    during = [piece for at, piece in pieces if at < 0.9]
    assert len(during) <= 1, f"generated while speech ran: {during}"
    assert len(pieces) > 5, "the reply went on afterwards"
