from __future__ import annotations

import pytest

from appliance.telephony.causes import hangup_cause_text, outcome_for


@pytest.mark.parametrize(
    ("cause", "tech", "status", "code"),
    [
        (17, 486, "busy", None),
        (21, 603, "busy", None),
        (17, 600, "busy", None),
        (19, 480, "no_answer", None),
        (19, None, "no_answer", None),
        (18, 408, "no_answer", None),
        (1, 404, "failed", "invalid_number"),
        (34, 503, "failed", "carrier_unavailable"),
        (58, 488, "failed", "codec_mismatch"),
        (99, None, "failed", "call_failed"),
    ],
)
def test_cause_maps_to_status(cause: int, tech: int | None, status: str, code: str | None) -> None:
    outcome = outcome_for(cause, tech)
    assert outcome.status == status and outcome.error_code == code
    if status == "failed":
        assert outcome.error_message


def test_hangup_cause_text_carries_the_sip_code() -> None:
    assert hangup_cause_text(17, "User busy", 486) == "17 User busy (SIP 486)"
    assert hangup_cause_text(19, None, None) == "19"
