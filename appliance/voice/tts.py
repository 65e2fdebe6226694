"""Piper text-to-speech, resampled to the 8 kHz of the phone line (soxr)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import soxr
from piper import PiperVoice

from appliance.voice.call_audio import SAMPLE_RATE
from appliance.voice.speech_first import SpeechFirst

LINE_RATE = SAMPLE_RATE
PHRASE_WORDS = 3  # "Great!", "You're welcome!", "I see.": short first chunks that recur from call to call


class Synthesizer:
    """One loaded Piper voice. onnxruntime releases the GIL: call `synthesize` from a worker thread."""

    def __init__(self, onnx_path: Path, priority: SpeechFirst | None = None, phrases: int = 0) -> None:
        """`phrases`: how many short phrases to keep once synthesised (their audio is what a caller waits for
        when a reply opens with one; 0 for none)."""
        self.voice = PiperVoice.load(str(onnx_path))
        self._lock = threading.Lock()  # one onnx session per voice; runs are short, so serialise them
        self._priority = priority or SpeechFirst()  # alone (a console voice sample): nobody waits on it
        self._phrases: OrderedDict[str, bytes] = OrderedDict()
        self._max_phrases = phrases
        self._phrases_lock = threading.Lock()

    def synthesize(self, text: str) -> bytes:
        """PCM16 at 8 kHz for `text`."""
        if not self._max_phrases or len(text.split()) > PHRASE_WORDS:
            return self._synthesize(text)
        with self._phrases_lock:
            if (kept := self._phrases.get(text)) is not None:
                self._phrases.move_to_end(text)
                return kept
        pcm = self._synthesize(text)
        with self._phrases_lock:
            self._phrases[text] = pcm
            while len(self._phrases) > self._max_phrases:
                self._phrases.popitem(last=False)
        return pcm

    def _synthesize(self, text: str) -> bytes:
        with self._priority.speech(), self._lock:
            chunks = [(c.audio_int16_array, c.sample_rate) for c in self.voice.synthesize(text)]
        if not chunks:
            return b""
        audio = np.concatenate([a for a, _ in chunks]).astype(np.float32) / 32768.0
        line = soxr.resample(audio, chunks[0][1], LINE_RATE, quality="HQ")
        return (np.clip(line, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
