"""The call-control built-ins on a phone call, run for the voice loop (its `ToolRunner` port): `transfer_call`
and `send_dtmf`.

A cold transfer stays in Asterisk's hands, not the carrier's: the destination is dialled as a new leg over the
call's trunk (no SIP REFER, which many trunks refuse); once it answers and the agent's words before the
transfer have been heard, it joins the caller's bridge and the agent's media leg leaves it. The
call goes on between the two until either hangs up; it ends `completed` with `end_reason: transferred`. A
destination that is busy, does not answer or fails is the tool's error: the agent is still on the line and
tells the caller.

A warm transfer first puts the caller in a holding bridge with music on hold, dials the destination, and, once
it answers, has the agent ask them (the conversation's `consult`: who is calling and why, "say yes or press
1"). A yes or the 1 key puts the caller through as above; a no, silence, a voicemail box or a hang-up brings
the caller back to the agent, who tells them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any, Protocol

import sqlite_utils
import structlog

from appliance.store import calls as store
from appliance.telephony.ari import AriClient
from appliance.telephony.ari_errors import AriError
from appliance.telephony.ari_events import ChannelDestroyed, ChannelDtmfReceived, StasisEnd, StasisStart
from appliance.telephony.ari_stream import Subscription
from appliance.telephony.causes import outcome_for
from appliance.telephony.live_call import LiveCall
from appliance.telephony.trunk_config import endpoint_name
from appliance.voice.amd import phrase_verdict
from appliance.voice.tool_calls import ToolResult, clear_yes

log = structlog.get_logger(__name__)

TRANSFER_RING_S = 30  # the destination rings this long before the agent tells the caller nobody answered
KEY_MS, BETWEEN_KEYS_MS = 120, 120  # what IVRs read reliably

_FAILED = {
    "busy": "the line was busy or the call was declined",
    "no_answer": "nobody answered",
    "failed": "the call could not be placed",
    "declined": "the person asked did not take the call",
    "no_reply": "the person asked did not say whether they would take the call",
    "voicemail": "a voicemail box answered",
    "hung_up": "the person asked hung up",
}
CONSULT_LISTEN_S = 10.0  # the destination's answer to "will you take the call?"
PUTTING_THROUGH = "Thank you, I am putting them through now."
FIRST_PERSON = re.compile(r"(?i)(i|i'm|i'd|i'll|i've|my|we|we're|we'd|our)\b")


class Consult(Protocol):
    """The conversation's voice, lent to a warm transfer: say a line to whoever the line carries, hear back."""

    async def __call__(self, line: str, listen_s: float) -> str: ...


def warm_intro(row: dict[str, Any], reason: str) -> str:
    """What the agent tells a warm transfer's destination: who is calling, why, and how to take the call."""
    agent = (row.get("agent_snapshot") or {}).get("name") or "the assistant"
    name = (row.get("context") or {}).get("name")
    who = name if isinstance(name, str) and name.strip() else "a caller"
    reason = reason.strip().rstrip(".")
    if FIRST_PERSON.match(reason):  # the model passed on the caller's own words: "I would like to talk to…"
        why = f". They say: {reason}"
    else:
        why = f" about {reason}" if reason else ""
    return (
        f"Hello, this is {agent}, an automated assistant. I have {who} on the line{why}. "
        "Say yes or press 1 to take the call."
    )


def destination_answer(said: str) -> str:
    """What a warm transfer's destination said to the question: accepted | declined | voicemail | no_reply."""
    if not said.strip():
        return "no_reply"
    verdict = phrase_verdict(said, decided=True)
    if verdict is not None and verdict.answered_by == "machine":
        return "voicemail"
    return "accepted" if clear_yes(said) else "declined"


def dial_endpoint(destination: str, trunk_id: str) -> str:
    """The PJSIP endpoint that reaches `destination` (E.164, or a SIP URI) over the trunk."""
    trunk = endpoint_name(trunk_id)
    return f"PJSIP/{trunk}/{destination}" if destination.startswith("sip") else f"PJSIP/{destination}@{trunk}"


