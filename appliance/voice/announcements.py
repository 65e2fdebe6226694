"""Announcements: the words with which the agent says it will use a tool now ("Let me check your order."),
which the default model says instead of writing the call, and the same words said again after the result."""

from __future__ import annotations

import json
import re
from typing import Any

from appliance.voice.text import content_stems

# The default 1.5B model does not write a call on its own (it writes a tool's special token with ≈ 0 %
# probability, and "<" at ≤ 3 %): it says what it will do and stops ("Sure, I can look up the free
# appointment times on Friday."). Such an announcement is taken as the call: the spoken words are the
# filler, and the call is then written under the grammar (the model picks the tool: 0.999 for the lookup in
# a text probe). An announcement: a first-person intent and an action verb, or two of a tool's own words.
# "Sure, Alex. Looking up the free times on Friday.": the subject left out (a CI run took that for an answer,
# and the model then told the caller it had booked a time without any call).
_INTENT = re.compile(
    r"\b(let me|let's|let us|i'll|i will|i can|i'm going to|i am going to|one moment)\b"
    r"|(?:^|[.!?,]\s+)(looking|checking|searching|pulling)\b"
    r"|\bi(?:'m| am) (looking|checking|searching|pulling|finding)\b"  # "I'm looking for the free times" (CI)
)
# What a tool does, said as done: "I've booked the cleaning on Friday at 2:30." with no call made is a claim
# the caller would act on; taken as the call, it is run (or confirmed first) instead.
_CLAIM = re.compile(r"\bi(?:'ve| have)? (?:just )?(booked|cancell?ed|scheduled|rescheduled|transferred you)\b")
_ACTION = re.compile(
    r"\b(look(ing)? (it |that |this )?up|check(ing)?|find|search(ing)?|book(ing)?|cancel(l?ing)?|pull"
    r"|transfer(ring)?|connect(ing)?|put (you|them) through|press(ing)?|dial(l?ing)?)\b"
)
_PLAIN = frozenset("the a an of on in at for to and or by with your you my our is are be this that it day".split())
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def announces(said: str, tools: list[dict[str, Any]], claims: bool = False) -> bool:
    """Whether the agent's words say it will use one of `tools` now ("Let me check your order."), which the
    default model says instead of writing the call; with `claims`, also words that say a tool's work is done
    ("I've booked it.") when no tool has done any."""
    lowered = said.casefold().replace("\u2019", "'")
    if claims and _CLAIM.search(lowered):
        return True
    if not _INTENT.search(lowered):
        return False
    if _ACTION.search(lowered):
        return True
    spoken = content_stems(lowered, _PLAIN)
    about = (f"{t['name'].replace('_', ' ')} {t.get('description') or ''}" for t in tools)
    return any(len(spoken & content_stems(tool, _PLAIN)) >= 2 for tool in about)


def _answer_words(text: str) -> set[str]:
    return content_stems(text, _PLAIN) | set(re.findall(r"\d+", text))


def _values(result: str) -> str:
    """The values in a tool's JSON result, not its keys: "free times" in "Let me look up the free times" is no
    answer from `{"free_times": [...]}`."""
    try:
        parsed = json.loads(result)
    except ValueError:
        return result
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif node is not None:
            found.append(str(node))

    walk(parsed)
    return " ".join(found)


class Reannouncement:
    """The words after a tool's result, held until they are seen to answer. The default model at times
    announces the lookup again ("Let me look that up.") and stops: the caller, told that already, hears no
    answer (a CI run of tests/e2e/test_tools.py, about 1 call in 5). A first sentence that announces and uses
    nothing of the result is dropped (`dropped`), and words that use the result are let through at once."""

    def __init__(self, result: str, call: str, tools: list[dict[str, Any]]) -> None:
        # What the result says that the call did not: a lookup's result echoes the day it was asked for, and
        # "Let me check Friday." is no answer.
        self._result = _answer_words(_values(result)) - _answer_words(_values(call))
        self._tools = tools
        self._pending = ""
        self._holding = True
        self.dropped = False

    def feed(self, text: str) -> str:
        """What of the reply's words so far can be spoken now."""
        if not self._holding:
            return text
        self._pending += text
        while True:  # each complete sentence that only announces is dropped, until one answers or none is left
            if _answer_words(self._pending) & self._result:
                return self._release()
            end = _SENTENCE_END.search(self._pending)
            if end is None:
                return ""
            if not announces(self._pending[: end.end()], self._tools):
                return self._release()
            self._pending, self.dropped = self._pending[end.end() :], True

    def end(self) -> str:
        """The words still held when the reply's text is over: an unfinished announcement is dropped too."""
        if self._holding and announces(self._pending, self._tools) and not _answer_words(self._pending) & self._result:
            self._pending, self.dropped = "", True
        return self._release()

    def unanswered(self, said: str) -> bool:
        """Whether a whole reply to the result told nothing of it and announced a lookup again ("I've found the
        free times for Friday. Let me look up the next available time.": a CI run of tests/e2e/test_tools.py)."""
        return bool(self._result) and not _answer_words(said) & self._result and announces(said, self._tools)

    def _release(self) -> str:
        held, self._pending, self._holding = self._pending, "", False
        return held
