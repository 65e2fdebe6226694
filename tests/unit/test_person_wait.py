"""The simulated person's `{say, wait}` lines: quiet that long after the agent's turn before speaking, and
someone else who speaks and stops during that quiet (the desk a transfer put through, greeting the caller)
is waited out, not waited for again."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from appliance.telephony.carrier import person as person_module
from appliance.telephony.carrier.person import Line, PersonCall, Script
from appliance.voice.call_audio import AudioFrame, MediaClosed

SPEECH = (np.sin(np.arange(160) / 3) * 8000).astype(np.int16).tobytes()  # 20 ms, loud


class HeardLine:
    """The person's line: speech sent to it in bursts on a schedule; what it says is written down."""

    def __init__(self, bursts: list[tuple[float, float]]) -> None:
        self.bursts, self.sent, self.sending = bursts, [], False
        self.frames: asyncio.Queue[AudioFrame | None] = asyncio.Queue()

    async def play(self) -> None:
        loop = asyncio.get_running_loop()
        start, seq = loop.time(), 0
        for begin, end in self.bursts:
            await asyncio.sleep(max(0.0, start + begin - loop.time()))
            while loop.time() < start + end:
                self.frames.put_nowait(AudioFrame(SPEECH, seq * 160, seq, loop.time()))
                seq += 1
                await asyncio.sleep(0.02)

    async def recv(self) -> AudioFrame:
        frame = await self.frames.get()
        if frame is None:
            raise MediaClosed
        return frame

    def send(self, pcm: bytes) -> None:
        self.sent.append(pcm)

    async def drained(self) -> None: ...


async def said_after(bursts: list[tuple[float, float]], monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], float]:
    """Run a person whose one line waits 1 s of quiet, hearing `bursts` (start, end) of speech; what it said,
    and how long after the start it had said it."""
    monkeypatch.setattr(person_module, "ANSWER_PAUSE_S", 0.0)
    monkeypatch.setattr(person_module, "HANG_UP_AFTER_S", 0.0)
    monkeypatch.setattr(person_module, "AGENT_TURN_END_MS", 300)
    line = HeardLine(bursts)
    person = PersonCall(line, Script(greeting=None, lines=[Line(say="Hello?", wait=1.0)]), {"Hello?": bytes(320)})  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    listener, player = asyncio.create_task(person.listen()), asyncio.create_task(line.play())
    started = loop.time()
    try:
        async with asyncio.timeout(8):  # waiting for a turn that never comes
            await person.run()
    finally:
        listener.cancel()
        await player
    return person.results["said"], loop.time() - started


async def test_speech_that_starts_and_ends_during_the_wait_is_waited_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # The agent talks 0-0.2 s (its turn is over at 0.5 s); the desk 0.6-0.8 s, inside the 1 s wait, and its
    # turn is over at 1.1 s, before the wait ends. Then 1 s of quiet, and the line.
    said, after = await said_after([(0.0, 0.2), (0.6, 0.8)], monkeypatch)
    assert said == ["Hello?"] and after >= 0.8 + 1.0


async def test_speech_still_going_when_the_wait_ends_is_heard_to_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    said, after = await said_after([(0.0, 0.2), (1.0, 2.0)], monkeypatch)  # still talking when the wait ends
    assert said == ["Hello?"] and after >= 2.0 + 1.0
