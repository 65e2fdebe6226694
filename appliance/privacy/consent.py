"""Consent to recording, from the caller's spoken answer to the recording notice."""

from __future__ import annotations

import re

YES = frozenset("yes yeah yep sure okay ok fine agree agreed alright certainly absolutely go".split())
NO = frozenset("no nope don't dont not never refuse object rather".split())


def agreed(said: str) -> bool:
    """Whether the answer agrees: a yes-word and no no-word ("yes, that's fine"; "no", "I'd rather not" and
    anything unclear do not)."""
    words = set(re.findall(r"[a-z']+", said.casefold()))
    return bool(words & YES) and not words & NO
