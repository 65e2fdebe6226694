"""Answering-machine detection over real SIP: our detector against Asterisk's app_amd on the same answers.

A labelled set of answers is generated (voicemail greetings of several styles, with beeps of several
frequencies and lengths or none; people answering "Hello?", "Yeah?", a receptionist's long greeting,
after different pauses), spoken by voices the agent does not use (the Piper voice lowered, espeak-ng).
A held-out part was not tuned on: full-mailbox announcements, greetings that pause before asking for a
message (the agent starts talking into the pause), and Asterisk's own recorded voicemail prompts and
"Hello." (a human voice, bench/speech_corpus.py). Scores are given per voice.
Each answer is played by the loopback carrier's simulated person when it picks up, over real SIP and
G.711. Pass 1 places real calls (`POST /v1/calls`) and reads the verdict and its time from the call's
`amd` event. Pass 2 originates calls into Asterisk's `AMD()` (the `appliance-amd` context) and reads
AMDSTATUS. Writes bench/results/amd.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from appliance import models
from appliance.call_status import TERMINAL
from appliance.config import load_settings
from appliance.telephony.ari import AriClient
from appliance.telephony.ari_events import ChannelDestroyed, StasisStart
from appliance.telephony.carrier.person import espeak, lower_voice
from appliance.telephony.running import ari_credentials
from appliance.telephony.trunk_config import endpoint_name
from appliance.voice.tts import Synthesizer
from bench import speech_corpus
from bench.procstat import machine
from tests.support import ServerProcess

HERE = Path(__file__).resolve().parent

MACHINE_GREETINGS = {
    "personal_short": "Hi, it's Mike. Leave a message.",
    "personal_no_phrase": "Hey, this is Jen! Talk soon.",
    "personal_long": "Hi, you've reached Sarah Thompson. I'm sorry I can't take your call right now. Please "
    "leave your name, your number and a short message, and I'll get back to you as soon as I can. Thanks!",
    "business": "Thank you for calling Acme Plumbing. Our office is currently closed. Our hours are Monday "
    "to Friday, eight to five. Please leave a message and we will return your call on the next business day.",
    "carrier": "The person you are calling is not available. Please leave a message after the tone.",
    "carrier_record": "The wireless customer you are calling is not available. At the tone, please record "
    "your message.",
}
BEEPS = [None, (1000, 0.5), (440, 0.3), (1400, 0.2), (850, 1.0)]
HUMAN_GREETINGS = {
    "hello": "Hello?",
    "yeah": "Yeah?",
    "this_is_mike": "This is Mike.",
    "dana_speaking": "Hello, this is Dana speaking.",
    "who_is_this": "Hi, who is this?",
    "receptionist": "Good morning, Bright Smile Dental, this is Jenny speaking, how can I help you?",
    "yes": "Yes?",
    "hello_hello": "Hello?|Hello?",  # a second "Hello?" after a second of silence
}
PAUSES = [0.3, 0.8, 1.5]
# Held out: written after the detector, never tuned on.
HELD_OUT_MACHINES = {
    "dana_short": "Hi, this is Dana. Leave a message.",
    "mailbox_full": "The mailbox is full and cannot accept any messages at this time. Goodbye.",
    "paused_then_phrase": "Hi, you've got Tom.|Please leave a message after the tone.",  # "|": 1.2 s pause
    "paused_then_unavailable": "Hello, this is Maria.|I can't come to the phone right now, leave your number.",
}
HELD_OUT_HUMANS = {
    "hi_tom": "Hi, Tom here.",
    "speaking": "Speaking.",
    "hello_who": "Hello?|Who's calling?",
}
# Asterisk's English prompts (a human recording), put together as a PBX's voicemail greets a caller.
RECORDED_MACHINES = {
    "asterisk_unavailable": ["vm-theperson", "digits/4", "digits/2", "digits/1", "vm-isunavail", "vm-intro"],
    "asterisk_nobody": ["vm-nobodyavail", "vm-intro"],
    "asterisk_mailbox_full": ["vm-mailboxfull", "vm-goodbye"],
}
RECORDED_HUMANS = {"asterisk_hello": ["hello"], "asterisk_hello_world": ["hello-world"]}


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(8000 * seconds), np.int16)


def tone(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(8000 * seconds)) / 8000
    return (8000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def spoken(speak: Callable[[str], bytes], text: str, pause: float) -> np.ndarray:
    """Text with "|" for pauses of `pause` seconds."""
    parts = [np.frombuffer(speak(t), np.int16) for t in text.split("|")]
    return np.concatenate([p for part in parts for p in (part, silence(pause))][:-1])


def build_set(out: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    piper = Synthesizer(models.resolve("voice", None).path)
    voices = {"piper-lowered": lambda s: lower_voice(piper.synthesize(s)), "espeak": espeak}
    cases: list[dict] = []

    def add(label: str, name: str, parts: list[np.ndarray], tail: float, held_out: bool = False) -> None:
        """`tail`: the trailing silence (the answer is over before it)."""
        path = out / f"{len(cases):03d}-{label}-{name}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(np.concatenate(parts).tobytes())
        seconds = sum(len(p) for p in parts) / 8000
        voice = next((v for v in ("piper-lowered", "espeak", "recorded") if name.startswith(v)), "recorded")
        cases.append(
            {
                "label": label,
                "name": name,
                "voice": voice,
                "held_out": held_out,
                "path": str(path),
                "answer_s": round(seconds - tail, 2),
            }
        )

    for voice, speak in voices.items():
        for key, text in MACHINE_GREETINGS.items():
            speech = np.frombuffer(speak(text), np.int16)
            for beep in BEEPS:
                beep_parts = [silence(0.3), tone(*beep)] if beep else []
                beep_name = f"beep{beep[0]}x{beep[1]}" if beep else "nobeep"
                add("machine", f"{voice}-{key}-{beep_name}", [silence(0.5), speech, *beep_parts, silence(4)], 4)
        for key, text in HUMAN_GREETINGS.items():
            speech = spoken(speak, text, 1.0)
            for pause in PAUSES:
                add("human", f"{voice}-{key}-pause{pause}", [silence(pause), speech, silence(6)], 6)
        for key, text in HELD_OUT_MACHINES.items():
            for beep in (None, (1000, 0.5)):
                beep_parts = [silence(0.3), tone(*beep)] if beep else []
                name = f"{voice}-{key}-{'beep' if beep else 'nobeep'}"
                add("machine", name, [silence(0.5), spoken(speak, text, 1.2), *beep_parts, silence(4)], 4, True)
        for key, text in HELD_OUT_HUMANS.items():
            add("human", f"{voice}-{key}", [silence(0.6), spoken(speak, text, 1.0), silence(6)], 6, True)
    prompts = {u.id: np.frombuffer(u.pcm, np.int16) for u in speech_corpus.prompts()}
    for key, names in RECORDED_MACHINES.items():
        add("machine", f"recorded-{key}", [silence(0.5), *[prompts[n] for n in names], silence(4)], 4, True)
    for key, names in RECORDED_HUMANS.items():
        for pause in PAUSES[:2]:
            add("human", f"recorded-{key}-pause{pause}", [silence(pause), prompts[names[0]], silence(6)], 6, True)
    return cases


def use_answer(appliance: ServerProcess, wav: str) -> None:
    script = appliance.data_dir / "carrier" / "person.yaml"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(json.dumps({"name": "amd-bench", "greeting_audio": wav, "max_seconds": 20}))


def ours(appliance: ServerProcess, agent_id: str, case: dict) -> dict:
    """A real call; the verdict and its time from the call's `amd` event."""
    use_answer(appliance, case["path"])
    with appliance.client() as api:
        call_id = api.post("/v1/calls", json={"agent_id": agent_id, "to": "+12025550101"}).json()["id"]
        appliance.wait_for(call_id, {"in_progress"} | TERMINAL, timeout=20)
        # Watch until the answer is over (and a little): a late beep can still overturn a "human".
        deadline = time.monotonic() + case["answer_s"] + 2.0
        while time.monotonic() < deadline:
            events = api.get(f"/v1/calls/{call_id}/events").json()["events"]
            if any(e["type"] == "amd" for e in events):
                break  # final already (a machine)
            time.sleep(0.1)
        api.post(f"/v1/calls/{call_id}/cancel")
        appliance.wait_for(call_id, TERMINAL, timeout=30)
        # The verdict the call publishes (once, when final): a person's becomes final when the call ends here.
        events = api.get(f"/v1/calls/{call_id}/events").json()["events"]
        published = [e["data"] for e in events if e["type"] == "amd"]
        verdict = published[-1] if published else None
        assert len(published) <= 1, published
    if verdict is None:
        return {"answered_by": "unknown", "decided_ms": None, "signal": None}
    return {"answered_by": verdict["answered_by"], "decided_ms": verdict["at_ms"], "signal": verdict["signal"]}