class LineTools:
    """A phone call's built-ins. `live` is the dialer's call: its channel, bridge and media leg."""

    def __init__(self, ari: AriClient, db: sqlite_utils.Database, live: LiveCall, row: dict[str, Any]) -> None:
        self.ari = ari
        self.db = db
        self.live = live
        self.row = row
        self.consult: Consult | None = None  # the conversation's, once it runs: warm transfers need it

    async def run(self, tool: dict[str, Any], arguments: dict[str, Any], call_key: str) -> ToolResult:
        try:
            if tool.get("builtin") == "send_dtmf":
                return await self._send_dtmf(str(arguments.get("digits", "")))
            if tool.get("builtin") == "transfer_call":
                warm = tool["config"].get("mode") == "warm"
                return await self._transfer(tool["config"]["destination"], str(arguments.get("reason") or ""), warm)
        except (AriError, ConnectionError, TimeoutError) as exc:
            log.warning("line_tools.failed", call_id=self.live.call_id, tool=tool["name"], error=str(exc))
            return ToolResult("error", error=f"the phone system failed: {exc}")
        return ToolResult("error", error=f"{tool['name']} cannot run on a phone call")

    async def _send_dtmf(self, digits: str) -> ToolResult:
        keys = digits.replace(",", "w")  # Asterisk waits half a second at each w
        if not keys:
            return ToolResult("error", error="no keys to press")
        await self.ari.send_dtmf(self.live.channel_id, keys, between_ms=BETWEEN_KEYS_MS, duration_ms=KEY_MS)
        # ARI answers before the keys have been played: the agent listens on once they have been.
        await asyncio.sleep(len(keys) * (KEY_MS + BETWEEN_KEYS_MS) / 1000)
        return ToolResult("ok", {"pressed": digits})

    async def _transfer(self, destination: str, reason: str, warm: bool) -> ToolResult:
        live, trunk = self.live, self.row.get("trunk_id")
        if trunk is None or live.bridge_id is None or live.media is None or (warm and self.consult is None):
            return ToolResult("error", error="this call cannot be transferred")
        target = f"transfer-{live.call_id}"
        events = self.ari.subscribe(target)
        live.transfer_channel_id = target  # hung up with the call, whatever happens next
        try:
            if warm:
                await live.media.drained()  # the agent's words before the transfer are heard, then the music
                await self._hold()
            failed = await self._dial(destination, trunk, target, events)
            if failed is None and warm:
                await self.ari.add_channel(live.bridge_id, target)  # the agent and the destination, alone
                failed = await self._ask(events, reason)
            if failed is not None:
                live.transfer_channel_id = None
                with contextlib.suppress(AriError):
                    await self.ari.hangup(target)
                await self._unhold()
                events.close()
                return ToolResult("error", error=f"could not transfer: {_FAILED[failed]}")
            await live.media.drained()  # the agent's last words (to the caller, or to the destination) are heard
            if warm:
                if live.media_channel_id:
                    await self.ari.remove_channel(live.bridge_id, live.media_channel_id)
                await self._unhold()  # the caller joins the destination
            else:
                await self.ari.add_channel(live.bridge_id, target)
                if live.media_channel_id:
                    await self.ari.remove_channel(live.bridge_id, live.media_channel_id)
        except BaseException:
            events.close()
            with contextlib.suppress(AriError, ConnectionError):
                await self._unhold()  # never left on hold by a failure
            raise
        store.set_fields(self.db, live.call_id, transferred_to=destination)
        live.watch = asyncio.create_task(self._hang_up_with(events), name=f"transfer-{live.call_id}")
        log.info("line_tools.transferred", call_id=live.call_id, to=destination, warm=warm)
        return ToolResult("ok", {"transferred_to": destination}, ends_call="transferred")

    async def _dial(self, destination: str, trunk: str, target: str, events: Subscription) -> str | None:
        """Dial the destination as a new leg; None once it answered, else the outcome (busy, no_answer…)."""
        # The box's own number as caller ID: a trunk refuses to send a caller's number it does not own.
        own = self.row["from_number"] if self.row["direction"] == "outbound" else self.row["to_number"]
        await self.ari.originate(
            dial_endpoint(destination, trunk),
            channel_id=target,
            caller_id=own,
            ring_timeout=TRANSFER_RING_S,
            app_args=("transfer", self.live.call_id),
        )
        async with asyncio.timeout(TRANSFER_RING_S + 10):
            event = await events.wait_for(StasisStart, ChannelDestroyed)
        if isinstance(event, ChannelDestroyed):
            outcome = outcome_for(event.cause, event.tech_cause).status
            log.info("line_tools.transfer_failed", call_id=self.live.call_id, to=destination, outcome=outcome)
            return outcome
        return None

    async def _hold(self) -> None:
        """The caller waits in a holding bridge of their own, with music on hold."""
        live = self.live
        assert live.bridge_id is not None
        live.holding_bridge_id = f"hold-{live.call_id}"
        await self.ari.create_bridge(live.holding_bridge_id, type="holding")
        await self.ari.remove_channel(live.bridge_id, live.channel_id)
        await self.ari.add_channel(live.holding_bridge_id, live.channel_id)
        await self.ari.start_moh(live.holding_bridge_id)

    async def _unhold(self) -> None:
        """The caller back in the call's bridge (with the agent, or with the destination put through)."""
        live = self.live
        if live.holding_bridge_id is None or live.bridge_id is None:
            return
        with contextlib.suppress(AriError):
            await self.ari.remove_channel(live.holding_bridge_id, live.channel_id)
        await self.ari.add_channel(live.bridge_id, live.channel_id)
        await self.ari.destroy_bridge(live.holding_bridge_id)
        live.holding_bridge_id = None

    async def _ask(self, events: Subscription, reason: str) -> str | None:
        """The agent asks the destination to take the call; None when they do (by voice or the 1 key)."""
        assert self.consult is not None
        question = asyncio.ensure_future(self.consult(warm_intro(self.row, reason), CONSULT_LISTEN_S))
        key = asyncio.ensure_future(events.wait_for(ChannelDtmfReceived, ChannelDestroyed))
        try:
            await asyncio.wait({question, key}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (question, key):
                pending.cancel()
        if key.done() and not key.cancelled():
            event = key.result()
            if isinstance(event, ChannelDestroyed):
                answer = "hung_up"
            else:
                answer = "accepted" if event.digit == "1" else "declined"
        elif question.cancelled() or question.exception() is not None:  # a question that failed heard nothing
            error = "cancelled" if question.cancelled() else repr(question.exception())
            log.warning("line_tools.question_failed", call_id=self.live.call_id, error=error)
            answer = "no_reply"
        else:
            answer = destination_answer(question.result())
        log.info("line_tools.destination_answered", call_id=self.live.call_id, answer=answer)
        if answer != "accepted":
            return answer
        await self.consult(PUTTING_THROUGH, 0)
        return None

    async def _hang_up_with(self, events: Subscription) -> None:
        """The destination hung up: so does the caller's leg (the call is over)."""
        with events:
            await events.wait_for(StasisEnd, ChannelDestroyed)
        with contextlib.suppress(AriError):
            await self.ari.hangup(self.live.channel_id)
