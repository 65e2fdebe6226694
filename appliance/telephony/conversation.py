"""Glue between the dialer and the voice engine: a conversation per answered call, reporting to the store."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from appliance.privacy.consent import agreed
from appliance.privacy.pii import redact, redact_values
from appliance.privacy.plain import PlainTranscripts
from appliance.store import calls as store
from appliance.store import webhooks as webhook_store
from appliance.store.jsoncol import dumps
from appliance.store.records import TranscriptSegment
from appliance.telephony.line_tools import LineTools
from appliance.telephony.live_call import ConversationFactory
from appliance.telephony.opt_out import OptOuts
from appliance.tools_http import HttpToolRunner
from appliance.voice.amd import Verdict
from appliance.voice.brief import CallBrief
from appliance.voice.call_audio import CallMedia
from appliance.voice.engine import VoiceEngine
from appliance.voice.session import ConversationSession
from appliance.voice.tool_calls import ToolResult, ToolRunner


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class StoreSink:
    """Writes a conversation's transcript, turn events, latency and recording as they happen. With `redact`
    kinds, every text is redacted before it reaches the store (the words themselves stay in `plain`, in
    memory, for the extraction). `recording`: "on", "off" (no recording), or "after_consent": the caller's
    first answer after the agent's opening (the recording notice) decides whether the recording is kept."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        call_id: str,
        recordings_dir: Path,
        opt_outs: OptOuts,
        *,
        redact: list[str] | None = None,
        plain: PlainTranscripts | None = None,
        recording: str = "on",
    ) -> None:
        self.db = db
        self.opt_outs = opt_outs
        self.call_id = call_id
        self.recordings_dir = recordings_dir
        self.redact = redact or []
        self.plain = plain
        self.recording = recording
        self.consent: bool | None = None  # after_consent: None until the caller answered the notice
        self._agent_spoke = False
        self._sequence = db.execute(
            "SELECT COALESCE(MAX(sequence_no), 0) FROM transcript_segments WHERE call_id = ?", [call_id]
        ).fetchone()[0]

    def segment(self, role: str, said: str, started: datetime, ended: datetime, source: str) -> None:
        if self.recording == "after_consent" and self.consent is None:
            if role == "agent":
                self._agent_spoke = True
            elif role == "user" and self._agent_spoke:  # before the opening, "Hello?" answers nothing
                self.consent = agreed(said, source)
                self.event("recording_consent", {"given": self.consent, "answer": said})
        if self.redact:
            if self.plain is not None:
                self.plain.add(self.call_id, role, said)
            said = redact(said, self.redact)
        self._sequence += 1
        store.add_segment(
            self.db,
            self.call_id,
            TranscriptSegment(
                sequence_no=self._sequence,
                role=role,  # type: ignore[arg-type]
                text=said,
                started_at=_iso(started),
                ended_at=_iso(ended),
                duration_ms=max(0, int((ended - started).total_seconds() * 1000)),
                source=source,  # type: ignore[arg-type]
            ),
        )
        if role == "user":
            self.opt_outs.heard(self.call_id, said)

    def event(self, kind: str, data: dict[str, Any]) -> None:
        # Turn events carry what was said (and AMD's the greeting's words): redacted like the transcript.
        store.add_event(self.db, self.call_id, kind, redact_values(data, self.redact) if self.redact else data)

    def answered(self, verdict: Verdict, at_ms: int) -> None:
        store.set_fields(self.db, self.call_id, answered_by=verdict.answered_by)
        self.event(
            "amd",
            {"answered_by": verdict.answered_by, "signal": verdict.signal, "detail": verdict.detail, "at_ms": at_ms},
        )

    def voicemail_left(self) -> None:
        store.set_fields(self.db, self.call_id, voicemail_left=1)

    def recording_path(self) -> Path | None:
        keep = self.recording == "on" or (self.recording == "after_consent" and self.consent is True)
        return self.recordings_dir / f"{self.call_id}.wav" if keep else None

    def finish(self, latencies_ms: list[int], recording: Path | None) -> None:
        fields: dict[str, Any] = {}
        if latencies_ms:
            ordered = sorted(latencies_ms)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            fields["latency"] = dumps({"p50": int(statistics.median(ordered)), "p95": p95, "turns": len(ordered)})
        if recording is not None:
            fields["recording_path"] = str(recording)
        if fields:
            store.set_fields(self.db, self.call_id, **fields)


