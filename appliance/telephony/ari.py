"""A thin asyncio ARI client: REST over httpx for actions, events over one websocket (`ari_stream`).

Requests that fail raise the errors of `ari_errors`; events are typed (`ari_events`) and routed by id to
`Subscription` queues: subscribe to a channel id *before* you originate or create it with that id.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from appliance.telephony.ari_errors import AriError, AriNotFound, AriUnavailable, ChannelNotFound, error_for
from appliance.telephony.ari_events import AsteriskInfo, Bridge, Channel, Event, Playback
from appliance.telephony.ari_stream import EventStream, Subscription

T = TypeVar("T")


@dataclass(frozen=True)
class ExternalMedia:
    """An externalMedia channel and the address Asterisk receives our RTP on."""

    channel: Channel
    rtp_address: tuple[str, int]  # UNICASTRTP_LOCAL_ADDRESS / _PORT


class AriClient:
    """One ARI application: REST calls plus the event websocket, shared by every call in the process."""

    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        app: str,
        *,
        http_timeout: float = 10.0,
        reconnect_min: float = 0.2,
        reconnect_max: float = 5.0,
        ping_interval: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self.base_url = base if base.endswith("/ari") else base + "/ari"
        self.app = app
        self.events_url = self.base_url.replace("http", "ws", 1) + f"/events?app={quote(app)}&subscribeAll=false"
        self._http = httpx.AsyncClient(
            base_url=self.base_url, auth=(user, password), timeout=http_timeout, transport=transport
        )
        auth_header = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.stream = EventStream(
            self.events_url,
            auth_header,
            app,
            reconnect_min=reconnect_min,
            reconnect_max=reconnect_max,
            ping_interval=ping_interval,
        )
        self.connected = self.stream.connected  # set while the event websocket is up
        self.listeners = self.stream.listeners  # called with True / False as the websocket goes up / down

    # --- lifecycle and events ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the event websocket task (it connects and reconnects on its own)."""
        self.stream.start()

    async def close(self) -> None:
        await self.stream.close()
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def subscribe(self, *keys: str) -> Subscription:
        """Events whose channel / bridge / playback / recording id is one of `keys`."""
        return self.stream.subscribe(*keys)

    def subscribe_new_channels(self) -> Subscription:
        """StasisStart of channels that no subscription claims: inbound calls."""
        return self.stream.subscribe_new_channels()

    def subscribe_all(self) -> Subscription:
        """Every event (diagnostics, tests)."""
        return self.stream.subscribe_all()

    def dispatch(self, event: Event) -> None:
        """Deliver one event to its subscribers (public so tests and replays can inject events)."""
        self.stream.dispatch(event)

    # --- REST plumbing ----------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        result: type[T] | None = None,
    ) -> T | None:
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        try:
            r = await self._http.request(method, path, params=query, json=body)
        except httpx.TransportError as exc:
            raise AriUnavailable(0, str(exc) or type(exc).__name__, method, path) from exc
        if r.status_code >= 400:
            raise error_for(r.status_code, r.content, method, path)
        if result is None or not r.content:
            return None
        return msgspec.json.decode(r.content, type=result)

    # --- asterisk / applications ------------------------------------------------------------------

    async def asterisk_info(self) -> AsteriskInfo:
        """GET /asterisk/info: a cheap readiness probe that also gives the version."""
        return await self._request("GET", "/asterisk/info", result=AsteriskInfo)  # type: ignore[return-value]

    async def app_subscribe(self, event_source: str) -> None:
        """Subscribe the app to an event source, e.g. `channel:<id>` (it must exist: 422 otherwise)."""
        await self._request("POST", f"/applications/{quote(self.app)}/subscription", {"eventSource": event_source})

    # --- channels ---------------------------------------------------------------------------------

    async def originate(
        self,
        endpoint: str,
        *,
        channel_id: str | None = None,
        app_args: Sequence[str] | str = (),
        caller_id: str | None = None,
        ring_timeout: int = 30,
        variables: Mapping[str, str] | None = None,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
        originator: str | None = None,
        formats: str | None = None,
        other_channel_id: str | None = None,
    ) -> Channel:
        """Dial `endpoint` (e.g. `PJSIP/+15551234@trunk`, `Local/s@ctx`). Returns at once; the outcome comes
        as events: ChannelStateChange/Dial while ringing, StasisStart on answer, ChannelDestroyed.cause.

        Without `context` the answered channel enters our app (subscribed from creation). With `context`
        it runs that dialplan first (e.g. AMD, then Stasis) and we subscribe right after creating it;
        a call that fails within that millisecond raises ChannelNotFound. HTTP 500 = endpoint unusable.
        """
        params: dict[str, Any] = {
            "endpoint": endpoint,
            "channelId": channel_id,
            "callerId": caller_id,
            "timeout": ring_timeout,
            "originator": originator,
            "formats": formats,
            "otherChannelId": other_channel_id,
        }
        if context is None:
            params.update(app=self.app, appArgs=app_args if isinstance(app_args, str) else ",".join(app_args))
        else:
            params.update(context=context, extension=extension, priority=priority, label=label)
        body = {"variables": dict(variables)} if variables else None
        channel: Channel = await self._request("POST", "/channels", params, body, Channel)  # type: ignore[assignment]
        if context is not None:
            try:
                await self.app_subscribe(f"channel:{channel.id}")
            except AriError as exc:
                if exc.status in (404, 422):
                    raise ChannelNotFound(exc.status, "channel ended before we could subscribe") from exc
                raise
        return channel

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
    ) -> None:
        """Send a channel in our app back to the dialplan (e.g. into AMD; it may come back via Stasis)."""
        params = {"context": context, "extension": extension, "priority": priority, "label": label}
        await self._request("POST", f"/channels/{quote(channel_id)}/continue", params)

    async def answer(self, channel_id: str) -> None:
        await self._request("POST", f"/channels/{quote(channel_id)}/answer")

    async def ring(self, channel_id: str) -> None:
        await self._request("POST", f"/channels/{quote(channel_id)}/ring")

    async def hangup(self, channel_id: str, reason: str = "normal") -> bool:
        """Hang up with an ARI reason (normal, busy, congestion, no_answer, rejected, ...).

        Returns False if the channel was already gone, which is not an error."""
        try:
            await self._request("DELETE", f"/channels/{quote(channel_id)}", {"reason": reason})
        except ChannelNotFound:
            return False
        return True

    async def get_channel(self, channel_id: str) -> Channel:
        return await self._request("GET", f"/channels/{quote(channel_id)}", result=Channel)  # type: ignore[return-value]

    async def set_var(self, channel_id: str, name: str, value: str) -> None:
        await self._request("POST", f"/channels/{quote(channel_id)}/variable", {"variable": name, "value": value})

    async def send_dtmf(self, channel_id: str, dtmf: str, between_ms: int = 100, duration_ms: int = 100) -> None:
        params = {"dtmf": dtmf, "between": between_ms, "duration": duration_ms}
        await self._request("POST", f"/channels/{quote(channel_id)}/dtmf", params)

    async def external_media(
        self,
        channel_id: str,
        external_host: str,
        *,
        format: str = "ulaw",
        variables: Mapping[str, str] | None = None,
    ) -> ExternalMedia:
        """An RTP/UDP externalMedia channel sending to `external_host` ("127.0.0.1:port") and entering our app.

        Use `ulaw`: only static payload types are accepted back (asterisk.md §1.4)."""
        params = {
            "app": self.app,
            "external_host": external_host,
            "format": format,
            "channelId": channel_id,
            "encapsulation": "rtp",
            "transport": "udp",
        }
        body = {"variables": dict(variables)} if variables else None
        channel: Channel = await self._request("POST", "/channels/externalMedia", params, body, Channel)  # type: ignore[assignment]
        cv = channel.channelvars or {}
        try:
            address = (cv["UNICASTRTP_LOCAL_ADDRESS"], int(cv["UNICASTRTP_LOCAL_PORT"]))
        except (KeyError, ValueError) as exc:
            raise AriError(
                200, f"externalMedia reply without RTP address: {cv}", "POST", "/channels/externalMedia"
            ) from exc
        return ExternalMedia(channel, address)

    # --- bridges ----------------------------------------------------------------------------------

    async def create_bridge(
        self, bridge_id: str | None = None, type: str = "mixing", name: str | None = None
    ) -> Bridge:
        params = {"type": type, "bridgeId": bridge_id, "name": name}
        return await self._request("POST", "/bridges", params, result=Bridge)  # type: ignore[return-value]

    async def add_channel(
        self, bridge_id: str, *channel_ids: str, role: str | None = None, absorb_dtmf: bool | None = None,
        mute: bool | None = None,
    ) -> None:  # fmt: skip
        params = {"channel": ",".join(channel_ids), "role": role, "absorbDTMF": absorb_dtmf, "mute": mute}
        await self._request("POST", f"/bridges/{quote(bridge_id)}/addChannel", params)

    async def remove_channel(self, bridge_id: str, *channel_ids: str) -> None:
        await self._request("POST", f"/bridges/{quote(bridge_id)}/removeChannel", {"channel": ",".join(channel_ids)})

    async def start_moh(self, bridge_id: str, moh_class: str = "default") -> None:
        """Music on hold to everyone in the bridge (a holding bridge's waiting caller)."""
        await self._request("POST", f"/bridges/{quote(bridge_id)}/moh", {"mohClass": moh_class})

    async def destroy_bridge(self, bridge_id: str) -> bool:
        """Returns False if the bridge was already gone."""
        try:
            await self._request("DELETE", f"/bridges/{quote(bridge_id)}")
        except AriNotFound:
            return False
        return True

    # --- playback -------------------------------------------------------------------

    async def play(
        self, channel_id: str, media: str | Sequence[str], *, playback_id: str | None = None, lang: str | None = None
    ) -> Playback:
        """Play `sound:…`, `tone:…`, `recording:…` … on a channel; PlaybackFinished follows (route key: id)."""
        media_param = media if isinstance(media, str) else ",".join(media)
        path = f"/channels/{quote(channel_id)}/play" + (f"/{quote(playback_id)}" if playback_id else "")
        return await self._request("POST", path, {"media": media_param, "lang": lang}, result=Playback)  # type: ignore[return-value]


def _param(value: Any) -> Any:
    return ("true" if value else "false") if isinstance(value, bool) else value
