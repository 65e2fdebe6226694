"""Smart Turn v3.2: has the caller finished their turn, judged from the sound of it (intonation, a
trailing "and…"), not from the words.

As pipecat-ai 1.14.0 runs it (`local_smart_turn_v3.py`): 16 kHz audio, the last 8 s (zeros in front
when shorter), normalised to zero mean and unit variance, 80 Whisper log-mel bins by 800 frames, and a
sigmoid out. pipecat computes the features with a numpy port of transformers' WhisperFeatureExtractor
(`_whisper_features.py`); faster-whisper's FeatureExtractor on the normalised audio gives the same
numbers (max difference 1.8e-7 on an 8 s sample), so we use it instead of a third copy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import soxr
from faster_whisper.feature_extractor import FeatureExtractor

from appliance.voice.call_audio import SAMPLE_RATE

RATE = 16000
WINDOW_S = 8
FRAMES = 800


class SmartTurn:
    """One loaded model; `p_complete` may be called from several threads at once."""

    def __init__(self, path: Path) -> None:
        opts = ort.SessionOptions()
        # One thread: ≈ 60 ms a check on a core, and the other core is Whisper's or the LLM's.
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._features = FeatureExtractor(feature_size=80, chunk_length=WINDOW_S)

    def features(self, pcm8k: bytes) -> np.ndarray:
        audio = np.frombuffer(pcm8k, np.int16).astype(np.float32) / 32768.0
        audio = soxr.resample(audio, SAMPLE_RATE, RATE, quality="HQ")[-WINDOW_S * RATE :]
        audio = np.pad(audio, (WINDOW_S * RATE - len(audio), 0))
        audio = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)
        return self._features(audio, padding=0)[:, :FRAMES].astype(np.float32)

    def p_complete(self, pcm8k: bytes) -> float:
        """The probability that the turn in `pcm8k` (8 kHz PCM16, up to now) is complete."""
        (logits,) = self.session.run(None, {"input_features": self.features(pcm8k)[None]})
        return float(np.asarray(logits).reshape(-1)[0])
