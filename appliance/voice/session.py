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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from appliance.voice import closing, prompt, text
from appliance.voice.amd import Verdict
from appliance.voice.answer_watch import AnswerWatch
from appliance.voice.call_audio import CallMedia, continuous_frames
from appliance.voice.consult import Consultation
from appliance.voice.engine import VoiceEngine
from appliance.voice.goal import goal_fields
from appliance.voice.key_entry import KeyEntry
from appliance.voice.keypad import Keypad, as_turn
from appliance.voice.recorder import StereoRecorder
from appliance.voice.reply import Reply, ReplyVoice
from appliance.voice.ringing import Prepared
from appliance.voice.speaker import Speaker
from appliance.voice.tool_calls import FILLER_LATER, HOLDING, ToolRunner, ToolTurns, after_calls
from appliance.voice.tts import Synthesizer
from appliance.voice.turns import Turn, TurnDetector, TurnEvent, lead_quiet, lead_trimmed
from appliance.voice.vad import Vad

log = structlog.get_logger(__name__)

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


def _utc(loop_time: float, loop: asyncio.AbstractEventLoop) -> datetime:
    return datetime.fromtimestamp(time.time() - (loop.time() - loop_time), UTC)


class ConversationSession:
    def __init__(
        self,
        call: dict[str, Any],
        media: CallMedia,
        engine: VoiceEngine,
        sink: CallSink,
        tools: ToolRunner | None = None,
    ) -> None:
        self.call = call
        self.tool_runner = tools
        self.tools = ToolTurns(call["id"], [], None, None, sink)  # the call's own once the model is loaded
        self.prepared: Prepared | None = None  # the prompt the model read while the line rang
        self.system: list[dict[str, str]] = []
        self.call_id: str = call["id"]
        self.media = media
        self.engine = engine
        self.sink = sink
        self.recorder = StereoRecorder()
        self.speaker = Speaker(media, self.recorder, clock=lambda: asyncio.get_running_loop().time())
        self.turns = TurnDetector()
        self.keypad = Keypad(self._keyed)
        self.vad = Vad()
        self.history: list[dict[str, str]] = []
        self.goal = goal_fields(call.get("returns"))
        self.latencies: list[int] = []
        self.reply: Reply | None = None
        self.barge: Turn | None = None  # caller speech that paused the agent, not yet judged
        self.ignored: Turn | None = None  # a backchannel: not a turn of the conversation
        self.answer = AnswerWatch(
            call.get("direction") == "outbound", publish=sink.answered, on_machine=self._on_machine, ms=self._ms,
            call_id=self.call_id,
        )  # fmt: skip
        self.voice = ReplyVoice(self.speaker, media, self._spawn)
        self.consultation: Consultation | None = None  # a warm transfer asks its destination (consult)
        self._stt_running = 0
        self._read_ahead: asyncio.Task[None] | None = None
        self._read_turn: tuple[Turn | None, int] = (None, 0)  # the turn last read ahead, and its speech then
        self.ended: asyncio.Future[str | None] | None = None
        self.last_activity = 0.0
        self.silence_prompted = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._log = log.bind(call_id=self.call_id)

    @property
    def tts(self) -> Synthesizer | None:
        return self.voice.tts

    @tts.setter
    def tts(self, tts: Synthesizer) -> None:
        self.voice.tts = tts

    # --- lifecycle -------------------------------------------------------------------------------
    async def run(self) -> str | None:
        loop = asyncio.get_running_loop()
        self.ended = loop.create_future()
        if not await self.engine.ready():
            raise RuntimeError(f"voice engine unavailable: {self.engine.error}")
        self.tts = await self.engine.voice(self.call.get("voice"))
        brief = f"{self.call.get('persona') or ''} {self.call.get('instructions') or ''}"
        keys = KeyEntry(self.keypad, self.voice, self.media, self.sink, self._ms)
        self.tools = ToolTurns(
            self.call_id, self.call.get("tools") or [], self.engine.llm, self.tool_runner, self.sink, brief=brief,
            keys=keys,
        )  # fmt: skip
        self.prepared = self.engine.ringing.take(self.call_id)
        if self.prepared is not None:
            self.system = self.prepared.system
        else:
            self.system = prompt.system_messages(self.call, datetime.now(), self.goal, tools=self.tools.active)
        if self.tools.active:  # kept in the voice's phrase cache: a slow tool's filler costs no synthesis
            for line in (FILLER_LATER, *HOLDING):
                self._spawn(asyncio.to_thread(self.tts.synthesize, line))
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
        if (reply := self.reply) is not None and not reply.committed and reply.answers_caller:
            self._commit(reply, " ".join(reply.spoken))  # the call ended before the answer: their words stay
        self.answer.finalize()
        self.keypad.close()
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
        return [*self.system, *self.history, *extra]

    # --- opening ---------------------------------------------------------------------------------
    async def _open(self) -> None:
        assert self.engine.llm is not None and self.tts is not None
        loop = asyncio.get_running_loop()
        first = (self.call.get("first_message") or "").strip()
        opening_audio = asyncio.create_task(asyncio.to_thread(self.tts.synthesize, first)) if first else None
        if (prepared := self.prepared) is not None:
            warm = prepared.read
            self.sink.event("prompt_read_while_ringing", {"done": warm.done()})  # else the reading goes on
        else:
            warm = asyncio.create_task(self.engine.llm.warm(self.call_id, self._messages()))
        greeting_end = loop.time()
        if self.call.get("direction") == "outbound":
            # A person usually answers with "Hello?": wait for it to end (or a short while if they say
            # nothing), so the opening neither talks over them nor is answered to by the model.
            answer = self.answer
            answer.awaiting_greeting = True
            deadline = loop.time() + GREETING_WAIT_S
            while self.turns.in_turn or self._stt_running or (loop.time() < deadline and not answer.greeting):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            answer.awaiting_greeting = False
            if answer.machine:
                return
            if answer.verdict is None:
                answer.decide(Verdict("unknown", "no_greeting", "nothing said within the wait"))
            if answer.greeting:
                said, greeting_end = answer.greeting
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
            if self.answer.greeting:
                latency = int((started + lead_quiet(pcm) - greeting_end) * 1000)
                self.latencies.append(latency)
                self.sink.event("turn", {"latency_ms": latency, "user": self.answer.greeting[0], "agent": first})
            self.last_activity = started + len(pcm) / 16000
        else:
            with contextlib.suppress(Exception):  # a failed reading (logged) only costs the time to read again
                await warm
            self._start_reply(prompt.open_call(self.call, self.goal), None, release=True)

    # --- who answered -------------------------------------------------------------------------
    def _on_machine(self, verdict: Verdict) -> None:
        """A voicemail box answered: the conversation stops; a message is left, or the call ends."""
        self.speaker.stop()
        if self.reply is not None and self.reply.task is not None:
            self.reply.task.cancel()
        if self.call.get("voicemail_action") == "leave_message":
            self._spawn(self._leave_message(beeped=verdict.signal == "beep"))
        else:
            self._end("voicemail")

    async def _probe_greeting(self, turn: Turn) -> None:
        assert self.engine.stt is not None
        self._stt_running += 1
        try:
            window = self.answer.probes.window(bytes(turn.audio))
            said = await asyncio.to_thread(self.engine.stt.transcribe, window, "en")
        finally:
            self._stt_running -= 1
        self.answer.probed(turn, said)

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
            if not self.answer.listening_for_beep:
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
            self.answer.frame(pcm)
            speech = self.vad.is_speech(pcm)
            result = self.turns.feed(pcm, speech, arrived)
            if result is not None:
                self._on_turn_event(*result)
            if (turn := self.turns.turn) is not None and self.answer.probe_due(turn, reading=self._stt_running > 0):
                self._spawn(self._probe_greeting(turn))  # "leave a message" need not wait for the greeting's end
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
            self.answer.turn_started(turn, answers_agent=not self.speaker.audible and self.media.samples_sent > 0)
            if self.speaker.audible and self.consultation is None:
                self._barge_in(turn)
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
        elif event is TurnEvent.ENDED and self.consultation is not None:
            self.consultation.turn_ended(turn)
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
        answer = self.answer
        if turn is None or llm is None or answer.awaiting_greeting or answer.machine or self.barge is not None:
            return False
        if self.consultation is not None:
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
        if self.consultation is not None:
            self.consultation.heard(turn, said, ended)
            return
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
        if self.answer.heard(turn, said):
            return  # the greeting (the opening answers it), or a machine's words
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

    # --- consulting -----------------------------------------------------------------------------
    async def consult(self, line: str, listen_s: float) -> str:
        """Say `line` to whoever the line now carries (a warm transfer's destination, while the caller holds)
        once they have greeted, and return their answer ('' if none within `listen_s`; 0: say it, listen not)."""
        assert self.tts is not None
        loop = asyncio.get_running_loop()
        self.consultation = consultation = Consultation()
        self.voice.fillers = False  # "One moment." is for the caller, not for the person asked
        try:
            pcm = await asyncio.to_thread(self.tts.synthesize, line)
            deadline = loop.time() + GREETING_WAIT_S  # they answer with "Front desk, Dana speaking."
            while self.turns.in_turn or self._stt_running or (loop.time() < deadline and not consultation.heard_any):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            consultation.fresh()
            started = loop.time()
            self.speaker.reset()
            self.speaker.say(line, pcm)
            self._agent_segment(line, started, len(pcm) / 16000)
            await self.media.drained()
            heard = await consultation.answer(listen_s) if listen_s > 0 else ""
            self.sink.event("consult", {"said": line, "heard": heard})
            return heard
        except asyncio.CancelledError:
            self.speaker.stop()  # answered by a key meanwhile: the question need not go on
            raise
        finally:
            self.consultation = None
            self.voice.fillers = True

    # --- keypad ----------------------------------------------------------------------------------
    def keys(self, key: str) -> None:
        """A key the caller pressed (the dialer passes each one): it stops the agent as a barge-in would, and
        a run of keys becomes one caller turn (voice/keypad.py)."""
        if self.ended is None or self.ended.done() or self.answer.machine:
            return
        self.last_activity, self.silence_prompted = asyncio.get_running_loop().time(), False
        if self.keypad.collecting:  # the reply waits on these keys (collect_digits): they are no barge-in
            self.keypad.press(key)
            return
        reply = self.reply if self._replying() else None
        if self.speaker.audible or (reply is not None and reply.first_audio_at is not None):
            self._interrupt()  # (between two sentences too: what the caller heard of it stays in the history)
        elif reply is not None:
            reply.released.clear()  # not heard yet: held, and answered with the keys (_start_reply)
        self.keypad.press(key)

    def _keyed(self, keys: str) -> None:
        if self.ended is None or self.ended.done() or self.answer.machine:
            return
        if self.speaker.audible:
            self._interrupt()  # a reply began to speak while the keys were gathered
        self.sink.event("dtmf", {"digits": keys, "at_ms": self._ms()})
        self._start_reply(as_turn(keys), None, release=True, source="dtmf")

    # --- replying --------------------------------------------------------------------------------
    def _start_reply(
        self, user_text: str, turn: Turn | None, *, release: bool, stt_ms: int = 0, source: str = "stt"
    ) -> None:
        previous = self.reply
        if previous is not None and previous.task is not None and not previous.task.done():
            previous.task.cancel()
            other_turn = previous.source == "dtmf" or (previous.turn is not None and previous.turn is not turn)
            if previous.spoken or previous.tool_messages:
                # They spoke while it waited on a tool (or on its next words, a pause they took for its end):
                # what it said and what the tool gave are the history.
                if not previous.committed:
                    written, _ = text.strip_marks(previous.full_text)
                    self.sink.event(
                        "reply_cut", {"said": " ".join(previous.spoken), "written": written, "at_ms": self._ms()}
                    )
                self._commit(previous, " ".join(previous.spoken) or "…")
            elif other_turn and not previous.committed:
                # They spoke again before the reply to their last turn was heard: answer both at once.
                user_text = f"{previous.user_text} {user_text}"
        loop = asyncio.get_running_loop()
        reply = Reply(
            user_text, turn, turn.last_speech_at if turn else loop.time(), started_at=loop.time(), source=source
        )
        if release:
            reply.released.set()
        self.reply = reply
        reply.stt_ms = stt_ms
        reply.task = self._spawn(self._generate(reply))

    def _commit(self, reply: Reply, said: str) -> None:
        """The turn happened: the caller's words, then the agent's, into the history and the transcript."""
        if reply.committed:
            return
        reply.committed = True
        if reply.turn is not None:
            self.answer.answered(reply.turn, reply.user_text)
            self.history.append({"role": "user", "content": reply.user_text})
            self._user_segment(reply.user_text, reply.turn_end_at)
        elif reply.source == "dtmf":
            self.history.append({"role": "user", "content": reply.user_text})
            self._user_segment(reply.user_text, reply.turn_end_at, "dtmf")
        self.history.extend(reply.tool_messages)
        self.tools.write_segments()
        if rest := after_calls(said, reply.tool_messages):
            self.history.append({"role": "assistant", "content": rest})
        if reply.first_audio_at is not None:
            self._agent_segment(said, reply.first_audio_at, None)
            self._turn_event(reply, said)

    def _turn_event(self, reply: Reply, said: str) -> None:
        if reply.answers_caller:
            self.latencies.append(reply.latency_ms)
        self.sink.event("turn", reply.turn_record(said, asyncio.get_running_loop().time()))

    async def _generate(self, reply: Reply) -> None:
        assert self.engine.llm is not None and self.tts is not None
        messages = self._messages({"role": "user", "content": reply.user_text})
        await self.voice.say(reply, self.tools.stream(messages, reply.released, reply.tool_messages))
        await reply.released.wait()
        said, reply.end_call = text.strip_marks(reply.full_text)
        if reply.answers_caller and closing.caller_leaves(reply.user_text):
            reply.end_call = True  # the caller is leaving
        if reply.end_call and not self.tools.ends_call and not closing.says_goodbye(said):
            # The agent's last words take leave, whoever ended the call.
            reply.tts_ms += await self.voice.speak(reply, closing.GOODBYE)
            said = f"{said} {closing.GOODBYE}".strip()
        self._commit(reply, said)
        if self.tools.ends_call:
            self._end(self.tools.ends_call)  # put through to someone else: the agent's part is over
            return
        if not reply.end_call:
            self._read_ahead = self._spawn(self._prefill(None))
        if reply.end_call:
            await self.media.drained()
            await asyncio.sleep(0.3)
            self._end("agent_ended")

    # --- transcript --------------------------------------------------------------------------------
    def _user_segment(self, said: str, last_speech_at: float, source: str = "stt") -> None:
        loop = asyncio.get_running_loop()
        ended = _utc(last_speech_at, loop)
        self.sink.segment("user", said, ended, ended, source)

    def _agent_segment(self, said: str, started_at: float, seconds: float | None) -> None:
        loop = asyncio.get_running_loop()
        started = _utc(started_at, loop)
        if seconds is None:
            seconds = (self.media.queued_samples / 8000) + (loop.time() - started_at)
        ended = datetime.fromtimestamp(started.timestamp() + seconds, UTC)
        self.sink.segment("agent", said, started, ended, "tts")

    def _ms(self) -> int:
        return self.recorder.position // 8
