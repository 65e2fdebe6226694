"""The agent's replies, one in flight at a time: started on the caller's words (speculatively, at their first
pause), released when their turn is over, spoken as the model streams (reply.py), then committed — the
caller's words and what they heard of the agent into the history and the transcript."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from appliance.voice import closing, text
from appliance.voice.agenda import Agenda, ask_after
from appliance.voice.answer_watch import AnswerWatch
from appliance.voice.call_audio import CallMedia
from appliance.voice.reply import Reply, ReplyVoice
from appliance.voice.tool_calls import ToolTurns, after_calls
from appliance.voice.transcript import CallSink, Transcript
from appliance.voice.turns import Turn

Messages = list[dict[str, str]]


class Replies:
    def __init__(
        self,
        history: Messages,
        prompt: Callable[[dict[str, str]], Messages],
        *,
        answer: AnswerWatch,
        voice: ReplyVoice,
        tools: ToolTurns,
        sink: CallSink,
        transcript: Transcript,
        media: CallMedia,
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[Any]],
        end: Callable[[str], None],
        after: Callable[[], None],
        ms: Callable[[], int],
    ) -> None:
        """`prompt(turn)`: the whole prompt with the caller's turn last; `after()`: a reply was committed and the
        call goes on (the model reads ahead); `end(reason)`: the reply ended the call."""
        self.history = history
        self.prompt = prompt
        self.answer = answer
        self.voice = voice
        self.tools = tools  # the call's own once the model is loaded (ConversationSession.run)
        self.sink = sink
        self.transcript = transcript
        self.media = media
        self._spawn, self._end, self._after, self._ms = spawn, end, after, ms
        self.current: Reply | None = None
        self.agenda = Agenda([], dict)  # the `returns` fields still to ask (ConversationSession.run sets it)
        self.latencies: list[int] = []  # of the replies that answered the caller, as they heard them

    @property
    def running(self) -> bool:
        return self.current is not None and self.current.task is not None and not self.current.task.done()

    def start(self, user_text: str, turn: Turn | None, *, release: bool, stt_ms: int = 0, source: str = "stt") -> None:
        previous = self.current
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
                self.commit(previous, " ".join(previous.spoken) or "…")
            elif other_turn and not previous.committed:
                # They spoke again before the reply to their last turn was heard: answer both at once.
                user_text = f"{previous.user_text} {user_text}"
        loop = asyncio.get_running_loop()
        reply = Reply(
            user_text, turn, turn.last_speech_at if turn else loop.time(), started_at=loop.time(), source=source
        )
        if release:
            reply.released.set()
        reply.step = self.agenda.plan(user_text if reply.answers_caller else None)
        self.current = reply
        reply.stt_ms = stt_ms
        reply.task = self._spawn(self._generate(reply))

    def drop(self) -> None:
        """The caller went on talking: the speculative reply is moot."""
        if self.current is not None and self.current.task is not None:
            self.current.task.cancel()
        self.current = None

    def cut(self, heard: str) -> None:
        """The caller took the turn: the rest of the reply is dropped, what they `heard` of it stays."""
        reply = self.current
        if reply is not None and reply.task is not None and not reply.task.done():
            reply.task.cancel()
            self.commit(reply, heard or "…")
        elif self.history and self.history[-1]["role"] == "assistant":
            self.history[-1]["content"] = heard or "…"

    def close(self) -> None:
        """The call ended: the caller's words of a reply not yet committed stay in the record."""
        if (reply := self.current) is not None and not reply.committed and reply.answers_caller:
            self.commit(reply, " ".join(reply.spoken))

    def commit(self, reply: Reply, said: str) -> None:
        """The turn happened: the caller's words, then the agent's, into the history and the transcript."""
        if reply.committed:
            return
        reply.committed = True
        if reply.turn is not None:
            self.answer.answered(reply.turn, reply.user_text)
            self.history.append({"role": "user", "content": reply.user_text})
            self.transcript.user(reply.user_text, reply.turn_end_at)
        elif reply.source == "dtmf":
            self.history.append({"role": "user", "content": reply.user_text})
            self.transcript.user(reply.user_text, reply.turn_end_at, "dtmf")
        if (field := self.agenda.commit(reply.user_text if reply.answers_caller else None, said)) is not None:
            # Which field the caller's words answered: the extraction reads it (results/answers.py).
            self.sink.event("field_answered", {"field": field, "answer": reply.user_text, "at_ms": self._ms()})
        if reply.withheld:
            self.sink.event("reply_withheld", {"said": " ".join(reply.withheld), "reason": "a number nobody gave"})
        self.history.extend(reply.tool_messages)
        self.tools.write_segments()
        if rest := after_calls(said, reply.tool_messages):
            self.history.append({"role": "assistant", "content": rest})
        if reply.first_audio_at is not None:
            self.transcript.agent(said, reply.first_audio_at, None)
            if reply.answers_caller:
                self.latencies.append(reply.latency_ms)
            self.sink.event("turn", reply.turn_record(said, asyncio.get_running_loop().time()))

    async def _generate(self, reply: Reply) -> None:
        messages = self.prompt({"role": "user", "content": reply.user_text})
        reply.grounds = "\n".join([*(m["content"] for m in messages), reply.step.question if reply.step else ""])
        await self.voice.say(
            reply, ask_after(self.tools.stream(messages, reply.released, reply.tool_messages), reply.step)
        )
        await reply.released.wait()
        said, reply.end_call = text.strip_marks(reply.full_text)
        if reply.answers_caller and closing.caller_leaves(reply.user_text):
            reply.end_call = True  # the caller is leaving
        if reply.end_call and not self.tools.ends_call and not closing.says_goodbye(said):
            # The agent's last words take leave, whoever ended the call.
            reply.tts_ms += await self.voice.speak(reply, closing.GOODBYE)
            said = f"{said} {closing.GOODBYE}".strip()
        self.commit(reply, said)
        if self.tools.ends_call:
            self._end(self.tools.ends_call)  # put through to someone else: the agent's part is over
        elif reply.end_call:
            await self.media.drained()
            await asyncio.sleep(0.3)
            self._end("agent_ended")
        else:
            self._after()
