"""Request bodies. Unknown fields are refused (400 naming them); PATCH bodies use UNSET for "not sent"."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec
from litestar import Request
from msgspec import UNSET, Meta, UnsetType

from appliance.errors import InvalidInput

from .edge import describe_validation_error

Name = Annotated[str, Meta(min_length=1, max_length=200)]
LongText = Annotated[str, Meta(max_length=20_000)]
ShortText = Annotated[str, Meta(max_length=2_000)]
Id = Annotated[str, Meta(min_length=1, max_length=64)]
Url = Annotated[str, Meta(min_length=1, max_length=2048)]
MaxDuration = Annotated[int, Meta(ge=10, le=14_400)]
SilenceTimeout = Annotated[int, Meta(ge=3, le=600)]
RingTimeout = Annotated[int, Meta(ge=5, le=300)]
Port = Annotated[int, Meta(ge=1, le=65535)]
Channels = Annotated[int, Meta(ge=1, le=1000)]
Language = Annotated[str, Meta(min_length=2, max_length=35)]
Phone = Annotated[str, Meta(min_length=1, max_length=32)]
Tools = Annotated[list[dict[str, Any]], Meta(max_length=16)]
VoicemailAction = Literal["hangup", "leave_message"]
DidRanges = Annotated[list[Annotated[str, Meta(max_length=80)]], Meta(max_length=50)]
InboundAddresses = Annotated[list[Annotated[str, Meta(max_length=49)]], Meta(max_length=32)]  # IPs / CIDRs
RetentionDays = Annotated[int, Meta(ge=0, le=36_500)]
Kinds = Annotated[list[str], Meta(max_length=16)]
FieldNames = Annotated[list[str], Meta(max_length=50)]


T = TypeVar("T", bound="Body")


async def strict_body(request: Request[Any, Any, Any], kind: type[T]) -> T:
    """Decode the body again with strict types: Litestar converts leniently ("30" → 30), the API must not."""
    return decode_strict(await request.body(), kind)


def decode_strict(raw: bytes, kind: type[T]) -> T:
    """A request body as `kind`, or InvalidInput naming the bad or unknown field."""
    try:
        return msgspec.json.decode(raw, type=kind, strict=True)
    except msgspec.ValidationError as exc:
        raise InvalidInput(describe_validation_error(str(exc))) from None
    except msgspec.DecodeError:
        raise InvalidInput("request body is not valid JSON") from None


class Body(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    def sent(self) -> dict[str, Any]:
        """The fields the client sent (PATCH) or that have values (POST)."""
        return {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not UNSET}


class CreateAgent(Body):
    name: Name
    type: Literal["inbound", "outbound"]
    persona: LongText | None = None
    instructions: LongText | None = None
    voice: Annotated[str, Meta(max_length=200)] | None = None
    language: Language = "en"
    returns: dict[str, Any] | None = None
    tools: Annotated[list[dict[str, Any]], Meta(max_length=16)] = msgspec.field(default_factory=list)
    webhook_url: Url | None = None
    voicemail_action: Literal["hangup", "leave_message"] = "hangup"
    number_ids: Annotated[list[Id], Meta(max_length=100)] = msgspec.field(default_factory=list)
    primary_number_id: Id | None = None
    first_message: ShortText | None = None
    voicemail_message: ShortText | None = None
    max_duration_seconds: MaxDuration = 1800
    silence_timeout_seconds: SilenceTimeout = 20
    ring_timeout_seconds: RingTimeout = 30
    analysis: dict[str, Any] | None = None
    redact: Kinds = msgspec.field(default_factory=list)
    redact_exempt_fields: FieldNames = msgspec.field(default_factory=list)
    recording_retention_days: RetentionDays | None = None
    transcript_retention_days: RetentionDays | None = None
    recording: Literal["on", "off", "after_consent"] = "on"
    recording_notice: ShortText | None = None


class UpdateAgent(Body):
    name: Name | UnsetType = UNSET
    type: Literal["inbound", "outbound"] | UnsetType = UNSET  # refused: fixed at creation
    persona: LongText | UnsetType | None = UNSET
    instructions: LongText | UnsetType | None = UNSET
    voice: Annotated[str, Meta(max_length=200)] | UnsetType | None = UNSET
    language: Language | UnsetType = UNSET
    returns: dict[str, Any] | UnsetType | None = UNSET
    tools: Annotated[list[dict[str, Any]], Meta(max_length=16)] | UnsetType = UNSET
    webhook_url: Url | UnsetType | None = UNSET
    voicemail_action: Literal["hangup", "leave_message"] | UnsetType = UNSET
    number_ids: Annotated[list[Id], Meta(max_length=100)] | UnsetType = UNSET
    primary_number_id: Id | UnsetType | None = UNSET
    first_message: ShortText | UnsetType | None = UNSET
    voicemail_message: ShortText | UnsetType | None = UNSET
    max_duration_seconds: MaxDuration | UnsetType = UNSET
    silence_timeout_seconds: SilenceTimeout | UnsetType = UNSET
    ring_timeout_seconds: RingTimeout | UnsetType = UNSET
    analysis: dict[str, Any] | UnsetType | None = UNSET
    redact: Kinds | UnsetType = UNSET
    redact_exempt_fields: FieldNames | UnsetType = UNSET
    recording_retention_days: RetentionDays | UnsetType | None = UNSET
    transcript_retention_days: RetentionDays | UnsetType | None = UNSET
    recording: Literal["on", "off", "after_consent"] | UnsetType = UNSET
    recording_notice: ShortText | UnsetType | None = UNSET


class AttachNumber(Body):
    number_id: Id
    set_as_primary: bool = False


class SetPrimaryNumber(Body):
    number_id: Id


class CreateNumber(Body):
    e164: Annotated[str, Meta(min_length=1, max_length=32)]
    friendly_name: Annotated[str, Meta(max_length=200)] | None = None
    trunk_id: Id | None = None


class CreateCall(Body):
    """With `agent_id`: a call of that outbound agent. Without it: the hosted service's legacy dispatch,
    the call's own fields (`prompt`, `returns`, `tools`...) making an implicit agent snapshot."""

    to: Phone
    agent_id: Id | None = None
    from_number: Annotated[str, Meta(max_length=32)] | None = None
    instructions: LongText | None = None
    prompt: LongText | None = None  # the hosted API's legacy name for `instructions`
    context: dict[str, Any] | None = None
    webhook_url: Url | None = None
    metadata: dict[str, Any] | None = None
    # Legacy dispatch only: with an agent these belong to the agent (400 naming the field).
    returns: dict[str, Any] | None = None
    language: Language | None = None
    voicemail_action: VoicemailAction | None = None
    tools: Tools | None = None


