"""Tool-call markup in a streaming reply: whether its opening is a call, where a tag cuts its words, and the
call the grammar wrote. Pure text functions, so the reply loop's parsing is tested on strings."""

from __future__ import annotations

import json
from typing import Any

from appliance.voice.text import END_CALL_MARK

# The template's tag, and the ```json fence or bare JSON the Coder model writes instead.
_OPENINGS = ("<tool", "```", "{")


def opens_call(text: str) -> bool | None:
    """Whether a reply beginning `text` is a tool call: True, False, or None while it cannot be told yet."""
    head = text.lstrip()
    if not head:
        return None
    if any(head.startswith(o) for o in _OPENINGS):
        return True
    if any(o.startswith(head) for o in _OPENINGS):
        return None
    return False


def split_tag(held: str) -> tuple[str, str, bool]:
    """(words to say, text to hold back, whether a tag began) of a reply's unsaid text after its first words:
    a "<" that is not the end-of-call mark starts a tag, which is not for the caller's ears."""
    cut = held.find("<")
    while cut != -1 and held.startswith(END_CALL_MARK, cut):  # the mark is speech's business
        cut = held.find("<", cut + len(END_CALL_MARK))
    if cut == -1:
        return held, "", False
    if END_CALL_MARK.startswith(held[cut:]):
        return held[:cut], held[cut:], False  # it may yet be the mark
    return held[:cut], "", True


def parse_call(written: str) -> tuple[str, dict[str, Any]]:
    """(name, arguments) of a call the grammar wrote."""
    call = json.loads(written)
    return call["name"], call["arguments"]
