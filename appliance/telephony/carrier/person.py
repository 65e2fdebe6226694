"""The loopback carrier's simulated person: answers +12025550101 and talks from a YAML script (and the front
desk, +12025550107, with the `operator` script; the IVR's +12025550108 puts callers through to it).

It sits at the far end of real SIP (the carrier's side of the call), hears the agent through its
own externalMedia RTP leg, detects the agent's turns with VAD, and says its lines with a voice that
is not the agent's. At its end of the line it measures what a caller would notice: the time from
the end of its own speech to the agent's first audio, and, when it interrupts, how long the agent
keeps talking over it. Each call's measures are appended to `<data>/carrier/person-results.jsonl`.

Script (YAML): `greeting` (said on answer), `lines` (one per agent turn: a string, or
`{say, interrupt: true}` to say it 0.8 s into the agent's turn, `{say, during: true}` for a
backchannel said while the agent talks without stopping it, `{say, wait: 4}` to stay quiet 4 s first (the agent too), or
`{press: "1234#"}` to press keys instead of speaking: RFC 4733 DTMF on the person's channel, sent by ARI),
`silent: true` (says nothing), `ring_seconds` (a call to the person rings that long before they pick up),
`voice` (`piper`: the Piper voice pitched down and slowed; `espeak`, or `espeak:<voice>` for another
espeak-ng voice such as `en-gb-scotland+f3`), `max_seconds`, `rtp_port` (bind the person's RTP there, so a
wire meter can find its leg; 0: any port).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import subprocess
import time
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soxr
import structlog
import yaml

from appliance.telephony.ari import AriClient
from appliance.telephony.ari_errors import AriError
from appliance.telephony.ari_events import ChannelDestroyed, StasisEnd, StasisStart
from appliance.telephony.media import RtpEndpoint
from appliance.voice.call_audio import continuous_frames
from appliance.voice.turns import loud, trailing_quiet

if TYPE_CHECKING:
    from appliance.voice.engine import VoiceEngine

log = structlog.get_logger(__name__)

SCRIPTS_DIR = Path(__file__).parent / "scripts"
AGENT_TURN_END_MS = 900  # the agent's silence that means it is our turn
INTERRUPT_AFTER_S = 1.0
STOPPED_QUIET_MS = 400
ANSWER_PAUSE_S = 0.8  # people put the phone to their ear before saying "Hello?"
HANG_UP_AFTER_S = 6.0  # after our last line: time for the agent's goodbye before we hang up ourselves
KEY_MS, BETWEEN_KEYS_MS = 100, 150  # a key's tone and the gap after it: a person's steady typing

Keys = Callable[[str], Awaitable[None]]  # sends keys down the person's channel


@dataclass
class Line:
    say: str = ""
    press: str = ""  # keys pressed (after `say`, if both)
    interrupt: bool = False
    during: bool = False
    wait: float = 0.0  # seconds of quiet after the agent's turn before the line (a caller who pauses)


@dataclass
class Script:
    name: str = "appointment"
    greeting: str | None = "Hello?"
    greeting_audio: str | None = None  # a recording to answer with instead (bench/amd.py's answering machines)
    lines: list[Line] = field(default_factory=list)
    silent: bool = False
    voice: str = "piper"
    max_seconds: float = 120.0
    rtp_port: int = 0
    ring_seconds: float = 0.0

    @classmethod
    def load(cls, path: Path) -> Script:
        raw = yaml.safe_load(path.read_text()) or {}
        lines = [Line(say=x) if isinstance(x, str) else Line(**x) for x in raw.pop("lines", [])]
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__}, lines=lines)


def script_path(data_dir: Path) -> Path:
    """The script the next call uses: set with `appliance carrier script FILE`, else the built-in one."""
    chosen = data_dir / "carrier" / "person.yaml"
    return chosen if chosen.exists() else SCRIPTS_DIR / "appointment.yaml"


def espeak(text: str, voice: str = "en-us") -> bytes:
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "--stdout", text], capture_output=True, check=True)
    with wave.open(io.BytesIO(wav.stdout)) as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
        rate = w.getframerate()
    return (soxr.resample(audio, rate, 8000) * 32767).astype(np.int16).tobytes()


def read_wav(path: Path) -> bytes:
    """A mono 16-bit WAV as 8 kHz PCM16."""
    with wave.open(str(path)) as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32)
        rate = w.getframerate()
    return np.clip(soxr.resample(audio, rate, 8000), -32768, 32767).astype(np.int16).tobytes()


def lower_voice(pcm: bytes, factor: float = 0.9) -> bytes:
    """Pitch down and slow down together (play the samples as if recorded faster): another speaker."""
    audio = np.frombuffer(pcm, np.int16).astype(np.float32)
    out = soxr.resample(audio, 8000 * factor, 8000)
    return np.clip(out, -32768, 32767).astype(np.int16).tobytes()


class PersonCall:
    def __init__(self, media: RtpEndpoint, script: Script, audio: dict[str, bytes], keys: Keys | None = None) -> None:
        self.media = media
        self.script = script
        self.audio = audio
        self.keys = keys
        self.results: dict[str, Any] = {
            "script": script.name,
            "said": [],
            "pressed": [],
            "reply_latency_ms": [],
            "barge_in_stop_ms": [],
        }
        self.agent_talking = False
        self.agent_started_at = 0.0
        self.agent_last_speech = 0.0
        self.agent_turns = 0
        self.heard_since_said = False
        self.our_end: float | None = None  # when the last loud frame of our last line left
        self.interrupt_start: float | None = None
        self.agent_spoke = asyncio.Event()

    async def say(self, text: str) -> None:
        self.results["said"].append(text)
        pcm = self.audio[text]
        self.media.send(pcm)
        await self.media.drained()
        # Where a caller stops talking, as a wire meter sees it: not the end of the clip's trailing quiet.
        self.our_end = asyncio.get_running_loop().time() - trailing_quiet(pcm)
        # Talking over the agent is not a reply to wait for: measure only when the line was ours alone.
        self.heard_since_said = self.agent_talking

    async def press(self, keys: str) -> None:
        if self.keys is None:
            raise RuntimeError("this call cannot press keys")
        self.results["pressed"].append(keys)
        await self.keys(keys)
        # ARI answers before Asterisk has played the keys: our turn ends when the last one has been sent.
        loop = asyncio.get_running_loop()
        self.our_end = loop.time() + (len(keys) * (KEY_MS + BETWEEN_KEYS_MS) - BETWEEN_KEYS_MS) / 1000
        await asyncio.sleep(max(0.0, self.our_end - loop.time()))
        self.heard_since_said = self.agent_talking

    async def listen(self) -> None:
        quiet = 0
        async for pcm, now in continuous_frames(self.media):
            speech = loud(pcm)  # as the wire meter counts the agent's voice
            if speech:
                if self.our_end is not None and not self.heard_since_said and not self.media.sending:
                    # The first agent frame, at its arrival: what a caller would hear.
                    self.results["reply_latency_ms"].append(int((now - self.our_end) * 1000))
                    self.heard_since_said = True
                if not self.agent_talking:
                    self.agent_talking, self.agent_started_at = True, now
                    self.agent_spoke.set()
                self.agent_last_speech = now
            quiet = 0 if speech else quiet + 1
            # Quiet longer than the gap between two sentences: the agent stopped when the quiet began.
            if self.interrupt_start is not None and quiet * 20 >= STOPPED_QUIET_MS:
                stopped_at = now - STOPPED_QUIET_MS / 1000
                self.results["barge_in_stop_ms"].append(max(0, int((stopped_at - self.interrupt_start) * 1000)))
                self.interrupt_start = None
            if self.agent_talking and now - self.agent_last_speech > AGENT_TURN_END_MS / 1000:
                self.agent_talking = False
                self.agent_turns += 1
                self.agent_spoke.clear()

    async def agent_resumed(self, since: float) -> None:
        """Wait until the agent is heard again after `since`: it pauses to hear out a backchannel, and that
        pause (≈ 1 s on a busy box) is no end of its turn."""
        while self.agent_last_speech <= since:  # noqa: ASYNC110 (the listener updates it per 20 ms frame)
            await asyncio.sleep(0.02)

    async def agent_turn_over(self) -> None:
        """Wait until the agent has said something and then gone quiet."""
        turns = self.agent_turns
        while self.agent_turns == turns:  # noqa: ASYNC110 (the listener updates a counter per 20 ms frame)
            await asyncio.sleep(0.02)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0 if self.script.greeting_audio else ANSWER_PAUSE_S)  # a recording has its own
        if self.script.silent:
            await asyncio.sleep(self.script.max_seconds)
            return
        if self.script.greeting_audio:
            await self.say(self.script.greeting_audio)
        elif self.script.greeting:
            await self.say(self.script.greeting)
        backchannel_at: float | None = None
        for line in self.script.lines:
            if line.interrupt or line.during:
                await self.agent_spoke.wait()
                await asyncio.sleep(max(0.0, self.agent_started_at + INTERRUPT_AFTER_S - loop.time()))
                if line.interrupt:
                    self.interrupt_start = loop.time()
                await self.say(line.say)
                if line.during:
                    backchannel_at = loop.time()
                    self.results["backchannel_said_at"] = round(backchannel_at, 3)
                continue
            if backchannel_at is not None:
                await self.agent_resumed(backchannel_at)
                backchannel_at = None
            await self.agent_turn_over()
            while line.wait:  # quiet that long: if the agent goes on meanwhile, its turn was not over
                heard = self.agent_last_speech
                await asyncio.sleep(line.wait)
                if self.agent_last_speech == heard and not self.agent_talking:
                    break
                # Speech during the wait (the agent, or whoever a transfer put through) that already ended
                # counted its turn while we slept: waiting for the next one would wait for ever.
                if self.agent_talking:
                    await self.agent_turn_over()
            if line.say:
                await self.say(line.say)
            if line.press:
                await self.press(line.press)
        await asyncio.sleep(HANG_UP_AFTER_S)


class SimulatedPerson:
    """The `carrier-person` ARI app: one `PersonCall` per call the carrier routes to the person."""

    def __init__(self, ari_url: str, user: str, password: str, app: str, data_dir: Path, engine: VoiceEngine) -> None:
        self.ari = AriClient(ari_url, user, password, app)
        self.data_dir = data_dir
        self.engine = engine
        self._task: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()
        self._audio: dict[tuple[str, str], bytes] = {}

    async def start(self) -> None:
        self.ari.start()
        await asyncio.wait_for(self.ari.connected.wait(), timeout=15)
        self._task = asyncio.create_task(self._accept(), name="carrier-person")

    async def stop(self) -> None:
        for task in [self._task, *self._calls]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in [self._task, *self._calls] if t), return_exceptions=True)
        await self.ari.close()

    async def _accept(self) -> None:
        with self.ari.subscribe_new_channels() as new:
            async for event in new:
                if isinstance(event, StasisStart) and not event.channel.id.startswith("person-media-"):
                    task = asyncio.create_task(self._call(event.channel.id, event.args))
                    self._calls.add(task)
                    task.add_done_callback(self._calls.discard)

    async def _voice(self, script: Script) -> dict[str, bytes]:
        """The script's lines as audio, synthesised once per text and voice and kept for later calls."""
        texts = [t for t in [script.greeting, *(line.say for line in script.lines)] if t]
        if script.greeting_audio:  # a file, read fresh each call (the bench rewrites it)
            return {script.greeting_audio: await asyncio.to_thread(read_wav, Path(script.greeting_audio))}
        for t in texts:
            if (script.voice, t) not in self._audio:
                if script.voice.startswith("espeak"):
                    _, _, voice = script.voice.partition(":")
                    pcm = await asyncio.to_thread(espeak, t, voice or "en-us")
                else:
                    pcm = lower_voice(await asyncio.to_thread((await self.engine.voice(None)).synthesize, t))
                self._audio[(script.voice, t)] = pcm
        return {t: self._audio[(script.voice, t)] for t in texts}

    async def _call(self, channel_id: str, args: list[str]) -> None:
        """`args`, from the dialplan: the script a number always uses (the front desk's), the IVR key pressed."""
        bridge_id, media_id = f"person-bridge-{channel_id}", f"person-media-{channel_id}"
        named = args[0] if args and re.fullmatch(r"[a-z_]+", args[0]) else None
        script = Script.load(SCRIPTS_DIR / f"{named}.yaml" if named else script_path(self.data_dir))
        media = await RtpEndpoint.open(port=script.rtp_port)
        started = time.time()
        person: PersonCall | None = None
        try:
            audio = await self._voice(script)
            # The phone rings until the person is ready to talk, and as long as the script says; then they
            # pick up. (A call the person placed is up already.)
            await asyncio.sleep(max(0.0, started + script.ring_seconds - time.time()))
            with contextlib.suppress(AriError):
                await self.ari.answer(channel_id)
            await self.ari.create_bridge(bridge_id)
            await self.ari.add_channel(bridge_id, channel_id)
            with self.ari.subscribe(media_id) as media_events:
                external = await self.ari.external_media(media_id, media.external_host)
                async with asyncio.timeout(5):
                    await media_events.wait_for(StasisStart)
            media.set_remote(*external.rtp_address)
            await self.ari.add_channel(bridge_id, media_id)
            person = PersonCall(media, script, audio, keys=lambda keys: self._press(channel_id, keys))
            if len(args) > 1 and args[1]:
                person.results["ivr_choice"] = args[1]  # the key the caller pressed at the carrier's menu
            listener = asyncio.create_task(person.listen())
            with self.ari.subscribe(channel_id) as own:
                gone = asyncio.create_task(own.wait_for(StasisEnd, ChannelDestroyed))
                talk = asyncio.create_task(person.run())
                await asyncio.wait({gone, talk, listener}, timeout=script.max_seconds, return_when="FIRST_COMPLETED")
                for task in (gone, talk, listener):
                    task.cancel()
        except (AriError, TimeoutError, OSError) as exc:
            log.warning("person.failed", channel_id=channel_id, error=str(exc))
        finally:
            for resource in (channel_id, media_id):
                with contextlib.suppress(AriError):
                    await self.ari.hangup(resource)
            with contextlib.suppress(AriError):
                await self.ari.destroy_bridge(bridge_id)
            await media.close()
            if person is not None:
                self._report(started, person.results)

    async def _press(self, channel_id: str, keys: str) -> None:
        await self.ari.send_dtmf(channel_id, keys, between_ms=BETWEEN_KEYS_MS, duration_ms=KEY_MS)

    def _report(self, started: float, results: dict[str, Any]) -> None:
        out = self.data_dir / "carrier" / "person-results.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a") as f:
            f.write(json.dumps({"started": started, **results}) + "\n")
