"""Text handling around the voice loop: cutting the streamed reply into speakable chunks, telling
backchannels from real turns, and trimming a reply to what the caller actually heard."""

from __future__ import annotations

import re

from appliance.spoken_numbers import numbers_in

END_CALL_MARK = "<end_call>"
# A spoken yes or no, by its words (consent to recording, a confirmation before a tool that writes)
YES = frozenset("yes yeah yep sure okay ok fine agree agreed alright certainly absolutely go".split())
NO = frozenset("no nope don't dont not never refuse object rather".split())
# Digits as Whisper may spell them out ("press two", "oh five"): read as digits where digits are compared.
DIGIT_WORDS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine".split())} | {
    "oh": "0"
}
_DIGIT_WORD = re.compile(r"\b(" + "|".join(DIGIT_WORDS) + r")\b", re.IGNORECASE)

_SENTENCE_END = re.compile(r"([A-Za-z0-9']*)([.!?…]+)[\"')\]]*\s")
_CLAUSE_END = re.compile(r"[,;:—]\s")
# The first chunk is what the caller waits for. It may end at a clause ("Sure, Alex," is spoken while the
# rest is written), and it ends as soon as its mark comes, without waiting for the next token to show a
# space (≈ 50 ms) when the mark follows a word.
_FIRST_END = re.compile(r"([A-Za-z']+)([,;:!?…]|\.)")
FIRST_CHUNK_MIN_WORDS = 2
# A full stop after these, or after a single letter ("p.m."), does not end a sentence.
ABBREVIATIONS = frozenset("mr mrs ms dr st jr sr vs etc inc ltd co no mt ft approx".split())
CHUNK_MIN_WORDS = 4
# After the first chunk, a shorter sentence ("Alex!") waits for the next one: synthesised alone it would
# sound like an exclamation of its own between two pauses.
SENTENCE_MIN_WORDS = 3

# Said while the agent talks, these acknowledge; they do not take the turn.
BACKCHANNELS = frozenset(
    [
        *"mm mhm mm-hmm mmhmm uh-huh uh huh hmm yeah yep yes ok okay right sure alright i see uh um oh ah".split(),
        *("all right", "got it", "i see", "uh huh", "mm hmm"),
    ]
)


class SentenceChunker:
    """Feeds on streamed tokens; yields chunks that can be synthesised on their own."""

    def __init__(self) -> None:
        self._buffer = ""
        self._chunks = 0

    def push(self, piece: str) -> list[str]:
        self._buffer += piece
        out: list[str] = []
        while True:
            cut = self._cut_point()
            if cut is None:
                return out
            chunk, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if chunk:
                out.append(chunk)
                self._chunks += 1

    def flush(self) -> list[str]:
        chunk, self._buffer = self._buffer.strip(), ""
        return [chunk] if chunk else []

    def words_so_far(self, min_words: int = CHUNK_MIN_WORDS) -> str | None:
        """The whole words written so far of an unfinished chunk, taken out as a chunk, when there are
        `min_words` of them and nothing that may be a mark or a tag ("<") or the start of the model speaking as
        itself ("As an AI language…", kept whole so that `speaks_as_model` sees it): for when the line would
        otherwise fall silent before the sentence is complete."""
        cut = max(self._buffer.rfind(" "), self._buffer.rfind("\n"))
        head = self._buffer[:cut].strip() if cut > 0 else ""
        if "<" in head or len(head.split()) < min_words or _MODEL_WORD.search(head):
            return None
        self._buffer = self._buffer[cut:]
        self._chunks += 1
        return head

    def _cut_point(self) -> int | None:
        buffer = self._buffer
        ends = [m.end() for m in _SENTENCE_END.finditer(buffer) if self._ends_chunk(m)][:1]
        if self._chunks == 0:
            ends += [m.end() for m in _FIRST_END.finditer(buffer) if self._ends_first_chunk(m)][:1]
            ends += [m.end() for m in _CLAUSE_END.finditer(buffer) if self._long_enough(m, FIRST_CHUNK_MIN_WORDS)][:1]
        if ends:
            return min(ends)
        if self._chunks and len(buffer.split()) > 3 * CHUNK_MIN_WORDS:
            for m in _CLAUSE_END.finditer(buffer):
                if self._long_enough(m, CHUNK_MIN_WORDS):
                    return m.end()
        return None

    def _long_enough(self, m: re.Match[str], min_words: int) -> bool:
        return len(self._buffer[: m.end()].split()) >= min_words

    def _ends_chunk(self, m: re.Match[str]) -> bool:
        """A sentence end; after the first chunk, of a sentence long enough to be spoken alone."""
        return _ends_sentence(*m.groups()) and (self._chunks == 0 or self._long_enough(m, SENTENCE_MIN_WORDS))

    def _ends_first_chunk(self, m: re.Match[str]) -> bool:
        word, mark = m.groups()
        if mark in ".!?…":
            return _ends_sentence(word, mark)
        return self._long_enough(m, FIRST_CHUNK_MIN_WORDS)


