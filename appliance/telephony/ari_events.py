"""ARI resources and the events the engine uses, as typed msgspec Structs, and how events are routed.

Only the fields we read are declared; msgspec skips the rest. Unknown event types decode to
`UnknownEvent`, so a newer Asterisk never breaks the event loop.
"""

from __future__ import annotations

import functools
import operator

import msgspec


class CallerId(msgspec.Struct, frozen=True):
    name: str = ""
    number: str = ""


class DialplanLocation(msgspec.Struct, frozen=True):
    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""


class Channel(msgspec.Struct, frozen=True, kw_only=True):
    """A channel snapshot; `state` is Down, Rsrvd, OffHook, Dialing, Ring, Ringing, Up, Busy, ..."""

    id: str
    name: str = ""
    state: str = ""
    protocol_id: str = ""
    caller: CallerId = CallerId()
    connected: CallerId = CallerId()
    dialplan: DialplanLocation | None = None
    creationtime: str = ""
    language: str = ""
    channelvars: dict[str, str] | None = None


class Bridge(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    technology: str = ""
    bridge_type: str = ""
    bridge_class: str = ""
    name: str = ""
    channels: list[str] = []


class Playback(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    media_uri: str = ""
    target_uri: str = ""  # "channel:<id>" or "bridge:<id>"
    state: str = ""  # queued, playing, done, failed, ...


class LiveRecording(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    format: str = ""
    target_uri: str = ""
    state: str = ""  # queued, recording, paused, done, failed, canceled
    cause: str = ""
    duration: int | None = None


class SystemInfo(msgspec.Struct, frozen=True):
    version: str = ""
    entity_id: str = ""


class AsteriskInfo(msgspec.Struct, frozen=True):
    """GET /asterisk/info, reduced to what readiness checks need."""

    system: SystemInfo = SystemInfo()

    @property
    def version(self) -> str:
        return self.system.version


# --- events ---------------------------------------------------------------------------------------


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every ARI event; the concrete class name is the ARI `type`."""

    application: str = ""
    timestamp: str = ""

    @property
    def type(self) -> str:
        return type(self).__name__

    def route_keys(self) -> tuple[str, ...]:
        """Ids (channel, bridge, playback, recording) whose subscribers receive this event."""
        return ()


class _ChannelEvent(Event, frozen=True, kw_only=True):
    channel: Channel

    def route_keys(self) -> tuple[str, ...]:
        return (self.channel.id,)


class StasisStart(_ChannelEvent, frozen=True, kw_only=True):
    """The channel entered our app: answered outbound call, inbound call, or externalMedia channel."""

    args: list[str] = []
    replace_channel: Channel | None = None


class StasisEnd(_ChannelEvent, frozen=True, kw_only=True):
    pass


class ChannelStateChange(_ChannelEvent, frozen=True, kw_only=True):
    pass


class ChannelDestroyed(_ChannelEvent, frozen=True, kw_only=True):
    """Final: `cause` is the Q.850 cause (see causes.py); `tech_cause` the SIP code (Asterisk 22.7+)."""

    cause: int = 0
    cause_txt: str = ""
    tech_cause: int | None = None


class ChannelHangupRequest(_ChannelEvent, frozen=True, kw_only=True):
    cause: int | None = None
    soft: bool | None = None
    tech_cause: int | None = None


class ChannelDtmfReceived(_ChannelEvent, frozen=True, kw_only=True):
    digit: str = ""
    duration_ms: int = 0


class ChannelVarset(Event, frozen=True, kw_only=True):
    variable: str = ""
    value: str = ""
    channel: Channel | None = None  # absent for global variables

    def route_keys(self) -> tuple[str, ...]:
        return (self.channel.id,) if self.channel else ()


class ChannelToneDetected(_ChannelEvent, frozen=True, kw_only=True):
    pass


class ChannelTalkingStarted(_ChannelEvent, frozen=True, kw_only=True):
    pass


class ChannelTalkingFinished(_ChannelEvent, frozen=True, kw_only=True):
    duration: int = 0


class Dial(Event, frozen=True, kw_only=True):
    """Progress of a dial: for an originate, `peer` is our channel and `caller` is absent."""

    peer: Channel
    caller: Channel | None = None
    dialstatus: str = ""  # "", RINGING, PROGRESS, ANSWER, BUSY, NOANSWER, CONGESTION, CANCEL, ...
    dialstring: str = ""

    def route_keys(self) -> tuple[str, ...]:
        return (self.peer.id,) + ((self.caller.id,) if self.caller else ())


class _BridgeChannelEvent(Event, frozen=True, kw_only=True):
    bridge: Bridge
    channel: Channel

    def route_keys(self) -> tuple[str, ...]:
        return (self.channel.id, self.bridge.id)


class ChannelEnteredBridge(_BridgeChannelEvent, frozen=True, kw_only=True):
    pass


class ChannelLeftBridge(_BridgeChannelEvent, frozen=True, kw_only=True):
    pass


class BridgeDestroyed(Event, frozen=True, kw_only=True):
    bridge: Bridge

    def route_keys(self) -> tuple[str, ...]:
        return (self.bridge.id,)


def _target_id(uri: str) -> tuple[str, ...]:
    _, sep, ident = uri.partition(":")
    return (ident,) if sep and ident else ()


class _PlaybackEvent(Event, frozen=True, kw_only=True):
    playback: Playback

    def route_keys(self) -> tuple[str, ...]:
        return (self.playback.id, *_target_id(self.playback.target_uri))


class PlaybackStarted(_PlaybackEvent, frozen=True, kw_only=True):
    pass


class PlaybackFinished(_PlaybackEvent, frozen=True, kw_only=True):
    pass


class _RecordingEvent(Event, frozen=True, kw_only=True):
    recording: LiveRecording

    def route_keys(self) -> tuple[str, ...]:
        return (self.recording.name, *_target_id(self.recording.target_uri))


class RecordingStarted(_RecordingEvent, frozen=True, kw_only=True):
    pass


class RecordingFinished(_RecordingEvent, frozen=True, kw_only=True):
    pass


class RecordingFailed(_RecordingEvent, frozen=True, kw_only=True):
    pass


class UnknownEvent(Event, frozen=True, kw_only=True):
    """An event type we do not model; `kind` is its ARI type, `data` the raw object."""

    kind: str = ""
    data: dict[str, object] = {}

    @property
    def type(self) -> str:
        return self.kind


class ConnectionLost(Event, frozen=True, kw_only=True):
    """Not from Asterisk: the event websocket dropped (Asterisk stopped or restarted).

    Sent to every subscription; events may have been missed, so re-read channel state on reconnect."""


KNOWN_EVENTS = (
    StasisStart, StasisEnd, ChannelStateChange, ChannelDestroyed, ChannelHangupRequest, ChannelDtmfReceived,
    ChannelVarset, ChannelToneDetected, ChannelTalkingStarted, ChannelTalkingFinished, Dial, ChannelEnteredBridge,
    ChannelLeftBridge, BridgeDestroyed, PlaybackStarted, PlaybackFinished, RecordingStarted, RecordingFinished,
    RecordingFailed,
)  # fmt: skip

_KNOWN_NAMES = frozenset(cls.__name__ for cls in KNOWN_EVENTS)
_known_decoder = msgspec.json.Decoder(functools.reduce(operator.or_, KNOWN_EVENTS))  # a tagged union
_raw_decoder = msgspec.json.Decoder(dict[str, object])


def decode_event(raw: str | bytes) -> Event:
    """One websocket message → a typed event (`UnknownEvent` for types not modelled).

    Raises `msgspec.DecodeError` for text that is not an ARI event at all."""
    try:
        return _known_decoder.decode(raw)
    except msgspec.ValidationError:
        data = _raw_decoder.decode(raw)
        kind = data.get("type")
        if not isinstance(kind, str) or kind in _KNOWN_NAMES:  # a known type with bad fields is an error
            raise
        return UnknownEvent(kind=kind, data=data, application=str(data.get("application", "")))
