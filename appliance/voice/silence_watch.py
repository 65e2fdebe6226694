"""The silence watch: when nothing happens on the line for the agent's `silence_timeout_seconds` (nobody
speaks, no key, no reply in flight), the agent asks "Are you still there?"; if as long again passes, it says
goodbye and ends the call (`silence_timeout`)."""

from __future__ import annotations

from collections.abc import Callable

from appliance.voice import prompt

SPEAKING_S = 5  # the prompt's own time on the line, which is not the caller's silence


class SilenceWatch:
    def __init__(self, timeout_s: float, say: Callable[[str, str | None], None]) -> None:
        """`say(line, end_reason)`: speak the line, then end the call with `end_reason` if one is given."""
        self.timeout_s = timeout_s
        self.say = say
        self.last_activity = 0.0
        self.prompted = False  # "Are you still there?" said, and the caller has not answered since

    def active(self, until: float) -> None:
        """Something happens on the line until then (speech, agent audio, a reply in flight)."""
        self.last_activity = until

    def answered(self, now: float) -> None:
        """The caller spoke or pressed a key: the next silence is asked about again."""
        self.active(now)
        self.prompted = False

    def tick(self, now: float) -> None:
        if now - self.last_activity <= self.timeout_s:
            return
        if self.prompted:
            self.say(prompt.SILENT_GOODBYE, "silence_timeout")
        else:
            self.prompted = True
            self.say(prompt.STILL_THERE, None)
        self.last_activity = now + SPEAKING_S
