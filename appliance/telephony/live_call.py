"""A call in flight as the dialer holds it, the bridge that carries its audio to us, and what runs on it once
answered (the conversation)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from appliance.telephony.ari import AriClient
from appliance.telephony.ari_errors import AriError
from appliance.telephony.ari_events import StasisStart
from appliance.telephony.ari_stream import Subscription
from appliance.telephony.media import RtpEndpoint
from appliance.voice.call_audio import CallMedia, MediaClosed
from appliance.voice.tool_calls import ToolRunner


class Conversation(Protocol):
    """What runs on an answered call (the voice loop; a plain media recorder until it exists)."""

    async def run(self) -> str | None:
        """Talk until done; return an end_reason if the session itself ended the call."""
        ...

    def keys(self, key: str) -> None:
        """The caller pressed a key (RFC 4733 DTMF, told by ARI): the conversation takes it as input."""
        ...


# The call row, its audio line, and the line's own built-in tools (transfer, keys; None where there are none).
ConversationFactory = Callable[[dict[str, Any], CallMedia, ToolRunner | None], Conversation]


class IdleConversation:
    """Keeps the media path open and counts audio both ways until the call ends from the outside."""

    def __init__(self, call: dict[str, Any], media: CallMedia, line: ToolRunner | None = None) -> None:
        self.media = media

    async def run(self) -> str | None:
        with contextlib.suppress(MediaClosed):
            while True:
                await self.media.recv()
        return None

    def keys(self, key: str) -> None:
        pass  # nobody listens


@dataclass
class LiveCall:
    call_id: str
    channel_id: str
    task: asyncio.Task[None] | None = None
    answered: bool = False
    cancel_requested: bool = False
    end_reason: str | None = None
    bridge_id: str | None = None
    media_channel_id: str | None = None
    media: RtpEndpoint | None = None
    events: Subscription | None = None
    session: Conversation | None = None  # once answered: what the caller's keys go to
    transfer_channel_id: str | None = None  # the leg a transfer put the caller through to
    holding_bridge_id: str | None = None  # where the caller waits while a warm transfer asks the destination
    watch: asyncio.Task[None] | None = None  # hangs the caller up when that leg hangs up


async def open_media(ari: AriClient, live: LiveCall) -> RtpEndpoint:
    """Bridge the call with an externalMedia RTP channel to a socket of ours (RTP, `format=ulaw`)."""
    live.bridge_id = f"bridge-{live.call_id}"
    live.media_channel_id = f"media-{live.call_id}"
    live.media = await RtpEndpoint.open()
    # Media decoded in Asterisk's core, never passed natively between two legs: keys pressed by anyone in the
    # bridge are raised as events (a warm transfer's destination pressing 1 to take the call).
    await ari.create_bridge(live.bridge_id, type="mixing,dtmf_events")
    await ari.add_channel(live.bridge_id, live.channel_id)
    # The media channel can be bridged only once it is in our app: wait for its StasisStart.
    with ari.subscribe(live.media_channel_id) as media_events:
        external = await ari.external_media(live.media_channel_id, live.media.external_host)
        async with asyncio.timeout(5):
            await media_events.wait_for(StasisStart)
    live.media.set_remote(*external.rtp_address)
    await ari.add_channel(live.bridge_id, live.media_channel_id)
    return live.media


async def close_media(ari: AriClient, live: LiveCall) -> None:
    if live.watch is not None:
        live.watch.cancel()
    for leg in (live.transfer_channel_id, live.media_channel_id):
        if leg:
            with contextlib.suppress(AriError):
                await ari.hangup(leg)
    for bridge in (live.bridge_id, live.holding_bridge_id):
        if bridge:
            with contextlib.suppress(AriError):
                await ari.destroy_bridge(bridge)
    if live.media is not None:
        await live.media.close()
