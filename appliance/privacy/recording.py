"""Bleeping personal data out of a call's stereo recording, on the caller's channel (the left).

The caller's channel is transcribed again with Whisper's word timestamps, the personal data is found in
those words (the same finder as the transcript's), and each span's time, widened by a margin, is replaced
by a quiet 1 kHz tone. The WAV is rewritten in place, sample for sample at the same offsets, so the spoken
digits do not survive in the file's old blocks.
"""

from __future__ import annotations

import os
import re
import wave
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import soxr

from appliance.privacy.pii import find

MARGIN_S = 0.15  # word timestamps are ±0.1 s: widen each span so no edge of a digit is left
TONE_HZ = 1000
TONE_LEVEL = 0.1  # of full scale: audible as a bleep, never loud
WHISPER_RATE = 16000
NUMBER_KINDS = {"card", "phone", "ssn"}
MIN_RUN_DIGITS = 7  # a phone number without its area code; shorter runs are times, prices, house numbers
DIGIT_WORDS = frozenset("zero oh one two three four five six seven eight nine".split())


class Word(NamedTuple):
    start: float
    end: float
    text: str


class WordTranscriber(Protocol):
    """faster-whisper's WhisperModel (its `transcribe` with word timestamps)."""

    def transcribe(self, audio: Any, **options: Any) -> tuple[Iterable[Any], Any]: ...


def caller_words(model: WordTranscriber, caller: np.ndarray, rate: int, language: str) -> list[Word]:
    """The words on the caller's channel with their times in seconds from the start of the recording."""
    audio = soxr.resample(caller.astype(np.float32) / 32768.0, rate, WHISPER_RATE, quality="HQ")
    segments, _ = model.transcribe(
        audio,
        language=language.split("-")[0].lower(),
        beam_size=1,
        word_timestamps=True,
        vad_filter=True,
        condition_on_previous_text=False,
    )
    return [Word(w.start, w.end, w.word) for segment in segments for w in segment.words or []]


def pii_times(words: Sequence[Word], kinds: list[str]) -> list[tuple[float, float]]:
    """The (start, end) seconds of every word that is part of personal data of `kinds`, and, when numbers
    are redacted (card, phone, ssn), of every run of spoken digits long enough to be one: transcribed a
    second time, the words can differ from the transcript's ("450, 555, 671" for a phone number), and a
    bleeped digit too many costs less than a card number left audible."""
    text, offsets = "", []
    for word in words:
        piece = word.text if text else word.text.lstrip()
        offsets.append((len(text), len(text) + len(piece)))
        text += piece
    times = []
    for span in find(text, kinds):
        hit = [w for w, (a, b) in zip(words, offsets, strict=True) if a < span.end and b > span.start]
        if hit:
            times.append((hit[0].start, hit[-1].end))
    if NUMBER_KINDS & set(kinds):
        times.extend(digit_runs(words))
    return sorted(set(times))


def digit_runs(words: Sequence[Word]) -> list[tuple[float, float]]:
    """Runs of consecutive words made of digits (and number words) holding MIN_RUN_DIGITS digits or more."""
    runs, run, digits = [], [], 0
    for word in [*words, Word(0, 0, "")]:
        token = re.sub(r"[^0-9a-z]", "", word.text.casefold())
        if token and (token.isdigit() or token in DIGIT_WORDS):
            run.append(word)
            digits += len(token) if token.isdigit() else 1
            continue
        if digits >= MIN_RUN_DIGITS:
            runs.append((run[0].start, run[-1].end))
        run, digits = [], 0
    return runs


def bleep(path: Path, times: Sequence[tuple[float, float]]) -> None:
    """Replace the caller's channel over `times` with the tone, in place."""
    with wave.open(str(path), "rb") as w:
        rate, channels, frames = w.getframerate(), w.getnchannels(), w.getnframes()
    data_start = path.stat().st_size - frames * channels * 2  # the header precedes the 16-bit samples
    with path.open("r+b") as f:
        for start, end in times:
            first = max(0, int((start - MARGIN_S) * rate))
            last = min(frames, int((end + MARGIN_S) * rate))
            if last <= first:
                continue
            f.seek(data_start + first * channels * 2)
            block = np.frombuffer(f.read((last - first) * channels * 2), dtype=np.int16).reshape(-1, channels).copy()
            t = np.arange(first, first + len(block)) / rate
            block[:, 0] = (np.sin(2 * np.pi * TONE_HZ * t) * TONE_LEVEL * 32767).astype(np.int16)
            f.seek(data_start + first * channels * 2)
            f.write(block.tobytes())
        f.flush()
        os.fsync(f.fileno())


def redact_recording(path: Path, kinds: list[str], model: WordTranscriber, language: str) -> int:
    """Bleep the personal data of `kinds` said by the caller in the recording at `path`; the number of spans."""
    with wave.open(str(path), "rb") as w:
        rate, channels = w.getframerate(), w.getnchannels()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, channels)
    times = pii_times(caller_words(model, samples[:, 0], rate, language), kinds)
    bleep(path, times)
    return len(times)
