"""Turn-taking on 20 ms VAD decisions: start, pause, resume, the two end-of-turn waits."""

from __future__ import annotations

import numpy as np
import pytest

from appliance.voice.turns import TurnConfig, TurnDetector, TurnEvent

FRAME = bytes(320)


def run(detector: TurnDetector, pattern: str) -> list[tuple[int, TurnEvent]]:
    """Feed 'S' (speech) / '.' (silence) frames; returns (frame index, event) pairs."""
    events = []
    for i, ch in enumerate(pattern):
        result = detector.feed(FRAME, ch == "S", now=i * 0.02)
        if result:
            events.append((i, result[0]))
    return events


def test_a_turn_starts_pauses_and_ends_after_the_long_wait() -> None:
    events = run(TurnDetector(), "." * 5 + "S" * 20 + "." * 40)
    assert [e for _, e in events] == [TurnEvent.STARTED, TurnEvent.PAUSED, TurnEvent.ENDED]
    (_, _), (pause_at, _), (end_at, _) = events
    last_speech = 24
    assert pause_at - last_speech == 200 // 20 and end_at - last_speech == 700 // 20


def test_a_complete_sentence_ends_the_turn_sooner() -> None:
    detector = TurnDetector()
    events = run(detector, "S" * 20 + "." * 10)
    assert events[-1][1] is TurnEvent.PAUSED
    detector.mark_complete()
    later = run(detector, "." * 10)
    assert later and later[0][1] is TurnEvent.ENDED
    assert 10 + later[0][0] + 1 == 300 // 20  # frames of silence when it ended


def test_short_noise_does_not_start_a_turn() -> None:
    assert run(TurnDetector(), "..S...S...S...SS....") == []


def test_speech_after_a_pause_resumes_the_same_turn() -> None:
    detector = TurnDetector()
    events = run(detector, "S" * 10 + "." * 15 + "SSSS" + "." * 40)
    assert [e for _, e in events] == [
        TurnEvent.STARTED,
        TurnEvent.PAUSED,
        TurnEvent.RESUMED,
        TurnEvent.PAUSED,
        TurnEvent.ENDED,
    ]


def test_a_click_during_the_pause_neither_resumes_nor_delays_the_end() -> None:
    events = run(TurnDetector(), "S" * 10 + "." * 15 + "S" + "." * 19 + "." * 5)
    assert [e for _, e in events] == [TurnEvent.STARTED, TurnEvent.PAUSED, TurnEvent.ENDED]
    assert events[-1][0] == 9 + 35


def test_the_turn_audio_keeps_the_preroll_and_little_trailing_silence() -> None:
    detector = TurnDetector(TurnConfig())
    events = []
    for i, ch in enumerate("." * 20 + "S" * 25 + "." * 40):
        if r := detector.feed(bytes([i % 256]) * 320, ch == "S"):
            events.append(r)
    audio = events[-1][1].audio
    first_frame, last_frame = audio[0], audio[-1]  # each frame is filled with its index
    assert 20 - first_frame >= 200 // 20  # at least 200 ms before the speech began
    assert last_frame - 44 == 5  # 100 ms of trailing silence after the last speech frame (44)


def test_the_turn_ends_where_the_voice_does_not_where_the_vad_lets_go() -> None:
    """webrtcvad calls frames speech for a while after the words: latency is stamped at the last loud one."""
    detector = TurnDetector()
    voice, tail = np.full(160, 3000, np.int16).tobytes(), np.full(160, 40, np.int16).tobytes()
    frames = [(voice, True)] * 20 + [(tail, True)] * 6 + [(bytes(320), False)] * 40
    ended = None
    for i, (pcm, speech) in enumerate(frames):
        if (r := detector.feed(pcm, speech, now=100 + i * 0.02)) and r[0] is TurnEvent.ENDED:
            ended = r[1]
    assert ended is not None
    assert ended.last_speech_at == pytest.approx(100 + 19 * 0.02)  # the 20th frame, not the VAD's 26th
    assert ended.last_speech_frame == 26  # while the wait for the end still counts from the VAD


def test_a_quiet_caller_still_gets_the_vad_stamp() -> None:
    detector = TurnDetector()
    ended = [r[1] for i, ch in enumerate("S" * 10 + "." * 40) if (r := detector.feed(FRAME, ch == "S", now=i * 0.02))]
    assert ended[-1].last_speech_at == pytest.approx(9 * 0.02)


def test_a_reply_starts_at_its_sound_not_at_the_synthesisers_opening_quiet() -> None:
    from appliance.voice.turns import lead_trimmed

    quiet, voice = np.full(160 * 4, 30, np.int16), np.full(160 * 10, 3000, np.int16)
    trimmed = lead_trimmed(np.concatenate([quiet, voice]).tobytes())
    assert len(trimmed) == (160 + 1600) * 2  # one frame of the quiet kept
    assert lead_trimmed(voice.tobytes()) == voice.tobytes()
    assert lead_trimmed(bytes(640)) == bytes(640)  # all quiet: nothing to find, nothing cut
