"""One conversation on an answered call: listen, decide when the caller's turn is over, reply.

The event loop only moves frames and state. Each caller turn is transcribed at the first pause
(200 ms of silence), and a reply starts generating at once, speculatively: if the caller goes on,
it is thrown away; when the turn is over (300 ms of silence after a complete sentence, else
700 ms) its audio is released. The reply is spoken chunk by chunk as the model streams. Caller
speech while the agent talks pauses the agent within a few frames; a backchannel resumes it, a
real turn drops the rest, and the history keeps only what the caller heard.

While the line is otherwise idle, the model reads ahead (read_ahead.py). What the session reports goes to
its `CallSink` (transcript.py); a voicemail box gets the agent's message (voicemail_drop.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import datetime

import structlog

from appliance.voice import prompt, text
from appliance.voice.agenda import Agenda
from appliance.voice.amd import Verdict
from appliance.voice.answer_watch import AnswerWatch
from appliance.voice.brief import CallBrief
from appliance.voice.call_audio import BYTES_PER_SECOND, CallMedia, continuous_frames
from appliance.voice.call_tasks import CallTasks
from appliance.voice.consult import Consultation
from appliance.voice.engine import VoiceEngine
from appliance.voice.goal import goal_fields
from appliance.voice.key_entry import KeyEntry
from appliance.voice.keypad import Keypad, as_turn
from appliance.voice.read_ahead import ReadAhead
from appliance.voice.recorder import StereoRecorder
from appliance.voice.reply import ReplyVoice
from appliance.voice.replying import Replies
from appliance.voice.ringing import Prepared
from appliance.voice.silence_watch import SilenceWatch
from appliance.voice.speaker import Speaker
from appliance.voice.tool_calls import FILLER_LATER, HOLDING, ToolRunner, ToolTurns
from appliance.voice.transcript import CallSink, Transcript
from appliance.voice.turns import Turn, TurnDetector, TurnEvent, lead_quiet, lead_trimmed
from appliance.voice.vad import Vad
from appliance.voice.voicemail_drop import leave_message

log = structlog.get_logger(__name__)

GREETING_WAIT_S = 1.5  # outbound: let the callee say "Hello?" first, but do not wait longer than this
BACKCHANNEL_MAX_MS = 1200  # longer speech during agent audio is a real interruption whatever it says


class ConversationSession:
    def __init__(
        self,
        call: CallBrief,
        media: CallMedia,
        engine: VoiceEngine,
        sink: CallSink,
        tools: ToolRunner | None = None,
    ) -> None:
        self.call = call
        self.tool_runner = tools
        self.tasks = CallTasks(self._failed)
        self.prepared: Prepared | None = None  # the prompt the model read while the line rang
        self.system: list[dict[str, str]] = []
        self.call_id = call.id
        self.media = media
        self.engine = engine
        self.sink = sink
        self.transcript = Transcript(sink, media)
        self.recorder = StereoRecorder()
        self.speaker = Speaker(media, self.recorder, clock=lambda: asyncio.get_running_loop().time())
        self.turns = TurnDetector()
        self.keypad = Keypad(self._keyed)
        self.vad = Vad()
        self.history: list[dict[str, str]] = []
        self.goal = goal_fields(call.returns)
        self.barge: Turn | None = None  # caller speech that paused the agent, not yet judged
        self.ignored: Turn | None = None  # a backchannel: not a turn of the conversation
        self.answer = AnswerWatch(
            call.outbound, publish=sink.answered, on_machine=self._on_machine, ms=self._ms,
            call_id=self.call_id,
        )  # fmt: skip
        self.voice = ReplyVoice(self.speaker, media, self.tasks.spawn)
        self.replies = Replies(
            self.history, self._messages, answer=self.answer, voice=self.voice,
            tools=ToolTurns(call.id, [], None, None, sink), sink=sink,
            transcript=self.transcript, media=media, spawn=self.tasks.spawn, end=self._end,
            after=lambda: self._read_on(None), ms=self._ms,
        )  # fmt: skip
        self.consultation: Consultation | None = None  # a warm transfer asks its destination (consult)
        self._stt_running = 0
        self.read_ahead = ReadAhead(self.call_id, call.language, engine)
        self.ended: asyncio.Future[str | None] | None = None
        self.silence = SilenceWatch(call.silence_timeout_seconds, self._say_then)
        self._log = log.bind(call_id=self.call_id)

    # --- lifecycle -------------------------------------------------------------------------------
    async def run(self) -> str | None:
        loop = asyncio.get_running_loop()
        self.ended = loop.create_future()
        if not await self.engine.ready():
            raise RuntimeError(f"voice engine unavailable: {self.engine.error}")
        self.voice.tts = await self.engine.voice(self.call.voice)
        brief = f"{self.call.persona or ''} {self.call.instructions or ''}"
        keys = KeyEntry(self.keypad, self.voice, self.media, self.sink, self._ms)
        self.replies.tools = tools = ToolTurns(
            self.call_id, self.call.tools, self.engine.llm, self.tool_runner, self.sink, brief=brief,
            keys=keys,
        )  # fmt: skip
        self.replies.agenda = Agenda([f.name for f in self.goal], self._questions, asks_first=self.call.outbound)
        for question in self._questions().values():  # into the phrase cache: asked with no synthesis
            self.tasks.spawn(asyncio.to_thread(self.voice.tts.synthesize, question))
        self.prepared = self.engine.ringing.take(self.call_id)
        if self.prepared is not None:
            self.system = self.prepared.system
        else:
            self.system = prompt.system_messages(self.call, datetime.now(), self.goal, tools=tools.active)
        if tools.active:  # kept in the voice's phrase cache: a slow tool's filler costs no synthesis
            for line in (FILLER_LATER, *HOLDING):
                self.tasks.spawn(asyncio.to_thread(self.voice.tts.synthesize, line))
        self.silence.active(loop.time())
        self.engine.conversations[self.call_id] = self.sink
        listener = asyncio.create_task(self._listen(), name=f"listen-{self.call_id}")
        opener = self.tasks.spawn(self._open())
        try:
            return await self.ended
        finally:
            await self.tasks.cancel(listener, opener)
            self._close()

    def _close(self) -> None:
        self.replies.close()
        self.engine.conversations.pop(self.call_id, None)
        # For the agent's next calls, written now this one is over, unless another needs the model.
        self.engine.questions.prepare(self.call, self.goal, yield_to=lambda: bool(self.engine.conversations))
        self.answer.finalize()
        self.keypad.close()
        if self.engine.llm is not None:
            self.engine.llm.forget(self.call_id)
        target, path = self.sink.recording_path(), None
        with contextlib.suppress(OSError):
            path = self.recorder.write(target) if target is not None else None
        self.sink.finish(self.replies.latencies, path)

    def _end(self, reason: str | None) -> None:
        if self.ended is not None and not self.ended.done():
            self._log.info("voice.end", reason=reason)
            self.ended.set_result(reason)

    def _failed(self, exc: BaseException) -> None:
        if self.ended is not None and not self.ended.done():
            self.ended.set_exception(exc)

    def _questions(self) -> dict[str, str]:
        return self.engine.questions.get(self.call, self.goal)

    def _messages(self, *extra: dict[str, str]) -> list[dict[str, str]]:
        return [*self.system, *self.history, *extra]

    # --- opening ---------------------------------------------------------------------------------
    async def _open(self) -> None:
        assert self.engine.llm is not None and self.voice.tts is not None
        loop = asyncio.get_running_loop()
        first = (self.call.first_message or "").strip()
        opening_audio = asyncio.create_task(asyncio.to_thread(self.voice.tts.synthesize, first)) if first else None
        if (prepared := self.prepared) is not None:
            warm = prepared.read
            self.sink.event("prompt_read_while_ringing", {"done": warm.done()})  # else the reading goes on
        else:
            warm = asyncio.create_task(self.engine.llm.warm(self.call_id, self._messages()))
        greeting_end = loop.time()
        if self.call.outbound:
            # A person usually answers with "Hello?": wait for it to end (or a short while if they say
            # nothing), so the opening neither talks over them nor is answered to by the model.
            answer = self.answer
            answer.awaiting_greeting = True
            await self._greeted(lambda: bool(answer.greeting))
            answer.awaiting_greeting = False
            if answer.machine:
                return
            if answer.verdict is None:
                answer.decide(Verdict("unknown", "no_greeting", "nothing said within the wait"))
            if answer.greeting:
                said, greeting_end = answer.greeting
                self.history.append({"role": "user", "content": said})
                self.transcript.user(said, greeting_end)
        if opening_audio is not None:
            pcm = lead_trimmed(await opening_audio)
            self.history.append({"role": "assistant", "content": first})
            self.replies.agenda.commit(None, first)
            started = self._play(first, pcm)
            self._read_on(None)
            if self.answer.greeting:
                latency = int((started + lead_quiet(pcm) - greeting_end) * 1000)
                self.replies.latencies.append(latency)
                self.sink.event("turn", {"latency_ms": latency, "user": self.answer.greeting[0], "agent": first})
            self.silence.active(started + len(pcm) / BYTES_PER_SECOND)
        else:
            with contextlib.suppress(Exception):  # a failed reading (logged) only costs the time to read again
                await warm
            asks_first = self.replies.agenda.plan(None) is not None  # its question follows the greeting
            self.replies.start(prompt.open_call(self.call, [] if asks_first else self.goal), None, release=True)

    # --- who answered -------------------------------------------------------------------------
    def _on_machine(self, verdict: Verdict) -> None:
        """A voicemail box answered: the conversation stops; a message is left, or the call ends."""
        self.speaker.stop()
        self.replies.drop()
        if self.call.voicemail_action == "leave_message":
            self.tasks.spawn(self._leave_message(beeped=verdict.signal == "beep"))
        else:
            self._end("voicemail")

    async def _probe_greeting(self, turn: Turn) -> None:
        self.answer.probed(turn, await self._hear(self.answer.probes.window(bytes(turn.audio)), "en"))

    async def _leave_message(self, beeped: bool) -> None:
        assert self.voice.tts is not None
        await leave_message(
            self.call, self.voice.tts, beeped=beeped, answer=self.answer, caller_speaking=lambda: self.turns.in_turn,
            speaker=self.speaker, media=self.media, transcript=self.transcript,
        )  # fmt: skip
        self._end("voicemail")

    # --- listening ------------------------------------------------------------------------------
    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        async for pcm, arrived in continuous_frames(self.media):
            now = loop.time()
            self.recorder.caller(pcm, arrived)
            self.answer.frame(pcm)
            speech = self.vad.is_speech(pcm)
            result = self.turns.feed(pcm, speech, arrived)
            if result is not None:
                self._on_turn_event(*result)
            if (turn := self.turns.turn) is not None and self.answer.probe_due(turn, reading=self._stt_running > 0):
                self.tasks.spawn(self._probe_greeting(turn))  # "leave a message" need not wait for the greeting's end
            if self.barge is not None and self.barge.speech_ms > BACKCHANNEL_MAX_MS:
                self._interrupt()  # too long for "mm-hmm": a real interruption, whatever the words
            if speech and self._read_ahead_due():
                self._read_on(self.turns.turn)
            if self.speaker.audible or self.turns.in_turn or self.replies.running:
                self.silence.active(now)
            else:
                self.silence.tick(now)
        self._end(None)  # the media closed: the call is over (the dialer knows why)

    def _say_then(self, line: str, end_reason: str | None) -> None:
        async def say() -> None:
            assert self.voice.tts is not None
            pcm = await asyncio.to_thread(self.voice.tts.synthesize, line)
            self._play(line, pcm)
            self.history.append({"role": "assistant", "content": line})
            if end_reason:
                await self.media.drained()
                await asyncio.sleep(0.3)
                self._end(end_reason)

        self.tasks.spawn(say())

    def _on_turn_event(self, event: TurnEvent, turn: Turn) -> None:
        if event is TurnEvent.STARTED:
            self.silence.answered(asyncio.get_running_loop().time())
            self.answer.turn_started(turn, answers_agent=not self.speaker.audible and self.media.samples_sent > 0)
            if self.speaker.audible and self.consultation is None:
                self._barge_in(turn)
        elif event is TurnEvent.PAUSED:
            self.tasks.spawn(self._transcribe(turn))
        elif event is TurnEvent.RESUMED:
            if (reply := self.replies.current) is not None and reply.turn is turn and not reply.released.is_set():
                self.replies.drop()
            if turn is self.ignored:
                # More than "okay" after all: they went on (perhaps into the pause the backchannel caused),
                # so it is a turn to answer; left ignored, its end would never release the reply.
                self.ignored = None
                if self.speaker.audible:
                    self._barge_in(turn)
        elif event is TurnEvent.ENDED and self.consultation is not None:
            self.consultation.turn_ended(turn)
        elif event is TurnEvent.ENDED and turn is not self.ignored:
            if (reply := self.replies.current) is not None and reply.turn is turn:
                reply.released.set()  # the speculative reply was for exactly these words
            elif self.turns.config.max_turn_ms <= (turn.last_speech_frame - turn.started_frame) * 20:
                self.tasks.spawn(self._transcribe(turn))  # cut for length, never paused: transcribe now

    def _read_ahead_due(self) -> bool:
        """Time to read the caller's turn so far, unless something of this call wants the CPU: our own reply,
        a greeting still being judged, an interruption, a consultation."""
        answer = self.answer
        if answer.awaiting_greeting or answer.machine or self.barge is not None or self.consultation is not None:
            return False
        return not self.replies.running and self.read_ahead.due(self.turns.turn)

    def _read_on(self, turn: Turn | None) -> None:
        """Read ahead: the history, and `turn` so far (moot once it ended or a reply began)."""
        moot = lambda read: self.turns.turn is not read or self.replies.running  # noqa: E731
        self.read_ahead.task = self.tasks.spawn(self.read_ahead.prefill(self._messages, turn, moot))

    def _barge_in(self, turn: Turn) -> None:
        self.speaker.pause()  # silence at once; the words decide later whether it was an interruption
        self.barge = turn
        self.sink.event("barge_in_started", {"at_ms": self._ms()})

    async def _transcribe(self, turn: Turn) -> None:
        mark = turn.last_speech_frame
        started = time.perf_counter()
        said = await self._hear(bytes(turn.audio), self.call.language)
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
        self.replies.start(said, turn, release=ended, stt_ms=stt_ms)

    def _interrupt(self) -> None:
        """The caller really took the turn: drop the rest of the reply, keep what they heard."""
        heard = self.speaker.stop()
        self.barge = None
        self.replies.cut(heard)
        self.sink.event("barge_in", {"heard": heard, "at_ms": self._ms()})

    # --- consulting -----------------------------------------------------------------------------
    async def consult(self, line: str, listen_s: float) -> str:
        """Say `line` to whoever the line now carries (a warm transfer's destination, while the caller holds)
        once they have greeted, and return their answer ('' if none within `listen_s`; 0: say it, listen not)."""
        assert self.voice.tts is not None
        self.consultation = consultation = Consultation()
        try:
            return await consultation.ask(
                line, listen_s, tts=self.voice.tts, voice=self.voice, greeted=self._greeted, play=self._play,
                media=self.media, sink=self.sink,
            )  # fmt: skip
        except asyncio.CancelledError:
            self.speaker.stop()  # answered by a key meanwhile: the question need not go on
            raise
        finally:
            self.consultation = None

    # --- keypad ----------------------------------------------------------------------------------
    def keys(self, key: str) -> None:
        """A key the caller pressed (the dialer passes each one): it stops the agent as a barge-in would, and
        a run of keys becomes one caller turn (voice/keypad.py)."""
        if self.ended is None or self.ended.done() or self.answer.machine:
            return
        self.silence.answered(asyncio.get_running_loop().time())
        if self.keypad.collecting:  # the reply waits on these keys (collect_digits): they are no barge-in
            self.keypad.press(key)
            return
        reply = self.replies.current if self.replies.running else None
        if self.speaker.audible or (reply is not None and reply.first_audio_at is not None):
            self._interrupt()  # (between two sentences too: what the caller heard of it stays in the history)
        elif reply is not None:
            reply.released.clear()  # not heard yet: held, and answered with the keys (Replies.start)
        self.keypad.press(key)

    def _keyed(self, keys: str) -> None:
        if self.ended is None or self.ended.done() or self.answer.machine:
            return
        if self.speaker.audible:
            self._interrupt()  # a reply began to speak while the keys were gathered
        self.sink.event("dtmf", {"digits": keys, "at_ms": self._ms()})
        self.replies.start(as_turn(keys), None, release=True, source="dtmf")

    # --- the line ---------------------------------------------------------------------------------
    async def _hear(self, audio: bytes, language: str) -> str:
        """Whisper's reading of `audio`, counted while it runs: the opening waits for a greeting being read."""
        assert self.engine.stt is not None
        self._stt_running += 1
        try:
            return await asyncio.to_thread(self.engine.stt.transcribe, audio, language)
        finally:
            self._stt_running -= 1

    async def _greeted(self, greeting: Callable[[], bool]) -> None:
        """Until whoever the line carries has said their greeting (or nothing for `GREETING_WAIT_S`) and is quiet:
        what the agent says next neither talks over them nor is taken for an answer to it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GREETING_WAIT_S
        while self.turns.in_turn or self._stt_running or (loop.time() < deadline and not greeting()):  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    def _play(self, line: str, pcm: bytes) -> float:
        """Speak a whole line (not a streamed reply) from now on; when it started, on the loop's clock."""
        started = asyncio.get_running_loop().time()
        self.speaker.reset()
        self.speaker.say(line, pcm)
        self.transcript.agent(line, started, len(pcm) / BYTES_PER_SECOND)
        return started

    def _ms(self) -> int:
        return self.recorder.position // 8
