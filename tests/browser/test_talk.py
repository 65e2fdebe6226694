""" "Talk to this agent" in a real browser: Chromium's fake microphone plays a recorded caller over WebRTC
(aiortc on the appliance's side) to the real voice engine; the transcript appears live beside the controls,
and hanging up ends the call like a phone call (transcript, recording, result)."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np
import pytest
import soxr
from aioice.ice import get_host_addresses
from playwright.sync_api import Page, expect

from appliance import models
from appliance.telephony.carrier.person import lower_voice
from appliance.voice.tts import Synthesizer
from tests.e2e.test_conversation import APPOINTMENT
from tests.integration.conftest import requires_asterisk
from tests.support import ServerProcess

from .conftest import requires_chromium, screenshot, sign_in

pytestmark = [requires_asterisk, requires_chromium, pytest.mark.integration]

CALLER_WAV = Path(__file__).resolve().parents[2] / "build" / "talk-caller.wav"
CALLER_LINE = "Yes, this is Alex. I can make it tomorrow at three."
# Chromium loops the file: a long quiet spell first lets the agent's opening play before the caller answers.
CHROMIUM_EXTRA_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    f"--use-file-for-fake-audio-capture={CALLER_WAV}",
]


def write_caller_wav() -> None:
    """The caller's line in another voice (the default Piper voice pitched down), padded with silence, 48 kHz."""
    voice = Synthesizer(Path(models.resolve("voice", None).path))
    speech = np.frombuffer(lower_voice(voice.synthesize(CALLER_LINE)), np.int16).astype(np.float32)
    line = soxr.resample(speech, 8000, 48000)
    audio = np.concatenate([np.zeros(48000 * 6), line, np.zeros(48000 * 10)])
    CALLER_WAV.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(CALLER_WAV), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(np.clip(audio, -32768, 32767).astype(np.int16).tobytes())


write_caller_wav()  # before the module's browser starts: Chromium reads the file at launch
# ICE uses every interface but loopback: with no other one (`make test-offline`), WebRTC cannot connect.
HAS_LAN = bool(get_host_addresses(use_ipv4=True, use_ipv6=True))


@pytest.mark.skipif(not HAS_LAN, reason="no network interface but loopback: the next test covers that case")
def test_talking_in_the_browser_is_a_call_with_a_live_transcript_and_a_recording(
    page: Page, console: ServerProcess
) -> None:
    with console.client() as api:
        agent = api.post("/v1/agents", json={**APPOINTMENT, "name": "Sam in the browser"}).json()
    sign_in(page, console)
    page.goto(f"/agents/{agent['id']}")
    page.click("#talk-link")
    expect(page.locator("h1")).to_have_text("Talk to Sam in the browser")
    with page.expect_response(re.compile(r"/talk$")) as answered:
        page.click("#talk-start")
    assert answered.value.status == 201, answered.value.text()
    call_id = answered.value.json()["call_id"]
    # The agent's opening, then the caller's answer heard through WebRTC, appear while the call goes on.
    expect(page.locator("#transcript .turn.agent").first).to_contain_text("Bright Smile", timeout=60_000)
    expect(page.locator("#talk-state")).to_have_text("Connected: talk to the agent.")
    expect(page.locator("#transcript .turn.user").first).to_contain_text(
        re.compile("alex|tomorrow|three", re.I), timeout=60_000
    )
    expect(page.locator("#call-status")).to_have_text("In progress")
    screenshot(page, "talk")
    page.click("#talk-stop")
    expect(page.locator("#call-status")).to_have_text("Completed", timeout=30_000)
    with console.client() as api:
        call = api.get(f"/v1/calls/{call_id}").json()
        assert (call["direction"], call["from_number"]) == ("inbound", "browser")
        assert call["metadata"] == {"via": "webrtc", "language": "en"}
        assert call["end_reason"] == "caller_hangup"
        roles = [s["role"] for s in api.get(f"/v1/calls/{call_id}/transcript").json()["segments"]]
        assert roles[0] == "agent" and "user" in roles
        recording = api.get(f"/v1/calls/{call_id}/recording")
        assert recording.status_code == 200
    with wave.open(str(console.data_dir / "recordings" / f"{call_id}.wav")) as w:
        stereo = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, 2)
    assert np.abs(stereo[:, 0]).max() > 1000, "the caller's side (left) holds the browser's microphone"
    assert np.abs(stereo[:, 1]).max() > 1000, "the agent's side (right) holds its voice"


@pytest.mark.skipif(not HAS_LAN, reason="no network interface but loopback: WebRTC cannot connect")
def test_cancelling_a_browser_talk_over_the_api_ends_it_and_the_page_says_so(
    page: Page, console: ServerProcess
) -> None:
    with console.client() as api:
        agent = api.post("/v1/agents", json={**APPOINTMENT, "name": "Sam cancelled"}).json()
    sign_in(page, console)
    page.goto(f"/agents/{agent['id']}/talk")
    with page.expect_response(re.compile(r"/talk$")) as answered:
        page.click("#talk-start")
    call_id = answered.value.json()["call_id"]
    expect(page.locator("#transcript .turn.agent").first).to_contain_text("Bright Smile", timeout=60_000)
    with console.client() as api:
        cancelled = api.post(f"/v1/calls/{call_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert (cancelled.json()["status"], cancelled.json()["end_reason"]) == ("completed", "canceled")
    expect(page.locator("#talk-state")).to_have_text("The call ended.", timeout=15_000)
    expect(page.locator("#talk-start")).to_be_enabled()


@pytest.mark.skipif(HAS_LAN, reason="this machine has a network interface: the test above talks for real")
def test_with_only_loopback_the_page_says_why_webrtc_cannot_connect(page: Page, console: ServerProcess) -> None:
    with console.client() as api:
        agent = api.post("/v1/agents", json={**APPOINTMENT, "name": "Sam offline"}).json()
    sign_in(page, console)
    page.goto(f"/agents/{agent['id']}/talk")
    page.click("#talk-start")
    expect(page.locator("#talk-state")).to_contain_text("no network interface but loopback", timeout=30_000)
    with console.client() as api:
        assert api.get("/v1/calls", params={"agent_id": agent["id"]}).json()["data"] == []


def test_a_talk_offer_needs_the_csrf_token_and_a_real_sdp_offer(page: Page, console: ServerProcess) -> None:
    with console.client() as api:
        agent = api.post("/v1/agents", json={**APPOINTMENT, "name": "Sam offers"}).json()
    sign_in(page, console)
    forged = page.request.post(f"/agents/{agent['id']}/talk", data={"type": "offer", "sdp": "v=0"})
    assert forged.status == 403
    page.goto(f"/agents/{agent['id']}/talk")
    token = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['x-csrftoken']")
    bad = page.request.post(
        f"/agents/{agent['id']}/talk", data={"type": "offer", "sdp": "v=0"}, headers={"x-csrftoken": token}
    )
    assert bad.status == 400
    assert bad.json()["field"] == "sdp"
    with console.client() as api:
        calls = api.get("/v1/calls", params={"agent_id": agent["id"]}).json()["data"]
    assert calls == [], "a refused offer writes no call"
