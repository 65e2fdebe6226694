"""The end of a call: telling a caller's goodbye, and the agent's.

A caller who says "No, bye." is leaving, whatever the agent was about to ask. The default model often answers
a goodbye with "If you have any other questions, feel free to ask." and leaves the line open, so the caller
hangs up on an agent that never said goodbye (6 of 32 calls in bench/scenarios.py on 2026-12-01); and it
ends calls itself on "Let me know if you need anything else." (4 of 32 on 2026-12-02). The conversation
therefore ends the call after a reply to a goodbye, and adds a goodbye to a last reply that lacks one
(ConversationSession._generate).
"""

from __future__ import annotations

import re

# The agent's goodbye, in the words it uses.
_AGENT_GOODBYE = re.compile(r"\b(good ?bye|bye|take care|have a (good|great|nice|lovely))\b")
# A caller's: "bye", "goodbye", "bye-bye", "gotta go", "talk to you later". Speech-to-text writes a goodbye
# said last as "by" at times ("I'm busy by."): a sentence that ends on "by" is one, unless a verb takes it
# ("stop by", "stand by", "get by").
_CALLER_GOODBYE = re.compile(
    r"\b(good ?bye|bye(-bye)?|gotta go|got to go|have to go|talk to you later|see you later)\b"
    r"|(?<!\bstop )(?<!\bdrop )(?<!\bcome )(?<!\bstand )(?<!\bpass )(?<!\bswing )(?<!\bget )(?<!\bgo )"
    r"(?<!\bstopped )(?<!\bdropped )\bby\W*$"
)
GOODBYE = "Goodbye."


def caller_leaves(said: str) -> bool:
    """Whether the caller's turn ends saying goodbye: in its last sentence or two, and not before a question
    ("Bye. Oh wait, what time was it?" is not one)."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", said.casefold().strip()) if s]
    if not sentences or sentences[-1].endswith("?"):
        return False
    return any(_CALLER_GOODBYE.search(s) for s in sentences[-2:])


def says_goodbye(said: str) -> bool:
    """Whether the agent's words take leave."""
    return _AGENT_GOODBYE.search(said.casefold()) is not None
