"""Personal data in what was said on a call: where it is (character spans) and the text with it replaced.

Card numbers must pass the Luhn check and phone numbers are found by `phonenumbers` (Google's libphonenumber
matcher), so a long order number is neither. The other kinds are patterns over what Whisper writes: e-mail
addresses written or read out ("tom dot becker at example dot com"), US social security numbers, dates of
birth (a full date in a past year, or any date after "born" or "birth"), street addresses (a house number,
a street name and its suffix) and names (after "my name is", "this is", "I'm", "it's", "speaking").
Presidio was considered: its recognisers for these kinds are the same patterns and checksums, and its name
recogniser needs a spaCy model that no package registry here ships from its authors.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, NamedTuple

import phonenumbers

from appliance.errors import InvalidInput

KINDS = ("card", "phone", "email", "ssn", "dob", "address", "name")


class Span(NamedTuple):
    kind: str
    start: int
    end: int


def check_kinds(value: object, field: str = "redact") -> list[str]:
    """The list of kinds to redact, or InvalidInput naming the bad entry."""
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise InvalidInput(f"{field} must be a list of kinds ({', '.join(KINDS)})", field=field)
    for i, kind in enumerate(value):
        if kind not in KINDS:
            raise InvalidInput(
                f"{field}[{i}]: {kind!r} is not a kind of personal data we redact ({', '.join(KINDS)})",
                field=f"{field}[{i}]",
            )
    return list(dict.fromkeys(value))


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


DIGIT_RUN = re.compile(r"(?<![\d])\d(?:(?:[ -]|, ?)?\d){8,}(?![\d])")  # Whisper writes "4,111,111…" too
PHONE_RUN = re.compile(r"(?<![\d])\d(?:(?:[ -]|, ?)?\d){6,}(?![\d])")
PHONE_WORDS = re.compile(r"\b(?:phone|number|reach me|call me|call you|cell|mobile)\b", re.I)
CARD_WORDS = re.compile(r"\b(?:card|credit|debit|visa|mastercard|amex)\b", re.I)
SSN = re.compile(r"(?<!\d)\d{3}([- ]?)\d{2}\1\d{4}(?!\d)")
SSN_WORDS = re.compile(r"social security|\bssn\b|\bsocial\b", re.I)
WRITTEN_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PART = r"[a-z0-9+-]+"
_TLDS = "com|org|net|edu|gov|io|co|uk|us|de|fr|ca|info|biz|me"
_DOT = r"(?:\s*\.\s*|\s+dot\s+)"
_JOIN = r"(?:\s*[._]\s*|\s+(?:dot|underscore|dash|hyphen)\s+)"
SPOKEN_EMAIL = re.compile(
    rf"\b{_PART}(?:{_JOIN}{_PART})*\s+at\s+{_PART}(?:{_DOT}{_PART})*{_DOT}(?:{_TLDS})\b",
    re.I,
)
CUED_EMAIL = re.compile(
    rf"\be-?mail(?: address)?(?: is|:)?\s+(?P<address>[^,;!?]{{1,80}}?{_DOT}\s*(?:{_TLDS})\b)", re.I
)
MONTHS = "january february march april may june july august september october november december".split()
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"
DATES = [
    re.compile(rf"\b{_MONTH}\s+{_DAY}(?:,?\s+(?P<year>{_YEAR}))?\b", re.I),
    re.compile(rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+(?P<year>{_YEAR}))?\b", re.I),
    re.compile(rf"(?<!\d)\d{{1,2}}[/.-]\d{{1,2}}[/.-](?P<year>{_YEAR}|\d{{2}})(?!\d)"),
    re.compile(rf"(?<!\d)(?P<year>{_YEAR})-\d{{2}}-\d{{2}}(?!\d)"),
]
BIRTH_WORDS = re.compile(r"\bborn\b|\bbirth|\bd\.?o\.?b\b|\bbirthday\b", re.I)
STREET = re.compile(
    r"\b\d{1,6}\s+(?:[A-Za-z][a-z]+\s+){1,4}"
    r"(?:(?:street|avenue|road|lane|drive|boulevard|court|way|place|terrace|circle|parkway|highway|square)\b|"
    r"(?:st|ave|rd|ln|dr|blvd|ct|pl|pkwy|hwy|sq)\b\.?)(?:,?\s+(?:apt|apartment|suite|unit)\.?\s+\w+)?",
    re.I,
)
NAME_CUE = re.compile(
    r"\b(?:my name is|my name's|name is|this is|i'm|i am|it's|speaking with|call me)\s+"
    r"(?P<name>[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?)"
)
# What a caller says just before the data of a kind ("my card number is", "my e-mail is", "born on"): after it,
# the rest of the utterance is that data even when its words no longer look like it.
CUES = {
    "card": CARD_WORDS,
    "ssn": SSN_WORDS,
    "phone": PHONE_WORDS,
    "email": re.compile(r"\be-?mail\b(?: address)?", re.I),
    "dob": BIRTH_WORDS,
    "address": re.compile(r"\baddress\b|\blive (?:at|on)\b", re.I),
    "name": re.compile(r"\b(?:my name is|my name's|name is|call me)\b", re.I),
}
NOT_NAMES = frozenset(
    "I A The This That It Not Just Calling Sorry Fine Good Great Okay Ok Yes No Here Back Busy Available Happy "
    "Glad Afraid Sure Interested Looking Wondering Actually Really Still Very About From With Your Our Their "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
)


def find(text: str, kinds: list[str] | tuple[str, ...]) -> list[Span]:
    """Every span of `kinds` in `text`, longest first where two overlap, in text order."""
    found: list[Span] = []
    if "card" in kinds:
        cued = CARD_WORDS.search(text) is not None
        for m in DIGIT_RUN.finditer(text):
            digits = re.sub(r"\D", "", m.group())
            # A misheard digit breaks the checksum, and Whisper drops digits too ("4111 1111 1111 1111" came out
            # "4,111,111, 1,111": 11 digits): in talk about a card, any run of nine digits or more is one.
            if (13 <= len(digits) <= 19 and luhn(digits)) or cued:
                found.append(Span("card", m.start(), m.end()))
    if "ssn" in kinds:
        cued = SSN_WORDS.search(text) is not None
        for m in SSN.finditer(text):
            if m.group(1) or cued:  # nine bare digits are an SSN only when the talk is about one
                found.append(Span("ssn", m.start(), m.end()))
    if "email" in kinds:
        for pattern in (WRITTEN_EMAIL, SPOKEN_EMAIL):
            found.extend(Span("email", m.start(), m.end()) for m in pattern.finditer(text))
        # Whisper often loses the "at" ("tom. beccoret example. com"): after "my e-mail is", up to the domain.
        found.extend(Span("email", m.start("address"), m.end("address")) for m in CUED_EMAIL.finditer(text))
    if "phone" in kinds:
        for match in phonenumbers.PhoneNumberMatcher(text, "US", leniency=phonenumbers.Leniency.POSSIBLE):
            found.append(Span("phone", match.start, match.end))
        if PHONE_WORDS.search(text):  # as for cards: a misheard number is no longer a possible one
            found.extend(Span("phone", m.start(), m.end()) for m in PHONE_RUN.finditer(text))
    if "dob" in kinds:
        found.extend(_birth_dates(text))
    if "address" in kinds:
        found.extend(Span("address", m.start(), m.end()) for m in STREET.finditer(text))
    if "name" in kinds:
        for m in NAME_CUE.finditer(text):
            words = m.group("name").split()
            while words and words[-1] in NOT_NAMES:
                words.pop()
            if words and words[0] not in NOT_NAMES:
                start = m.start("name")
                found.append(Span("name", start, start + len(" ".join(words))))
    return _without_overlaps(found)


def cues(text: str, kinds: list[str] | tuple[str, ...]) -> list[Span]:
    """Every cue of `kinds` in `text` (its kind, and where the cue's words are)."""
    return [Span(kind, m.start(), m.end()) for kind in kinds for m in CUES[kind].finditer(text)]


def _birth_dates(text: str) -> list[Span]:
    spans = []
    old = date.today().year - 2  # a full date two or more years back is a birth date, not an appointment
    for pattern in DATES:
        for m in pattern.finditer(text):
            year = m.group("year")
            if year and len(year) == 2:
                year = ("19" if int(year) > date.today().year % 100 else "20") + year
            cued = BIRTH_WORDS.search(text[max(0, m.start() - 60) : m.start()]) is not None
            if cued or (year and int(year) <= old):
                spans.append(Span("dob", m.start(), m.end()))
    return spans


def _without_overlaps(spans: list[Span]) -> list[Span]:
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (-(s.end - s.start), s.start)):
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def redact(text: str, kinds: list[str] | tuple[str, ...]) -> str:
    """`text` with each span of `kinds` replaced by its kind in brackets ("[card]")."""
    if not kinds:
        return text
    out, at = [], 0
    for span in find(text, kinds):
        out.append(text[at : span.start])
        out.append(f"[{span.kind}]")
        at = span.end
    out.append(text[at:])
    return "".join(out)


def redact_values(value: Any, kinds: list[str] | tuple[str, ...]) -> Any:
    """Every string inside `value` (a JSON value: an event's data, a result) redacted."""
    if isinstance(value, str):
        return redact(value, kinds)
    if isinstance(value, dict):
        return {k: redact_values(v, kinds) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_values(v, kinds) for v in value]
    return value


def redact_result(result: dict[str, Any] | None, kinds: list[str], exempt: list[str]) -> dict[str, Any] | None:
    """A `result` with its fields redacted, except those the agent exempts by name."""
    if result is None or not kinds:
        return result
    return {name: v if name in exempt else redact_values(v, kinds) for name, v in result.items()}