async def app_amd(ari: AriClient, endpoint: str, case: dict, appliance: ServerProcess) -> dict:
    """Asterisk's AMD() alone on the same answer: originate, then send the answered channel into it."""
    use_answer(appliance, case["path"])
    channel_id = f"amdbench-{uuid.uuid4()}"
    with ari.subscribe(channel_id) as events:
        await ari.originate(endpoint, channel_id=channel_id, ring_timeout=15, app_args=("bench",))
        first = await asyncio.wait_for(events.wait_for(StasisStart, ChannelDestroyed), 20)
        if isinstance(first, ChannelDestroyed):
            return {"answered_by": "unknown", "decided_ms": None, "signal": "not answered"}
        answered = time.monotonic()
        await ari.set_var(channel_id, "AMD_APP", ari.app)
        await ari.continue_in_dialplan(channel_id, "appliance-amd", "s", 1)
        back = await asyncio.wait_for(events.wait_for(StasisStart, ChannelDestroyed), 20)
        decided = int((time.monotonic() - answered) * 1000)
        await ari.hangup(channel_id)
    if not isinstance(back, StasisStart) or len(back.args) < 2:
        return {"answered_by": "unknown", "decided_ms": None, "signal": "no verdict"}
    status = back.args[1]
    answered_by = {"MACHINE": "machine", "HUMAN": "human"}.get(status, "unknown")
    return {"answered_by": answered_by, "decided_ms": decided, "signal": f"{status} {back.args[2:]}"}


