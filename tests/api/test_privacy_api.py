"""The agent's analysis and privacy fields over HTTP, their 400s, and deleting a call's data."""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import assert_error, make_agent

PRIVATE = {
    "analysis": {"outcomes": ["confirmed", "declined", "no_decision"], "success_rubric": "The person confirmed."},
    "redact": ["card", "email"],
    "redact_exempt_fields": ["email"],
    "recording_retention_days": 30,
    "transcript_retention_days": 0,
    "recording": "off",
    "recording_notice": "This call is recorded.",
}


def test_analysis_and_privacy_fields_are_kept_with_their_defaults_filled_in(api: httpx.Client) -> None:
    agent = make_agent(api, **PRIVATE)
    assert agent["analysis"] == {
        "summary": True,
        "sentiment": True,
        "success": True,
        "outcomes": ["confirmed", "declined", "no_decision"],
        "success_rubric": "The person confirmed.",
    }
    for name in ("redact", "redact_exempt_fields", "recording_retention_days", "transcript_retention_days"):
        assert agent[name] == PRIVATE[name]
    assert agent["recording"] == "off" and agent["recording_notice"] == "This call is recorded."
    plain = make_agent(api)
    assert plain["analysis"] is None and plain["redact"] == [] and plain["recording"] == "on"
    assert plain["recording_retention_days"] is None  # null: kept for ever
    patched = api.patch(f"/v1/agents/{agent['id']}", json={"analysis": None, "recording_retention_days": None})
    assert patched.status_code == 200 and patched.json()["analysis"] is None
    assert patched.json()["recording_retention_days"] is None and patched.json()["redact"] == ["card", "email"]


@pytest.mark.parametrize(
    ("fields", "mentions"),
    [
        ({"redact": ["card", "passport"]}, "redact[1]"),
        ({"redact": "card"}, "redact"),
        ({"recording_retention_days": -1}, "recording_retention_days"),
        ({"transcript_retention_days": 1.5}, "transcript_retention_days"),
        ({"analysis": {"outcomes": "confirmed"}}, "analysis.outcomes"),
        ({"analysis": {"outcomes": ["confirmed", 2]}}, "analysis.outcomes"),
        ({"analysis": {"outcomes": []}}, "analysis.outcomes"),
        ({"analysis": {"outcomes": ["a", "a"]}}, "analysis.outcomes"),
        ({"analysis": {"summary": "yes"}}, "analysis.summary"),
        ({"analysis": {"mood": True}}, "analysis.mood"),
        ({"analysis": {"summary": False, "sentiment": False, "success": False}}, "analysis"),
        ({"analysis": ["summary"]}, "analysis"),
        ({"redact_exempt_fields": ["not a name"]}, "redact_exempt_fields[0]"),
        ({"recording": "sometimes"}, "recording"),
        ({"recording": "after_consent"}, "recording_notice"),
    ],
)
def test_bad_privacy_fields_are_400_naming_the_field_and_nothing_is_written(
    api: httpx.Client, fields: dict, mentions: str
) -> None:
    before = len(api.get("/v1/agents").json()["data"])
    r = api.post("/v1/agents", json={"name": "x", "type": "outbound", **fields})
    assert_error(r, 400, mentions=mentions)
    assert len(api.get("/v1/agents").json()["data"]) == before
    agent = make_agent(api)
    assert_error(api.patch(f"/v1/agents/{agent['id']}", json=fields), 400, mentions=mentions)
    assert api.get(f"/v1/agents/{agent['id']}").json() == agent


def test_a_live_call_keeps_its_data_an_ended_one_can_lose_each_part(api: httpx.Client) -> None:
    agent = make_agent(api, **PRIVATE)
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550101"}).json()
    assert call["analysis_status"] == "pending" and call["analysis"] is None
    for part in ("/recording", "/transcript", ""):
        assert_error(api.delete(f"/v1/calls/{call['id']}{part}"), 409, code="call_in_progress")
    api.post(f"/v1/calls/{call['id']}/cancel")
    canceled = api.get(f"/v1/calls/{call['id']}").json()
    assert canceled["analysis_status"] == "skipped"  # never answered: nothing to analyse
    r = api.delete(f"/v1/calls/{call['id']}/transcript")
    assert r.status_code == 200 and r.json()["transcript_deleted_at"] is not None
    assert api.get(f"/v1/calls/{call['id']}/transcript").json()["segments"] == []
    r = api.delete(f"/v1/calls/{call['id']}/recording")
    assert r.status_code == 200 and r.json()["recording_deleted_at"] and r.json()["recording_url"] is None
    kinds = [e["type"] for e in api.get(f"/v1/calls/{call['id']}/events").json()["events"]]
    assert kinds[-2:] == ["transcript_deleted", "recording_deleted"]
    r = api.delete(f"/v1/calls/{call['id']}")
    assert r.status_code == 200 and r.json() == {"id": call["id"], "deleted": True}
    assert_error(api.get(f"/v1/calls/{call['id']}"), 404)
    assert_error(api.delete(f"/v1/calls/{call['id']}"), 404)


def test_the_extraction_endpoint_takes_an_analysis_block(api: httpx.Client) -> None:
    transcript = [{"role": "agent", "text": "Hello? Anyone there?"}]
    r = api.post("/v1/extractions", json={"transcript": transcript, "analysis": {"outcomes": ["confirmed"]}})
    assert r.status_code == 200, r.text
    # Nobody but the agent spoke: every analysis field null, without running the model.
    assert r.json()["analysis"] == {"summary": None, "outcome": None, "sentiment": None, "success": None}
    assert r.json()["result"] is None
    bad = api.post("/v1/extractions", json={"transcript": transcript, "analysis": {"outcomes": [1]}})
    assert_error(bad, 400, mentions="analysis.outcomes")
    assert_error(api.post("/v1/extractions", json={"transcript": transcript}), 400, mentions="returns")
