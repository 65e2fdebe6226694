"""Smart Turn v3.2 on 8 kHz phone audio: a finished sentence reads as more complete than the same words
stopped mid-phrase."""

from __future__ import annotations

import pytest

from appliance import models
from appliance.telephony.carrier.person import espeak
from appliance.telephony.g711 import ulaw_decode, ulaw_encode
from appliance.voice.smart_turn import FRAMES, SmartTurn

PAUSE = bytes(3200)  # the 200 ms pause at which the check runs


@pytest.fixture(scope="module")
def smart_turn() -> SmartTurn:
    try:
        return SmartTurn(models.wheel_model(models.SMART_TURN))
    except models.ModelMissing as exc:
        pytest.skip(str(exc))


def phone(text: str) -> bytes:
    return ulaw_decode(ulaw_encode(espeak(text) + PAUSE))


def test_a_finished_number_is_complete_and_a_number_cut_short_is_not(smart_turn: SmartTurn) -> None:
    whole = smart_turn.p_complete(phone("My number is five five five, one two three four."))
    cut = smart_turn.p_complete(phone("My number is five five five"))
    # On either side of the 0.5 the end-of-turn rule uses. (A margin of 0.4 held on earlier machines; on this
    # one the same espeak-ng lines read 0.63 and 0.32: the scores move with the machine, the side does not.)
    assert whole >= 0.5 > cut


def test_features_are_eight_seconds_whatever_the_turn_length(smart_turn: SmartTurn) -> None:
    assert smart_turn.features(phone("Yes.")).shape == (80, FRAMES)
    assert smart_turn.features(phone("Yes.") * 8).shape == (80, FRAMES)
