"""Silero VAD v6 at the phone's 8 kHz, on onnxruntime (the `silero-vad` package itself wants torch).

The model is recurrent: each call reads 256 new samples (32 ms) behind the last 32 samples of the
previous window, and carries a (2, 1, 128) state on. Layout as in silero-vad 6.2.3
`utils_vad.OnnxWrapper`: input = concat(context, window), state, sr. Our frames are 20 ms, so samples
queue until a window is full and each frame is judged by the latest window's probability.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from appliance.voice.call_audio import SAMPLE_RATE

RATE = SAMPLE_RATE  # Silero v6 runs at the line's 8 kHz directly
WINDOW = 256
CONTEXT = 32


class SileroModel:
    """The loaded network, shared by every call's `SileroVad` (onnxruntime's `run` is thread-safe)."""

    def __init__(self, path: Path) -> None:
        opts = ort.SessionOptions()
        # One thread each: it is ≈ 0.1 ms a window, and the cores belong to Whisper and the LLM.
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._sr = np.array(RATE, dtype=np.int64)

    def run(self, window: np.ndarray, state: np.ndarray) -> tuple[float, np.ndarray]:
        out, new_state = self.session.run(None, {"input": window[None, :], "state": state, "sr": self._sr})
        return float(out[0, 0]), new_state


class SileroVad:
    """One stream's speech decisions on 20 ms PCM16 frames, with Silero's hysteresis: speech from
    `threshold`, silence again only below `threshold - 0.15` (as its VADIterator)."""

    def __init__(self, model: SileroModel, threshold: float = 0.5) -> None:
        self.model = model
        self.threshold = threshold
        self.probability = 0.0
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._speech = False

    def feed(self, pcm: bytes) -> float:
        """Queue a frame; run every full window; return the latest speech probability."""
        samples = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768.0
        self._pending = np.concatenate([self._pending, samples])
        while len(self._pending) >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            framed = np.concatenate([self._context, window])
            self.probability, self._state = self.model.run(framed, self._state)
            self._context = framed[-CONTEXT:]
        return self.probability

    def is_speech(self, pcm: bytes) -> bool:
        p = self.feed(pcm)
        self._speech = p >= self.threshold or (self._speech and p >= self.threshold - 0.15)
        return self._speech
