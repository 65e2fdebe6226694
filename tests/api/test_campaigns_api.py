"""/v1/campaigns and /v1/dnc over HTTP with telephony off: the contract, counters and controls, and bad input
as a 400 naming the field with nothing created."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import assert_error, make_agent

CONTACTS = [{"to": "+12025550101", "name": "Ada"}, {"to": "+12025550102", "name": "Bob"}]


def create(api: httpx.Client, agent_id: str, **body: Any) -> httpx.Response:
    return api.post("/v1/campaigns", json={"agent_id": agent_id, "contacts": CONTACTS, **body})


def campaign_count(api: httpx.Client) -> int:
    return len(api.get("/v1/campaigns", params={"limit": 200}).json()["data"])


def test_create_returns_the_campaign_with_defaults_and_counters(api: httpx.Client) -> None:
    agent = make_agent(api)
    r = create(api, agent["id"], name="Reminders", max_concurrent=2)
    assert r.status_code == 201, r.text
    campaign = r.json()
    assert campaign["status"] == "running" and campaign["name"] == "Reminders"
    assert campaign["window"] == {"start": "08:00", "end": "21:00",
                                  "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}  # fmt: skip
    assert campaign["retry"]["busy"] == {"attempts": 3, "backoff_minutes": 10}
    assert campaign["counters"] == {"total": 2, "pending": 2, "in_progress": 0, "completed": 0, "outcomes": {}}
    assert api.get(f"/v1/campaigns/{campaign['id']}").json()["id"] == campaign["id"]
    contacts = api.get(f"/v1/campaigns/{campaign['id']}/contacts").json()["data"]
    assert [(c["to"], c["columns"], c["state"], c["attempts"], c["call_ids"]) for c in contacts] == [
        ("+12025550101", {"name": "Ada"}, "pending", 0, []),
        ("+12025550102", {"name": "Bob"}, "pending", 0, []),
    ]
    events = api.get(f"/v1/campaigns/{campaign['id']}/events").json()["events"]
    assert events[0]["type"] == "campaign.created"


def test_csv_upload_and_its_columns(api: httpx.Client) -> None:
    agent = make_agent(api)
    csv_text = "to,first_name,slot\n+12025550101,Ada,09:00\n+12025550101,Ada,09:00\n+12025550103,Cy,10:00\n"
    r = api.post("/v1/campaigns", json={"agent_id": agent["id"], "contacts_csv": csv_text,
                                        "window": {"start": "09:00", "end": "17:00", "days": ["mon", "fri"]},
                                        "retry": {"busy": {"attempts": 1, "backoff_minutes": 0}}})  # fmt: skip
    assert r.status_code == 201, r.text
    campaign = r.json()
    assert campaign["window"]["days"] == ["mon", "fri"]
    assert campaign["retry"]["busy"] == {"attempts": 1, "backoff_minutes": 0}
    assert campaign["retry"]["no_answer"] == {"attempts": 3, "backoff_minutes": 30}  # defaults for the rest
    assert campaign["counters"]["outcomes"] == {"duplicate": 1}
    contacts = api.get(f"/v1/campaigns/{campaign['id']}/contacts", params={"state": "pending"}).json()["data"]
    assert [(c["line"], c["columns"]) for c in contacts] == [
        (2, {"first_name": "Ada", "slot": "09:00"}),
        (4, {"first_name": "Cy", "slot": "10:00"}),
    ]


def test_bad_numbers_are_listed_with_their_lines_and_nothing_is_created(api: httpx.Client) -> None:
    agent = make_agent(api)
    before = campaign_count(api)
    r = api.post("/v1/campaigns", json={"agent_id": agent["id"], "contacts_csv": "to\n+12025550101\n555-0102\n+99\n"})
    body = assert_error(r, 400, "invalid_contacts")
    assert "line 3: '555-0102'" in body["error"] and "line 4: '+99'" in body["error"]
    assert campaign_count(api) == before


def test_bad_requests_name_the_field(api: httpx.Client) -> None:
    outbound = make_agent(api)
    inbound = make_agent(api, type="inbound")
    cases = [
        ({"agent_id": inbound["id"], "contacts": CONTACTS}, "agent_id"),
        ({"agent_id": "nope", "contacts": CONTACTS}, "agent_id"),
        ({"agent_id": outbound["id"], "contacts_csv": "name\nAda\n"}, "no to column"),
        ({"agent_id": outbound["id"]}, "contacts"),
        ({"agent_id": outbound["id"], "contacts": CONTACTS, "contacts_csv": "to\n+12025550101\n"}, "contacts"),
        ({"agent_id": outbound["id"], "contacts": CONTACTS, "window": {"start": "10:00", "end": "10:00"}},
         "window.end"),
        ({"agent_id": outbound["id"], "contacts": CONTACTS, "window": {"days": []}}, "window.days"),
        ({"agent_id": outbound["id"], "contacts": CONTACTS, "window": {"start": "06:00"}}, "window.start"),
        ({"agent_id": outbound["id"], "contacts": CONTACTS, "max_concurrent": 500}, "max_concurrent"),
        ({"agent_id": outbound["id"], "contacts": CONTACTS, "max_concurrent": 0}, "max_concurrent"),
        ({"agent_id": outbound["id"], "contacts": CONTACTS, "start_at": "tomorrow"}, "start_at"),
        ({"agent_id": outbound["id"], "contacts": CONTACTS, "start_at": "2026-06-01T09:00:00"}, "start_at"),
        ({"agent_id": outbound["id"], "contacts": CONTACTS, "retry": {"busy": {"attempts": 0, "backoff_minutes": 1}}},
         "retry.busy.attempts"),
        ({"agent_id": outbound["id"], "contacts": CONTACTS, "retry": {"maybe": {}}}, "maybe"),
        ({"agent_id": outbound["id"], "contacts": [{"to": "+12025550101"}], "colour": "red"}, "colour"),
        ({"agent_id": outbound["id"], "contacts": [{"to": "+14155550123"}]}, "no trunk"),
    ]  # fmt: skip
    before = campaign_count(api)
    for body, mention in cases:
        assert_error(api.post("/v1/campaigns", json=body), 400, mentions=mention)
    assert campaign_count(api) == before


def test_ten_thousand_contacts_are_taken_and_one_more_is_refused(api: httpx.Client) -> None:
    agent = make_agent(api)
    rows = "".join(f"+1202555{n:04d}\n" for n in range(10_000))
    r = api.post("/v1/campaigns", json={"agent_id": agent["id"], "contacts_csv": "to\n" + rows})
    assert r.status_code == 201, r.text
    assert r.json()["counters"]["total"] == 10_000
    r = api.post("/v1/campaigns", json={"agent_id": agent["id"], "contacts_csv": "to\n" + rows + "+12025550100\n"})
    assert_error(r, 400, mentions="at most 10000")


def test_a_future_start_is_scheduled_and_controls_follow_the_status(api: httpx.Client) -> None:
    agent = make_agent(api)
    campaign = create(api, agent["id"], start_at="2099-01-01T09:00:00Z").json()
    assert campaign["status"] == "scheduled" and campaign["start_at"] == "2099-01-01T09:00:00.000Z"
    base = f"/v1/campaigns/{campaign['id']}"
    assert_error(api.post(base + "/resume"), 409, "campaign_scheduled")
    paused = api.post(base + "/pause").json()
    assert (paused["status"], paused["paused_reason"]) == ("paused", "paused")
    assert api.post(base + "/resume").json()["status"] == "scheduled"  # its start is still ahead
    canceled = api.post(base + "/cancel").json()
    assert canceled["status"] == "canceled" and canceled["ended_at"]
    assert canceled["counters"]["outcomes"] == {"canceled": 2}
    assert_error(api.post(base + "/pause"), 409, "campaign_canceled")
    assert_error(api.get("/v1/campaigns/nope"), 404, "campaign_not_found")
    assert_error(api.get(base + "/contacts", params={"state": "odd"}), 400, mentions="state")


def test_dnc_add_list_get_delete(api: httpx.Client) -> None:
    r = api.post("/v1/dnc", json={"number": "+12025550177", "reason": "asked by letter"})
    assert r.status_code == 201, r.text
    entry = r.json()
    assert (entry["number"], entry["reason"], entry["source"], entry["call_id"]) == (
        "+12025550177", "asked by letter", "api", None,
    )  # fmt: skip
    assert entry["created_at"].endswith("Z")
    again = api.post("/v1/dnc", json={"number": "+12025550177", "reason": "twice"})
    assert again.status_code == 200 and again.json()["reason"] == "asked by letter"  # the first date stands
    assert "+12025550177" in [e["number"] for e in api.get("/v1/dnc").json()["data"]]
    assert api.get("/v1/dnc/+12025550177").json()["number"] == "+12025550177"
    assert api.delete("/v1/dnc/+12025550177").status_code == 204
    assert_error(api.get("/v1/dnc/+12025550177"), 404, "dnc_not_found")
    assert_error(api.post("/v1/dnc", json={"number": "12"}), 400, mentions="number")


def test_openapi_documents_campaigns_and_dnc(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/v1/campaigns", "/v1/campaigns/{campaign_id}", "/v1/campaigns/{campaign_id}/contacts",
                 "/v1/campaigns/{campaign_id}/pause", "/v1/dnc", "/v1/dnc/{number}"):  # fmt: skip
        assert path in paths, path
