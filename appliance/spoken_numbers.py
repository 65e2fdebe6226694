"""Numbers as people say and write them: digits ("1,200", "11th") and words ("twelve hundred", "three
fifty"). One place for the post-call grounding check (results/grounding.py), the settling of answers and
the live guard against a reply stating a number nobody gave (voice/text.py)."""

from __future__ import annotations

import re

_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen \
seventeen eighteen nineteen".split()
_ORDINALS = "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth \
fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
NUMBER_WORDS = {w: i for i, w in enumerate(_UNITS)} | {w: i for i, w in enumerate(_ORDINALS)}
NUMBER_WORDS |= {w: 10 * i for i, w in enumerate(_TENS) if i > 1}
NUMBER_WORDS |= {w[:-1] + "ieth": 10 * i for i, w in enumerate(_TENS) if i > 1}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}


def numbers_in(text: str) -> set[float]:
    """Every number written in `text`, in digits ("1,200", "240.50", "11th") or words ("twelve hundred",
    "fifteenth", "three fifty" as 3, 50 and 350)."""
    found = {float(m.replace(",", "")) for m in re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", text)}
    run: list[str] = []
    for word in [*re.findall(r"[a-z]+", text.casefold().replace("-", " ")), ""]:
        if word in NUMBER_WORDS or (word in SCALES and run):
            run.append(word)
            continue
        if word == "and" and run:
            continue
        if run:
            found |= _word_numbers(run)
        run = []
    return found


def _word_numbers(words: list[str]) -> set[float]:
    total, current, values = 0, 0, set()
    for word in words:
        if word in SCALES:
            current = max(current, 1) * SCALES[word]
            if SCALES[word] > 100:
                total, current = total + current, 0
        else:
            values.add(float(NUMBER_WORDS[word]))
            current += NUMBER_WORDS[word]
    values.add(float(total + current))
    if len(words) == 2 and all(w in NUMBER_WORDS for w in words) and NUMBER_WORDS[words[1]] >= 10:
        values.add(float(NUMBER_WORDS[words[0]] * 100 + NUMBER_WORDS[words[1]]))  # "three fifty"
    return values
