"""Whole conversations on a scripted line (tests/fakes.py): the session's turns, replies, interruptions and
endings end to end, with no aiortc, Asterisk or models. Real time, a few seconds a call."""

from __future__ import annotations

import asyncio

from appliance.voice.brief import CallBrief
from appliance.voice.session import ConversationSession
from appliance.voice.text import END_CALL_MARK
from tests.fakes import HearsAnySound, RecordingSink, ScriptedLine, ScriptedModel, ScriptedWhisper, StubEngine

OPENING = "Hi, this is Dana from Bright Smile. Can you make Tuesday at ten?"


def conversation(
    brief: CallBrief, caller: list[str], replies: list[str]
) -> tuple[ConversationSession, ScriptedLine, RecordingSink, ScriptedModel]:
    line, sink, model = ScriptedLine(), RecordingSink(), ScriptedModel(replies)
    session = ConversationSession(brief, line, StubEngine(model, ScriptedWhisper(caller)), sink)  # type: ignore[arg-type]
    session.vad = HearsAnySound()  # type: ignore[assignment]
    return session, line, sink, model


async def test_an_outbound_call_greets_after_hello_hears_the_answer_and_ends_with_goodbye() -> None:
    brief = CallBrief("call-1", "outbound", first_message=OPENING)
    session, line, sink, model = conversation(
        brief, ["Hello?", "Yes, that works for me."], ["Great, see you on Tuesday. Goodbye.<end_call>"]
    )

    async def caller() -> None:
        await asyncio.sleep(0.2)
        await line.say(0, 500)  # "Hello?"
        await line.agent_quiet()
        await line.say(1, 900)

    person = asyncio.create_task(caller())
    async with asyncio.timeout(20):
        reason = await session.run()
    await person
    assert reason == "agent_ended"
    assert [(role, said) for role, said, _ in sink.segments] == [
        ("user", "Hello?"),
        ("agent", OPENING),
        ("user", "Yes, that works for me."),
        ("agent", "Great, see you on Tuesday. Goodbye."),
    ]
    assert sink.verdicts == ["human"]
    # The model was asked once, with the opening and the caller's answer last; the end mark was not spoken.
    assert len(model.prompts) == 1 and model.prompts[0][-1] == {"role": "user", "content": "Yes, that works for me."}
    assert model.prompts[0][-2] == {"role": "assistant", "content": OPENING}
    # Both the opening and the reply were timed from the end of the caller's words: two latencies.
    assert sink.latencies is not None and len(sink.latencies) == 2 and all(0 < ms < 3000 for ms in sink.latencies)


async def test_a_caller_who_speaks_over_the_agent_stops_it_and_the_history_keeps_what_they_heard() -> None:
    # 12 s of the agent's audio: a loaded machine that stalls the caller's script for seconds still finds the
    # agent talking when the interruption comes.
    long_reply = " ".join(["word"] * 120) + "."
    brief = CallBrief("call-1", "inbound", first_message="Front desk, how can I help?")
    session, line, sink, model = conversation(
        brief, ["Hi, I have a question about my bill, please.", "Sorry, stop, what is my balance?"],
        [long_reply, "Your balance is in your account. Goodbye.<end_call>"],
    )  # fmt: skip

    async def caller() -> None:
        await line.agent_quiet()  # the agent greets first on an inbound call
        await line.say(0, 900)
        await line.agent_speaks()  # the long reply begins…
        await asyncio.sleep(1.0)
        await line.say(1, 1500)  # …and is talked over

    person = asyncio.create_task(caller())
    async with asyncio.timeout(25):
        reason = await session.run()
    await person
    assert reason == "agent_ended"
    kinds = [kind for kind, _ in sink.events]
    assert "barge_in" in kinds, kinds
    heard = next(data["heard"] for kind, data in sink.events if kind == "barge_in")
    assert heard and len(heard.split()) < 120  # cut short: only what played
    # The next prompt has the cut reply as heard, then the caller's interruption.
    last = model.prompts[-1]
    assert last[-1]["content"] == "Sorry, stop, what is my balance?"
    assert last[-2] == {"role": "assistant", "content": heard}


async def test_a_silent_caller_is_asked_once_then_told_goodbye() -> None:
    brief = CallBrief("call-1", "inbound", first_message="Hello, front desk.", silence_timeout_seconds=0.5)
    session, _, sink, _ = conversation(brief, [], ["unused"])
    async with asyncio.timeout(15):
        reason = await session.run()
    assert reason == "silence_timeout"
    assert [said for role, said, _ in sink.segments if role == "agent"] == [
        "Hello, front desk.",
        "Are you still there?",
        "I can't hear anything, so I'll let you go. Goodbye.",
    ]


