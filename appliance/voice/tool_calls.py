"""Tool calls in the reply loop: the agent's tools offered to the model, a call written under a grammar, run,
its result given back, and the model speaking again.

A reply streams as before, unconstrained: a grammar on every token of every reply would slow the replies
that call nothing. Only when the reply opens like a call (the template's `<tool_call>`, or the bare JSON or
```json fence the Coder model writes instead) is the stream stopped and the call written again from
"<tool_call>\\n" under a grammar made from the offered tools' `parameters`: always one of their names, always
arguments of their schema. The runner (a port: HTTP tools live outside voice/) does the work; the result, an
error or `confirmation_required` goes back to the model as a tool message and it speaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from appliance.voice import menus
from appliance.voice.announcements import Reannouncement, announces
from appliance.voice.closing import says_goodbye
from appliance.voice.text import END_CALL_MARK, NO, YES, digits
from appliance.voice.tool_grammar import VOICE_BUILTINS, call_grammar, callable_tools, function_specs
from appliance.voice.tool_markup import opens_call, parse_call, split_tag

log = structlog.get_logger(__name__)

FILLER_AFTER_S = 0.7  # a tool slower than this gets a filler, so the caller does not hear dead air
HOLD_QUIET_S = 0.3  # after an announcement has been heard, quiet this long while a tool runs gets the filler
FILLER = "One moment."  # pre-synthesised: kept in the voice's phrase cache (≤ 3 words)
FILLER_LATER = "One moment, please."  # after words of the same reply: a 3-word sentence is spoken at once
HOLDING = (FILLER, "Just a second.", "Almost there.")  # said in turn while the quiet lasts
MAX_ROUNDS = 3  # tool calls in one reply, at most: a small model can loop
RESULT_CHARS = 1500  # of a tool's result put before the model (the context holds 4096 tokens in all)
CALL_TOKENS = 256
CONFIRMATION = "confirmation_required"
NUDGE = {"role": "user", "content": "(Now tell the caller what the result says.)"}
SAY_NOW = "\u2029"  # yielded when a tool is about to run: speak what the reply has so far, do not wait for more
HESITANT = frozenset("hmm hm wait maybe unsure hold think perhaps but um uh".split())
RULES = (
    "You have tools (listed below) that look things up or do things for the caller. When the caller asks for "
    'something a tool can look up or do, say in a few words that you will do it ("Let me look that up."): the '
    "tool then runs, and you get its result to tell them. Never make up what a tool "
    "would return. Before a tool that books, changes or cancels something, ask the caller to confirm the "
    "details and wait for their yes. If a tool fails, tell the caller you could not do it."
)


@dataclass
class ToolResult:
    """What running a tool gave: `outcome` ok | error | timeout | confirmation_required."""

    outcome: str
    result: Any = None
    error: str | None = None
    ends_call: str | None = None  # the conversation is over (`transferred`): the agent says nothing more


class KeyEntry(Protocol):
    """The caller's keypad for the collect_digits built-in (voice/key_entry.py)."""

    def expect(self) -> None: ...  # an entry is about to be waited for: nothing is to fill its quiet
    def done(self) -> None: ...  # the wait is over (or never came): fillers are back
    async def collect(self, config: dict[str, Any]) -> ToolResult: ...


class ToolRunner(Protocol):
    """Runs one tool call (an HTTP request, a call-control action). Never raises for the tool's own failure:
    that is a ToolResult the model words."""

    async def run(self, tool: dict[str, Any], arguments: dict[str, Any], call_key: str) -> ToolResult: ...


class ToolSink(Protocol):
    def segment(self, role: str, said: str, started: datetime, ended: datetime, source: str) -> None: ...
    def event(self, kind: str, data: dict[str, Any]) -> None: ...


class ToolModel(Protocol):
    def offer(self, call_id: str, tools: list[dict[str, Any]]) -> bool: ...
    def stream(
        self, call_id: str, messages: list[dict[str, str]], *, words_only: bool = False
    ) -> AsyncIterator[str]: ...
    async def complete(
        self, call_id: str, messages: list[dict[str, str]], opening: str, grammar: str, max_tokens: int
    ) -> str: ...


