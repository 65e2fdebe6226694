"""The resource objects the store returns and the API serialises (one shape per resource)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

CallStatus = Literal[
    "queued", "initiated", "ringing", "in_progress", "completed", "busy", "no_answer", "failed", "canceled"
]
Direction = Literal["inbound", "outbound"]
AgentType = Literal["inbound", "outbound"]


class Number(msgspec.Struct, kw_only=True):
    id: str
    e164: str
    friendly_name: str | None
    country_code: str | None
    number_type: str
    status: str
    trunk_id: str | None
    inbound_agent_id: str | None
    outbound_agent_ids: list[str]
    created_at: str
    # The hosted service's names: purchased = registered here, the cost is the chargeback setting's.
    purchased_at: str
    monthly_cost_cents: int
    # Legacy inbound configuration (PUT /v1/numbers/{id}/inbound), read from the inbound agent that
    # answers the number, else from the one the number owns while it is switched off.
    inbound_enabled: bool
    inbound_prompt: str | None
    inbound_returns: dict[str, Any] | None
    inbound_webhook_url: str | None
    inbound_language: str | None
    inbound_tools: list[dict[str, Any]] | None
    inbound_voicemail_action: Literal["hangup", "leave_message"]


class NumberList(msgspec.Struct):
    data: list[Number]
    has_more: bool


class AvailableNumber(msgspec.Struct, kw_only=True):
    """A DID the box can take into use: the test carrier's range or a trunk's `did_ranges`."""

    phone_number: str
    country_code: str | None
    number_type: str
    state: str | None
    locality: str | None
    monthly_cost_cents: int
    upfront_cost_cents: int
    currency: str


class Trunk(msgspec.Struct, kw_only=True):
    id: str
    name: str
    host: str
    port: int
    transport: Literal["udp", "tcp", "tls"]
    username: str | None
    has_password: bool
    register: bool
    from_domain: str | None
    codecs: list[str]
    max_channels: int | None
    did_ranges: list[str]
    inbound_addresses: list[str]  # beside the host: where the carrier's INVITEs may come from (IPs, CIDRs)
    builtin: bool
    registration_status: Literal["registered", "unregistered", "rejected", "not_applicable", "unknown"]
    reachable: bool | None
    created_at: str
    updated_at: str


class Agent(msgspec.Struct, kw_only=True):
    id: str
    name: str
    type: AgentType
    persona: str | None
    instructions: str | None
    voice: str | None
    language: str
    returns: dict[str, Any] | None
    tools: list[dict[str, Any]]
    webhook_url: str | None
    voicemail_action: Literal["hangup", "leave_message"]
    first_message: str | None
    voicemail_message: str | None
    max_duration_seconds: int
    silence_timeout_seconds: int
    ring_timeout_seconds: int
    analysis: dict[str, Any] | None
    redact: list[str]
    redact_exempt_fields: list[str]
    recording_retention_days: int | None
    transcript_retention_days: int | None
    recording: Literal["on", "off", "after_consent"]
    recording_notice: str | None
    number_ids: list[str]
    primary_number_id: str | None
    numbers: list[Number]
    owner_number_id: str | None  # set on the inbound agent a number's legacy inbound config made
    archived_at: str | None
    created_at: str
    updated_at: str


class AgentList(msgspec.Struct):
    data: list[Agent]
    has_more: bool


class LatencyStats(msgspec.Struct):
    p50: int | None
    p95: int | None
    turns: int


class Call(msgspec.Struct, kw_only=True):
    id: str
    agent_id: str | None
    direction: Direction
    to_number: str
    from_number: str | None
    status: CallStatus
    answered_by: Literal["human", "machine", "unknown"] | None
    persona: str | None
    instructions: str | None
    prompt: str | None  # the hosted API's legacy name for `instructions`
    context: dict[str, Any]
    returns: dict[str, Any] | None
    tools: list[dict[str, Any]]
    language: str
    voice: str | None
    metadata: dict[str, Any]  # carries `language` too, where the hosted SDK reads it
    result: dict[str, Any] | None
    result_status: Literal["pending", "completed", "failed", "skipped"] | None
    result_error: str | None
    created_at: str
    started_at: str | None
    answered_at: str | None
    ended_at: str | None
    updated_at: str
    duration_seconds: int | None
    billed_duration_seconds: int | None
    billing_amount_milli_cents: int | None
    # The hosted service's credit hold: reserved while the call can still cost, then settled (billed) or released.
    reservation_status: Literal["reserved", "settled", "released"]
    webhook_url: str | None
    webhook_status: Literal["none", "pending", "delivered", "failed"]
    webhook_error: str | None
    error_code: str | None
    error_message: str | None
    hangup_cause: str | None
    end_reason: (
        Literal[
            "agent_ended",
            "caller_hangup",
            "max_duration",
            "silence_timeout",
            "canceled",
            "voicemail",
            "opted_out",
            "transferred",
            "error",
        ]
        | None
    )
    recording_url: str | None
    latency_ms: LatencyStats | None
    voicemail_left: bool
    trunk_id: str | None
    # Extensions: the post-call analysis (summary, outcome, sentiment, success) and what was deleted when.
    analysis: dict[str, Any] | None = None
    analysis_status: Literal["pending", "completed", "failed", "skipped"] | None = None
    recording_deleted_at: str | None = None
    transcript_deleted_at: str | None = None
    transferred_to: str | None = None  # the transfer_call destination the caller was put through to


class CallList(msgspec.Struct):
    data: list[Call]
    has_more: bool


class TranscriptSegment(msgspec.Struct, kw_only=True):
    sequence_no: int
    role: Literal["agent", "user", "tool"]
    text: str
    started_at: str
    ended_at: str
    duration_ms: int
    source: Literal["stt", "tts", "tool", "dtmf"]


class Transcript(msgspec.Struct):
    call_id: str
    segments: list[TranscriptSegment]


class CallEvent(msgspec.Struct):
    type: str
    at: str
    data: dict[str, Any]


class CallEvents(msgspec.Struct):
    call_id: str
    events: list[CallEvent]


class UsageRow(msgspec.Struct):
    key: str  # the day (YYYY-MM-DD) or the agent id
    calls: int
    answered: int
    billed_seconds: int
    billed_minutes: float
    billing_amount_milli_cents: int


class Usage(msgspec.Struct):
    from_: str = msgspec.field(name="from")
    to: str = ""
    total: UsageRow | None = None
    by_day: list[UsageRow] = msgspec.field(default_factory=list)
    by_agent: list[UsageRow] = msgspec.field(default_factory=list)


class ApiKey(msgspec.Struct, kw_only=True):
    id: str
    name: str
    prefix: str
    created_at: str
    revoked_at: str | None
    last_used_at: str | None
