"""The hosted service's legacy shapes over HTTP: DID ranges and purchase, per-number inbound config, list
envelopes with both cursors. (The SDK itself runs against a box with telephony in tests/compat.)"""

from __future__ import annotations

import httpx

from .helpers import assert_error, make_agent, make_number

TEST_TO = "+12025550102"


def make_trunk(api: httpx.Client, name: str, did_ranges: list[str]) -> dict:
    r = api.post("/v1/trunks", json={"name": name, "host": "sip.example.net", "did_ranges": did_ranges})
    assert r.status_code == 201, r.text
    return r.json()


def test_a_trunks_did_ranges_are_offered_filtered_and_purchased(api: httpx.Client) -> None:
    trunk = make_trunk(api, "ranges-a", ["+14155550300-+14155550304", "+18005550123"])
    assert trunk["did_ranges"] == ["+14155550300-+14155550304", "+18005550123"]
    local = api.get("/v1/numbers/available", params={"area_code": "415", "number_type": "local"}).json()
    assert [n["phone_number"] for n in local] == [f"+1415555030{i}" for i in range(5)]
    assert local[0] == {
        "phone_number": "+14155550300",
        "country_code": "US",
        "number_type": "local",
        "state": "CA",
        "locality": "San Francisco",
        "monthly_cost_cents": 0,
        "upfront_cost_cents": 0,
        "currency": "USD",
    }
    toll_free = api.get("/v1/numbers/available", params={"number_type": "toll_free"}).json()
    assert [n["phone_number"] for n in toll_free] == ["+18005550123"]
    assert api.get("/v1/numbers/available", params={"country_code": "GB"}).json() == []
    r = api.post("/v1/numbers/purchase", json={"phone_number": "+14155550302"})
    assert r.status_code == 201, r.text
    number = r.json()
    assert number["trunk_id"] == trunk["id"] and number["purchased_at"] == number["created_at"]
    assert number["monthly_cost_cents"] == 0 and number["inbound_enabled"] is False
    after = [n["phone_number"] for n in api.get("/v1/numbers/available", params={"area_code": "415"}).json()]
    assert "+14155550302" not in after
    assert_error(api.post("/v1/numbers/purchase", json={"phone_number": "+14155550302"}), 409, code="number_exists")
    assert_error(api.post("/v1/numbers/purchase", json={"phone_number": "+14155550399"}), 400, mentions="phone_number")
    assert_error(api.post("/v1/numbers/purchase", json={"phone_number": "nope"}), 400, mentions="phone_number")


def test_bad_did_ranges_and_search_parameters_are_refused(api: httpx.Client) -> None:
    for ranges, field in (
        (["+14155550399-+14155550300"], "did_ranges[0]"),
        (["+14155550300", "+1415555-x"], "did_ranges[1]"),
        (["+14155500000-+14155599999"], "did_ranges[0]"),  # 100,000 numbers: over the bound
        ("+14155550300", "did_ranges"),
    ):
        r = api.post("/v1/trunks", json={"name": "bad-ranges", "host": "sip.example.net", "did_ranges": ranges})
        assert_error(r, 400, mentions=field)
    assert not [t for t in api.get("/v1/trunks").json() if t["name"] == "bad-ranges"]
    for params, field in (
        ({"number_type": "satellite"}, "number_type"),
        ({"area_code": "4a"}, "area_code"),
        ({"country_code": "USA"}, "country_code"),
        ({"limit": 0}, "limit"),
    ):
        assert_error(api.get("/v1/numbers/available", params=params), 400, mentions=field)
    loopback = next(t for t in api.get("/v1/trunks").json() if t["name"] == "loopback")
    r = api.patch(f"/v1/trunks/{loopback['id']}", json={"did_ranges": ["+14155550500-+14155550501"]})
    assert r.status_code == 200 and r.json()["did_ranges"] == ["+14155550500-+14155550501"]


def test_inbound_config_makes_an_owned_agent_and_respects_another_inbound_agent(api: httpx.Client) -> None:
    number = make_number(api)
    body = {"enabled": True, "prompt": "Front desk", "returns": {"name": "string"}, "language": "de"}
    r = api.put(f"/v1/numbers/{number['id']}/inbound", json=body)
    assert r.status_code == 200, r.text
    shown = r.json()
    assert shown["inbound_enabled"] and shown["inbound_prompt"] == "Front desk" and shown["inbound_language"] == "de"
    agent = api.get(f"/v1/agents/{shown['inbound_agent_id']}").json()
    assert agent["owner_number_id"] == number["id"] and agent["instructions"] == "Front desk"
    # Releasing the number archives the agent it owned.
    assert api.delete(f"/v1/numbers/{number['id']}").status_code == 204
    assert api.get(f"/v1/agents/{agent['id']}").json()["archived_at"] is not None

    taken = make_number(api)
    mine = make_agent(api, type="inbound", number_ids=[taken["id"]])
    agents_before = len(api.get("/v1/agents", params={"limit": 200}).json()["data"])
    r = api.put(f"/v1/numbers/{taken['id']}/inbound", json={"enabled": True, "prompt": "x"})
    assert_error(r, 409, code="number_has_inbound_agent", mentions=mine["id"])
    assert len(api.get("/v1/agents", params={"limit": 200}).json()["data"]) == agents_before
    assert_error(api.put(f"/v1/numbers/{taken['id']}/inbound", json={"prompt": "x"}), 400, mentions="enabled")
    bad = {"enabled": True, "tools": [{"type": "builtin", "name": "end_call", "config": {"x": 1}}]}
    assert_error(api.put(f"/v1/numbers/{taken['id']}/inbound", json=bad), 400, mentions="tools[0].config.x")
    assert_error(api.put("/v1/numbers/ghost/inbound", json={"enabled": False}), 404)


def test_lists_carry_has_more_and_page_both_ways(api: httpx.Client) -> None:
    ids = [api.post("/v1/calls", json={"to": TEST_TO, "prompt": f"p{i}"}).json()["id"] for i in range(4)]
    first = api.get("/v1/calls", params={"limit": 2}).json()
    assert [c["id"] for c in first["data"]] == [ids[3], ids[2]] and first["has_more"] is True
    back = api.get("/v1/calls", params={"limit": 2, "ending_before": ids[0]}).json()
    assert [c["id"] for c in back["data"]] == [ids[2], ids[1]] and back["has_more"] is True
    top = api.get("/v1/calls", params={"limit": 2, "ending_before": ids[2]}).json()
    assert [c["id"] for c in top["data"]] == [ids[3]] and top["has_more"] is False
    between = api.get("/v1/calls", params={"starting_after": ids[3], "ending_before": ids[0]}).json()
    assert [c["id"] for c in between["data"]] == [ids[2], ids[1]]
    assert_error(api.get("/v1/calls", params={"ending_before": "ghost"}), 400, mentions="ending_before")
    call = api.get(f"/v1/calls/{ids[0]}").json()
    assert call["agent_id"] is None and call["prompt"] == "p0" and call["reservation_status"] == "reserved"
    assert call["metadata"] == {"language": "en"} and call["tools"] == []
    agents = api.get("/v1/agents", params={"limit": 1}).json()
    assert set(agents) == {"data", "has_more"}
    assert set(api.get("/v1/webhook_deliveries", params={"limit": 1}).json()) == {"data", "has_more"}
