from __future__ import annotations

import httpx
import pytest

from .helpers import assert_error, make_agent, make_number


def test_create_agent_returns_every_field_with_defaults(api: httpx.Client) -> None:
    agent = make_agent(api, returns={"confirmed": "boolean"})
    assert agent["type"] == "outbound"
    assert agent["language"] == "en"
    assert agent["voicemail_action"] == "hangup"
    assert agent["max_duration_seconds"] == 1800
    assert agent["silence_timeout_seconds"] == 20
    assert agent["ring_timeout_seconds"] == 30
    assert agent["returns"] == {"confirmed": "boolean"}
    assert agent["numbers"] == [] and agent["number_ids"] == []
    assert agent["archived_at"] is None
    assert api.get(f"/v1/agents/{agent['id']}").json() == agent


def test_list_agents_is_wrapped_and_filters_by_type(api: httpx.Client) -> None:
    inbound = make_agent(api, type="inbound", name="Front desk")
    outbound = make_agent(api)
    listed = api.get("/v1/agents", params={"type": "inbound"}).json()["data"]
    ids = {a["id"] for a in listed}
    assert inbound["id"] in ids and outbound["id"] not in ids
    assert_error(api.get("/v1/agents", params={"type": "sideways"}), 400, mentions="type")


def test_list_agents_pages_newest_first(api: httpx.Client) -> None:
    made = [make_agent(api, name=f"pager {i}")["id"] for i in range(3)]
    first = api.get("/v1/agents", params={"limit": 2}).json()["data"]
    assert [a["id"] for a in first] == made[::-1][:2]
    nxt = api.get("/v1/agents", params={"limit": 1, "starting_after": first[-1]["id"]}).json()["data"]
    assert nxt[0]["id"] == made[0]
    assert_error(api.get("/v1/agents", params={"limit": 201}), 400, mentions="limit")
    assert_error(api.get("/v1/agents", params={"starting_after": "nope"}), 400, mentions="starting_after")


def test_full_json_schema_returns_is_accepted(api: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {
            "outcome": {
                "type": "string",
                "enum": ["confirmed", "reschedule", "declined"],
                "description": "what they said",
            },
            "slot": {"type": "object", "properties": {"day": {"type": "string"}, "hour": {"type": "integer"}}},
            "notes": {"type": "array", "items": {"type": "string"}},
        },
    }
    assert make_agent(api, returns=schema)["returns"] == schema


@pytest.mark.parametrize(
    ("returns", "mentions"),
    [
        ({"confirmed": "date"}, "returns.confirmed"),
        ({"1bad": "string"}, "returns"),
        ({}, "returns"),
        ({"type": "object", "properties": {"x": {"type": "str"}}}, "returns"),
        ({"type": "object", "properties": {"x": {"type": "array"}}}, "returns.properties.x"),
        ({"type": "object", "properties": {}}, "returns.properties"),
        ([1, 2], "returns"),
    ],
)
def test_bad_returns_is_refused_naming_the_field(api: httpx.Client, returns: object, mentions: str) -> None:
    assert_error(
        api.post("/v1/agents", json={"name": "x", "type": "outbound", "returns": returns}), 400, mentions=mentions
    )


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"type": "outbound"}, "name"),
        ({"name": "x"}, "type"),
        ({"name": "x", "type": "both"}, "type"),
        ({"name": "", "type": "outbound"}, "name"),
        ({"name": "x", "type": "outbound", "voice": "robot"}, "voice"),
        ({"name": "x", "type": "outbound", "language": "english!"}, "language"),
        ({"name": "x", "type": "outbound", "webhook_url": "ftp://x"}, "webhook_url"),
        ({"name": "x", "type": "outbound", "voicemail_action": "sing"}, "voicemail_action"),
        ({"name": "x", "type": "outbound", "max_duration_seconds": 5}, "max_duration_seconds"),
        ({"name": "x", "type": "outbound", "ring_timeout_seconds": "30"}, "ring_timeout_seconds"),
        ({"name": "x", "type": "outbound", "tools": [{"type": "builtin", "name": "teleport"}]}, "tools[0].name"),
        ({"name": "x", "type": "outbound", "tools": [{"type": "http", "name": "lookup"}]}, "tools[0].url"),
        ({"name": "x", "type": "outbound", "number_ids": ["missing"]}, "number_ids[0]"),
        ({"name": "x", "type": "outbound", "colour": "red"}, "colour"),
    ],
)
def test_bad_agent_fields_are_refused_naming_the_field(api: httpx.Client, body: dict, mentions: str) -> None:
    before = len(api.get("/v1/agents", params={"limit": 200}).json()["data"])
    assert_error(api.post("/v1/agents", json=body), 400, mentions=mentions)
    assert len(api.get("/v1/agents", params={"limit": 200}).json()["data"]) == before  # nothing half-written


