"""Each test-carrier number through real Asterisk over real SIP: status, cause fields, billing."""

from __future__ import annotations

import time

import httpx
import pytest

from appliance.call_status import TERMINAL
from tests.support import ServerProcess


def dial(api: httpx.Client, agent: dict, to: str, **extra: object) -> dict:
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": to, **extra})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize(
    ("to", "status", "error_code", "cause"),
    [
        ("+12025550102", "busy", None, "17"),
        ("+12025550106", "busy", None, "21"),
        ("+12025550105", "failed", "carrier_unavailable", "34"),
        ("+12025550199", "failed", "invalid_number", "1"),
    ],
)
def test_unanswered_outcomes(
    appliance: ServerProcess,
    api: httpx.Client,
    outbound_agent: dict,
    to: str,
    status: str,
    error_code: str | None,
    cause: str,
) -> None:
    call = appliance.wait_for(dial(api, outbound_agent, to)["id"], TERMINAL, timeout=30)
    assert call["status"] == status, call
    assert call["error_code"] == error_code
    assert call["hangup_cause"].startswith(cause + " ")
    assert call["billed_duration_seconds"] == 0 and call["answered_at"] is None and call["answered_by"] is None
    assert call["started_at"] is not None and call["ended_at"] is not None
    assert call["result"] == {"confirmed": None} and call["result_status"] == "skipped"
    if status == "failed":
        assert call["error_message"]
    kinds = [e["data"]["status"] for e in api.get(f"/v1/calls/{call['id']}/events").json()["events"]]
    assert kinds[0] == "queued" and kinds[1] == "initiated" and kinds[-1] == status


def test_ringing_then_ring_timeout_is_no_answer(
    appliance: ServerProcess, api: httpx.Client, outbound_agent: dict
) -> None:
    call = appliance.wait_for(dial(api, outbound_agent, "+12025550103")["id"], TERMINAL, timeout=30)
    assert call["status"] == "no_answer" and call["hangup_cause"].startswith("19")
    kinds = [e["data"]["status"] for e in api.get(f"/v1/calls/{call['id']}/events").json()["events"]]
    assert "ringing" in kinds
    assert call["billed_duration_seconds"] == 0
    assert 4 <= call["duration_seconds"] <= 9  # the agent's 5 s ring timeout


def test_answered_call_completes_at_max_duration_with_billed_seconds(
    appliance: ServerProcess, api: httpx.Client
) -> None:
    agent = api.post("/v1/agents", json={"name": "short", "type": "outbound", "max_duration_seconds": 10}).json()
    call = dial(api, agent, "+12025550101")
    live = appliance.wait_for(call["id"], {"in_progress"} | TERMINAL, timeout=20)
    assert live["status"] == "in_progress" and live["answered_at"] is not None, live
    done = appliance.wait_for(call["id"], TERMINAL, timeout=30)
    assert done["status"] == "completed" and done["end_reason"] == "max_duration"
    assert 9 <= done["billed_duration_seconds"] <= 12
    assert done["duration_seconds"] >= done["billed_duration_seconds"]


def test_cancel_before_answer(appliance: ServerProcess, api: httpx.Client, outbound_agent: dict) -> None:
    call = dial(api, outbound_agent, "+12025550103")
    appliance.wait_for(call["id"], {"ringing"}, timeout=15)
    assert api.post(f"/v1/calls/{call['id']}/cancel").status_code == 200
    done = appliance.wait_for(call["id"], TERMINAL, timeout=15)
    assert done["status"] == "canceled" and done["billed_duration_seconds"] == 0


def test_cancel_after_answer(appliance: ServerProcess, api: httpx.Client, outbound_agent: dict) -> None:
    call = dial(api, outbound_agent, "+12025550101")
    live = appliance.wait_for(call["id"], {"in_progress"} | TERMINAL, timeout=15)
    assert live["status"] == "in_progress", {
        k: live[k] for k in ("status", "end_reason", "error_code", "error_message")
    }
    assert api.post(f"/v1/calls/{call['id']}/cancel").status_code == 200
    done = appliance.wait_for(call["id"], TERMINAL, timeout=15)
    assert done["status"] == "completed" and done["end_reason"] == "canceled"
    assert done["billed_duration_seconds"] >= 0


def test_webhook_outbox_holds_one_event_per_step(
    appliance: ServerProcess, api: httpx.Client, outbound_agent: dict
) -> None:
    import sqlite3

    call = appliance.wait_for(dial(api, outbound_agent, "+12025550102")["id"], TERMINAL, timeout=30)
    db = sqlite3.connect(appliance.data_dir / "appliance.db")
    kinds = [r[0] for r in db.execute("SELECT type FROM webhook_events WHERE call_id = ? ORDER BY seq", [call["id"]])]
    assert kinds == ["call.queued", "call.ringing", "call.busy"]


def test_trunk_changes_reload_pjsip_without_dropping_live_calls(
    appliance: ServerProcess, api: httpx.Client, outbound_agent: dict
) -> None:
    call = dial(api, outbound_agent, "+12025550101")
    assert appliance.wait_for(call["id"], {"in_progress"} | TERMINAL, timeout=15)["status"] == "in_progress"
    trunk = api.post("/v1/trunks", json={"name": "reload-check", "host": "192.0.2.10"}).json()
    api.patch(f"/v1/trunks/{trunk['id']}", json={"port": 5070})
    api.delete(f"/v1/trunks/{trunk['id']}")
    time.sleep(2)
    assert api.get(f"/v1/calls/{call['id']}").json()["status"] == "in_progress"
    api.post(f"/v1/calls/{call['id']}/cancel")
    done = appliance.wait_for(call["id"], TERMINAL, timeout=15)
    assert done["status"] == "completed" and done["end_reason"] == "canceled" and done["error_code"] is None
