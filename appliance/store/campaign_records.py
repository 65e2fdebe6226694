"""The campaign objects the store returns and the API serialises."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

CampaignStatus = Literal["scheduled", "running", "paused", "completed", "canceled"]
ContactState = Literal["pending", "dialing", "done"]
ContactOutcome = Literal[
    "completed",
    "busy",  # the retryable four, final once their attempts are spent
    "no_answer",
    "voicemail",
    "failed",
    "restarted",  # cut before an answer by the appliance's own restart: retried by the `failed` rule
    "invalid",  # the number does not exist: never retried
    "interrupted",  # answered, then cut (a restart, Asterisk down): not called again, the callee may have talked
    "opted_out",  # asked in the call to be called no more (now on the do-not-call list)
    "dnc",  # on the do-not-call list: never dialled
    "duplicate",  # the same number earlier in the list
    "no_time_zone",  # phonenumbers knows no time zone for it, so no window can be checked
    "window_never_open",  # its zones share no open time in the window
    "canceled",  # the campaign was canceled before the contact was done
]


class CallingWindow(msgspec.Struct, kw_only=True):
    start: str = "08:00"
    end: str = "21:00"
    days: list[str] = msgspec.field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])


class RetryRule(msgspec.Struct, kw_only=True):
    attempts: int  # dials of the contact in all, the first included
    backoff_minutes: int


class CampaignCounters(msgspec.Struct, kw_only=True):
    total: int
    pending: int  # waiting for their first or next attempt
    in_progress: int  # a call placed and not yet ended
    completed: int  # done, whatever the outcome (see `outcomes`)
    outcomes: dict[str, int]  # done contacts by outcome


class Campaign(msgspec.Struct, kw_only=True):
    id: str
    name: str | None
    agent_id: str
    from_number: str | None  # the agent's primary number when the campaign was made (else the trunk's caller ID)
    status: CampaignStatus
    max_concurrent: int
    window: CallingWindow
    start_at: str | None
    retry: dict[str, RetryRule]
    paused_reason: str | None  # "paused" (by a user) or "failing" (most recent calls failed)
    counters: CampaignCounters
    created_at: str
    updated_at: str
    ended_at: str | None


class CampaignList(msgspec.Struct):
    data: list[Campaign]
    has_more: bool


class CampaignContact(msgspec.Struct, kw_only=True):
    id: str
    campaign_id: str
    line: int | None  # its line in the uploaded CSV
    to: str
    columns: dict[str, Any]
    state: ContactState
    outcome: ContactOutcome | None  # the last attempt's while pending again, the final one when done
    detail: str | None  # why it was skipped or is waiting
    attempts: int
    next_attempt_at: str | None
    call_ids: list[str]  # one per attempt, oldest first
    updated_at: str


class CampaignContactList(msgspec.Struct):
    data: list[CampaignContact]
    has_more: bool


class CampaignEvent(msgspec.Struct):
    type: str
    at: str
    data: dict[str, Any]


class CampaignEvents(msgspec.Struct):
    campaign_id: str
    events: list[CampaignEvent]
