"""The simulated person's own end-of-speech stamp: where its voice stops, not where its clip does."""

from __future__ import annotations

import numpy as np
import pytest

from appliance.telephony.carrier.person import espeak
from appliance.voice.turns import trailing_quiet


def test_trailing_quiet_is_the_clip_after_its_last_loud_frame() -> None:
    clip = np.concatenate([np.full(8000, 2000, np.int16), np.full(2400, 50, np.int16)]).tobytes()
    assert trailing_quiet(clip) == pytest.approx(0.3)
    assert trailing_quiet(bytes(1600)) == 0.0


def test_espeak_lines_end_in_quiet_that_is_not_speech() -> None:
    assert 0.1 < trailing_quiet(espeak("Yes, that works for me.")) < 1.0
