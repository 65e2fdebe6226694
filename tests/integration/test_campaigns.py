"""Campaigns through real Asterisk and the loopback carrier (voice off: answered calls are held until the
agent's max duration). 100 contacts with busy, no-answer, voicemail, invalid and do-not-call numbers; a
calling window that closes mid-run; the failure breaker; an opt-out with the keypad."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from appliance.clock import parse_iso
from appliance.config import load_settings
from appliance.telephony.running import ari_credentials, manager_credentials
from tests.integration.conftest import requires_asterisk
from tests.receiver import Receiver
from tests.support import ServerProcess

pytestmark = requires_asterisk
MAX_CONCURRENT = 16  # calls without the voice engine are cheap: more at once keeps the 100-contact run short
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALWAYS = {"start": "00:00", "end": "23:59", "days": DAYS}  # the box allows it (campaign_hours), the tests run any time


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"APPLIANCE_MAX_CONCURRENT_CALLS": str(MAX_CONCURRENT), "APPLIANCE_CAMPAIGN_HOURS": "00:00-23:59"}
    proc = ServerProcess(tmp_path_factory.mktemp("campaigns"), env=env).start()
    yield proc
    proc.stop()


@pytest.fixture
def api(box: ServerProcess) -> Iterator[httpx.Client]:
    with box.client() as client:
        yield client


def agent(api: httpx.Client, max_duration: int = 10) -> str:
    body = {"name": "campaign", "type": "outbound", "ring_timeout_seconds": 5, "max_duration_seconds": max_duration}
    return api.post("/v1/agents", json=body).json()["id"]


def wait_status(api: httpx.Client, campaign_id: str, statuses: set[str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        campaign = api.get(f"/v1/campaigns/{campaign_id}").json()
        if campaign["status"] in statuses:
            return campaign
        assert time.monotonic() < deadline, campaign
        time.sleep(0.5)


def all_contacts(api: httpx.Client, campaign_id: str) -> list[dict]:
    out: list[dict] = []
    after = None
    while True:
        params = {"limit": 200, **({"starting_after": after} if after else {})}
        page = api.get(f"/v1/campaigns/{campaign_id}/contacts", params=params).json()
        out += page["data"]
        if not page["has_more"]:
            return out
        after = out[-1]["id"]


def dial_statuses(box: ServerProcess, call_ids: list[str]) -> dict[str, list[str]]:
    """Every status each call went through, from its events."""
    marks = ",".join("?" * len(call_ids))
    with sqlite3.connect(f"file:{box.data_dir / 'appliance.db'}?mode=ro", uri=True) as db:
        rows = db.execute(
            f"SELECT call_id, data FROM call_events WHERE type = 'status' AND call_id IN ({marks}) ORDER BY seq",
            call_ids,
        ).fetchall()
    out: dict[str, list[str]] = {c: [] for c in call_ids}
    for call_id, data in rows:
        out[call_id].append(json.loads(data)["status"])
    return out


def most_at_once(calls: list[dict]) -> int:
    edges = sorted(
        [(parse_iso(c["started_at"]), 1) for c in calls if c["started_at"]]
        + [(parse_iso(c["ended_at"]), -1) for c in calls if c["started_at"]]
    )
    live = top = 0
    for _, step in edges:
        live += step
        top = max(top, live)
    return top


def test_100_contacts_with_retries_dnc_and_invalid_numbers(api: httpx.Client, box: ServerProcess) -> None:
    numbers = (
        [f"+12025551{n:03d}" for n in range(30)]  # answer, held 10 s
        + [f"+12025552{n:03d}" for n in range(25)]  # busy: retried once
        + [f"+12025553{n:03d}" for n in range(20)]  # no answer after 5 s: not retried
        + [f"+12025554{n:03d}" for n in range(15)]  # voicemail box (answered: no AMD without the voice engine)
        + [f"+12025559{n:03d}" for n in range(5)]  # 404: invalid, never retried
        + [f"+12025551{n:03d}" for n in range(900, 905)]  # on the do-not-call list
    )
    for n in numbers[-5:]:
        assert api.post("/v1/dnc", json={"number": n, "reason": "test"}).status_code == 201
    csv_text = "to,name\n" + "".join(f"{n},person {i}\n" for i, n in enumerate(numbers))
    body = {"agent_id": agent(api), "contacts_csv": csv_text, "max_concurrent": MAX_CONCURRENT, "window": ALWAYS,
            "retry": {"busy": {"attempts": 2, "backoff_minutes": 0}, "no_answer": {"attempts": 1, "backoff_minutes": 0},
                      "voicemail": {"attempts": 2, "backoff_minutes": 0}}}  # fmt: skip
    started = time.monotonic()
    r = api.post("/v1/campaigns", json=body)
    assert r.status_code == 201, r.text
    campaign = wait_status(api, r.json()["id"], {"completed"}, timeout=400)
    took = time.monotonic() - started

    contacts = all_contacts(api, campaign["id"])
    by_number = {c["to"]: c for c in contacts}
    assert len(contacts) == 100 and campaign["counters"]["completed"] == 100
    expected = {"1": ("completed", 1), "2": ("busy", 2), "3": ("no_answer", 1), "4": ("completed", 1),
                "9": ("invalid", 1)}  # fmt: skip
    for number in numbers[:-5]:
        c = by_number[number]
        outcome, dials = expected[number[8]]
        assert (c["outcome"], c["attempts"], len(c["call_ids"])) == (outcome, dials, dials), c
    for number in numbers[-5:]:
        assert (by_number[number]["outcome"], by_number[number]["attempts"]) == ("dnc", 0)
    call_ids = [i for c in contacts for i in c["call_ids"]]
    assert len(call_ids) == len(set(call_ids)) == 30 + 50 + 20 + 15 + 5
    # Each attempt is one call, dialled once; every call is an ordinary call carrying its campaign.
    assert Counter(s.count("initiated") for s in dial_statuses(box, call_ids).values()) == Counter({1: len(call_ids)})
    calls = [api.get(f"/v1/calls/{i}").json() for i in call_ids]
    contact_of = {i: c["id"] for c in contacts for i in c["call_ids"]}
    assert all(
        {k: c["metadata"].get(k) for k in ("campaign_id", "campaign_contact_id")}
        == {"campaign_id": campaign["id"], "campaign_contact_id": contact_of[c["id"]]}
        for c in calls
    )  # fmt: skip (calls also carry metadata.language, as the hosted SDK reads it)
    assert all(c["context"]["name"].startswith("person ") for c in calls)
    assert most_at_once(calls) <= MAX_CONCURRENT
    starts = sorted(parse_iso(c["started_at"]) for c in calls)
    rate = len(calls) / (starts[-1] - starts[0]).total_seconds()
    print(f"\n100 contacts, {len(calls)} dials in {took:.0f} s; {rate:.2f} dials/s; at once: {most_at_once(calls)}")


def test_a_window_that_closes_mid_run_stops_dialling(api: httpx.Client, box: ServerProcess) -> None:
    new_york = ZoneInfo("America/New_York")
    here = datetime.now(new_york)
    if here.second > 35:  # at least 25 s of the minute left to dial in
        time.sleep(61 - here.second)
        here = datetime.now(new_york)
    if here.hour == 23 and here.minute >= 58:
        pytest.skip("too close to midnight in New York for a window that closes this minute")
    end = (here + timedelta(minutes=1)).replace(second=0, microsecond=0)
    window = {"start": "00:00", "end": end.strftime("%H:%M"), "days": DAYS}
    contacts = [{"to": f"+12025553{n:03d}"} for n in range(100, 160)]  # rings 5 s each: more than the minute holds
    body = {"agent_id": agent(api), "contacts": contacts, "max_concurrent": 4, "window": window,
            "retry": {"no_answer": {"attempts": 1, "backoff_minutes": 0}}}  # fmt: skip
    campaign_id = api.post("/v1/campaigns", json=body).json()["id"]
    deadline = time.monotonic() + 120
    while api.get(f"/v1/campaigns/{campaign_id}").json()["counters"]["in_progress"] or datetime.now(new_york) < end:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    rows = all_contacts(api, campaign_id)
    dialled = [c for c in rows if c["attempts"]]
    waiting = [c for c in rows if c["state"] == "pending"]
    assert dialled and waiting and len(dialled) + len(waiting) == 60
    for c in dialled:
        call = api.get(f"/v1/calls/{c['call_ids'][0]}").json()
        assert parse_iso(call["created_at"]) < end.astimezone(UTC)
        # Dialled at once (the runner leases only free lines); 5 s of slack for a loaded 2-core machine.
        assert parse_iso(call["started_at"]) < end.astimezone(UTC) + timedelta(seconds=5)
    opens = (end.replace(hour=0, minute=0) + timedelta(days=1)).astimezone(UTC)
    for c in waiting:
        assert c["detail"] == "calling window closed in America/New_York" and c["attempts"] == 0
        assert parse_iso(c["next_attempt_at"]) == opens
    assert api.post(f"/v1/campaigns/{campaign_id}/cancel").json()["counters"]["outcomes"]["canceled"] == len(waiting)


def test_most_calls_failing_pauses_the_campaign_with_a_webhook(api: httpx.Client, box: ServerProcess) -> None:
    receiver = Receiver().start()
    try:
        api.post("/v1/webhook_endpoints", json={"url": receiver.url, "enabled_events": ["campaign.paused"]})
        contacts = [{"to": f"+12025555{n:03d}"} for n in range(20)]  # 503: the carrier is down
        body = {"agent_id": agent(api), "contacts": contacts, "max_concurrent": 2, "window": ALWAYS}
        campaign = wait_status(api, api.post("/v1/campaigns", json=body).json()["id"], {"paused"}, timeout=60)
        assert campaign["paused_reason"] == "failing"
        time.sleep(2)  # calls already placed finish; none is placed after the pause
        after = api.get(f"/v1/campaigns/{campaign['id']}").json()["counters"]
        assert after["in_progress"] == 0 and after["pending"] >= 10
        events = api.get(f"/v1/campaigns/{campaign['id']}/events").json()["events"]
        assert any(e["type"] == "campaign.paused" and e["data"]["reason"] == "failing" for e in events)
        deadline = time.monotonic() + 30
        while not receiver.received:
            assert time.monotonic() < deadline, "no campaign.paused webhook"
            time.sleep(0.2)
        hook = json.loads(receiver.received[0].body)
        assert hook["type"] == "campaign.paused" and hook["data"]["campaign"]["id"] == campaign["id"]
        assert api.post(f"/v1/campaigns/{campaign['id']}/cancel").json()["status"] == "canceled"
    finally:
        receiver.stop()


def send_dtmf_from_the_callee(box: ServerProcess, digit: str) -> None:
    """Press a key on the carrier's side of the call (the channel the appliance did not name). That channel runs
    dialplan, not our ARI app, so AMI's PlayDTMF sends the key down it (RFC 4733 over the SIP leg)."""
    settings = load_settings(box.env, config_file=None)
    base, user, password = ari_credentials(settings)
    channels = httpx.get(f"{base}/channels", auth=(user, password), timeout=5).json()
    far = [c["name"] for c in channels if not c["id"].startswith(("call-", "media-"))]
    assert far, "the carrier's channel is not up"
    port, ami_user, secret = manager_credentials(settings)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as ami:
        actions = [f"Action: Login\r\nUsername: {ami_user}\r\nSecret: {secret}\r\n\r\n"]
        actions += [f"Action: PlayDTMF\r\nChannel: {name}\r\nDigit: {digit}\r\nDuration: 250\r\n\r\n" for name in far]
        ami.sendall("".join(actions).encode())
        replies = b""
        while replies.count(b"Response:") < len(actions):
            replies += ami.recv(4096)
    assert replies.count(b"Response: Success") == len(actions), replies


