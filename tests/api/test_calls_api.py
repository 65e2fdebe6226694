from __future__ import annotations

import uuid

import httpx
import pytest

from .helpers import assert_error, make_agent, make_number

TEST_TO = "+12025550102"


def test_create_call_is_queued_with_the_agent_snapshotted(api: httpx.Client) -> None:
    agent = make_agent(
        api, persona="Dana", instructions="Confirm", returns={"confirmed": "boolean"}, voicemail_action="leave_message"
    )
    r = api.post(
        "/v1/calls", json={"agent_id": agent["id"], "to": TEST_TO, "context": {"name": "Alex"}, "metadata": {"crm": 7}}
    )
    assert r.status_code == 201, r.text
    call = r.json()
    assert call["status"] == "queued" and call["direction"] == "outbound"
    assert call["persona"] == "Dana" and call["instructions"] == "Confirm"
    assert call["returns"] == {"confirmed": "boolean"} and call["result_status"] == "pending"
    assert call["context"] == {"name": "Alex"} and call["metadata"] == {"crm": 7, "language": "en"}
    assert call["answered_by"] is None and call["billed_duration_seconds"] is None
    # Later agent edits do not rewrite the call.
    api.patch(f"/v1/agents/{agent['id']}", json={"persona": "Someone else"})
    assert api.get(f"/v1/calls/{call['id']}").json()["persona"] == "Dana"


def test_per_call_instructions_and_legacy_prompt_replace_the_agents(api: httpx.Client) -> None:
    agent = make_agent(api, instructions="Default")
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": TEST_TO, "instructions": "Special"})
    assert r.json()["instructions"] == "Special"
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": TEST_TO, "prompt": "Legacy"})
    assert r.status_code == 201 and r.json()["instructions"] == "Legacy" and r.json()["prompt"] == "Legacy"


def test_from_number_must_be_attached(api: httpx.Client) -> None:
    agent = make_agent(api)
    mine, other = make_number(api), make_number(api)
    api.post(f"/v1/agents/{agent['id']}/numbers", json={"number_id": mine["id"], "set_as_primary": True})
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": TEST_TO})
    assert r.json()["from_number"] == mine["e164"]  # the primary number by default
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": TEST_TO, "from_number": mine["e164"]})
    assert r.status_code == 201
    assert_error(
        api.post("/v1/calls", json={"agent_id": agent["id"], "to": TEST_TO, "from_number": other["e164"]}),
        400,
        mentions="from_number",
    )


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"agent_id": "$AGENT", "to": TEST_TO, "returns": {"ok": "boolean"}}, "returns"),
        ({"agent_id": "$AGENT", "to": TEST_TO, "tools": []}, "tools"),
        ({"agent_id": "ghost", "to": TEST_TO}, "agent_id"),
        ({"agent_id": "$AGENT"}, "to"),
        ({"agent_id": "$AGENT", "to": "555-0102"}, "to"),
        ({"agent_id": "$AGENT", "to": TEST_TO, "context": [1]}, "context"),
        ({"agent_id": "$AGENT", "to": TEST_TO, "metadata": "x"}, "metadata"),
        ({"agent_id": "$AGENT", "to": TEST_TO, "webhook_url": "not a url"}, "webhook_url"),
        ({"agent_id": "$AGENT", "to": TEST_TO, "voice": "x"}, "voice"),
        ({"agent_id": "$AGENT", "to": TEST_TO, "prompt": "a", "instructions": "b"}, "prompt"),
        ({"agent_id": "$AGENT", "to": "+14155550100"}, "trunk"),
    ],
)
def test_bad_call_requests_are_refused_and_nothing_is_written(api: httpx.Client, body: dict, mentions: str) -> None:
    agent = make_agent(api)
    body = {k: (agent["id"] if v == "$AGENT" else v) for k, v in body.items()}
    before = len(api.get("/v1/calls", params={"limit": 200}).json()["data"])
    assert_error(api.post("/v1/calls", json=body), 400, mentions=mentions)
    assert len(api.get("/v1/calls", params={"limit": 200}).json()["data"]) == before


def test_archived_and_inbound_agents_take_no_calls(api: httpx.Client) -> None:
    archived = make_agent(api)
    api.delete(f"/v1/agents/{archived['id']}")
    assert_error(api.post("/v1/calls", json={"agent_id": archived["id"], "to": TEST_TO}), 400, mentions="archived")
    inbound = make_agent(api, type="inbound")
    assert_error(api.post("/v1/calls", json={"agent_id": inbound["id"], "to": TEST_TO}), 400, mentions="inbound")


