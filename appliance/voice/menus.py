"""Phone menus heard on the line ("Press 1 for sales. Press 2 for support."): their options, and the one the
agent's brief asks for.

An agent with a `send_dtmf` tool presses that key itself, without asking the model: the default 1.5B model,
given a menu, greeted it, read its brief out to it, or said "I'll press 1." for a brief that asked for support
(5 of 6 tries in a probe); and a menu waits a few seconds only. A menu whose options the brief does not tell
apart is left to the model.
"""

from __future__ import annotations

import re

from appliance.voice.text import DIGIT_WORDS, content_stems

_KEY = r"(\d|[a-z]+)"
_WHAT = r"([a-z' ]+?)"
_OPTIONS = (
    re.compile(rf"\bpress {_KEY} (?:for|to) {_WHAT}(?=[.,;:!?]|$| press\b| or\b)"),  # "press 2 for support"
    re.compile(rf"\b(?:for|to) {_WHAT},? press {_KEY}\b"),  # "for support, press 2"
)
_KEYS = DIGIT_WORDS | {"star": "*", "pound": "#", "hash": "#"}
# Words that say nothing about which option: a brief's "when the menu lists its options" is not option 9's
# "to hear these options again".
_PLAIN = frozenset(
    "the a an of on in at for to and or your you our any other this that with speak talk menu option key keys "
    "press hear again repeat these those list lists number call".split()
)


def options(heard: str) -> dict[str, str]:
    """The menu's keys and what each is for, in what was heard ({} when it is not a menu)."""
    lowered = heard.casefold()
    found: dict[str, str] = {}
    for pattern in _OPTIONS:
        for match in pattern.finditer(lowered):
            key, what = match.groups() if pattern is _OPTIONS[0] else match.groups()[::-1]
            key = key if key.isdigit() else _KEYS.get(key, "")
            if key:
                found.setdefault(key, what.strip())
    return found


def choice(heard: str, brief: str) -> str | None:
    """The key for the one option the brief names more than any other (None: not a menu, or no clear one)."""
    menu = options(heard)
    if len(menu) < 2:
        return None
    wanted = content_stems(brief, _PLAIN)
    scores = sorted(((len(content_stems(what, _PLAIN) & wanted), key) for key, what in menu.items()), reverse=True)
    (best, key), (second, _) = scores[0], scores[1]
    return key if best > second else None