class CallTools:
    """Each tool call to what runs it: HTTP tools to the HTTP runner, built-ins to the line's (a transfer, keys)."""

    def __init__(self, http: ToolRunner | None, line: ToolRunner | None) -> None:
        self.http = http
        self.line = line

    async def run(self, tool: dict[str, Any], arguments: dict[str, Any], call_key: str) -> ToolResult:
        runner = self.http if tool.get("type") == "http" else self.line
        if runner is None:  # a talk in the browser has no phone line to transfer or press keys on
            return ToolResult("error", error=f"{tool['name']} cannot be used on this call")
        return await runner.run(tool, arguments, call_key)


def session_factory(
    db: sqlite_utils.Database,
    engine: VoiceEngine,
    recordings_dir: Path,
    opt_outs: OptOuts,
    plain: PlainTranscripts | None = None,
    url_allowlist: list[str] | None = None,
) -> ConversationFactory:
    """The dialer's `ConversationFactory`: a voice conversation on every answered call."""

    def create(row: dict[str, Any], media: CallMedia, line: ToolRunner | None) -> ConversationSession:
        snapshot = row["agent_snapshot"] or {}
        call = call_brief(row)
        sink = StoreSink(
            db,
            row["id"],
            recordings_dir,
            opt_outs,
            redact=snapshot.get("redact"),
            # The words are held only for the result fields exempt from redaction, which need them.
            plain=plain if snapshot.get("redact_exempt_fields") and snapshot.get("returns") else None,
            recording=snapshot.get("recording") or "on",
        )
        http = None
        if any(t.get("type") == "http" for t in call.tools):
            http = HttpToolRunner(call, webhook_store.inline_secret(db), url_allowlist or [])
        session = ConversationSession(call, media, engine, sink, CallTools(http, line))
        if isinstance(line, LineTools):
            line.consult = session.consult  # a warm transfer asks its destination in the agent's voice
        return session

    return create


def call_brief(row: dict[str, Any]) -> CallBrief:
    """What the conversation needs of a call row (call_row() decoded its JSON columns)."""
    agent = row["agent_snapshot"] or {}
    return CallBrief(
        id=row["id"],
        direction=row["direction"],
        agent_name=agent.get("name"),
        agent_id=row["agent_id"],
        persona=agent.get("persona"),
        instructions=row["instructions"],
        language=agent.get("language") or "en",
        voice=agent.get("voice"),
        first_message=with_notice(agent.get("recording_notice"), agent.get("first_message")),
        voicemail_action=agent.get("voicemail_action") or "hangup",
        voicemail_message=agent.get("voicemail_message"),
        silence_timeout_seconds=float(agent.get("silence_timeout_seconds") or 20),
        returns=agent.get("returns"),
        tools=agent.get("tools") or [],
        context=row["context"],
        metadata=row["metadata"],
        to_number=row["to_number"],
        from_number=row["from_number"],
    )


def agent_brief(agent: dict[str, Any]) -> CallBrief:
    """A call of `agent` (an agent row) with nothing of its own: what its prepared questions are written from."""
    direction = "inbound" if agent["type"] == "inbound" else "outbound"
    row = {"id": f"agent:{agent['id']}", "direction": direction, "agent_id": agent["id"], "agent_snapshot": agent}
    return call_brief(
        row
        | {"instructions": agent["instructions"], "context": {}, "metadata": {}, "to_number": None, "from_number": None}
    )


def prompt_reader(engine: VoiceEngine) -> Callable[[dict[str, Any]], asyncio.Task[None] | None]:
    """The dialer's `on_ringing`: the model reads the call's prompt while it rings (the reading, if begun)."""
    return lambda row: engine.ringing.prepare(call_brief(row))


def with_notice(notice: str | None, first_message: str | None) -> str | None:
    """The opening line with the recording notice before it: the notice is the first thing the caller hears.
    With no `first_message`, the notice is the opening and the model speaks after the caller's answer."""
    notice = (notice or "").strip()
    if not notice:
        return first_message
    return f"{notice} {first_message.strip()}" if first_message and first_message.strip() else notice