async def test_the_line_closing_ends_the_conversation() -> None:
    brief = CallBrief("call-1", "inbound", first_message="Hello, front desk.")
    session, line, sink, _ = conversation(brief, [], ["unused"])

    async def caller() -> None:
        await line.agent_quiet()
        line.hang_up()

    person = asyncio.create_task(caller())
    async with asyncio.timeout(10):
        reason = await session.run()
    await person
    assert reason is None  # the dialer knows why the line closed
    assert sink.latencies == []


async def test_an_outbound_call_asks_its_returns_fields_in_their_prepared_words_until_all_are_answered() -> None:
    gate = "What is the code of your gate?"
    returns = {"type": "object", "properties": {"gate_code": {"type": "string", "description": gate}}}
    brief = CallBrief("call-1", "outbound", agent_name="Sam", returns=returns)
    session, line, sink, model = conversation(
        brief, ["Hello?", "Sorry, who is this?", "It's four four one two."],
        ["Hi, this is Sam from Acme. How are you today?", "This is Sam, from Acme deliveries.",
         f"Thank you, that's all. Goodbye! {END_CALL_MARK}"],
    )  # fmt: skip

    async def caller() -> None:
        await asyncio.sleep(0.2)
        for i in range(3):
            await line.say(i, 600)
            await line.agent_speaks()
            await line.agent_quiet()

    person = asyncio.create_task(caller())
    async with asyncio.timeout(30):
        reason = await session.run()
    await person
    assert reason == "agent_ended"
    assert [said for role, said, _ in sink.segments if role == "agent"] == [
        f"Hi, this is Sam from Acme. {gate}",  # the model's own question gave way to the field's
        f"This is Sam, from Acme deliveries. {gate}",  # their question answered, the field asked again
        "Thank you, that's all. Goodbye!",  # answered: the model ends the call as it wrote
    ]
    assert "ask one short question" not in model.prompts[0][-1]["content"]  # the question was not its to ask
    # Which turn answered the field is an event the extraction reads; their question back was not one.
    answered = [data for kind, data in sink.events if kind == "field_answered"]
    assert [(a["field"], a["answer"]) for a in answered] == [("gate_code", "It's four four one two.")]


async def front_desk_call(caller_says: str, model_writes: str) -> tuple[RecordingSink, ScriptedModel]:
    """An inbound call of two turns: the caller's words, the model's reply; then "Dana. Bye." and goodbye."""
    brief = CallBrief("call-1", "inbound", first_message="Front desk, how can I help?")
    session, line, sink, model = conversation(
        brief, [caller_says, "Dana. Bye."], [model_writes, f"Thank you, Dana. Goodbye! {END_CALL_MARK}"]
    )

    async def caller() -> None:
        for i in range(2):
            await line.agent_quiet()
            await line.say(i, 600)

    person = asyncio.create_task(caller())
    async with asyncio.timeout(30):
        reason = await session.run()
    await person
    assert reason == "agent_ended"
    return sink, model


async def test_the_agent_never_says_it_is_a_language_model_nor_keeps_it_as_said() -> None:
    sink, model = await front_desk_call(
        "Can you see my account?",
        "Sorry. As an AI language model, I don't have access to your account. What is your name?",
    )
    said = [said for role, said, _ in sink.segments if role == "agent"]
    assert said[1] == "Sorry. What is your name?" and not any("model" in s for s in said), said
    assert all("model" not in m["content"] for m in model.prompts[-1]), model.prompts[-1]


async def test_a_sentence_stating_a_number_nobody_gave_is_not_spoken() -> None:
    sink, _model = await front_desk_call(
        "I'd like a call back.", "Sure. Your callback number is 123-456-7890. What is your name?"
    )
    said = [said for role, said, _ in sink.segments if role == "agent"]
    # Never the number; the question after it all the same. (Words of its sentence spoken before the number
    # was written, while the line would otherwise have gone quiet, cannot be taken back.)
    assert not any(c.isdigit() for c in said[1]) and said[1].endswith("What is your name?"), said
    withheld = [data["said"] for kind, data in sink.events if kind == "reply_withheld"]
    assert len(withheld) == 1 and "123-456-7890" in withheld[0], sink.events
