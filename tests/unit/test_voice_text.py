"""Chunking the streamed reply, backchannels, trimming to what was heard, Whisper repeat removal."""

from __future__ import annotations

import pytest

from appliance.voice.text import (
    SentenceChunker,
    content_stems,
    ends_sentence,
    heard_part,
    is_backchannel,
    sentences,
    speaks_as_model,
    strip_marks,
    unfounded_figure,
)


def chunks_of(pieces: list[str]) -> list[str]:
    chunker = SentenceChunker()
    out = [c for p in pieces for c in chunker.push(p)]
    return out + chunker.flush()


def test_first_chunk_ends_at_a_clause_so_speech_starts_early() -> None:
    pieces = ["Sure", ",", " Alex", ",", " Friday", " works", ".", " See", " you", " then", "."]
    assert chunks_of(pieces) == ["Sure, Alex,", "Friday works. See you then."]


def test_the_first_chunk_is_cut_when_its_mark_comes_not_one_token_later() -> None:
    """The caller waits for the first chunk: "Great!" goes to TTS before the model writes " I'll"."""
    for first, rest in ((["Great", "!"], [" I'll", " call", "."]), (["Okay", ",", " Alex", "."], [" Bye", "."])):
        chunker = SentenceChunker()
        assert [c for p in first[:-1] for c in chunker.push(p)] == []
        assert chunker.push(first[-1]) == ["".join(first)]
        assert [c for p in rest for c in chunker.push(p)] + chunker.flush() == ["".join(rest).strip()]


def test_the_words_of_an_unfinished_sentence_can_be_taken_out_when_the_line_would_fall_silent() -> None:
    chunker = SentenceChunker()
    assert chunker.push("Great! Can Alex") == ["Great!"]
    assert chunker.words_so_far() is None  # two words: too few to say alone
    chunker.push(" confirm that they ca")
    assert chunker.words_so_far() == "Can Alex confirm that they"  # whole words only
    assert [c for p in ["n come on", " Thursday at ten?"] for c in chunker.push(p)] + chunker.flush() == [
        "can come on Thursday at ten?"
    ]
    chunker = SentenceChunker()
    chunker.push("Okay. Thank you for your time<end_call> and")
    assert chunker.words_so_far() is None  # a mark or a tag is never spoken as words


def test_abbreviations_and_initials_do_not_end_a_sentence() -> None:
    pieces = ["Dr", ".", " Smith", " sees", " you", " at", " 3", " p", ".m", ".", " tomorrow", "."]
    pieces += [" Mrs", ". ", "Lee", "."]
    assert chunks_of(pieces) == ["Dr. Smith sees you at 3 p.m. tomorrow.", "Mrs. Lee."]


def test_a_short_later_sentence_is_spoken_with_the_next_one() -> None:
    pieces = ["Thank", " you", ",", " Alex", "!", " I", " appreciate", " it", ".", " See", " you", " then", "."]
    assert chunks_of(pieces) == ["Thank you,", "Alex! I appreciate it.", "See you then."]


def test_later_chunks_are_whole_sentences_unless_very_long() -> None:
    assert chunks_of(["Okay. ", "I have you down for Friday, at ten, in the morning. ", "Bye."]) == [
        "Okay.",
        "I have you down for Friday, at ten, in the morning.",
        "Bye.",
    ]


def test_decimal_points_and_times_do_not_split() -> None:
    assert chunks_of(["It costs 3.50 dollars at 10", ".", "30 am."]) == ["It costs 3.50 dollars at 10.30 am."]


@pytest.mark.parametrize("said", ["Mm-hmm.", "okay", "Yeah.", "uh huh", "right, right", "", "  "])
def test_backchannels_and_noise_do_not_interrupt(said: str) -> None:
    assert is_backchannel(said)


@pytest.mark.parametrize("said", ["Wait, stop.", "No, that's wrong", "Who is this?", "yes I can do Friday"])
def test_real_words_interrupt(said: str) -> None:
    assert not is_backchannel(said)


def test_heard_part_keeps_the_words_played() -> None:
    assert heard_part("one two three four", 0.5) == "one two…"
    assert heard_part("one two three four", 1.0) == "one two three four"
    assert heard_part("one two", 0.1) == ""


def test_end_call_mark_is_removed_and_reported() -> None:
    assert strip_marks("Goodbye! <end_call>") == ("Goodbye!", True)
    assert strip_marks("Goodbye!") == ("Goodbye!", False)


def test_sentence_end_detection() -> None:
    assert ends_sentence("Yes, this is Alex.") and ends_sentence("Who?")
    assert not ends_sentence("I was thinking") and not ends_sentence("well...")


def test_word_error_rate_counts_edits_over_reference_words() -> None:
    from tests.wer import word_error_rate

    assert word_error_rate("Yes, this is Alex.", "yes this is alex") == 0
    assert word_error_rate("around ten in the morning", "round ten in morning") == 2 / 5
    assert word_error_rate("a b", "a b c d") == 1.0
    assert word_error_rate("I ordered 2 boxes, not 3.", "I ordered two boxes, not three.") == 0
    assert word_error_rate("table for 4", "table for forty") == 1 / 3


def test_content_stems_drop_plurals_short_words_and_plain_words_in_either_form() -> None:
    plain = frozenset({"the", "key", "this"})
    assert content_stems("Press the keys for Sales, this is it", plain) == {"press", "for", "sale"}


@pytest.mark.parametrize(
    ("said", "as_model"),
    [
        ("As an AI language model, I don't have access to that.", True),
        ("I'm called OpenAI.", True),
        ("I was made by Alibaba Cloud.", True),
        ("I'm an AI assistant for Bright Smile Dental.", False),  # a persona may say so
        ("Our new model of dishwasher is in stock.", False),
    ],
)
def test_the_model_speaking_as_itself_is_told_apart_from_the_agent(said: str, as_model: bool) -> None:
    assert speaks_as_model(said) is as_model


GROUNDS = "Confirm Alex's cleaning on Tuesday at 10:00, room 4B.\nuser: Call me back on four five zero, 550 123."


@pytest.mark.parametrize(
    ("said", "figure"),
    [
        ("Your callback number is 123-456-7890.", "456"),  # a number nobody gave (123 is the caller's)
        ("It will arrive on December 15th.", "15"),
        ("I'll call you back on 450-550-123.", None),  # the caller's, in other groups of digits
        ("See you on Tuesday at 10:00 in room 4B.", None),  # the instructions'
        ("See you at 10 o'clock, 10:00 sharp.", None),  # ":00" is o'clock
        ("Thank you, Alex. Goodbye!", None),
    ],
)
def test_a_number_in_digits_that_nothing_gave_is_found(said: str, figure: str | None) -> None:
    assert unfounded_figure(said, GROUNDS) == figure


def test_sentences_end_at_their_marks_but_not_after_an_abbreviation() -> None:
    cut = ["Hi!", "I'll tell Dr. Hill.", "Is that all?", "And"]
    assert sentences("Hi! I'll tell Dr. Hill. Is that all? And") == cut
    assert sentences("See you then. ") == ["See you then.", ""]
