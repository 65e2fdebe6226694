"""continuous_frames: the frames a line delivers, silence filled in, and a listener that stops when told."""

from __future__ import annotations

import asyncio

import pytest

from appliance.voice.call_audio import FRAME_BYTES, SILENCE_FRAME, AudioFrame, MediaClosed, continuous_frames


class Line:
    """recv() answers at once with a frame while `frames` lasts, then waits, then (closed) raises."""

    def __init__(self, frames: int = 10**9) -> None:
        self.frames = frames
        self.closed = asyncio.Event()

    async def recv(self) -> AudioFrame:
        if self.frames > 0:
            self.frames -= 1
            await asyncio.sleep(0)  # a frame queued already: it comes on the loop's next turn
            return AudioFrame(b"\x01" * FRAME_BYTES, 0, 0, asyncio.get_running_loop().time())
        await self.closed.wait()
        raise MediaClosed


async def listen(line: Line, got: list[bytes]) -> None:
    async for pcm, _ in continuous_frames(line):  # type: ignore[arg-type]
        got.append(pcm)


async def test_a_quiet_line_yields_silence_and_a_closed_one_ends_the_frames() -> None:
    line, got = Line(frames=2), []
    listener = asyncio.create_task(listen(line, got))
    await asyncio.sleep(0.2)
    line.closed.set()
    await asyncio.wait_for(listener, 1)
    assert got[:2] == [b"\x01" * FRAME_BYTES] * 2
    assert set(got[2:]) == {SILENCE_FRAME} and len(got[2:]) >= 5


@pytest.mark.parametrize("turns", range(6))
async def test_cancelling_the_listener_stops_it_even_as_a_frame_arrives(turns: int) -> None:
    # Frames arrive on every turn of the loop, so the cancellation lands on a frame that has just come in
    # (on Python 3.11 asyncio.wait_for returned that frame and dropped the cancellation).
    line, got = Line(), []
    listener = asyncio.create_task(listen(line, got))
    for _ in range(turns + 1):
        await asyncio.sleep(0)
    listener.cancel()
    done, _ = await asyncio.wait({listener}, timeout=1)
    line.frames = 0  # a listener that ignored the cancellation ends here, and the test fails
    line.closed.set()
    await asyncio.gather(listener, return_exceptions=True)
    assert listener in done and listener.cancelled()