def offer(model: ToolModel, call_id: str, tools: list[dict[str, Any]]) -> bool:
    """Offer the call's callable tools to the model in every prompt of the call; whether any were."""
    specs = function_specs(callable_tools(tools))
    return bool(specs) and model.offer(call_id, specs)


def clear_yes(said: str) -> bool:
    """A clear yes: a yes-word, no no-word, nothing hesitant ("yes, book it"; not "hmm, wait" or "yes, but")."""
    words = set(re.findall(r"[a-z']+", said.casefold()))
    return bool(words & YES) and not words & (NO | HESITANT | {"cancel", "stop"})


def confirmed(messages: list[dict[str, str]]) -> bool:
    """Whether the caller's last turn clearly said yes to the agent's turn before it: a question, or what the
    agent said it would do when the tool asked for a confirmation ("I'll book Friday at 2:30." — "Yes.")."""
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]  # after the last: this reply's calls
    if not users or not clear_yes(messages[users[-1]]["content"]):
        return False
    turn = messages[users[-2] + 1 if len(users) > 1 else 0 : users[-1]]  # the agent's turn the caller answered
    said = [m["content"] for m in turn if m["role"] == "assistant" and not _is_call(m)]
    asked = [m for m in turn if m["role"] == "tool" and CONFIRMATION in m["content"]]
    return bool(said or asked) and ("?" in " ".join(said) or bool(asked))


def unfounded(arguments: dict[str, Any], messages: list[dict[str, str]]) -> str | None:
    """The first argument whose digits nobody said before, in order: the caller, the agent or a tool's result
    (the grammar makes the model write a value, and it wrote "12345" for an order number nobody gave); None
    when every one was said."""
    said = digits(" ".join(m["content"] for m in messages if m["role"] != "system"))
    for key, value in arguments.items():
        wanted = re.sub(r"\D", "", str(value))
        if wanted and wanted not in said:
            return key.replace("_", " ")
    return None


def _is_call(message: dict[str, str]) -> bool:
    return message["role"] == "assistant" and "<tool_call>" in message["content"]


