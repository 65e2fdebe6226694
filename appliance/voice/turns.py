"""Turn-taking from VAD decisions on 20 ms frames: when the caller starts talking, pauses, resumes, and
when their turn is over.

A pause is the moment to transcribe (and to start a reply speculatively); the turn ends after
`end_ms` of silence, or after the shorter `complete_end_ms` once the session has said the words so
far form a complete sentence. Everything is counted in frames, so the logic is exact and testable
without a clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from appliance.voice.call_audio import BYTES_PER_SECOND, FRAME_BYTES, FRAME_MS, FRAME_SECONDS

# Loud enough to be heard as speech on the line (the level a wire meter counts, ../shared/tools/rtp_latency.py).
# webrtcvad goes on calling frames speech for 40-420 ms after the words end (espeak-ng and Piper lines), so the end
# of what the caller said, where reply latency starts, is their last frame that is speech and this loud.
VOICED_RMS = 300.0


def loud(pcm: bytes) -> bool:
    samples = np.frombuffer(pcm, np.int16).astype(np.float32)
    return bool(len(samples)) and float(np.sqrt(np.mean(samples**2))) >= VOICED_RMS


def lead_quiet(pcm: bytes) -> float:
    """Seconds before the first loud 20 ms frame (0 when none is loud)."""
    frames = len(pcm) // FRAME_BYTES
    return next((i for i in range(frames) if loud(pcm[i * FRAME_BYTES : (i + 1) * FRAME_BYTES])), 0) * FRAME_SECONDS


def trailing_quiet(pcm: bytes) -> float:
    """Seconds after the last loud 20 ms frame (0 when none is loud): synthesised lines end in 0.1-0.5 s of
    near-silence, which is not speech."""
    frames = len(pcm) // FRAME_BYTES
    last = next((i for i in reversed(range(frames)) if loud(pcm[i * FRAME_BYTES : (i + 1) * FRAME_BYTES])), None)
    return 0.0 if last is None else (len(pcm) - (last + 1) * FRAME_BYTES) / BYTES_PER_SECOND


def lead_trimmed(pcm: bytes, keep_ms: int = 20) -> bytes:
    """Audio from `keep_ms` before its first loud 20 ms frame: the quiet a synthesiser opens with is time
    the caller spends waiting."""
    first = round(lead_quiet(pcm) * 1000) // FRAME_MS
    return pcm[max(0, first - keep_ms // FRAME_MS) * FRAME_BYTES :]


@dataclass(frozen=True)
class TurnConfig:
    start_ms: int = 100  # speech within the start window before we say the caller is talking
    start_window_ms: int = 160
    resume_ms: int = 60  # consecutive speech that counts as resuming after a pause
    pause_ms: int = 200
    complete_end_ms: int = 300
    end_ms: int = 700
    preroll_ms: int = 200  # audio kept from before the start, so the first syllable is not cut
    max_turn_ms: int = 30_000  # a monologue is cut into turns this long


class TurnEvent(Enum):
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    ENDED = "ended"


@dataclass
class Turn:
    """The caller's current (or just finished) utterance."""

    audio: bytearray = field(default_factory=bytearray)  # PCM16 8 kHz from the pre-roll on
    speech_frames: int = 0
    started_frame: int = 0
    last_speech_frame: int = 0  # the VAD's: the end-of-turn wait counts from here
    # Arrival of the last voiced frame (the VAD's last until one was loud): reply latency starts here.
    last_speech_at: float = 0.0
    voiced: bool = False  # a frame of the turn was loud

    @property
    def speech_ms(self) -> int:
        return self.speech_frames * FRAME_MS


class TurnDetector:
    def __init__(self, config: TurnConfig | None = None) -> None:
        self.config = c = config or TurnConfig()
        self._start_frames = c.start_ms // FRAME_MS
        self._window: deque[bool] = deque(maxlen=c.start_window_ms // FRAME_MS)
        # The start window's frames are in here too: keep `preroll_ms` before the window besides.
        self._preroll: deque[bytes] = deque(maxlen=(c.preroll_ms + c.start_window_ms) // FRAME_MS)
        self.frame_no = 0
        self.turn: Turn | None = None
        self._run = 0  # consecutive speech frames
        self._paused = False
        self._complete = False

    @property
    def in_turn(self) -> bool:
        return self.turn is not None

    def mark_complete(self, complete: bool = True) -> None:
        """The transcript at the current pause ends a sentence: end the turn after the short wait."""
        if self.turn is not None and self._paused:
            self._complete = complete

    def feed(self, pcm: bytes, speech: bool, now: float = 0.0) -> tuple[TurnEvent, Turn] | None:
        self.frame_no += 1
        c = self.config
        if self.turn is None:
            self._window.append(speech)
            self._preroll.append(pcm)
            if speech and sum(self._window) >= self._start_frames:
                self.turn = Turn(
                    audio=bytearray(b"".join(self._preroll)),
                    speech_frames=sum(self._window),
                    started_frame=self.frame_no,
                    last_speech_frame=self.frame_no,
                    last_speech_at=now,
                    voiced=loud(pcm),
                )
                self._preroll.clear()
                self._window.clear()
                self._run = 0
                self._paused = self._complete = False
                return TurnEvent.STARTED, self.turn
            return None
        turn = self.turn
        turn.audio += pcm
        if speech:
            self._run += 1
            turn.speech_frames += 1
            if self._paused and self._run * FRAME_MS < c.resume_ms:
                return None  # a click during a pause neither resumes the turn nor restarts the wait
            turn.last_speech_frame = self.frame_no
            if loud(pcm):
                turn.voiced, turn.last_speech_at = True, now
            elif not turn.voiced:
                turn.last_speech_at = now
            if self._paused:
                self._paused = self._complete = False
                return TurnEvent.RESUMED, turn
            if (self.frame_no - turn.started_frame) * FRAME_MS >= c.max_turn_ms:
                return self._end()
            return None
        self._run = 0
        silence_ms = (self.frame_no - turn.last_speech_frame) * FRAME_MS
        if not self._paused and silence_ms >= c.pause_ms:
            self._paused = True
            return TurnEvent.PAUSED, turn
        if silence_ms >= (c.complete_end_ms if self._complete else c.end_ms):
            return self._end()
        return None

    def _end(self) -> tuple[TurnEvent, Turn]:
        turn = self.turn
        assert turn is not None
        # Keep a little trailing silence (Whisper likes it), drop the rest.
        keep = (self.frame_no - turn.last_speech_frame) - 5
        if keep > 0:
            del turn.audio[len(turn.audio) - keep * FRAME_MS * 16 :]
        self.turn = None
        self._paused = self._complete = False
        self._run = 0
        return TurnEvent.ENDED, turn