def test_idempotency_key_returns_the_first_call(api: httpx.Client) -> None:
    agent = make_agent(api)
    key = str(uuid.uuid4())
    body = {"agent_id": agent["id"], "to": TEST_TO}
    first = api.post("/v1/calls", json=body, headers={"Idempotency-Key": key})
    second = api.post("/v1/calls", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second.headers.get("idempotent-replayed") == "true"
    assert len(api.get("/v1/calls", params={"agent_id": agent["id"]}).json()["data"]) == 1
    other = api.post("/v1/calls", json={**body, "metadata": {"x": 1}}, headers={"Idempotency-Key": key})
    assert_error(other, 409, code="idempotency_key_reused")


def test_list_calls_filters_and_pages(api: httpx.Client) -> None:
    agent = make_agent(api)
    ids = [api.post("/v1/calls", json={"agent_id": agent["id"], "to": TEST_TO}).json()["id"] for _ in range(3)]
    listed = api.get("/v1/calls", params={"agent_id": agent["id"]}).json()["data"]
    assert [c["id"] for c in listed] == ids[::-1]
    page = api.get("/v1/calls", params={"agent_id": agent["id"], "limit": 1, "starting_after": ids[2]}).json()["data"]
    assert [c["id"] for c in page] == [ids[1]]
    assert all(c["status"] == "queued" for c in api.get("/v1/calls", params={"status": "queued"}).json()["data"])
    assert api.get("/v1/calls", params={"direction": "inbound", "agent_id": agent["id"]}).json()["data"] == []
    assert_error(api.get("/v1/calls", params={"status": "exploded"}), 400, mentions="status")
    assert_error(api.get("/v1/calls", params={"direction": "up"}), 400, mentions="direction")


def test_transcript_events_recording_and_unknown_ids(api: httpx.Client) -> None:
    agent = make_agent(api)
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": TEST_TO}).json()
    assert api.get(f"/v1/calls/{call['id']}/transcript").json() == {"call_id": call["id"], "segments": []}
    events = api.get(f"/v1/calls/{call['id']}/events").json()
    assert events["events"][0]["type"] == "status" and events["events"][0]["data"]["status"] == "queued"
    assert_error(api.get(f"/v1/calls/{call['id']}/recording"), 404, code="recording_not_found")
    for path in ("", "/transcript", "/events", "/recording"):
        assert_error(api.get(f"/v1/calls/{uuid.uuid4()}{path}"), 404)


def test_cancel_a_queued_call(api: httpx.Client) -> None:
    agent = make_agent(api, returns={"confirmed": "boolean", "when": "string"})
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": TEST_TO}).json()
    r = api.post(f"/v1/calls/{call['id']}/cancel")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "canceled" and done["end_reason"] == "canceled"
    assert done["billed_duration_seconds"] == 0 and done["ended_at"] is not None
    assert done["result"] == {"confirmed": None, "when": None} and done["result_status"] == "skipped"
    assert_error(api.post(f"/v1/calls/{call['id']}/cancel"), 409, code="call_already_ended")
    assert_error(api.post(f"/v1/calls/{uuid.uuid4()}/cancel"), 404)


def test_usage_counts_calls_by_day_and_agent(api: httpx.Client) -> None:
    agent = make_agent(api)
    api.post("/v1/calls", json={"agent_id": agent["id"], "to": TEST_TO})
    usage = api.get("/v1/usage").json()
    assert usage["total"]["calls"] >= 1
    assert any(row["key"] == agent["id"] for row in usage["by_agent"])
    assert_error(api.get("/v1/usage", params={"from": "2026-02-01", "to": "2026-01-01"}), 400, mentions="from")
    assert_error(api.get("/v1/usage", params={"from": "yesterday"}), 400, mentions="from")


def test_the_caller_ids_trunk_carries_a_test_range_call(api: httpx.Client) -> None:
    """A lab phone on a user trunk given a +1202555 number: the call goes through that trunk, not the
    loopback carrier (which would answer 404); without a caller ID the test range stays on the carrier."""
    trunk = api.post("/v1/trunks", json={"name": f"lab-{uuid.uuid4().hex[:8]}", "host": "192.0.2.10"}).json()
    number = make_number(api, trunk_id=trunk["id"])
    agent = make_agent(api)
    loopback = next(t for t in api.get("/v1/trunks").json() if t["name"] == "loopback")
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": TEST_TO})
    assert r.json()["trunk_id"] == loopback["id"]  # no caller ID: the test carrier takes its range
    api.post(f"/v1/agents/{agent['id']}/numbers", json={"number_id": number["id"], "set_as_primary": True})
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": TEST_TO})
    assert r.status_code == 201, r.text
    assert r.json()["from_number"] == number["e164"] and r.json()["trunk_id"] == trunk["id"]
    api.delete(f"/v1/agents/{agent['id']}")
    assert api.delete(f"/v1/numbers/{number['id']}").status_code in (200, 204)
    assert api.delete(f"/v1/trunks/{trunk['id']}").status_code in (200, 204)  # other tests expect no user trunk