_SENTENCE_GAP = re.compile(r"(?<=[.!?…])\s+")


def sentences(said: str) -> list[str]:
    """`said` cut after each sentence's end, but not after an abbreviation ("a message for Dr. Hill"): the
    last piece is what follows the last end (a sentence still being written, or "")."""
    out: list[str] = []
    for piece in _SENTENCE_GAP.split(said):
        last = out[-1].rsplit(None, 1)[-1] if out and out[-1].strip() else ""
        if last.endswith(".") and last[:-1].casefold() in ABBREVIATIONS:
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def _ends_sentence(word: str, marks: str) -> bool:
    return marks != "." or not word.isalpha() or (len(word) > 1 and word.lower() not in ABBREVIATIONS)


def digits(text: str) -> str:
    """The digits in `text`, written ones and spelled-out ones alike, in order ("press two, then 4" → "24")."""
    return re.sub(r"\D", "", _DIGIT_WORD.sub(lambda m: DIGIT_WORDS[m.group(1).casefold()], text))


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+(?:-[a-z0-9']+)*", text.lower())


def content_stems(text: str, plain: frozenset[str]) -> set[str]:
    """The words of `text` that say what it is about, for matching one text against another: three letters
    or more, a plural's "s" dropped, none that is (or whose stem is) in `plain`."""
    found = re.findall(r"[a-z]+", text.casefold())
    return {stem for w in found if len(w) > 2 and w not in plain and (stem := _singular(w)) not in plain}


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word  # "sales", not "press"


# The model speaking as itself, not as the agent: "as an AI language model, I don't have access…" (a front
# desk call, bench/scenarios.py 2026-12-03), "I'm called OpenAI". An agent may still say it is an AI assistant.
_AS_MODEL = re.compile(r"(?i)\b(language model|ai model|openai|chatgpt|qwen|alibaba)\b")
_MODEL_WORD = re.compile(r"(?i)\b(ai|language|openai|chatgpt|qwen|alibaba)\b")


def speaks_as_model(said: str) -> bool:
    return _AS_MODEL.search(said) is not None


def unfounded_figure(said: str, grounds: str) -> str | None:
    """The first number `said` writes in digits that `grounds` (all the model was given: instructions, context,
    the call so far, a tool's result) holds neither as a number, in digits or words, nor among its digits (a
    phone number read back in other groups than the caller's); None when every one is there. The model invents
    these ("Your callback number is 123-456-7890", a delivery "on December 15th"); ":00" is only o'clock."""
    figures = [f for f in re.findall(r"\d+", said) if f.strip("0")]
    if not figures:
        return None
    known, stream = numbers_in(grounds), digits(grounds)
    return next((f for f in figures if float(f) not in known and f not in stream), None)


def is_backchannel(text: str) -> bool:
    """Short acknowledgements and fillers that must not interrupt the agent ("mm-hmm", "okay", "yeah")."""
    said = words(text)
    if not said:
        return True  # noise: nothing recognisable was said
    if len(said) > 3:
        return False
    phrase = " ".join(said)
    return phrase in BACKCHANNELS or all(w in BACKCHANNELS for w in said)


def ends_sentence(text: str) -> bool:
    """Whether a (partial) transcript reads as a finished utterance: shortens the end-of-turn wait."""
    stripped = text.strip()
    return bool(stripped) and stripped[-1] in ".?!" and not stripped.endswith("...")


def heard_part(text: str, fraction: float) -> str:
    """The words of `text` the caller heard when playback stopped `fraction` of the way through."""
    if fraction >= 1:
        return text
    tokens = text.split()
    kept = tokens[: int(len(tokens) * max(0.0, fraction))]
    return " ".join(kept) + ("…" if kept else "")


def strip_marks(text: str) -> tuple[str, bool]:
    """Remove the end-of-call mark the model writes; returns the text and whether the mark was there."""
    if END_CALL_MARK in text:
        return text.replace(END_CALL_MARK, "").strip(), True
    return text, False