class ToolTurns:
    """A call's tools in its replies. Without callable tools (or a model with no chat template), `stream`
    is the model's stream and nothing else happens."""

    def __init__(
        self,
        call_id: str,
        tools: list[dict[str, Any]],
        model: ToolModel | None,
        runner: ToolRunner | None,
        sink: ToolSink,
        clock: Callable[[], float] = time.monotonic,
        brief: str = "",
        keys: KeyEntry | None = None,
    ) -> None:
        self.call_id = call_id
        self.brief = brief  # what the agent is to do: the menu option it presses (voice/menus.py)
        self.tools = {t["name"]: t for t in callable_tools(tools)} if runner and model else {}
        self.model = model
        self.runner = runner
        self.keys = keys
        self.sink = sink
        self.clock = clock
        self.active = bool(self.tools) and model is not None and offer(model, call_id, tools)
        self.ends_call: str | None = None  # set by a tool that ended the conversation (a transfer)
        self.succeeded: set[str] = set()  # the tools that ran with outcome ok in this call
        self._grammar: str | None = None
        self._segments: list[tuple[str, datetime, datetime]] = []  # written after the caller's turn they answer
        self._log = log.bind(call_id=call_id)

    async def stream(
        self, messages: list[dict[str, str]], released: asyncio.Event, record: list[dict[str, str]]
    ) -> AsyncIterator[str]:
        """The reply's text pieces. Tool calls happen inside; their messages (the call, the result) are
        appended to `record` for the history. A tool runs only once the reply is `released` (the caller's
        turn is over): a speculative reply that is thrown away must not have booked anything."""
        assert self.model is not None
        # What was heard last: the caller's turn, or the greeting before the model's instruction to open the call
        # ("(You placed this call…)"; keys pressed are written in brackets too, and are no menu).
        heard = [m["content"] for m in messages[-2:] if m["role"] == "user" and not m["content"].startswith("(")]
        if heard and messages[-1]["role"] == "user" and (written := self._menu_key(heard[-1])):
            await released.wait()
            pressed = await self._run(written, messages)  # no words: a menu is not a person
            record += [
                {"role": "assistant", "content": f"<tool_call>\n{written}\n</tool_call>"},
                {"role": "tool", "content": model_content(pressed)},
            ]
            return
        said, announced, prompt = False, False, messages
        held_back: Reannouncement | None = None  # the words after an answering result, until they answer
        for _ in range(MAX_ROUNDS + 1):
            held, calling, spoken, tagged, marked = "", False, "", False, ""
            # After a result, words for the caller: the model wrote the end-of-call mark alone there once (a
            # real call hung up on the caller just told "Let me check the times on Friday.").
            after_result = messages[-1]["role"] == "tool"
            async with contextlib.aclosing(self.model.stream(self.call_id, prompt, words_only=after_result)) as pieces:
                async for piece in pieces:
                    if not self.active:
                        yield piece
                        continue
                    held += piece
                    if not spoken:  # a call opens a reply: "{", "<tool"
                        opens = opens_call(held)
                        if opens is None:
                            continue
                        if opens:
                            calling = True
                            break
                    say, held, tagged = split_tag(held)
                    say, marked, _ = say.partition(END_CALL_MARK)  # held back: an announcement may end so
                    if say and held_back:
                        say = held_back.feed(say)
                    if say:
                        said = True
                        spoken += say
                        yield say
                    if tagged or marked:  # a tag ("<tool_call>", a made-up "<tool_response>") is never spoken
                        break
            rest = held if held and not calling and not tagged and not marked else ""
            if held_back:
                rest = held_back.feed(rest) + held_back.end()
                if held_back.dropped and not spoken.strip() and not rest.strip():
                    # Only the lookup announced again: asked once more, with the result before it to tell.
                    held_back, prompt = None, [*messages, NUDGE]
                    continue
                if not marked and held_back.unanswered(spoken + rest):
                    # Words, but none of the result: what was said stays said, and it is asked once more.
                    said = True
                    yield f"{rest} "  # the space ends the sentence for the chunker: it is spoken now
                    told = {"role": "assistant", "content": (spoken + rest).strip()}
                    held_back, prompt = None, [*messages, told, NUDGE]
                    continue
                held_back = None
            if rest:
                said = True
                spoken += rest
                yield rest
            lead = ""  # what the model said before the call, in its message
            if not calling and self.active and not announced:
                # Once per reply: after a result the model may announce again what it has just done. It also
                # ends an announcement with the end-of-call mark at times (that hung up on the caller).
                calling = tagged or announces(spoken, list(self.tools.values()), claims=not self.succeeded)
                announced = calling = calling and not (marked and says_goodbye(spoken))
                lead = f"{spoken.strip()}\n" if calling else ""
            if not calling:
                if marked:
                    yield END_CALL_MARK
                return
            if said:
                yield SAY_NOW
            written = await self._write_call(messages, lead)
            keyed = self._builtin(written) in VOICE_BUILTINS  # the caller is typing: no "One moment."
            if keyed and self.keys is not None:
                self.keys.expect()
            task: asyncio.Future[ToolResult] | None = None
            try:
                await released.wait()
                task = asyncio.ensure_future(self._run(written, messages))
                done, _ = await asyncio.wait({task}, timeout=FILLER_AFTER_S)
                if not done and not lead and not keyed:  # an announcement is the filler already
                    yield FILLER_LATER if said else FILLER
                    yield SAY_NOW
                    said = True
                result = await task
            finally:
                if task is not None:
                    task.cancel()
                if keyed and self.keys is not None:
                    self.keys.done()  # also when a speculative reply is thrown away before it ran
            content = model_content(result)
            call_message = {"role": "assistant", "content": f"{lead}<tool_call>\n{written}\n</tool_call>"}
            result_message = {"role": "tool", "content": content}
            record += [call_message, result_message]
            messages = prompt = [*messages, call_message, result_message]
            if result.outcome == "ok":
                held_back = Reannouncement(content, written, list(self.tools.values()))
            if self.ends_call:
                return  # the caller is with someone else now
        self._log.warning("tools.too_many_rounds", rounds=MAX_ROUNDS)

    def _menu_key(self, heard: str) -> str | None:
        """The call pressing the key of the menu option the brief asks for, when `heard` is such a menu."""
        keys = next((t for t in self.tools.values() if t.get("builtin") == "send_dtmf"), None)
        if keys is None or (key := menus.choice(heard, self.brief)) is None:
            return None
        return json.dumps({"name": keys["name"], "arguments": {"digits": key}})

    def _builtin(self, written: str) -> str | None:
        """The built-in a written call is for (None: an HTTP tool, or no call that parses)."""
        with contextlib.suppress(ValueError, KeyError, TypeError):
            return self.tools[parse_call(written)[0]].get("builtin")
        return None

    async def _write_call(self, messages: list[dict[str, str]], lead: str) -> str:
        assert self.model is not None
        if self._grammar is None:
            self._grammar = await asyncio.to_thread(call_grammar, list(self.tools.values()))
        opening = f"{lead}<tool_call>\n"
        written = await self.model.complete(self.call_id, messages, opening, self._grammar, CALL_TOKENS)
        return written.strip()

    async def _run(self, written: str, messages: list[dict[str, str]]) -> ToolResult:
        """Run one call and record it; what it gave (`model_content` is the tool message for the model)."""
        started, wall = self.clock(), datetime.now(UTC)
        try:
            name, arguments = parse_call(written)
        except (ValueError, KeyError, TypeError):  # cut at CALL_TOKENS: the grammar's JSON never closed
            result = ToolResult("error", error="the tool call was too long")
            self._record("?", {}, result, started, wall)
            return result
        tool = self.tools[name]
        if made_up := unfounded(arguments, messages):
            result = ToolResult("error", error=f"nobody said the {made_up}: ask the caller for it, then call again")
        elif tool.get("policy") == "confirm_first_write" and not confirmed(messages):
            result = ToolResult("confirmation_required")
        else:
            assert self.runner is not None
            try:
                if tool.get("builtin") in VOICE_BUILTINS:
                    assert self.keys is not None  # the conversation gives its keypad with the tools
                    result = await self.keys.collect(tool["config"])
                else:
                    result = await self.runner.run(tool, arguments, f"{self.call_id}:{uuid.uuid4().hex}")
            except asyncio.CancelledError:
                self._record(name, arguments, ToolResult("error", error="canceled"), started, wall)
                raise
        self._record(name, arguments, result, started, wall)
        if result.outcome == "ok":
            self.succeeded.add(name)
        self.ends_call = result.ends_call
        return result

    def _record(self, name: str, arguments: dict[str, Any], result: ToolResult, started: float, wall: datetime) -> None:
        ms = int((self.clock() - started) * 1000)
        entry = {"name": name, "arguments": arguments, "outcome": result.outcome, "ms": ms}
        if result.error:
            entry["error"] = result.error
        if self.tools.get(name, {}).get("builtin") in VOICE_BUILTINS and result.outcome == "ok":
            entry["result"] = result.result  # the keys typed: the transcript's only record of them
        self._log.info("tools.called", name=name, outcome=result.outcome, ms=ms)
        self.sink.event("tool_call", entry)
        ended = datetime.fromtimestamp(wall.timestamp() + ms / 1000, UTC)
        self._segments.append((json.dumps(entry, ensure_ascii=False), wall, ended))

    def write_segments(self) -> None:
        """The tool calls as transcript segments (role `tool`), once the caller's turn before them is written."""
        for said, started, ended in self._segments:
            self.sink.segment("tool", said, started, ended, "tool")
        self._segments = []


def after_calls(said: str, record: list[dict[str, str]]) -> str:
    """What the agent said after its tool calls: the words it said before a call are in the call's message."""
    for message in record:
        lead = message["content"].split("<tool_call>")[0].strip() if message["role"] == "assistant" else ""
        if lead and said.startswith(lead):
            said = said[len(lead) :].lstrip()
    return said


def model_content(result: ToolResult) -> str:
    """The tool message the model reads: the result, or what went wrong and what to do about it."""
    if result.outcome == "ok":
        text = json.dumps(result.result, ensure_ascii=False)
        return text if len(text) <= RESULT_CHARS else text[:RESULT_CHARS] + "…(cut)"
    if result.outcome == "confirmation_required":
        return json.dumps(
            {
                "error": CONFIRMATION,
                "message": "Not done: first ask the caller to confirm the details, then call again after they "
                "clearly say yes.",
            }
        )
    return json.dumps(
        {"error": result.outcome, "message": f"The tool failed ({result.error}). Tell the caller you could not do it."}
    )
