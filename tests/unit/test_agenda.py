"""The call's agenda (voice/agenda.py): which field is asked next, and the reply cut to make room for it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from appliance.voice.agenda import MAX_ASKS, Agenda, Step, ask_after
from appliance.voice.text import END_CALL_MARK
from appliance.voice.tool_calls import SAY_NOW

QUESTIONS = {
    "confirmed": "Will you be able to come to your appointment?",
    "gate_code": "What is the code of your gate?",
}


def agenda(**kwargs: bool) -> Agenda:
    return Agenda(["confirmed", "gate_code"], lambda: QUESTIONS, **kwargs)


def test_the_opening_asks_the_first_field_and_an_answer_moves_on_to_the_next() -> None:
    a = agenda()
    opening = a.plan(None)
    assert opening == Step("confirmed", QUESTIONS["confirmed"], 2)
    assert a.plan(None) == opening  # planning changes nothing: a reply may be dropped unheard
    a.commit(None, f"Hi, this is Sam from Bright Smile. {QUESTIONS['confirmed']}")
    assert a.current == "confirmed"
    assert a.plan("Yes, I'll be there.") == Step("gate_code", QUESTIONS["gate_code"], 1)
    # Answered, but the reply to an opening answers the greeting too: not a field's answer to settle it by.
    assert a.commit("Yes, I'll be there.", f"Great. {QUESTIONS['gate_code']}") is None
    assert a.done == {"confirmed"} and a.current == "gate_code"
    assert a.commit("It's four four one two.", "Thank you, that's all I needed.") == "gate_code"
    assert a.done == {"confirmed", "gate_code"} and a.plan("Okay.") is None  # all asked: the model wraps up


def test_a_question_from_the_caller_is_answered_by_the_model_then_the_field_is_asked_again_twice_at_most() -> None:
    a = agenda()
    a.commit(None, QUESTIONS["confirmed"])
    step = a.plan("Sorry, which appointment?")
    assert step == Step("confirmed", QUESTIONS["confirmed"], None)  # the model's answer is not cut
    a.commit("Sorry, which appointment?", f"Your cleaning on Tuesday. {QUESTIONS['confirmed']}")
    assert a.asks["confirmed"] == MAX_ASKS
    # Asked twice and still a question back: the agenda moves on rather than ask a third time.
    assert a.plan("What?") == Step("gate_code", QUESTIONS["gate_code"], None)


def test_a_caller_who_declines_or_says_goodbye_gets_the_models_own_reply() -> None:
    a = agenda()
    a.commit(None, QUESTIONS["confirmed"])
    assert a.plan("No, I can't make it.") is None
    assert a.plan("Sorry, wrong number.") is None
    assert a.plan("Yes. Okay, bye.") is None
    a.commit("No, I can't make it.", "I understand.")
    assert a.done == {"confirmed"}  # answered all the same: it is not asked again


def test_an_inbound_opening_is_the_models_and_an_unprepared_field_is_left_to_it() -> None:
    assert agenda(asks_first=False).plan(None) is None
    assert agenda(asks_first=False).plan("Hi, I'm calling about my delivery.") is not None
    assert Agenda(["confirmed"], dict).plan(None) is None  # still to be written
    unprepared = Agenda(["budget", "gate_code"], lambda: QUESTIONS)
    assert unprepared.plan(None) is None  # asked in the model's words; not skipped for the next one


def test_an_agent_question_much_like_a_fields_counts_as_asking_it() -> None:
    a = Agenda(["is_alex"], lambda: {"is_alex": "Am I speaking with Alex?"})
    a.commit(None, "Hello, this is Bright Smile Dental. May I speak with Alex, please?")
    assert a.current == "is_alex"
    b = Agenda(["is_alex"], lambda: {"is_alex": "Am I speaking with Alex?"})
    b.commit(None, "Hello, this is Bright Smile Dental. Do you have a minute?")
    assert b.current is None


async def written(reply: str, closed: list[bool] | None = None) -> AsyncGenerator[str, None]:
    try:
        for word in reply.split(" "):
            yield word + " "
    finally:
        if closed is not None:
            closed.append(True)


async def spoken(pieces: AsyncGenerator[str, None], step: Step | None) -> str:
    return "".join([p async for p in ask_after(pieces, step)])


async def test_the_reply_is_cut_to_its_first_sentences_and_its_own_question_gives_way_to_the_fields() -> None:
    step = Step("gate_code", QUESTIONS["gate_code"], 1)
    closed: list[bool] = []
    said = await spoken(written("Great, thank you. I will note that down for you. Anything else?", closed), step)
    assert said == f"Great, thank you. {QUESTIONS['gate_code']}"
    assert closed == [True]  # the model stopped writing what is not said
    said = await spoken(written("Perfect! Is there anything else I can help you with?"), step)
    assert said == f"Perfect! {QUESTIONS['gate_code']}"
    said = await spoken(written(f"Thanks, have a great day! {END_CALL_MARK}"), step)
    assert said == QUESTIONS["gate_code"]  # no goodbye, no end of the call: a field is still to ask
    opening = Step("confirmed", QUESTIONS["confirmed"], 2)
    said = await spoken(written("Hi, this is Sam. I'm calling about your cleaning. How are you?"), opening)
    assert said == f"Hi, this is Sam. I'm calling about your cleaning. {QUESTIONS['confirmed']}"
    said = await spoken(written("Okay"), step)  # a last sentence with no mark is kept
    assert said == f"Okay {QUESTIONS['gate_code']}"
    # "Dr." ends no sentence: the question does not come after "for Dr." (bench/scenarios.py, a front desk)
    said = await spoken(written("Sure, I'll leave a message for Dr. Hill. What is your name?"), step)
    assert said == f"Sure, I'll leave a message for Dr. Hill. {QUESTIONS['gate_code']}"


async def test_a_reply_that_runs_a_tool_or_has_no_step_goes_as_written() -> None:
    async def with_tool() -> AsyncGenerator[str, None]:
        for piece in ("Sure! ", "Let me look. ", SAY_NOW, "Friday has nine and two thirty. ", "Any good?"):
            yield piece

    step = Step("gate_code", QUESTIONS["gate_code"], None)
    pieces = [p async for p in ask_after(with_tool(), step)]
    assert SAY_NOW in pieces
    assert "".join(p for p in pieces if p != SAY_NOW) == "Sure! Let me look. Friday has nine and two thirty. Any good?"
    reply = f"One. Two. Three? Bye. {END_CALL_MARK}"
    assert await spoken(written(reply), None) == reply + " "


async def test_a_reply_its_reader_stops_early_stops_the_model_with_or_without_a_step() -> None:
    for step in (None, Step("gate_code", QUESTIONS["gate_code"], None)):
        closed: list[bool] = []
        pieces = ask_after(written("Goodbye! <end_call> and more words the model goes on writing", closed), step)
        async with contextlib.aclosing(pieces):
            await anext(pieces)  # the reader (ReplyVoice.say) stops at the end mark
        assert closed == [True], step
