"""Word error rate, for tests that compare what was said with what was heard (not product code)."""

from __future__ import annotations

from appliance.voice.text import words

_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
} | {w: str(10 * i) for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), start=3)}


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, on normalised words: "two" and "2" are
    the same word (Whisper writes either), as in the usual WER normalisation."""
    ref = [_NUMBER_WORDS.get(w, w) for w in words(reference)]
    hyp = [_NUMBER_WORDS.get(w, w) for w in words(hypothesis)]
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, start=1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))
