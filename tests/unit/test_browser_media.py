"""The browser's media adapter keeps RtpEndpoint's contract: 20 ms frames in, a play position out, barge-in."""

from __future__ import annotations

import asyncio

import pytest

from appliance.telephony.browser_media import FRAME_BYTES, BrowserMedia
from appliance.voice.call_audio import MediaClosed


async def test_received_audio_is_cut_into_20_ms_frames_whatever_the_packet_size() -> None:
    media = BrowserMedia()
    media._receive(bytes(range(200)) * 3, at=1.0)  # 300 samples: one frame now, 140 samples held back
    media._receive(bytes(40), at=1.1)  # 20 more: the second frame completes
    first, second = await media.recv(), await media.recv()
    assert (len(first.pcm), len(second.pcm)) == (FRAME_BYTES, FRAME_BYTES)
    assert first.pcm == (bytes(range(200)) * 3)[:FRAME_BYTES]
    assert (first.sequence_number, second.sequence_number) == (0, 1)
    assert media.last_received_at == 1.1


async def test_sent_audio_plays_frame_by_frame_and_the_tail_is_padded() -> None:
    media = BrowserMedia()
    end = media.send(b"\x01\x00" * 400)  # 2.5 frames
    assert (end, media.queued_samples, media.sending) == (400, 400, True)
    frames = [media.next_frame() for _ in range(4)]
    assert [len(f) for f in frames] == [FRAME_BYTES] * 4
    assert frames[2] == b"\x01\x00" * 80 + bytes(160)  # the half frame, padded with silence
    assert frames[3] == bytes(FRAME_BYTES)  # nothing queued: silence, and the play position stays
    assert (media.samples_sent, media.sending) == (400, False)
    await asyncio.wait_for(media.drained(), 0.1)


async def test_clear_drops_what_was_not_played_for_barge_in() -> None:
    media = BrowserMedia()
    media.send(bytes(FRAME_BYTES * 10))
    media.next_frame()
    assert media.clear() == 9 * 160
    assert (media.queued_samples, media.sending, media.samples_sent) == (0, False, 160)
    assert media.send(bytes(FRAME_BYTES)) == 2 * 160  # positions go on from what was actually queued


async def test_closing_ends_receiving_and_sending() -> None:
    media = BrowserMedia()
    await media.close()
    with pytest.raises(MediaClosed):
        await media.recv()
    with pytest.raises(MediaClosed):
        media.send(bytes(FRAME_BYTES))
    assert media.track.readyState == "ended"


async def test_the_agent_track_paces_its_frames_every_20_ms() -> None:
    """aiortc's sender asks as fast as recv returns: the track itself must keep real time."""
    media = BrowserMedia()
    media.send(b"\x02\x00" * 160 * 5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    frames = [await media.track.recv() for _ in range(11)]
    assert loop.time() - started >= 0.19  # 10 intervals after the first frame
    assert [f.pts for f in frames] == [160 * i for i in range(11)]
    assert {f.sample_rate for f in frames} == {8000}
    assert media.samples_sent == 800
