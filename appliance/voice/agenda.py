"""The call's agenda: which `returns` field the agent asks about next, in the words prepared for it.

The model still writes each reply (it acknowledges, answers the caller's questions, uses its tools), but when a
field is still to be asked its reply is cut to a sentence or two (its own question, if it wrote one, dropped)
and the field's prepared question (questions.py) follows. Left to itself, the default 1.5B model ended calls
before the goal ("Let me know if you need anything else. <end_call>") or asked something else; the field went
unasked in 13 of 32 scripted calls (bench/scenarios.py, 2026-12-02).

A field counts as asked once its question was heard (or an agent question much like it: a `first_message`
"May I speak with Alex?"), and as answered by the caller's next turn unless that turn is a question (then it
is asked again after the answer, twice at most). A caller who says no, or goodbye, gets the model's own reply
that turn: an agenda never keeps a call going against the person's will.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from appliance.voice import closing, text
from appliance.voice.text import END_CALL_MARK
from appliance.voice.tool_calls import SAY_NOW

MAX_ASKS = 2
# The caller turns the agenda gives way on: a refusal ("No.", "I'm not interested", "wrong number").
_DECLINES = re.compile(r"\b(no|nope|not|never|neither|wrong number|rather not)\b|n't\b")
PLAIN = frozenset("the you your are and for this that with what can could would will have about".split())


@dataclass(frozen=True)
class Step:
    field: str
    question: str
    sentences: int | None  # of the model's own words before the question (None: as many as it writes)


class Agenda:
    def __init__(self, fields: list[str], questions: Callable[[], dict[str, str]], *, asks_first: bool = True) -> None:
        """`questions()`: the prepared question of each field (those not written yet are missing);
        `asks_first`: the opening asks the first field (an outbound call; an inbound caller says why first)."""
        self.fields = fields
        self.asks_first = asks_first
        self._questions = questions
        self.done: set[str] = set()
        self.current: str | None = None  # the field the agent asked last, not yet answered
        self.asks: dict[str, int] = {}
        self._opening_asked: str | None = None  # the field the agent's opening asked

    def plan(self, user_text: str | None) -> Step | None:
        """The step for the reply to the caller's `user_text` (None: the agent's opening); None when the
        model's reply goes as it writes it. Changes nothing: a reply may be dropped before it is heard."""
        questions = self._questions()
        if user_text is None and not self.asks_first:
            return None
        if user_text is not None and (closing.caller_leaves(user_text) or declines(user_text)):
            return None
        done = self.done | ({self.current} if self._answers(user_text) else set())
        for name in self.fields:
            if name in done or self.asks.get(name, 0) >= MAX_ASKS:
                continue
            if (question := questions.get(name)) is None:
                return None  # not prepared: the model asks in its own words (the goal is in its prompt)
            # An answer to the caller's question (it may run a tool) is the model's to finish.
            asking = user_text is not None and _asks(user_text)
            return Step(name, question, None if asking else 2 if user_text is None else 1)
        return None

    def commit(self, user_text: str | None, said: str) -> str | None:
        """The turn happened: the caller said `user_text` (None: the agent spoke first), then heard `said`;
        the field `user_text` answered, if it did and the question was not the opening's. A reply to the
        opening answers the greeting as much as the question ("Yes." to "Hello Lee! I'm Casey from City
        Power. Will you be able to pay the balance?", then "I'm not paying that, the bill is wrong.")."""
        answered = None
        if self._answers(user_text):
            assert self.current is not None
            answered, self.current = self.current, None
            self.done.add(answered)
            if self._opening_asked == answered:
                answered = None
        self._heard(said)
        # Only the turn right after the opening is in doubt: once the caller has said something else (their
        # question back), the field's next answer is theirs to it.
        self._opening_asked = self.current if user_text is None else None
        return answered

    def _answers(self, user_text: str | None) -> bool:
        return self.current is not None and user_text is not None and not _asks(user_text)

    def _heard(self, said: str) -> None:
        """A field the agent asked about in `said` is now the one being answered."""
        questions = self._questions()
        for sentence in text.sentences(said):
            if "?" not in sentence:
                continue
            asked = _stems(sentence)
            for name in self.fields:
                q = questions.get(name)
                if name in self.done or q is None:
                    continue
                wanted = _stems(q)
                if q in sentence or (wanted and len(asked & wanted) * 2 >= len(wanted)):
                    self.current = name
                    self.asks[name] = self.asks.get(name, 0) + 1
                    break


def _asks(user_text: str) -> bool:
    return user_text.rstrip().endswith("?")


def declines(user_text: str) -> bool:
    return _DECLINES.search(user_text.casefold()) is not None


def _stems(said: str) -> set[str]:
    """Content words by their first five letters ("speaking" and "speak" agree)."""
    return {w[:5] for w in text.content_stems(said, PLAIN)}


async def ask_after(pieces: AsyncGenerator[str, None], step: Step | None) -> AsyncGenerator[str, None]:
    """The model's reply with the step's question after it: its first `step.sentences` sentences (a goodbye,
    an end-of-call mark or a question of its own stops it), then the question. A reply that ran a tool
    goes as written: what the tool gave is the model's to tell."""
    async with contextlib.aclosing(pieces):  # a reply cut short (here or by its reader) stops the model writing it
        if step is None:
            async for piece in pieces:
                yield piece
            return
        buffer, kept, done = "", 0, False
        async for piece in pieces:
            if piece == SAY_NOW:
                if buffer:
                    yield buffer
                yield piece
                async for rest in pieces:
                    yield rest
                return
            buffer += piece
            *whole, buffer = text.sentences(buffer)
            for sentence in whole:
                if _stops(sentence):
                    done = True
                    break
                yield sentence + " "
                kept += 1
                if done := kept == step.sentences:
                    break
            if done:
                break
        else:
            if buffer.strip() and not _stops(buffer):
                yield buffer.rstrip() + " "
    yield step.question


def _stops(sentence: str) -> bool:
    return "?" in sentence or END_CALL_MARK in sentence or closing.says_goodbye(sentence)
