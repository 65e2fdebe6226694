"""Who answered a call, watched from its first frame until the verdict is final (the signals are amd.py's).

A verdict is provisional until the callee answers the agent (or `ANSWER_WATCH_S` passes, or the call ends):
a mailbox that talks on after a "human" first look ("Hi, this is Dana… leave a message") still overturns
it. It is published once, when final; a machine is final at once, and the conversation stops for it."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from appliance.voice.amd import BeepDetector, GreetingProbes, Verdict, classify_greeting, phrase_verdict
from appliance.voice.turns import Turn

log = structlog.get_logger(__name__)

BEEP_WATCH_S = 30.0  # a beep this early in the call can only be a voicemail box
ANSWER_WATCH_S = 20.0  # a provisional "human" is final after this long without a sign of a mailbox


class AnswerWatch:
    def __init__(
        self,
        outbound: bool,
        *,
        publish: Callable[[Verdict, int], None],
        on_machine: Callable[[Verdict], None],
        ms: Callable[[], int],
        call_id: str = "",
    ) -> None:
        self.publish = publish  # the final verdict, and when (ms into the call) it was reached
        self.on_machine = on_machine
        self.ms = ms
        self.beep = BeepDetector() if outbound else None
        self.verdict: Verdict | None = None if outbound else Verdict("human", "inbound")
        self.machine = False
        self.final = not outbound
        self.awaiting_greeting = False  # the opening waits for the callee's "Hello?"
        self.greeting: tuple[str, float] | None = None  # what the callee answered with, and when it ended
        self.probes = GreetingProbes()
        # The last caller turn that began once the agent had spoken and was quiet: an answer to it. A recorded
        # greeting talks on regardless (over the agent, or before it has said anything).
        self._answer: Turn | None = None
        self._verdict_ms = 0
        self._log = log.bind(call_id=call_id)

    def decide(self, verdict: Verdict, late_ok: bool = False) -> None:
        """Take a verdict; a machine (even a late one, while the verdict is not final) stops the conversation."""
        if self.machine or self.final:
            return
        if self.verdict is not None and not (late_ok and verdict.answered_by == "machine"):
            return
        self.verdict, self._verdict_ms = verdict, self.ms()
        self._log.info("voice.answered_by", answered_by=verdict.answered_by, signal=verdict.signal)
        if verdict.answered_by != "machine":
            return  # provisional: the greeting may go on to ask for a message
        self.finalize()
        self.machine = True
        self.on_machine(verdict)

    def finalize(self) -> None:
        """Publish the verdict, once."""
        if self.final or self.verdict is None:
            return
        self.final = True
        self.publish(self.verdict, self._verdict_ms)
        if self.verdict.answered_by != "machine":
            self.beep = None  # a person: no later tone (an indication, music, a hum) may hang up on them

    def frame(self, pcm: bytes) -> None:
        """A frame of the caller's audio: a beep decides; the watches run out."""
        if self.beep is not None and self.beep.feed(pcm):
            tone, self.beep = self.beep.frequency, None
            self.decide(Verdict("machine", "beep", f"{tone:.0f} Hz tone"), late_ok=True)
        elif self.beep is not None and self.ms() > BEEP_WATCH_S * 1000:
            self.beep = None
        if not self.final and self.verdict is not None and self.ms() > ANSWER_WATCH_S * 1000:
            self.finalize()

    @property
    def listening_for_beep(self) -> bool:
        return self.beep is not None and not self.beep.beeped

    def turn_started(self, turn: Turn, answers_agent: bool) -> None:
        """The caller began a turn; `answers_agent`: the agent had spoken and was quiet."""
        self.probes = GreetingProbes()
        if answers_agent:
            self._answer = turn

    def probing(self, turn: Turn) -> bool:
        """Whether this turn is read while it goes on, for a mailbox's words: the greeting, and, until the
        verdict is final, any speech that is not an answer to the agent."""
        if self.awaiting_greeting:
            return True
        return not self.final and not self.machine and turn is not self._answer

    def probe_due(self, turn: Turn, reading: bool) -> bool:
        """Time to read this turn so far (a greeting too long for a person decides without its words)."""
        if not self.probing(turn):
            return False
        if self.awaiting_greeting and (verdict := classify_greeting("", turn.speech_ms, finished=False)):
            self.decide(verdict)
            return False
        return self.probes.due(turn.speech_ms, reading=reading)

    def probed(self, turn: Turn, said: str) -> None:
        """The words of a turn read while it went on (`probes.window` of its audio)."""
        if self.probing(turn) and (verdict := phrase_verdict(said, decided=self.verdict is not None)):
            self.decide(verdict, late_ok=True)

    def heard(self, turn: Turn, said: str) -> bool:
        """A caller turn's words, transcribed at a pause. True: they are the greeting, or a machine's, and not
        a turn for the agent to answer."""
        if not self.final and self.verdict is not None and (verdict := phrase_verdict(said, decided=True)):
            # A greeting that paused ("Hi, you've reached Sarah… leave a message") looked human at first.
            self.decide(verdict, late_ok=True)
        if self.machine:
            return True
        if self.awaiting_greeting:
            self.greeting = (said, turn.last_speech_at)  # the opening answers it
            if verdict := classify_greeting(said, turn.speech_ms, finished=True):
                self.decide(verdict)
            return True
        return False

    def answered(self, turn: Turn, said: str) -> None:
        """The agent replied to this turn. If it began as an answer to the agent, rather than talking on
        regardless of it, a person is on the line."""
        if self.final or turn is not self._answer:
            return
        if self.verdict is not None and self.verdict.answered_by == "unknown":
            self.verdict = Verdict("human", "answered_agent", said[:80])
        self.finalize()
