"""The agent's voice on the line: queued chunks with their text, pause/resume for barge-in, and an
account of exactly what the caller heard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from appliance.voice.call_audio import SAMPLE_RATE, CallMedia
from appliance.voice.recorder import StereoRecorder
from appliance.voice.text import heard_part


@dataclass
class Chunk:
    text: str
    pcm: bytes
    start: int = 0  # play positions (samples since the endpoint opened)
    end: int = 0
    on_start: Callable[[float], None] | None = None  # told (clock time) when it is to start playing


class Speaker:
    def __init__(self, media: CallMedia, recorder: StereoRecorder, clock: Callable[[], float] | None = None) -> None:
        self.media = media
        self.recorder = recorder
        self._clock = clock  # the clock of the caller frames' arrival times, for the recording
        self._queued: list[Chunk] = []  # sent to the line, maybe not played yet
        self._held: list[Chunk] = []  # waiting while paused
        self.paused = False
        self.heard: list[str] = []  # the current reply's chunks the caller has heard whole
        self._cut = ""  # the heard start of a chunk that the pause cut mid-way

    @property
    def audible(self) -> bool:
        """Agent audio is (about to be) on the line."""
        return self.media.sending or bool(self._held)

    def say(self, text: str, pcm: bytes, on_start: Callable[[float], None] | None = None) -> bool:
        """Queue a chunk; returns True when it started playing at once (nothing ahead of it). `on_start` is
        told when it will start: behind other audio, or held by a pause, that is later than now."""
        chunk = Chunk(text, pcm, on_start=on_start)
        if self.paused:
            self._held.append(chunk)
            return False
        return self._send(chunk)

    def _send(self, chunk: Chunk) -> bool:
        immediate = not self.media.sending
        chunk.end = self.media.send(chunk.pcm)
        chunk.start = chunk.end - len(chunk.pcm) // 2
        if chunk.on_start is not None and self._clock is not None:
            chunk.on_start(self._clock() + max(0, chunk.start - self.media.samples_sent) / SAMPLE_RATE)
        self.recorder.agent(chunk.pcm, self._clock() if self._clock else None)
        self._queued.append(chunk)
        return immediate

    def pause(self) -> None:
        """Stop the audio now, keeping what was not played to resume it."""
        if self.paused:
            return
        self.paused = True
        self.media.clear()
        self.recorder.agent_cleared(self._clock() if self._clock else None)
        played = self.media.samples_sent
        unplayed: list[Chunk] = []
        self._cut = ""
        for chunk in self._queued:
            if chunk.end <= played:
                self.heard.append(chunk.text)
            elif chunk.start >= played:  # not begun: told again when it is sent again
                unplayed.append(Chunk(chunk.text, chunk.pcm, on_start=chunk.on_start))
            else:  # cut mid-way: resume from the cut; if it stays cut, the caller heard the first part
                self._cut = heard_part(chunk.text, (played - chunk.start) / max(1, chunk.end - chunk.start))
                unplayed.append(Chunk(chunk.text, chunk.pcm[(played - chunk.start) * 2 :]))
        self._queued = []
        self._held = unplayed + self._held

    def resume(self) -> None:
        """A backchannel, not an interruption: play on from where it stopped."""
        self.paused = False
        self._cut = ""
        held, self._held = self._held, []
        for chunk in held:
            self._send(chunk)

    def stop(self) -> str:
        """Barge-in confirmed: drop everything; returns what the caller heard of the reply."""
        self.pause()
        heard = " ".join([*self.heard, self._cut]).strip()
        self._held = []
        self.paused = False
        self.reset()
        return heard

    def reset(self) -> None:
        """A new reply starts."""
        self.heard = []
        self._queued = []
        self._cut = ""