def test_pressing_the_opt_out_key_lists_the_number_and_ends_the_call(api: httpx.Client, box: ServerProcess) -> None:
    number = "+12025551500"
    body = {
        "agent_id": agent(api, max_duration=60),
        "contacts": [{"to": number}],
        "max_concurrent": 1,
        "window": ALWAYS,
    }
    campaign_id = api.post("/v1/campaigns", json=body).json()["id"]
    deadline = time.monotonic() + 30
    while not (ids := all_contacts(api, campaign_id)[0]["call_ids"]) or (
        api.get(f"/v1/calls/{ids[0]}").json()["status"] != "in_progress"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    send_dtmf_from_the_callee(box, "9")
    call = box.wait_for(ids[0], {"completed"}, timeout=20)
    assert call["end_reason"] == "opted_out" and call["duration_seconds"] < 30
    entry = api.get(f"/v1/dnc/{number}").json()
    assert (entry["source"], entry["call_id"]) == ("keypad", ids[0])
    assert wait_status(api, campaign_id, {"completed"}, 10)["counters"]["outcomes"] == {"opted_out": 1}
    # The next campaign skips it.
    again = api.post("/v1/campaigns", json={**body, "agent_id": body["agent_id"]}).json()["id"]
    assert wait_status(api, again, {"completed"}, 10)["counters"]["outcomes"] == {"dnc": 1}