def score(rows: list[dict], key: str) -> dict:
    machine_true = [r for r in rows if r["label"] == "machine"]
    said_machine = [r for r in rows if r[key]["answered_by"] == "machine"]
    correct = [r for r in rows if (r[key]["answered_by"] == "machine") == (r["label"] == "machine")]
    times = [r[key]["decided_ms"] for r in rows if r[key]["decided_ms"] is not None]
    hung_up_humans = [r["name"] for r in rows if r["label"] == "human" and r[key]["answered_by"] == "machine"]
    ordered = sorted(times)
    by_label = {
        label: [r[key]["decided_ms"] for r in rows if r["label"] == label and r[key]["decided_ms"] is not None]
        for label in ("human", "machine")
    }
    return {
        "answers": len(rows),
        "accuracy": round(len(correct) / len(rows), 3),
        "machine_precision": round(sum(r["label"] == "machine" for r in said_machine) / max(1, len(said_machine)), 3),
        "machine_recall": round(
            sum(r[key]["answered_by"] == "machine" for r in machine_true) / max(1, len(machine_true)), 3
        ),
        "decision_ms_median": statistics.median(times) if times else None,
        "decision_ms_p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if times else None,
        # Where the time goes: a person is recognised at the end of a short answer, a machine by its words or beep.
        "decision_ms_median_humans": statistics.median(by_label["human"]) if by_label["human"] else None,
        "decision_ms_median_machines": statistics.median(by_label["machine"]) if by_label["machine"] else None,
        "humans_taken_for_machines": hung_up_humans,
        "machines_missed": [r["name"] for r in machine_true if r[key]["answered_by"] != "machine"],
    }


