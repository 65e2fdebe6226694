"""Consent to recording, from the caller's spoken answer to the recording notice."""

from __future__ import annotations

import re

from appliance.voice.text import NO, YES


def agreed(said: str, source: str = "stt") -> bool:
    """Whether the answer agrees: a yes-word and no no-word ("yes, that's fine"; "no", "I'd rather not" and
    anything unclear do not); by keypad (source "dtmf"), the key 1 alone ("press 1 to agree"), `#` or not."""
    if source == "dtmf":
        return [k for k in re.findall(r"[0-9*]", said)] == ["1"]
    words = set(re.findall(r"[a-z']+", said.casefold()))
    return bool(words & YES) and not words & NO
