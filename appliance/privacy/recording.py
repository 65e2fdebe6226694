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

from appliance.privacy.pii import cues, find

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


def caller_words(model: WordTranscriber, caller: np.ndarray, rate: int, language: str) -> list[list[Word]]:
    """The caller's utterances (Whisper's segments), each its words with their times in seconds from the start
    of the recording."""
    audio = soxr.resample(caller.astype(np.float32) / 32768.0, rate, WHISPER_RATE, quality="HQ")
    segments, _ = model.transcribe(
        audio,
        language=language.split("-")[0].lower(),
        beam_size=1,
        word_timestamps=True,
        vad_filter=True,
        condition_on_previous_text=False,
    )
    utterances = [[Word(w.start, w.end, w.word) for w in segment.words or []] for segment in segments]
    return [words for words in utterances if words]


def pii_times(utterances: Sequence[Sequence[Word]], kinds: list[str]) -> list[tuple[float, float]]:
    """The (start, end) seconds of every word that is part of personal data of `kinds`; after a cue of a kind
    ("my e-mail is") where no such data was found, the rest of that utterance; and, when numbers are redacted
    (card, phone, ssn), every run of spoken digits long enough to be one. Transcribed a second time, the words
    can differ from the transcript's ("450, 555, 671" for a phone number, "Tom Dot Becker, at example.com"),
    and a bleeped word too many costs less than a card number or an address left audible."""
    words = [w for utterance in utterances for w in utterance]
    text, offsets = _joined(words)
    found: list[tuple[str, float, float]] = []
    for span in find(text, kinds):
        hit = [w for w, (a, b) in zip(words, offsets, strict=True) if a < span.end and b > span.start]
        if hit:
            found.append((span.kind, hit[0].start, hit[-1].end))
    times = [(start, end) for _, start, end in found]
    for utterance in utterances:
        times.extend(_cued_rest(utterance, kinds, found))
    if NUMBER_KINDS & set(kinds):
        times.extend(digit_runs(words))
    return _merged(times)


def _joined(words: Sequence[Word]) -> tuple[str, list[tuple[int, int]]]:
    """The words as one text (the first word's leading space dropped), and each word's (start, end) in it."""
    text, offsets = "", []
    for word in words:
        piece = word.text if text else word.text.lstrip()
        offsets.append((len(text), len(text) + len(piece)))
        text += piece
    return text, offsets


def _merged(times: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping spans as one: each bleep is counted once."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(times):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _cued_rest(
    utterance: Sequence[Word], kinds: list[str], found: list[tuple[str, float, float]]
) -> list[tuple[float, float]]:
    """After each cue in `utterance`, the rest of it, unless data of the cue's kind was found there."""
    text, offsets = _joined(utterance)
    rests = []
    for cue in cues(text, kinds):
        after = [w for w, (at, _) in zip(utterance, offsets, strict=True) if at >= cue.end and w.text.strip(" .,;:!?")]
        if not after:
            continue
        start, end = after[0].start, after[-1].end
        if not any(kind == cue.kind and a < end and b > start for kind, a, b in found):
            rests.append((start, end))
    return rests


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
