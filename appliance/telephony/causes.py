"""How a call that was never answered ended: Q.850 cause (from ChannelDestroyed) → status and error fields.

Asterisk maps SIP responses to causes (res_pjsip.c `ast_sip_hangup_sip2cause`): 486/600 → 17, 603 → 21,
404 → 1, 480 → 19, 408 → 18, 503 → 34, ring timeout → 19. `tech_cause` (22.7+) carries the SIP code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    status: str  # busy | no_answer | failed
    error_code: str | None
    error_message: str | None


# One table: cause → outcome for calls that ended before an answer.
PRE_ANSWER: dict[int, Outcome] = {
    17: Outcome("busy", None, None),
    21: Outcome("busy", None, None),  # 603 Decline: the callee refused, like busy
    18: Outcome("no_answer", None, None),  # 408: no user responding
    19: Outcome("no_answer", None, None),  # 480 / ring timeout
    1: Outcome("failed", "invalid_number", "the number does not exist (404 / unallocated)"),
    28: Outcome("failed", "invalid_number", "the number is incomplete or invalid (484)"),
    3: Outcome("failed", "no_route", "no route to the destination"),
    34: Outcome("failed", "carrier_unavailable", "the carrier or trunk is unavailable (503 / congestion)"),
    38: Outcome("failed", "carrier_error", "the carrier reported a network failure (500)"),
    41: Outcome("failed", "carrier_error", "temporary failure at the carrier"),
    42: Outcome("failed", "carrier_unavailable", "the carrier is congested"),
    27: Outcome("failed", "carrier_error", "destination out of order (502)"),
    58: Outcome("failed", "codec_mismatch", "no common codec with the carrier (488)"),
    102: Outcome("failed", "carrier_timeout", "the carrier timed out (504)"),
}


def outcome_for(cause: int, tech_cause: int | None = None) -> Outcome:
    """The outcome of a call that ended before an answer with this cause."""
    if tech_cause in (600,):
        return Outcome("busy", None, None)
    if cause in PRE_ANSWER:
        return PRE_ANSWER[cause]
    if cause == 16:  # normal clearing before answer: the far end gave up without a reason
        return Outcome("no_answer", None, None)
    sip = f" (SIP {tech_cause})" if tech_cause else ""
    return Outcome("failed", "call_failed", f"the call failed with cause {cause}{sip}")


def hangup_cause_text(cause: int, cause_txt: str | None, tech_cause: int | None) -> str:
    """What `hangup_cause` holds on the call object, e.g. "17 User busy (SIP 486)"."""
    text = f"{cause} {cause_txt}" if cause_txt else str(cause)
    return f"{text} (SIP {tech_cause})" if tech_cause else text
