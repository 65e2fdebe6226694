"""Request bodies of /v1/campaigns and /v1/dnc."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from appliance.campaigns.contacts import MAX_CONTACTS
from appliance.campaigns.outcomes import DEFAULT_RETRY
from appliance.campaigns.window import DAYS

from .schemas import Body, Id, Name

Attempts = Annotated[int, Meta(ge=1, le=10)]
BackoffMinutes = Annotated[int, Meta(ge=0, le=10_080)]  # up to a week


class RetryRuleBody(Body):
    attempts: Attempts
    backoff_minutes: BackoffMinutes


def _default(outcome: str) -> Any:
    return msgspec.field(default_factory=lambda: RetryRuleBody(**DEFAULT_RETRY[outcome]))


class RetryBody(Body):
    """Per outcome: dials in all (the first included) and minutes between them. Invalid numbers: never retried."""

    busy: RetryRuleBody = _default("busy")
    no_answer: RetryRuleBody = _default("no_answer")
    voicemail: RetryRuleBody = _default("voicemail")
    failed: RetryRuleBody = _default("failed")


class WindowBody(Body):
    """Calling hours in each callee's local time (HH:MM, end excluded) and the days they apply."""

    start: Annotated[str, Meta(max_length=5)] = "08:00"
    end: Annotated[str, Meta(max_length=5)] = "21:00"
    days: Annotated[list[str], Meta(max_length=7)] = msgspec.field(default_factory=lambda: list(DAYS))


class CreateCampaign(Body):
    """A campaign: an outbound agent calls every contact, at most `max_concurrent` at once, inside `window` in
    each callee's local time, from `start_at` (null: now), retrying by outcome as `retry` says."""

    agent_id: Id
    name: Name | None = None
    # Either a list of contacts ({"to": "+1…", …columns}) or a CSV text with a header naming a `to` column.
    contacts: Annotated[list[dict[str, Any]], Meta(max_length=MAX_CONTACTS)] | None = None
    contacts_csv: Annotated[str, Meta(max_length=1024 * 1024)] | None = None
    max_concurrent: Annotated[int, Meta(ge=1, le=1000)] = 2
    window: WindowBody = msgspec.field(default_factory=WindowBody)
    start_at: Annotated[str, Meta(max_length=40)] | None = None
    retry: RetryBody = msgspec.field(default_factory=RetryBody)


class CreateDnc(Body):
    number: Annotated[str, Meta(min_length=1, max_length=32)]
    reason: Annotated[str, Meta(max_length=500)] | None = None