def test_installed_voice_is_accepted_and_unknown_lists_installed(api: httpx.Client) -> None:
    body = assert_error(api.post("/v1/agents", json={"name": "x", "type": "outbound", "voice": "nope"}), 400)
    assert "en_US-joe-medium" in body["error"]
    assert make_agent(api, voice="en_US-joe-medium")["voice"] == "en_US-joe-medium"


def test_patch_updates_only_sent_fields_and_type_is_fixed(api: httpx.Client) -> None:
    agent = make_agent(api, persona="Calm", instructions="Confirm")
    r = api.patch(f"/v1/agents/{agent['id']}", json={"instructions": "Reschedule", "first_message": "Hi!"})
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["instructions"] == "Reschedule" and updated["persona"] == "Calm"
    assert updated["first_message"] == "Hi!"
    assert updated["updated_at"] >= agent["updated_at"]
    assert_error(api.patch(f"/v1/agents/{agent['id']}", json={"type": "inbound"}), 400, mentions="type")
    assert_error(api.patch(f"/v1/agents/{agent['id']}", json={"name": None}), 400, mentions="name")
    assert_error(api.patch("/v1/agents/unknown", json={"name": "x"}), 404, code="agent_not_found")


def test_archive_keeps_the_agent_and_blocks_changes(api: httpx.Client) -> None:
    agent = make_agent(api)
    r = api.delete(f"/v1/agents/{agent['id']}")
    assert r.status_code == 200 and r.json()["archived_at"] is not None
    assert api.get(f"/v1/agents/{agent['id']}").json()["archived_at"] is not None
    assert_error(api.patch(f"/v1/agents/{agent['id']}", json={"name": "y"}), 409, code="agent_archived")
    assert_error(api.delete("/v1/agents/unknown"), 404)


def test_attach_detach_and_primary_number(api: httpx.Client) -> None:
    agent = make_agent(api)
    n1, n2 = make_number(api), make_number(api)
    r = api.post(f"/v1/agents/{agent['id']}/numbers", json={"number_id": n1["id"], "set_as_primary": True})
    assert r.status_code == 200, r.text
    assert r.json()["primary_number_id"] == n1["id"]
    r = api.post(f"/v1/agents/{agent['id']}/numbers", json={"number_id": n2["id"]})
    assert r.json()["number_ids"] == [n1["id"], n2["id"]]
    assert [n["e164"] for n in r.json()["numbers"]] == [n1["e164"], n2["e164"]]
    r = api.put(f"/v1/agents/{agent['id']}/primary-number", json={"number_id": n2["id"]})
    assert r.status_code == 200 and r.json()["primary_number_id"] == n2["id"]
    number = api.get(f"/v1/numbers/{n2['id']}").json()
    assert number["outbound_agent_ids"] == [agent["id"]] and number["inbound_agent_id"] is None
    r = api.delete(f"/v1/agents/{agent['id']}/numbers/{n2['id']}")
    assert r.status_code == 200 and r.json()["primary_number_id"] is None and r.json()["number_ids"] == [n1["id"]]
    assert_error(api.delete(f"/v1/agents/{agent['id']}/numbers/{n2['id']}"), 404)
    assert_error(
        api.put(f"/v1/agents/{agent['id']}/primary-number", json={"number_id": n2["id"]}), 400, mentions="attached"
    )
    assert_error(api.post(f"/v1/agents/{agent['id']}/numbers", json={"number_id": "ghost"}), 400, mentions="number_id")


def test_a_number_has_at_most_one_inbound_agent(api: httpx.Client) -> None:
    number = make_number(api)
    first = make_agent(api, type="inbound", number_ids=[number["id"]])
    assert api.get(f"/v1/numbers/{number['id']}").json()["inbound_agent_id"] == first["id"]
    second = make_agent(api, type="inbound")
    assert_error(
        api.post(f"/v1/agents/{second['id']}/numbers", json={"number_id": number["id"]}),
        409,
        code="number_has_inbound_agent",
    )
    assert_error(api.post("/v1/agents", json={"name": "x", "type": "inbound", "number_ids": [number["id"]]}), 409)
    # Outbound agents may share it as caller ID.
    make_agent(api, number_ids=[number["id"]])
    make_agent(api, number_ids=[number["id"]])
    # Archiving the inbound agent frees the number.
    api.delete(f"/v1/agents/{first['id']}")
    assert api.post(f"/v1/agents/{second['id']}/numbers", json={"number_id": number["id"]}).status_code == 200


def test_create_with_numbers_and_primary_in_one_request(api: httpx.Client) -> None:
    n = make_number(api)
    agent = make_agent(api, number_ids=[n["id"]], primary_number_id=n["id"])
    assert agent["primary_number_id"] == n["id"]
    assert_error(
        api.post("/v1/agents", json={"name": "x", "type": "outbound", "primary_number_id": n["id"]}),
        400,
        mentions="primary",
    )
