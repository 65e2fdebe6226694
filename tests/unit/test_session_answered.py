"""Who answered, as the call publishes it: once, when final; a mailbox that speaks on after a first "human"
verdict still overturns it (no models: verdicts and turns by hand)."""

from __future__ import annotations

from types import SimpleNamespace

from appliance.telephony.browser_media import BrowserMedia
from appliance.voice.amd import Verdict, phrase_verdict
from appliance.voice.brief import CallBrief
from appliance.voice.questions import QuestionBook
from appliance.voice.reply import Reply
from appliance.voice.session import ConversationSession
from appliance.voice.turns import Turn, TurnEvent
from tests.fakes import RecordingSink


def outbound() -> tuple[ConversationSession, BrowserMedia, RecordingSink]:
    media, sink = BrowserMedia(), RecordingSink()
    call = CallBrief("call-1", "outbound", voicemail_action="hangup")
    return (
        ConversationSession(
            call, media, SimpleNamespace(llm=None, questions=QuestionBook(None), conversations={}), sink
        ),
        media,
        sink,
    )  # type: ignore[arg-type]


async def test_a_greeting_that_asks_for_a_message_after_a_human_verdict_is_a_machine_published_once() -> None:
    conversation, _media, sink = outbound()
    conversation.answer.decide(Verdict("human", "greeting_then_pause", "Hi, this is Dana."))
    assert sink.verdicts == []  # provisional: not published
    late = phrase_verdict("Please leave me a massage.", decided=True)  # misheard, still a mailbox
    assert late is not None
    conversation.answer.decide(late, late_ok=True)
    assert conversation.answer.machine and sink.verdicts == ["machine"]
    conversation._close()
    assert sink.verdicts == ["machine"]


def agent_spoke(media: BrowserMedia) -> None:
    """The agent's opening went out and it is quiet now."""
    media.send(bytes(320))
    media.next_frame()


async def test_a_person_who_answers_the_agent_is_published_human_and_stays_so() -> None:
    conversation, media, sink = outbound()
    conversation.answer.decide(Verdict("human", "short_greeting", "Hello?"))
    agent_spoke(media)
    turn = Turn()
    conversation._on_turn_event(TurnEvent.STARTED, turn)
    assert not conversation.answer.probing(turn)  # an answer: not read for a mailbox's words
    conversation.replies.commit(Reply("Yes, this is Alex.", turn, 0.0), "Great.")
    assert sink.verdicts == ["human"] and conversation.answer.beep is None
    conversation.answer.decide(Verdict("machine", "beep", "1000 Hz tone"), late_ok=True)
    assert not conversation.answer.machine and sink.verdicts == ["human"]


async def test_speech_over_the_agent_does_not_make_the_verdict_final_and_is_read_for_a_mailbox() -> None:
    conversation, media, sink = outbound()
    conversation.answer.decide(Verdict("human", "greeting_then_pause", "Hi, this is Dana."))
    media.send(bytes(3200))  # the agent talks…
    turn = Turn()
    conversation._on_turn_event(TurnEvent.STARTED, turn)  # …and the greeting goes on over it
    assert conversation.answer.probing(turn)
    conversation.replies.commit(Reply("Hi, this is Dana.", turn, 0.0), "Hello Dana!")
    assert sink.verdicts == [] and not conversation.answer.final


async def test_speech_before_the_agent_has_spoken_is_no_answer() -> None:
    """A greeting's second sentence after its pause: the agent has not said anything yet."""
    conversation, _media, sink = outbound()
    conversation.answer.decide(Verdict("human", "greeting_then_pause", "Hi, you have reached Tom."))
    turn = Turn()
    conversation._on_turn_event(TurnEvent.STARTED, turn)
    assert conversation.answer.probing(turn)
    conversation.replies.commit(Reply("Please leave my message.", turn, 0.0), "Hello Tom!")
    assert sink.verdicts == [] and not conversation.answer.final


async def test_a_silent_callee_who_answers_the_agent_is_a_person() -> None:
    conversation, media, sink = outbound()
    conversation.answer.decide(Verdict("unknown", "no_greeting", "nothing said within the wait"))
    agent_spoke(media)
    turn = Turn()
    conversation._on_turn_event(TurnEvent.STARTED, turn)
    conversation.replies.commit(Reply("Yes?", turn, 0.0), "Hi, this is Sam.")
    assert sink.verdicts == ["human"] and conversation.answer.verdict.signal == "answered_agent"


async def test_the_provisional_verdict_is_published_when_the_call_ends() -> None:
    conversation, _media, sink = outbound()
    conversation.answer.decide(Verdict("human", "short_greeting", "Hello?"))
    conversation._close()
    assert sink.verdicts == ["human"]
