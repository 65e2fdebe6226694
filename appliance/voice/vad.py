"""Voice activity on 20 ms frames of 8 kHz PCM16 (webrtcvad runs at telephone rate directly)."""

from __future__ import annotations

import webrtcvad

from appliance.voice.call_audio import FRAME_BYTES, SAMPLE_RATE


class Vad:
    def __init__(self, aggressiveness: int = 2) -> None:
        # 2 of 0..3: phone lines carry hiss and comfort noise that mode 0/1 take for speech.
        self._vad = webrtcvad.Vad(aggressiveness)

    def is_speech(self, frame: bytes) -> bool:
        if len(frame) != FRAME_BYTES:
            return False  # a short packet at the edges of the call; never worth a decision
        return self._vad.is_speech(frame, SAMPLE_RATE)
