"""Speech-to-text with Whisper (CTranslate2, int8 on the CPU) on 8 kHz phone turns.

Whisper is trained on 30 s windows and faster-whisper always pads to one, which costs ≈ 0.45 s on
two cores whatever the turn's length. A phone turn is a few seconds, so we give the encoder only the
turn plus 4 s of padding (6 s at least): several times faster than stock (bench/stt.py).

The price is Whisper's habit of looping into the padding on short answers ("nine" → "9 9 9 9 9 9"),
which decoding without timestamps made worse: on recorded human speech WER was 32 % against stock's
9 %. So we decode with timestamps, as stock does, and read them: a segment that starts after the
audio ends is padding and is dropped, and a segment still open when the token budget ran out is a
loop (a real one closes with its end time), cut back to the phrase it repeats.
"""

from __future__ import annotations

import re
from pathlib import Path

import ctranslate2
import numpy as np
import soxr
from faster_whisper import WhisperModel

from appliance.voice.call_audio import SAMPLE_RATE
from appliance.voice.speech_first import SpeechFirst

WHISPER_RATE = 16000
FRAMES_PER_SECOND = 100  # mel frames
PAD_FRAMES = 400
MIN_FRAMES = 600
MAX_FRAMES = 3000


def _key(sentence: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", sentence.lower()).strip()


def _periodic_prefix(parts: list[str]) -> list[str]:
    """The shortest run of parts that the rest only repeats (the last repeat may be cut short)."""
    keys = [_key(s) for s in parts]
    for period in range(1, len(parts) // 2 + 1):
        if all(
            keys[i] == keys[i % period] or (i == len(keys) - 1 and keys[i % period].startswith(keys[i]))
            for i in range(period, len(keys))
        ):
            return parts[:period]
    return parts


def collapse_repeats(text: str) -> str:
    """'Hello? Who is this? Hello? Who is this' → 'Hello? Who is this?': whole sentences said again."""
    return " ".join(_periodic_prefix([s.strip() for s in re.findall(r"[^.?!]+[.?!]*", text) if s.strip()]))


def cut_loop(text: str) -> str:
    """'19, 19, 19, 19' → '19', 'The number 3, 3, 3' → 'The number 3': a segment that never closed ends
    in a phrase said over and over, commas and all. Kept once, from where the repeating starts."""
    clauses = [s.strip() for s in re.findall(r"[^.?!,;…]+[.?!,;…]*", text) if s.strip()]
    for start in range(len(clauses) - 1):
        tail = _periodic_prefix(clauses[start:])
        if len(tail) < len(clauses) - start:
            return " ".join(clauses[:start] + tail).rstrip(",; ")
    return text


class Transcriber:
    """One loaded Whisper model; CTranslate2 releases the GIL, so call `transcribe` from a thread."""

    def __init__(self, model_dir: Path, threads: int = 2, priority: SpeechFirst | None = None) -> None:
        self.whisper = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
        self._priority = priority or SpeechFirst()  # alone (bench/stt.py): nobody waits on it
        self._model = self.whisper.model
        self._tokenizer = self.whisper.hf_tokenizer
        self._features = self.whisper.feature_extractor
        self._timestamp_begin = self._tokenizer.token_to_id("<|notimestamps|>") + 1  # <|0.00|>, then 20 ms steps
        self._last = self._tokenizer.get_vocab_size()

    def _prompt(self, language: str) -> list[int]:
        t = self._tokenizer.token_to_id
        if not self._model.is_multilingual:
            return [t("<|startoftranscript|>")]
        lang = t(f"<|{language.split('-')[0].lower()}|>") or t("<|en|>")
        return [t("<|startoftranscript|>"), lang, t("<|transcribe|>")]

    def _read(self, ids: list[int], audio_seconds: float) -> str:
        """The words of a timestamped decode, without what Whisper placed in the padding or looped on."""
        segments: list[str] = []
        current: list[int] = []
        for token in ids:
            if token < self._timestamp_begin:
                current.append(token)
                continue
            if current:
                segments.append(self._tokenizer.decode(current).strip())
                current = []
            if (token - self._timestamp_begin) * 0.02 >= audio_seconds:
                break  # a segment that starts (or an end) past the audio: what follows is padding
        else:
            if current:  # still open when the budget ran out: a loop
                segments.append(cut_loop(self._tokenizer.decode(current).strip()))
        return collapse_repeats(" ".join(s for s in segments if s))

    def transcribe(self, pcm8k: bytes, language: str = "en") -> str:
        audio = np.frombuffer(pcm8k, dtype=np.int16).astype(np.float32) / 32768.0
        if len(audio) < 1600:  # under 0.2 s: nothing Whisper can read, and it tends to hallucinate
            return ""
        audio16 = soxr.resample(audio, SAMPLE_RATE, WHISPER_RATE, quality="HQ")
        speech_frames = len(audio16) * FRAMES_PER_SECOND // WHISPER_RATE
        frames = min(MAX_FRAMES, max(MIN_FRAMES, speech_frames + PAD_FRAMES))
        padded = np.zeros(frames * WHISPER_RATE // FRAMES_PER_SECOND, dtype=np.float32)
        padded[: min(len(audio16), len(padded))] = audio16[: len(padded)]
        with self._priority.speech():
            mel = np.ascontiguousarray(self._features(padded, padding=0)[None, :, :frames])
            result = self._model.generate(
                ctranslate2.StorageView.from_array(mel),
                [self._prompt(language)],
                beam_size=1,
                # Fast speech is ≈ 5 tokens a second; each segment adds two timestamps.
                max_length=12 + 10 * speech_frames // FRAMES_PER_SECOND,
                return_no_speech_prob=True,
                # No segment may end past the audio (the window's end is not the 30 s Whisper expects,
                # and it would place words there): the model's own suppressions, plus those timestamps.
                suppress_tokens=[
                    -1,
                    *range(self._timestamp_begin + int((len(audio) / SAMPLE_RATE + 0.3) / 0.02), self._last),
                ],
            )[0]
        if result.no_speech_prob > 0.8:
            return ""
        return self._read(result.sequences_ids[0], len(audio) / SAMPLE_RATE)