async def run_app_amd(appliance: ServerProcess, cases: list[dict], trunk_id: str) -> list[dict]:
    settings = load_settings(dict(appliance.env), config_file=None)
    base, user, password = ari_credentials(settings)
    ari = AriClient(base, user, password, "amd-bench")
    ari.start()
    await asyncio.wait_for(ari.connected.wait(), 10)
    endpoint = f"PJSIP/+12025550101@{endpoint_name(trunk_id)}"
    try:
        out = []
        for i, case in enumerate(cases):
            out.append(await app_amd(ari, endpoint, case, appliance))
            print(f"app_amd {i + 1}/{len(cases)} {case['name']}: {out[-1]}", flush=True)
            await asyncio.sleep(0.5)
        return out
    finally:
        await ari.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=0, help="only N answers spread over the set (a quick look)")
    parser.add_argument("--ours-only", action="store_true", help="skip app_amd (a quick look)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench-amd-"))
    cases = build_set(work / "answers")
    voices = sorted({c["voice"] for c in cases})
    if args.limit:
        cases = cases[:: max(1, len(cases) // args.limit)][: args.limit]
    print(f"{len(cases)} answers ({sum(c['label'] == 'machine' for c in cases)} machines)", flush=True)
    appliance = ServerProcess(work / "data", env={"APPLIANCE_VOICE": "true"}).start(timeout=180)
    try:
        with appliance.client() as api:
            while api.get("/readyz").json()["checks"].get("voice") is not True:
                time.sleep(0.5)
            agent = api.post(
                "/v1/agents",
                json={"name": "Sam", "type": "outbound", "first_message": "Hi, this is Sam from Bright Smile Dental."},
            ).json()
            trunk_id = next(t["id"] for t in api.get("/v1/trunks").json() if t["name"] == "loopback")
        for i, case in enumerate(cases):
            case["ours"] = ours(appliance, agent["id"], case)
            print(f"ours {i + 1}/{len(cases)} {case['name']}: {case['ours']}", flush=True)
        load_ours = os.getloadavg()[0]
        if not args.ours_only:
            for case, verdict in zip(cases, asyncio.run(run_app_amd(appliance, cases, trunk_id)), strict=True):
                case["app_amd"] = verdict
    finally:
        appliance.stop()
    result = {
        "machine": machine(),
        # Other work on the 2 cores slows decisions: the 1-minute load at the start, after our pass, at the end.
        "load_average": [round(load_before, 2), round(load_ours, 2), round(os.getloadavg()[0], 2)],
        "ours": score(cases, "ours"),
        **({} if args.ours_only else {"app_amd": score(cases, "app_amd")}),
        "ours_per_voice": {v: score([c for c in cases if c["voice"] == v], "ours") for v in voices},
        "ours_held_out": score([c for c in cases if c["held_out"]], "ours"),
        **(
            {}
            if args.ours_only
            else {
                "app_amd_per_voice": {v: score([c for c in cases if c["voice"] == v], "app_amd") for v in voices},
                "app_amd_held_out": score([c for c in cases if c["held_out"]], "app_amd"),
            }
        ),
        "answers": [{k: v for k, v in c.items() if k != "path"} for c in cases],
    }
    if args.limit or args.ours_only:  # a quick look is not the benchmark: print it, keep the results file
        print(json.dumps(result, indent=2))
        return
    (HERE / "results" / "amd.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("load_average", "ours", "app_amd", "ours_per_voice")}, indent=2))


if __name__ == "__main__":
    main()
