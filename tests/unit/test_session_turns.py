"""How the conversation treats the caller's turns: around a backchannel, and when it reads them ahead (no models:
the turn events and the engine by hand)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace

from appliance.telephony.browser_media import BrowserMedia
from appliance.voice.brief import CallBrief
from appliance.voice.reply import Reply
from appliance.voice.session import ConversationSession
from appliance.voice.speech_first import SpeechFirst
from appliance.voice.turns import Turn, TurnEvent
from tests.fakes import RecordingSink


def session() -> tuple[ConversationSession, BrowserMedia, RecordingSink]:
    media, sink = BrowserMedia(), RecordingSink()
    return ConversationSession(CallBrief("call-1", "inbound"), media, None, sink), media, sink  # type: ignore[arg-type]


async def test_a_backchannel_that_goes_on_after_the_agent_stopped_is_a_turn_whose_end_releases_the_reply() -> None:
    """ "Okay." … then, within the same turn, "yes, that works": the agent must answer it."""
    conversation, _media, _sink = session()
    turn = Turn()
    conversation.ignored = turn  # "Okay." was judged a backchannel
    conversation._on_turn_event(TurnEvent.RESUMED, turn)  # the agent is silent now
    assert conversation.ignored is None
    reply = Reply("Okay. Yes, that works.", turn, 0.0)
    conversation.replies.current = reply
    conversation._on_turn_event(TurnEvent.ENDED, turn)
    assert reply.released.is_set()


async def test_a_backchannel_that_goes_on_while_the_agent_talks_pauses_the_agent() -> None:
    conversation, media, sink = session()
    media.send(bytes(3200))  # the agent is talking
    turn = Turn()
    conversation.ignored = turn
    conversation._on_turn_event(TurnEvent.RESUMED, turn)
    assert conversation.barge is turn and conversation.ignored is None
    assert [kind for kind, _ in sink.events] == ["barge_in_started"]


async def test_a_backchannel_that_ends_is_no_turn_of_the_conversation() -> None:
    conversation, _media, _sink = session()
    turn = Turn()
    conversation.ignored = turn
    reply = Reply("unrelated", Turn(), 0.0)
    conversation.replies.current = reply
    conversation._on_turn_event(TurnEvent.ENDED, turn)
    assert not reply.released.is_set()


class Pool:
    def __init__(self) -> None:
        self.free = True

    def can_prefill(self, call_id: str) -> bool:
        return self.free


def reading_session() -> tuple[ConversationSession, Pool, SpeechFirst]:
    pool, priority = Pool(), SpeechFirst()
    engine = SimpleNamespace(llm=pool, priority=priority)
    conversation = ConversationSession(CallBrief("call-1", "inbound"), BrowserMedia(), engine, RecordingSink())  # type: ignore[arg-type]
    return conversation, pool, priority


def talking(conversation: ConversationSession, speech_ms: int) -> Turn:
    turn = conversation.turns.turn = conversation.turns.turn or Turn()
    turn.speech_frames = speech_ms // 20
    return turn


async def test_the_callers_turn_is_read_ahead_every_600_ms_of_their_speech_and_a_long_one_less_often() -> None:
    conversation, _pool, _priority = reading_session()
    turn = talking(conversation, 580)
    assert not conversation._read_ahead_due()
    for read_at, next_at in ((600, 1200), (1200, 1800), (1800, 2700), (6000, 9000)):
        talking(conversation, read_at)
        assert conversation._read_ahead_due()
        conversation.read_ahead.last_read = (turn, read_at)  # read then
        talking(conversation, next_at - 20)
        assert not conversation._read_ahead_due()
        talking(conversation, next_at)
        assert conversation._read_ahead_due()
    conversation.turns.turn = Turn(speech_frames=30)  # a new turn counts from its own start
    assert conversation._read_ahead_due()


async def test_reading_ahead_waits_while_anything_else_wants_the_cpu_or_the_words() -> None:
    conversation, pool, priority = reading_session()
    talking(conversation, 800)
    assert conversation._read_ahead_due()
    with priority.speech():  # a synthesis or transcription (this call's or another's) is running
        assert not conversation._read_ahead_due()
    pool.free = False  # the context is busy or holds another call
    assert not conversation._read_ahead_due()
    pool.free = True
    conversation.barge = conversation.turns.turn  # talking over the agent: the words decide what it is first
    assert not conversation._read_ahead_due()
    conversation.barge = None
    conversation.answer.awaiting_greeting = True  # "Hello?" is judged for a voicemail greeting
    assert not conversation._read_ahead_due()
    conversation.answer.awaiting_greeting = False
    conversation.replies.current = Reply("earlier words", conversation.turns.turn, 0.0)
    conversation.replies.current.task = asyncio.get_running_loop().create_future()  # type: ignore[assignment]
    assert not conversation._read_ahead_due()  # a speculative reply is being generated
    conversation.replies.current.task.set_result(None)  # type: ignore[union-attr]
    assert conversation._read_ahead_due()


async def test_the_first_words_tts_time_is_theirs_even_when_they_were_kept_and_took_no_time() -> None:
    conversation, _media, _sink = session()
    waits = iter([0.0, 1.0])  # a kept "Great!", then a sentence Piper takes 1 s for

    class Voice:
        def synthesize(self, said: str) -> bytes:
            time.sleep(next(waits))
            return bytes(3200)

    conversation.voice.tts = Voice()  # type: ignore[assignment]
    reply = Reply("Yes, this is Alex.", None, 0.0)
    reply.released.set()
    await conversation.voice.speak(reply, "Great!")
    await conversation.voice.speak(reply, "Let me check that for you.")
    # Not the sentence's 1000 ms (a loaded machine may take a few hundred to run the kept one's thread).
    assert reply.first_tts_ms is not None and reply.first_tts_ms < 700


async def test_a_reply_the_caller_spoke_over_in_a_pause_is_a_reply_cut_event_with_its_unsaid_words() -> None:
    """ "Great!" played, the next sentence was still being written, the caller took the pause for the end."""
    conversation, _media, sink = session()
    earlier = Reply("Yes, this is Alex.", Turn(), 0.0)
    earlier.task = asyncio.create_task(asyncio.sleep(10))
    earlier.spoken, earlier.full_text = ["Great!"], "Great! Can you come on"
    conversation.replies.current = earlier
    conversation.replies.start("Yes, that works.", Turn(), release=False)
    cut = [data for kind, data in sink.events if kind == "reply_cut"]
    assert cut and cut[0]["said"] == "Great!" and cut[0]["written"] == "Great! Can you come on", sink.events
    assert conversation.replies.current is not None
    conversation.replies.current.task.cancel()  # type: ignore[union-attr]


async def test_words_of_a_long_sentence_are_spoken_before_it_ends_when_the_line_runs_dry() -> None:
    """ "Great!" has played and the next sentence is still being written: its first words go out rather than
    a pause the caller takes for the end of the turn."""

    class Dry(BrowserMedia):
        @property
        def queued_samples(self) -> int:  # everything sent has played
            return 0

    class Voice:
        def synthesize(self, said: str) -> bytes:
            return bytes(1600)

    conversation = ConversationSession(CallBrief("call-1", "inbound"), Dry(), None, RecordingSink())  # type: ignore[arg-type]
    conversation.voice.tts = Voice()  # type: ignore[assignment]
    reply = Reply("Yes, this is Alex.", Turn(), 0.0)
    reply.released.set()

    async def pieces() -> AsyncIterator[str]:
        for piece in ["Great", "!", " Can", " Alex", " confirm", " that", " they", " can", " come", "?"]:
            yield piece

    await conversation.voice.say(reply, pieces())
    assert reply.spoken == ["Great!", "Can Alex confirm that", "they can come?"]
