"""Who answered an outbound call: a person or a machine. Signals combined, never one alone:

- a beep: a steady tone 300-2,000 Hz held for at least 160 ms (the "record after the tone" beep);
- the words of the greeting (Whisper): typical voicemail and carrier phrases;
- the shape of the greeting: a person says a short "Hello?" and waits; a machine talks on.
Every verdict carries the signal that decided it, for the call's events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jellyfish
import numpy as np

from appliance.voice.call_audio import SAMPLE_RATE, SAMPLES_PER_FRAME
from appliance.voice.text import words

BEEP_MIN_FRAMES = 8  # 160 ms of 20 ms frames
BEEP_BAND = (300.0, 2000.0)
# Share of the frame's energy within one 50 Hz bin of its peak. A sine wave through G.711 keeps
# ≥ 0.98; voiced speech reaches 0.9 only on single frames, but at 0.6 a held "Hmm" (its 400 Hz harmonic
# strongest) passed for 160 ms and hung up on a person as a "400 Hz tone".
BEEP_PURITY = 0.9
BEEP_MIN_RMS = 300.0
# A greeting still in progress is read again and again, so "leave a message" decides while it is said:
PROBE_FIRST_MS = 600  # speech before the first read (no phrase is shorter)
PROBE_STEP_MS = 300  # new speech before the next read (and each read waits for the one before)
PROBE_WINDOW_MS = 3000  # only the greeting's last seconds are read: a phrase fits, the cost stays flat
LONG_GREETING_MS = 6500  # longer than a receptionist's "Good morning, Bright Smile Dental, this is Jenny…"
SHORT_GREETING_MS = 1800

VOICEMAIL_PHRASES = [
    "leave a message",
    "leave your message",
    "leave me a message",
    "after the tone",
    "after the beep",
    "at the tone",
    "not available",
    "unavailable",
    "can't take your call",
    "cannot take your call",
    "can't come to the phone",
    "reached the voicemail",
    "voicemail",
    "voice mail",
    "mailbox",
    "record your message",
    "you have reached",
    "you've reached",
    "the person you are calling",
    "customer you are calling",
    "subscriber you are calling",
    "party you are calling",
    "the number you have dialed",
    "is not in service",
    "please try again later",
    "currently closed",
    "office hours",
    "our hours are",
    "business hours",
    "away from the phone",
    "not here right now",
    "get back to you",
    "missed your call",
    # A full mailbox says so and plays no beep.
    "mailbox is full",
    "cannot accept",
    "can't accept",
    "not accepting",
    "accept any messages",
    "accept new messages",
    "accept more messages",
    # Misheard, a greeting's "leave a message" keeps its last word ("I did not need my message").
    "message",
]
# Words a person could say too ("he is not available"): trusted only in the greeting itself. The
# others can still turn a "human" verdict into "machine" while the verdict is not final.
WEAK_PHRASES = {"not available", "unavailable", "please try again later", "get back to you", "message"}
_PHRASES = [" ".join(words(p)) for p in VOICEMAIL_PHRASES]
_STRONG = [" ".join(words(p)) for p in VOICEMAIL_PHRASES if p not in WEAK_PHRASES]


def _sounds(said: list[str]) -> list[str]:
    return [jellyfish.metaphone(w.replace("'", "")) for w in said]


_SOUNDS = {p: "".join(_sounds(p.split())) for p in _PHRASES}


def _sounds_like(phrase: str, said: list[str], sounds: list[str]) -> bool:
    """The phrase's sound (Metaphone) is a run of whole words of what was heard: phone audio turns
    "mailbox" into "male box" and "message" into "massage", which Metaphone reads alike."""
    key = _SOUNDS[phrase]
    if len(key) < 4:  # too short to tell from chance
        return False
    for start in range(len(sounds)):
        joined = ""
        for code in sounds[start:]:
            joined += code
            if joined == key:
                return True
            if len(joined) >= len(key):
                break
    return False


@dataclass(frozen=True)
class Verdict:
    answered_by: str  # "human" | "machine" | "unknown"
    signal: str  # what decided: beep | greeting_phrase | long_greeting | short_greeting | no_greeting
    detail: str = ""


class BeepDetector:
    """Feeds on 20 ms frames of 8 kHz PCM16; `beeped` turns true once a steady tone was held."""

    def __init__(self) -> None:
        self._run = 0
        self._freq = 0.0
        self.beeped = False
        self.frequency: float | None = None
        self._window = np.hanning(SAMPLES_PER_FRAME)
        self._bins = np.fft.rfftfreq(SAMPLES_PER_FRAME, 1 / SAMPLE_RATE)

    def feed(self, pcm: bytes) -> bool:
        samples = np.frombuffer(pcm, np.int16).astype(np.float32)
        if len(samples) != SAMPLES_PER_FRAME or float(np.sqrt(np.mean(samples**2))) < BEEP_MIN_RMS:
            self._run = 0
            return self.beeped
        power = np.abs(np.fft.rfft(samples * self._window)) ** 2
        peak = int(np.argmax(power))
        freq = float(self._bins[peak])
        near = power[max(0, peak - 1) : peak + 2].sum()  # bins are 50 Hz wide
        tonal = BEEP_BAND[0] <= freq <= BEEP_BAND[1] and near / max(power.sum(), 1e-9) >= BEEP_PURITY
        if tonal and (self._run == 0 or abs(freq - self._freq) <= 60):
            self._run += 1
            self._freq = freq
        else:
            self._run = 1 if tonal else 0
            self._freq = freq
        if self._run >= BEEP_MIN_FRAMES and not self.beeped:
            self.beeped, self.frequency = True, freq
        return self.beeped


def voicemail_phrase(text: str, strong_only: bool = False) -> str | None:
    heard = words(text)
    said, sounds = f" {' '.join(heard)} ", _sounds(heard)
    phrases = _STRONG if strong_only else _PHRASES
    return next((p for p in phrases if f" {p} " in said or _sounds_like(p, heard, sounds)), None)


def phrase_verdict(text: str, decided: bool) -> Verdict | None:
    """Machine when the words are a voicemail greeting's. Once a verdict was given (a person seemed to
    answer), only the strong phrases can overturn it."""
    if phrase := voicemail_phrase(text, strong_only=decided):
        return Verdict("machine", "late_greeting_phrase" if decided else "greeting_phrase", phrase)
    return None


class GreetingProbes:
    """When to read a greeting still in progress, and which of its audio (8 kHz PCM16)."""

    def __init__(self) -> None:
        self._next_ms = PROBE_FIRST_MS

    def due(self, speech_ms: int, reading: bool) -> bool:
        if reading or speech_ms < self._next_ms:
            return False
        self._next_ms = speech_ms + PROBE_STEP_MS
        return True

    @staticmethod
    def window(audio: bytes) -> bytes:
        return audio[-PROBE_WINDOW_MS * 16 :]  # 16 bytes a millisecond


def classify_greeting(text: str, speech_ms: int, finished: bool) -> Verdict | None:
    """A verdict from the callee's first words, or None when it is too early to say."""
    if phrase := voicemail_phrase(text):
        return Verdict("machine", "greeting_phrase", phrase)
    if speech_ms >= LONG_GREETING_MS:
        return Verdict("machine", "long_greeting", f"{speech_ms} ms of speech before any reply")
    if finished and speech_ms <= SHORT_GREETING_MS:
        return Verdict("human", "short_greeting", re.sub(r"\s+", " ", text)[:80])
    if finished:
        return Verdict("human", "greeting_then_pause", re.sub(r"\s+", " ", text)[:80])
    return None
