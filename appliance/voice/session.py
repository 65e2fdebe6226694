"""One conversation on an answered call: listen, decide when the caller's turn is over, reply.

The event loop only moves frames and state. Each caller turn is transcribed at the first pause
(200 ms of silence), and a reply starts generating at once, speculatively: if the caller goes on,
it is thrown away; when the turn is over (300 ms of silence after a complete sentence, else
700 ms) its audio is released. The reply is spoken chunk by chunk as the model streams. Caller
speech while the agent talks pauses the agent within a few frames; a backchannel resumes it, a
real turn drops the rest, and the history keeps only what the caller heard.

While the line is otherwise idle, the model reads ahead: once the agent's reply is in the history, and
as the caller speaks (their turn transcribed every 600 ms of speech, less often in a long one), the next
prompt is evaluated as far as it is known, so that at the end of the turn only its last words are left.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from appliance.voice import prompt, text
from appliance.voice.amd import BeepDetector, GreetingProbes, Verdict, classify_greeting, phrase_verdict
from appliance.voice.call_audio import CallMedia, continuous_frames
from appliance.voice.engine import VoiceEngine
from appliance.voice.goal import goal_fields
from appliance.voice.recorder import StereoRecorder
from appliance.voice.speaker import Speaker
from appliance.voice.tts import Synthesizer
from appliance.voice.turns import Turn, TurnDetector, TurnEvent, lead_quiet, lead_trimmed
from appliance.voice.vad import Vad

log = structlog.get_logger(__name__)

BEEP_WATCH_S = 30.0  # a beep this early in the call can only be a voicemail box
ANSWER_WATCH_S = 20.0  # a provisional "human" is final after this long without a sign of a mailbox
GREETING_WAIT_S = 1.5  # outbound: let the callee say "Hello?" first, but do not wait longer than this
BACKCHANNEL_MAX_MS = 1200  # longer speech during agent audio is a real interruption whatever it says
READ_AHEAD_EVERY_MS = 600  # of the caller's speech between two early reads of their turn, at least…
READ_AHEAD_GROWTH = 1.5  # …and a long turn is read at 1.5 times the speech of the last read: Whisper reads the
# whole turn each time, so a monologue costs a bounded multiple of one read of it


class CallSink(Protocol):
    """Where a conversation reports to (the store, behind the telephony side)."""

    def segment(self, role: str, said: str, started: datetime, ended: datetime, source: str) -> None: ...
    def event(self, kind: str, data: dict[str, Any]) -> None: ...
    def answered(self, verdict: Verdict, at_ms: int) -> None: ...
    def voicemail_left(self) -> None: ...
    def finish(self, latencies_ms: list[int], recording: Path | None) -> None: ...
    def recording_path(self) -> Path | None: ...  # None: this call keeps no recording


@dataclass
class Reply:
    """An agent reply being generated (and maybe held back until the caller's turn is over)."""

    user_text: str
    turn: Turn | None  # the caller turn it answers (None: the agent opens or prompts)
    turn_end_at: float  # arrival (loop time) of the caller's last voiced frame
    released: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    spoken: list[str] = field(default_factory=list)
    full_text: str = ""
    end_call: bool = False
    first_audio_at: float | None = None
    first_token_at: float | None = None
    first_chunk_at: float | None = None  # the first speakable words were complete
    first_tts_ms: int | None = None
    started_at: float = 0.0
    committed: bool = False


def _utc(loop_time: float, loop: asyncio.AbstractEventLoop) -> datetime:
    return datetime.fromtimestamp(time.time() - (loop.time() - loop_time), UTC)


class ConversationSession:
    def __init__(self, call: dict[str, Any], media: CallMedia, engine: VoiceEngine, sink: CallSink) -> None:
        self.call = call
        self.call_id: str = call["id"]
        self.media = media
        self.engine = engine
        self.sink = sink
        self.recorder = StereoRecorder()
        self.speaker = Speaker(media, self.recorder, clock=lambda: asyncio.get_running_loop().time())
        self.turns = TurnDetector()
        self.vad = Vad()
        self.history: list[dict[str, str]] = []
        self.goal = goal_fields(call.get("returns"))
        self.latencies: list[int] = []
        self.reply: Reply | None = None
        self.barge: Turn | None = None  # caller speech that paused the agent, not yet judged
        self.ignored: Turn | None = None  # a backchannel: not a turn of the conversation
        self.awaiting_greeting = False
        outbound = call.get("direction") == "outbound"
        self.beep = BeepDetector() if outbound else None
        self.verdict: Verdict | None = None if outbound else Verdict("human", "inbound")
        self.machine = False
        self.verdict_final = not outbound  # published once, when final; until then a mailbox can overturn it
        self._verdict_ms = 0
        # The last caller turn that began once the agent had spoken and was quiet: an answer to it. A recorded
        # greeting talks on regardless (over the agent, or before it has said anything).
        self._answer: Turn | None = None
        self.probes = GreetingProbes()
        self._stt_running = 0
        self._read_ahead: asyncio.Task[None] | None = None
        self._read_turn: tuple[Turn | None, int] = (None, 0)  # the turn last read ahead, and its speech then
        self.greeting: tuple[str, float] | None = None  # what the callee answered with, and when it ended
        self.ended: asyncio.Future[str | None] | None = None
        self.tts: Synthesizer | None = None
        self.last_activity = 0.0
        self.silence_prompted = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._log = log.bind(call_id=self.call_id)

    # --- lifecycle -------------------------------------------------------------------------------
    async def run(self) -> str | None:
        loop = asyncio.get_running_loop()
        self.ended = loop.create_future()
        if not await self.engine.ready():
            raise RuntimeError(f"voice engine unavailable: {self.engine.error}")
        self.tts = await self.engine.voice(self.call.get("voice"))
        self.system = prompt.system_prompt(self.call, datetime.now(), self.goal)
        self.last_activity = loop.time()
        listener = asyncio.create_task(self._listen(), name=f"listen-{self.call_id}")
        opener = self._spawn(self._open())
        try:
            return await self.ended
        finally:
            for task in (listener, opener, *self._tasks):
                task.cancel()
            await asyncio.gather(listener, opener, *self._tasks, return_exceptions=True)
            self._close()

    def _close(self) -> None:
        self._finalize()
        if self.engine.llm is not None:
            self.engine.llm.forget(self.call_id)
        target, path = self.sink.recording_path(), None
        with contextlib.suppress(OSError):
            path = self.recorder.write(target) if target is not None else None
        self.sink.finish(self.latencies, path)

    def _end(self, reason: str | None) -> None:
        if self.ended is not None and not self.ended.done():
            self._log.info("voice.end", reason=reason)
            self.ended.set_result(reason)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None and self.ended and not self.ended.done():
            self.ended.set_exception(exc)  # a broken conversation ends the call with an error

    def _messages(self, *extra: dict[str, str]) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, *self.history, *extra]

    # --- opening ---------------------------------------------------------------------------------
    async def _open(self) -> None:
        assert self.engine.llm is not None and self.tts is not None
        loop = asyncio.get_running_loop()
        first = (self.call.get("first_message") or "").strip()
        opening_audio = asyncio.create_task(asyncio.to_thread(self.tts.synthesize, first)) if first else None
        prepared = self.engine.ringing.take(self.call_id)  # the prompt the model read while the line rang
        if prepared is not None:
            self.system, warm = prepared.system, prepared.read
            self.sink.event("prompt_read_while_ringing", {"done": warm.done()})  # else the reading goes on
        else:
            warm = asyncio.create_task(self.engine.llm.warm(self.call_id, self._messages()))
        greeting_end = loop.time()
        if self.call.get("direction") == "outbound":
            # A person usually answers with "Hello?": wait for it to end (or a short while if they say
            # nothing), so the opening neither talks over them nor is answered to by the model.
            self.awaiting_greeting = True
            deadline = loop.time() + GREETING_WAIT_S
            while self.turns.in_turn or self._stt_running or (loop.time() < deadline and not self.greeting):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            self.awaiting_greeting = False
            if self.machine:
                return
            if self.verdict is None:
                self._decide(Verdict("unknown", "no_greeting", "nothing said within the wait"))
            if self.greeting:
                said, greeting_end = self.greeting
                self.history.append({"role": "user", "content": said})
                self._user_segment(said, greeting_end)
        if opening_audio is not None:
            pcm = lead_trimmed(await opening_audio)
            self.history.append({"role": "assistant", "content": first})
            started = loop.time()
            self.speaker.reset()
            self.speaker.say(first, pcm)
            self._agent_segment(first, started, len(pcm) / 16000)
            self._read_ahead = self._spawn(self._prefill(None))
            if self.greeting:
                latency = int((started + lead_quiet(pcm) - greeting_end) * 1000)
                self.latencies.append(latency)
                self.sink.event("turn", {"latency_ms": latency, "user": self.greeting[0], "agent": first})
            self.last_activity = started + len(pcm) / 16000
        else:
            with contextlib.suppress(Exception):  # a failed reading (logged) only costs the time to read again
                await warm
            self._start_reply(prompt.open_call(self.call, self.goal), None, release=True)

    # --- who answered -------------------------------------------------------------------------
    def _decide(self, verdict: Verdict, late_ok: bool = False) -> None:
        """Take a verdict; a machine (even a late one, while the verdict is not final) stops the conversation."""
        if self.machine or self.verdict_final:
            return
        if self.verdict is not None and not (late_ok and verdict.answered_by == "machine"):
            return
        self.verdict, self._verdict_ms = verdict, self._ms()
        self._log.info("voice.answered_by", answered_by=verdict.answered_by, signal=verdict.signal)
        if verdict.answered_by != "machine":
            return  # provisional: the greeting may go on to ask for a message
        self._finalize()
        self.machine = True
        self.speaker.stop()
        if self.reply is not None and self.reply.task is not None:
            self.reply.task.cancel()
        if self.call.get("voicemail_action") == "leave_message":
            self._spawn(self._leave_message(beeped=verdict.signal == "beep"))
        else:
            self._end("voicemail")

    def _finalize(self) -> None:
        """Publish the verdict, once: a machine at once; a person when they answered the agent (or after
        `ANSWER_WATCH_S`, or when the call ends)."""
        if self.verdict_final or self.verdict is None:
            return
        self.verdict_final = True
        self.sink.answered(self.verdict, self._verdict_ms)
        if self.verdict.answered_by != "machine":
            self.beep = None  # a person: no later tone (an indication, music, a hum) may hang up on them

    def _probing(self, turn: Turn) -> bool:
        """Read this turn while it goes on, for a mailbox's words: the greeting, and, until the verdict is
        final, any speech that is not an answer to the agent (a recorded greeting talks on regardless)."""
        if self.awaiting_greeting:
            return True
        return not self.verdict_final and not self.machine and turn is not self._answer

    async def _probe_greeting(self, turn: Turn) -> None:
        assert self.engine.stt is not None
        self._stt_running += 1
        try:
            said = await asyncio.to_thread(self.engine.stt.transcribe, self.probes.window(bytes(turn.audio)), "en")
        finally:
            self._stt_running -= 1
        if self._probing(turn) and (verdict := phrase_verdict(said, decided=self.verdict is not None)):
            self._decide(verdict, late_ok=True)

    async def _leave_message(self, beeped: bool) -> None:
        """Wait for the beep (or the end of the greeting and a moment of silence), then speak the message."""
        assert self.tts is not None
        loop = asyncio.get_running_loop()
        message = (self.call.get("voicemail_message") or "").strip() or prompt.voicemail_message(self.call)
        pcm = await asyncio.to_thread(self.tts.synthesize, message)
        deadline = loop.time() + 20
        quiet_since = loop.time()
        while not beeped and loop.time() < deadline:
            await asyncio.sleep(0.05)
            if self.beep is None or self.beep.beeped:
                break  # the beep came (or we stopped watching for one)
            if self.turns.in_turn:
                quiet_since = loop.time()
            elif loop.time() - quiet_since > 2.0:
                break  # greeting over and no beep: speak after the silence
        await asyncio.sleep(0.3)
        self.speaker.reset()
        self.speaker.say(message, pcm)
        self._agent_segment(message, loop.time(), len(pcm) / 16000)
        await self.media.drained()
        self.sink.voicemail_left()
        await asyncio.sleep(0.3)
        self._end("voicemail")

    # --- listening ------------------------------------------------------------------------------
    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        silence_timeout = float(self.call.get("silence_timeout_seconds") or 20)
        async for pcm, arrived in continuous_frames(self.media):
            now = loop.time()
            self.recorder.caller(pcm, arrived)
            if self.beep is not None and self.beep.feed(pcm):
                tone, self.beep = self.beep.frequency, None
                self._decide(Verdict("machine", "beep", f"{tone:.0f} Hz tone"), late_ok=True)
            elif self.beep is not None and self._ms() > BEEP_WATCH_S * 1000:
                self.beep = None
            if not self.verdict_final and self.verdict is not None and self._ms() > ANSWER_WATCH_S * 1000:
                self._finalize()
            speech = self.vad.is_speech(pcm)
            result = self.turns.feed(pcm, speech, arrived)
            if result is not None:
                self._on_turn_event(*result)
            if (turn := self.turns.turn) is not None and self._probing(turn):
                if self.awaiting_greeting and (verdict := classify_greeting("", turn.speech_ms, finished=False)):
                    self._decide(verdict)
                elif self.probes.due(turn.speech_ms, reading=self._stt_running > 0):
                    # Read the greeting as it goes: "leave a message" need not wait for its end.
                    self._spawn(self._probe_greeting(turn))
            if self.barge is not None and self.barge.speech_ms > BACKCHANNEL_MAX_MS:
                self._interrupt()  # too long for "mm-hmm": a real interruption, whatever the words
            if speech and self._read_ahead_due():
                self._read_ahead = self._spawn(self._prefill(self.turns.turn))
            if self.speaker.audible or self.turns.in_turn or self._replying():
                self.last_activity = now
            elif now - self.last_activity > silence_timeout:
                self._on_silence()
        self._end(None)  # the media closed: the call is over (the dialer knows why)

    def _on_silence(self) -> None:
        if self.silence_prompted:
            self._say_then(prompt.SILENT_GOODBYE, end_reason="silence_timeout")
        else:
            self.silence_prompted = True
            self._say_then(prompt.STILL_THERE, end_reason=None)
        self.last_activity = asyncio.get_running_loop().time() + 5  # until the line is spoken

    def _say_then(self, line: str, end_reason: str | None) -> None:
        async def say() -> None:
            assert self.tts is not None
            pcm = await asyncio.to_thread(self.tts.synthesize, line)
            started = asyncio.get_running_loop().time()
            self.speaker.reset()
            self.speaker.say(line, pcm)
            self.history.append({"role": "assistant", "content": line})
            self._agent_segment(line, started, len(pcm) / 16000)
            if end_reason:
                await self.media.drained()
                await asyncio.sleep(0.3)
                self._end(end_reason)

        self._spawn(say())

    def _on_turn_event(self, event: TurnEvent, turn: Turn) -> None:
        if event is TurnEvent.STARTED:
            self.silence_prompted = False
            self.probes = GreetingProbes()
            if self.speaker.audible:
                self._barge_in(turn)
            elif self.media.samples_sent > 0:
                self._answer = turn
        elif event is TurnEvent.PAUSED:
            self._spawn(self._transcribe(turn))
        elif event is TurnEvent.RESUMED:
            if self.reply is not None and self.reply.turn is turn and not self.reply.released.is_set():
                self._drop_reply()  # they went on talking: the speculative reply is moot
            if turn is self.ignored:
                # More than "okay" after all: they went on (perhaps into the pause the backchannel caused),
                # so it is a turn to answer; left ignored, its end would never release the reply.
                self.ignored = None
                if self.speaker.audible:
                    self._barge_in(turn)
        elif event is TurnEvent.ENDED and turn is not self.ignored:
            if self.reply is not None and self.reply.turn is turn:
                self.reply.released.set()  # the speculative reply was for exactly these words
            elif self.turns.config.max_turn_ms <= (turn.last_speech_frame - turn.started_frame) * 20:
                self._spawn(self._transcribe(turn))  # cut for length, never paused: transcribe now

    def _replying(self) -> bool:
        return self.reply is not None and self.reply.task is not None and not self.reply.task.done()

    def _read_ahead_due(self) -> bool:
        """Time to read the caller's turn so far: enough new speech, and nothing else wants the CPU (another
        call's speech or generation, our own reply, a greeting still being judged)."""
        turn, llm = self.turns.turn, self.engine.llm
        if turn is None or llm is None or self.awaiting_greeting or self.machine or self.barge is not None:
            return False
        if self._read_ahead is not None and not self._read_ahead.done():
            return False
        last, spoken = self._read_turn
        spoken = spoken if turn is last else 0
        if turn.speech_ms < max(spoken + READ_AHEAD_EVERY_MS, spoken * READ_AHEAD_GROWTH):
            return False
        return not self._replying() and not self.engine.priority.busy and llm.can_prefill(self.call_id)

    async def _prefill(self, turn: Turn | None) -> None:
        """Evaluate the next reply's prompt as far as it is known: the history, and the caller's words so
        far when `turn` is given (≈ 100 ms of Whisper on the idle CPU)."""
        assert self.engine.llm is not None and self.engine.stt is not None
        try:
            so_far = ""
            if turn is not None:
                self._read_turn = (turn, turn.speech_ms)
                language = self.call.get("language") or "en"
                said = await asyncio.to_thread(self.engine.stt.transcribe, bytes(turn.audio), language)
                so_far = said.rstrip(" .?!…")  # Whisper ends a cut-off phrase with a stop the whole turn lacks
                if not text.words(so_far) or self.turns.turn is not turn or self._replying():
                    return  # their turn is over meanwhile: the reply reads it all
            await self.engine.llm.prefill(self.call_id, self._messages(), so_far)
        except Exception as exc:  # only time is lost: the reply reads the whole prompt itself
            self._log.warning("voice.read_ahead_failed", error=f"{type(exc).__name__}: {exc}")

    def _barge_in(self, turn: Turn) -> None:
        self.speaker.pause()  # silence at once; the words decide later whether it was an interruption
        self.barge = turn
        self.sink.event("barge_in_started", {"at_ms": self._ms()})

    async def _transcribe(self, turn: Turn) -> None:
        assert self.engine.stt is not None
        mark = turn.last_speech_frame
        audio = bytes(turn.audio)
        started = time.perf_counter()
        self._stt_running += 1
        try:
            said = await asyncio.to_thread(self.engine.stt.transcribe, audio, self.call.get("language") or "en")
        finally:
            self._stt_running -= 1
        stt_ms = int((time.perf_counter() - started) * 1000)
        if turn.last_speech_frame != mark:
            return  # they went on talking; the next pause transcribes the whole turn
        ended = self.turns.turn is not turn
        if self.barge is turn:
            if text.is_backchannel(said) and turn.speech_ms <= BACKCHANNEL_MAX_MS:
                self.barge, self.ignored = None, turn
                self.speaker.resume()
                self.sink.event("backchannel", {"text": said, "at_ms": self._ms()})
                return
            self._interrupt()
        if not text.words(said):
            return  # noise
        if not ended and text.ends_sentence(said):
            self.turns.mark_complete()
        if not self.verdict_final and self.verdict is not None and (verdict := phrase_verdict(said, decided=True)):
            # A greeting that paused ("Hi, you've reached Sarah… leave a message") looked human at first.
            self._decide(verdict, late_ok=True)
        if self.awaiting_greeting or self.machine:
            if not self.machine:
                self.greeting = (said, turn.last_speech_at)  # the opening answers it
                if verdict := classify_greeting(said, turn.speech_ms, finished=True):
                    self._decide(verdict)
            return
        self._start_reply(said, turn, release=ended, stt_ms=stt_ms)

    def _interrupt(self) -> None:
        """The caller really took the turn: drop the rest of the reply, keep what they heard."""
        heard = self.speaker.stop()
        self.barge = None
        reply = self.reply
        if reply is not None and reply.task is not None and not reply.task.done():
            reply.task.cancel()
            self._commit(reply, heard or "…")
        elif self.history and self.history[-1]["role"] == "assistant":
            self.history[-1]["content"] = heard or "…"
        self.sink.event("barge_in", {"heard": heard, "at_ms": self._ms()})

    def _drop_reply(self) -> None:
        if self.reply is not None and self.reply.task is not None:
            self.reply.task.cancel()
        self.reply = None

    # --- replying --------------------------------------------------------------------------------
    def _start_reply(self, user_text: str, turn: Turn | None, *, release: bool, stt_ms: int = 0) -> None:
        previous = self.reply
        if previous is not None and previous.task is not None and not previous.task.done():
            previous.task.cancel()
            if previous.turn is not None and previous.turn is not turn and not previous.committed:
                # They spoke again before the reply to their last turn was heard: answer both at once.
                user_text = f"{previous.user_text} {user_text}"
        loop = asyncio.get_running_loop()
        reply = Reply(user_text, turn, turn.last_speech_at if turn else loop.time(), started_at=loop.time())
        if release:
            reply.released.set()
        self.reply = reply
        reply.task = self._spawn(self._generate(reply, stt_ms))

    def _commit(self, reply: Reply, said: str) -> None:
        """The turn happened: the caller's words, then the agent's, into the history and the transcript."""
        if reply.committed:
            return
        reply.committed = True
        if reply.turn is not None:
            if not self.verdict_final and reply.turn is self._answer:
                # They answered the agent, rather than talking on regardless of it: a person.
                if self.verdict is not None and self.verdict.answered_by == "unknown":
                    self.verdict = Verdict("human", "answered_agent", reply.user_text[:80])
                self._finalize()
            self.history.append({"role": "user", "content": reply.user_text})
            self._user_segment(reply.user_text, reply.turn_end_at)
        self.history.append({"role": "assistant", "content": said})
        if reply.first_audio_at is not None:
            self._agent_segment(said, reply.first_audio_at, None)

    async def _generate(self, reply: Reply, stt_ms: int) -> None:
        assert self.engine.llm is not None and self.tts is not None
        loop = asyncio.get_running_loop()
        messages = self._messages({"role": "user", "content": reply.user_text})
        chunker = text.SentenceChunker()
        tts_ms = 0
        async with contextlib.aclosing(self.engine.llm.stream(self.call_id, messages)) as pieces:
            async for piece in pieces:
                if reply.first_token_at is None:
                    reply.first_token_at = loop.time()
                reply.full_text += piece
                for chunk in chunker.push(piece):
                    tts_ms += await self._speak(reply, chunk)
                if text.END_CALL_MARK in reply.full_text:
                    break
        for chunk in chunker.flush():
            tts_ms += await self._speak(reply, chunk)
        await reply.released.wait()
        said, reply.end_call = text.strip_marks(reply.full_text)
        self._commit(reply, said)
        if not reply.end_call:
            self._read_ahead = self._spawn(self._prefill(None))
        if reply.first_audio_at is not None:
            latency = int((reply.first_audio_at - reply.turn_end_at) * 1000)
            if reply.turn is not None:
                self.latencies.append(latency)
            self.sink.event(
                "turn",
                {
                    "latency_ms": latency,
                    "stt_ms": stt_ms,
                    "llm_first_token_ms": int(((reply.first_token_at or loop.time()) - reply.started_at) * 1000),
                    "first_chunk_ms": int(((reply.first_chunk_at or loop.time()) - reply.started_at) * 1000),
                    "first_tts_ms": reply.first_tts_ms or 0,
                    "tts_ms": tts_ms,
                    "user": reply.user_text if reply.turn else None,
                    "agent": said,
                },
            )
        if reply.end_call:
            await self.media.drained()
            await asyncio.sleep(0.3)
            self._end("agent_ended")

    async def _speak(self, reply: Reply, chunk: str) -> int:
        assert self.tts is not None
        clean, _ = text.strip_marks(chunk)
        if not text.words(clean):
            return 0
        if reply.first_chunk_at is None:
            reply.first_chunk_at = asyncio.get_running_loop().time()
        started = time.perf_counter()
        pcm = await asyncio.to_thread(self.tts.synthesize, clean)
        tts_ms = int((time.perf_counter() - started) * 1000)
        if reply.first_tts_ms is None:
            reply.first_tts_ms = tts_ms  # 0 for a kept phrase
        await reply.released.wait()
        if reply.first_audio_at is None:
            self.speaker.reset()
            pcm = lead_trimmed(pcm)  # the caller is waiting: Piper opens with ≈ 60 ms of near-silence
        if self.speaker.say(clean, pcm) or reply.first_audio_at is None:
            # Latency ends where the caller hears the agent: its first loud frame.
            reply.first_audio_at = reply.first_audio_at or asyncio.get_running_loop().time() + lead_quiet(pcm)
        reply.spoken.append(clean)
        return tts_ms

    # --- transcript --------------------------------------------------------------------------------
    def _user_segment(self, said: str, last_speech_at: float) -> None:
        loop = asyncio.get_running_loop()
        ended = _utc(last_speech_at, loop)
        self.sink.segment("user", said, ended, ended, "stt")

    def _agent_segment(self, said: str, started_at: float, seconds: float | None) -> None:
        loop = asyncio.get_running_loop()
        started = _utc(started_at, loop)
        if seconds is None:
            seconds = (self.media.queued_samples / 8000) + (loop.time() - started_at)
        ended = datetime.fromtimestamp(started.timestamp() + seconds, UTC)
        self.sink.segment("agent", said, started, ended, "tts")

    def _ms(self) -> int:
        return self.recorder.position // 8