class PurchaseNumber(Body):
    phone_number: Phone


class InboundConfig(Body):
    """The hosted SDK's `update_inbound_config`: a full replace (a field left out or null is cleared)."""

    enabled: bool
    prompt: LongText | None = None
    returns: dict[str, Any] | None = None
    webhook_url: Url | None = None
    language: Language | None = None
    tools: Tools | None = None
    voicemail_action: VoicemailAction | None = None


class CreateTrunk(Body):
    name: Annotated[str, Meta(min_length=1, max_length=64)]
    host: Annotated[str, Meta(min_length=1, max_length=253)]
    port: Port = 5060
    transport: Literal["udp", "tcp", "tls"] = "udp"
    username: Annotated[str, Meta(max_length=128)] | None = None
    password: Annotated[str, Meta(max_length=128)] | None = None
    register: bool = False
    from_domain: Annotated[str, Meta(max_length=253)] | None = None
    codecs: Annotated[list[str], Meta(min_length=1, max_length=3)] = msgspec.field(
        default_factory=lambda: ["ulaw", "alaw"]
    )
    max_channels: Channels | None = None
    did_ranges: DidRanges = msgspec.field(default_factory=list)
    inbound_addresses: InboundAddresses = msgspec.field(default_factory=list)


class UpdateTrunk(Body):
    name: Annotated[str, Meta(min_length=1, max_length=64)] | UnsetType = UNSET
    host: Annotated[str, Meta(min_length=1, max_length=253)] | UnsetType = UNSET
    port: Port | UnsetType = UNSET
    transport: Literal["udp", "tcp", "tls"] | UnsetType = UNSET
    username: Annotated[str, Meta(max_length=128)] | UnsetType | None = UNSET
    password: Annotated[str, Meta(max_length=128)] | UnsetType | None = UNSET
    register: bool | UnsetType = UNSET
    from_domain: Annotated[str, Meta(max_length=253)] | UnsetType | None = UNSET
    codecs: Annotated[list[str], Meta(min_length=1, max_length=3)] | UnsetType = UNSET
    max_channels: Channels | UnsetType | None = UNSET
    did_ranges: DidRanges | UnsetType = UNSET
    inbound_addresses: InboundAddresses | UnsetType = UNSET


class TranscriptTurn(Body):
    role: Literal["agent", "user", "tool"]
    text: LongText


class CreateExtraction(Body):
    transcript: Annotated[list[TranscriptTurn], Meta(min_length=1, max_length=2_000)]
    returns: dict[str, Any] | None = None
    analysis: dict[str, Any] | None = None
    instructions: LongText | None = None
    context: dict[str, Any] | None = None
