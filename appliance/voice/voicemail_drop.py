"""Leaving a message on a voicemail box: wait for the beep (or the end of the greeting and a moment of
silence), then speak the agent's message (or a short default one)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from appliance.voice import prompt
from appliance.voice.answer_watch import AnswerWatch
from appliance.voice.brief import CallBrief
from appliance.voice.call_audio import BYTES_PER_SECOND, CallMedia
from appliance.voice.speaker import Speaker
from appliance.voice.transcript import Transcript
from appliance.voice.tts import Synthesizer

BEEP_WAIT_S = 20  # a greeting longer than this is not waited out
QUIET_AFTER_GREETING_S = 2.0  # no beep came: the box records after its greeting's silence


async def leave_message(
    call: CallBrief,
    tts: Synthesizer,
    *,
    beeped: bool,
    answer: AnswerWatch,
    caller_speaking: Callable[[], bool],
    speaker: Speaker,
    media: CallMedia,
    transcript: Transcript,
) -> None:
    """Returns once the message has played out (and the sink was told)."""
    loop = asyncio.get_running_loop()
    message = (call.voicemail_message or "").strip() or prompt.voicemail_message(call)
    pcm = await asyncio.to_thread(tts.synthesize, message)
    deadline = loop.time() + BEEP_WAIT_S
    quiet_since = loop.time()
    while not beeped and loop.time() < deadline:
        await asyncio.sleep(0.05)
        if not answer.listening_for_beep:
            break  # the beep came (or we stopped watching for one)
        if caller_speaking():
            quiet_since = loop.time()
        elif loop.time() - quiet_since > QUIET_AFTER_GREETING_S:
            break  # greeting over and no beep: speak after the silence
    await asyncio.sleep(0.3)
    speaker.reset()
    speaker.say(message, pcm)
    transcript.agent(message, loop.time(), len(pcm) / BYTES_PER_SECOND)
    await media.drained()
    transcript.sink.voicemail_left()
    await asyncio.sleep(0.3)
