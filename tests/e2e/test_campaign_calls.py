"""Campaign calls with the voice engine on, against the loopback carrier: a voicemail box is recognised
and retried per the voicemail rule, and a person who says "stop calling me" is put on the do-not-call
list at once, the call ended politely."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import requires_asterisk
from tests.support import ServerProcess

pytestmark = [requires_asterisk, pytest.mark.integration]
SCRIPTS = Path(__file__).resolve().parents[2] / "appliance" / "telephony" / "carrier" / "scripts"
ALWAYS = {"start": "00:00", "end": "23:59", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}
AGENT = {
    "name": "Sam",
    "type": "outbound",
    "persona": "A friendly receptionist at Bright Smile Dental.",
    "instructions": "Remind the patient of their cleaning tomorrow at 3 pm.",
    "first_message": "Hi, this is Sam from Bright Smile Dental, calling about your appointment tomorrow.",
    "max_duration_seconds": 60,
    "ring_timeout_seconds": 10,
}


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"APPLIANCE_VOICE": "true", "APPLIANCE_CAMPAIGN_HOURS": "00:00-23:59"}
    proc = ServerProcess(tmp_path_factory.mktemp("campaign-voice"), env=env).start(timeout=120)
    yield proc.wait_for_voice()
    proc.stop()


@pytest.fixture
def api(box: ServerProcess) -> Iterator[httpx.Client]:
    with box.client() as client:
        yield client


def finished(api: httpx.Client, campaign_id: str, timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    while api.get(f"/v1/campaigns/{campaign_id}").json()["status"] != "completed":
        assert time.monotonic() < deadline, api.get(f"/v1/campaigns/{campaign_id}/contacts").json()
        time.sleep(0.5)
    return api.get(f"/v1/campaigns/{campaign_id}/contacts").json()["data"]


def test_a_voicemail_box_is_retried_per_the_voicemail_rule(api: httpx.Client) -> None:
    agent = api.post("/v1/agents", json=AGENT).json()
    body = {"agent_id": agent["id"], "contacts": [{"to": "+12025554100"}], "window": ALWAYS,
            "retry": {"voicemail": {"attempts": 2, "backoff_minutes": 0}}}  # fmt: skip
    [contact] = finished(api, api.post("/v1/campaigns", json=body).json()["id"], timeout=180)
    assert (contact["outcome"], contact["attempts"], len(contact["call_ids"])) == ("voicemail", 2, 2), contact
    # A machine answered each time (how the call then ended is the voice engine's business: usually at once,
    # `no_answer` + `voicemail`; seen once: a late verdict, the call held until the box hung up).
    assert [api.get(f"/v1/calls/{i}").json()["answered_by"] for i in contact["call_ids"]] == ["machine", "machine"]


def test_saying_stop_calling_me_lists_the_number_and_ends_the_call(api: httpx.Client, box: ServerProcess) -> None:
    target = box.data_dir / "carrier" / "person.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SCRIPTS / "opt_out.yaml", target)
    agent = api.post("/v1/agents", json=AGENT).json()
    number = "+12025551700"
    body = {"agent_id": agent["id"], "contacts": [{"to": number}], "window": ALWAYS}
    [contact] = finished(api, api.post("/v1/campaigns", json=body).json()["id"], timeout=180)
    assert contact["outcome"] == "opted_out", contact
    call = api.get(f"/v1/calls/{contact['call_ids'][0]}").json()
    assert (call["status"], call["end_reason"]) == ("completed", "opted_out")
    entry = api.get(f"/v1/dnc/{number}").json()
    assert (entry["source"], entry["call_id"]) == ("speech", call["id"])
    said = [s["text"] for s in api.get(f"/v1/calls/{call['id']}/transcript").json()["segments"] if s["role"] == "user"]
    assert any("stop calling" in s.lower() for s in said), said
