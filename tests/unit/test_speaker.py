"""Barge-in bookkeeping: pause keeps the unplayed audio, resume plays it, stop reports what was heard."""

from __future__ import annotations

from appliance.voice.recorder import StereoRecorder
from appliance.voice.speaker import Speaker


class FakeLine:
    """The part of RtpEndpoint the speaker uses, with a play position we move by hand."""

    def __init__(self) -> None:
        self.enqueued = 0
        self.samples_sent = 0
        self.sent: list[bytes] = []

    @property
    def sending(self) -> bool:
        return self.enqueued > self.samples_sent

    def send(self, pcm: bytes) -> int:
        self.sent.append(pcm)
        self.enqueued += len(pcm) // 2
        return self.enqueued

    def clear(self) -> int:
        dropped = self.enqueued - self.samples_sent
        self.enqueued = self.samples_sent
        return dropped


def pcm(seconds: float) -> bytes:
    return b"\x01\x00" * int(8000 * seconds)


def test_pause_then_resume_plays_on_from_the_cut() -> None:
    line, recorder = FakeLine(), StereoRecorder()
    speaker = Speaker(line, recorder)  # type: ignore[arg-type]
    assert speaker.say("one two three four", pcm(1.0)) is True
    line.samples_sent = 4000  # half of it played
    speaker.pause()
    assert not line.sending and speaker.audible  # silent now, but audio is held
    speaker.say("later words", pcm(0.5))  # generated meanwhile: held, not sent
    assert len(line.sent) == 1
    speaker.resume()
    assert [len(p) // 2 for p in line.sent[1:]] == [4000, 4000]


def test_stop_reports_whole_chunks_played_and_the_heard_part_of_the_cut_one() -> None:
    line, recorder = FakeLine(), StereoRecorder()
    speaker = Speaker(line, recorder)  # type: ignore[arg-type]
    speaker.say("First sentence here.", pcm(1.0))
    speaker.say("alpha beta gamma delta", pcm(1.0))
    line.samples_sent = 8000 + 4000
    assert speaker.stop() == "First sentence here. alpha beta…"
    assert not speaker.audible


def test_recording_keeps_only_the_agent_audio_that_played() -> None:
    line, recorder = FakeLine(), StereoRecorder()
    speaker = Speaker(line, recorder)  # type: ignore[arg-type]
    speaker.say("x", pcm(1.0))
    recorder.caller(bytes(2 * 2000))  # 0.25 s of the call went by
    line.samples_sent = 2000
    speaker.stop()
    assert recorder._agent_end == 2000


def test_agent_audio_is_recorded_where_the_callers_timeline_is_now_not_where_reading_got_to() -> None:
    """Frames still queued (the conversation fell behind under load) have happened: agent audio sent at
    t = arrival of the last frame read + 0.1 s starts 800 samples after it."""
    recorder = StereoRecorder()
    recorder.caller(bytes(2 * 1600), arrived=10.0)  # 0.2 s read; the last frame arrived at 10.0
    recorder.agent(bytes(2 * 160), now=10.1)
    assert recorder._agent_end == 1600 + 800 + 160
    recorder.agent_cleared(now=10.12)
    assert recorder._agent_end == 1600 + 960


def test_a_chunk_is_told_when_it_will_be_heard_behind_audio_and_after_a_pause() -> None:
    """The reply's latency ends where its first chunk plays: behind a filler still on the line that is later
    than when it was queued, and a chunk held by a pause is told again when it is sent on resume."""
    line, now = FakeLine(), [100.0]
    speaker = Speaker(line, StereoRecorder(), clock=lambda: now[0])  # type: ignore[arg-type]
    speaker.say("One moment.", pcm(0.5))
    starts: list[float] = []
    speaker.say("Friday has nine.", pcm(1.0), on_start=starts.append)
    assert starts == [100.5]  # half a second of filler ahead of it
    line.samples_sent = 2000  # 0.25 s of the filler played; a caller's noise pauses the agent
    speaker.pause()
    now[0] = 100.4
    speaker.resume()
    assert starts == [100.5, 100.4 + 0.25]  # the rest of the filler first, then it
