"""Silero VAD v6 on 8 kHz phone frames, on onnxruntime: speech in a spoken line, none in silence or hiss."""

from __future__ import annotations

import numpy as np
import pytest

from appliance import models
from appliance.telephony.carrier.person import espeak
from appliance.telephony.g711 import ulaw_decode, ulaw_encode
from appliance.voice.call_audio import FRAME_BYTES
from appliance.voice.silero import SileroModel, SileroVad


@pytest.fixture(scope="module")
def model() -> SileroModel:
    try:
        return SileroModel(models.wheel_model(models.SILERO_VAD))
    except models.ModelMissing as exc:
        pytest.skip(str(exc))


def decisions(vad: SileroVad, pcm: bytes) -> list[bool]:
    return [vad.is_speech(pcm[i : i + FRAME_BYTES]) for i in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES)]


def test_a_spoken_line_is_speech_and_the_silence_around_it_is_not(model: SileroModel) -> None:
    line = ulaw_decode(ulaw_encode(espeak("Yes, that works for me. See you on Friday.")))
    flags = decisions(SileroVad(model), bytes(16000) + line + bytes(16000))
    before, during = flags[:50], flags[50 : 50 + len(line) // FRAME_BYTES]
    assert not any(before)
    assert sum(during) > 0.6 * len(during)
    assert not any(flags[-25:])  # speech ends within a second of the words


def test_line_hiss_is_not_speech(model: SileroModel) -> None:
    noise = np.random.default_rng(1).normal(0, 600, 8000 * 3).astype(np.int16).tobytes()
    flags = decisions(SileroVad(model), ulaw_decode(ulaw_encode(noise)))
    assert sum(flags) == 0


def test_interleaved_streams_decide_as_each_would_alone(model: SileroModel) -> None:
    """Calls share the network, not the recurrent state."""
    line, other = espeak("Could we do Friday instead?"), espeak("My number is five five five.")
    alone = decisions(SileroVad(model), line)
    a, b = SileroVad(model), SileroVad(model)
    mixed = []
    for i in range(len(alone)):
        mixed.append(a.is_speech(line[i * FRAME_BYTES : (i + 1) * FRAME_BYTES]))
        b.is_speech(other[i * FRAME_BYTES : (i + 1) * FRAME_BYTES].ljust(FRAME_BYTES, b"\0"))
    assert mixed == alone
    assert any(alone)
