"""kill -9 of the appliance in the middle of a 100-contact campaign on the loopback carrier, then a restart on
the same data: no contact is dialled twice for one attempt, an answered contact is never dialled again, and
none is lost (every contact ends with an outcome, the campaign completes)."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import time
from collections import Counter, defaultdict
from pathlib import Path

from tests.integration.conftest import requires_asterisk
from tests.support import ServerProcess

from .budget import count, report

pytestmark = requires_asterisk
WINDOW = {"start": "00:00", "end": "23:59", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}
RETRY = {
    "busy": {"attempts": 2, "backoff_minutes": 0},
    "no_answer": {"attempts": 1, "backoff_minutes": 0},
    "voicemail": {"attempts": 1, "backoff_minutes": 0},
    "failed": {"attempts": 2, "backoff_minutes": 0},  # a ringing call cut by the kill is dialled once more
}
MOST_DIALS = 2  # no rule above allows more
AT_ONCE = 16  # calls without the voice engine are cheap: more at once keeps the run short


def numbers() -> list[str]:
    """Shuffled, so that a kill finds calls ringing as well as talking."""
    listed = (
        [f"+12025551{n:03d}" for n in range(40)]  # answer, held 10 s
        + [f"+12025552{n:03d}" for n in range(30)]  # busy
        + [f"+12025553{n:03d}" for n in range(20)]  # no answer after 5 s
        + [f"+12025554{n:03d}" for n in range(10)]  # voicemail box
    )
    random.Random(22).shuffle(listed)
    return listed


def wait_for_live_calls(server: ServerProcess, campaign_id: str, at_least: int) -> None:
    deadline = time.monotonic() + 60
    with server.client() as api:
        while api.get(f"/v1/campaigns/{campaign_id}").json()["counters"]["in_progress"] < at_least:
            assert time.monotonic() < deadline, "the campaign never had calls up"
            time.sleep(0.2)


def test_kill_9_mid_campaign_dials_no_contact_twice_and_loses_none(tmp_path: Path) -> None:
    rounds = count(quick=1, full=3)
    rng = random.Random(22)
    server = ServerProcess(tmp_path, env={"APPLIANCE_MAX_CONCURRENT_CALLS": str(AT_ONCE),
                                          "APPLIANCE_CAMPAIGN_HOURS": "00:00-23:59"}).start()  # fmt: skip
    kill_after: list[float] = []
    try:
        with server.client() as api:
            agent = api.post("/v1/agents", json={"name": "kill", "type": "outbound", "ring_timeout_seconds": 5,
                                                 "max_duration_seconds": 10}).json()  # fmt: skip
            body = {"agent_id": agent["id"], "contacts": [{"to": n} for n in numbers()], "max_concurrent": AT_ONCE,
                    "window": WINDOW, "retry": RETRY}  # fmt: skip
            r = api.post("/v1/campaigns", json=body)
            assert r.status_code == 201, r.text
            campaign_id = r.json()["id"]
        for _ in range(rounds):
            wait_for_live_calls(server, campaign_id, 6)
            kill_after.append(round(rng.uniform(0.0, 3.0), 2))
            time.sleep(kill_after[-1])  # the random moment, with calls ringing and talking, is the point
            server.stop(signal.SIGKILL)
            server = server.restarted().start()
        deadline = time.monotonic() + 400
        with server.client() as api:
            while (campaign := api.get(f"/v1/campaigns/{campaign_id}").json())["status"] != "completed":
                assert time.monotonic() < deadline, campaign["counters"]
                time.sleep(1)
    finally:
        server.stop()

    with sqlite3.connect(tmp_path / "appliance.db") as db:
        contacts = db.execute("SELECT id, to_number, state, outcome, attempts FROM campaign_contacts").fetchall()
        attempts = db.execute("SELECT contact_id, call_id, outcome FROM campaign_attempts ORDER BY seq").fetchall()
        events = db.execute("SELECT call_id, data FROM call_events WHERE type = 'status'").fetchall()
        paused_reasons = [json.loads(d).get("reason") for (d,) in
                          db.execute("SELECT data FROM campaign_events WHERE type = 'campaign.paused'")]  # fmt: skip
    statuses: dict[str, list[str]] = defaultdict(list)
    for call_id, data in events:
        statuses[call_id].append(json.loads(data)["status"])
    calls_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for contact_id, call_id, outcome in attempts:
        calls_of[contact_id].append((call_id, outcome))
    dials_of = {cid: sum(statuses[call].count("initiated") for call, _ in calls_of[cid]) for cid, *_ in contacts}
    attempt_outcomes = Counter(a[2] for a in attempts)
    report("kill_9_during_campaign", rounds=rounds, kill_after_seconds=kill_after, contacts=len(contacts),
           calls=len(attempts), outcomes=dict(Counter(c[3] for c in contacts)), attempt_outcomes=attempt_outcomes,
           dials_per_contact=dict(Counter(dials_of.values())))  # fmt: skip
    assert attempt_outcomes["interrupted"] + attempt_outcomes["restarted"] > 0  # the kill did cut live calls
    assert "failing" not in paused_reasons  # our own restart is not the line failing

    assert len(contacts) == 100 and {c[2] for c in contacts} == {"done"}  # none lost, none left leased
    assert all(outcome is not None for *_, outcome in attempts)  # every attempt's call ended and was read
    assert Counter(s.count("initiated") for s in statuses.values()) <= Counter({0: len(statuses), 1: len(statuses)})
    for contact_id, number, _, _, tries in contacts:
        assert tries == len(calls_of[contact_id]), (number, calls_of[contact_id])  # one call per attempt
        assert dials_of[contact_id] <= min(tries, MOST_DIALS), (number, calls_of[contact_id])
        answered = [o for _, o in calls_of[contact_id] if o in ("completed", "interrupted", "voicemail")]
        if answered:  # someone (or a machine) picked up: that was the last dial
            assert calls_of[contact_id][-1][1] == answered[0] and len(answered) == 1, (number, calls_of[contact_id])
