from __future__ import annotations

import httpx
import pytest

from .helpers import assert_error, make_agent, make_number, unique_e164


def test_register_number_fills_country_and_type(api: httpx.Client) -> None:
    r = api.post("/v1/numbers", json={"e164": "+18005550199", "friendly_name": "Support"})
    assert r.status_code == 201, r.text
    number = r.json()
    assert number["country_code"] == "US" and number["number_type"] == "toll_free"
    assert number["status"] == "active" and number["friendly_name"] == "Support"
    uk = api.post("/v1/numbers", json={"e164": "+442079460958"}).json()
    assert uk["country_code"] == "GB"
    listed = api.get("/v1/numbers").json()["data"]
    assert isinstance(listed, list) and listed[0]["id"] == uk["id"]


@pytest.mark.parametrize("e164", ["2025550123", "+1", "+12345", "+1415555abcd", "+999999999999999", "", "+0123456789"])
def test_bad_e164_is_refused(api: httpx.Client, e164: str) -> None:
    assert_error(api.post("/v1/numbers", json={"e164": e164}), 400, mentions="e164")


def test_duplicate_number_conflicts(api: httpx.Client) -> None:
    n = make_number(api)
    assert_error(api.post("/v1/numbers", json={"e164": n["e164"]}), 409, code="number_exists")


def test_release_detaches_from_agents(api: httpx.Client) -> None:
    n = make_number(api)
    agent = make_agent(api, number_ids=[n["id"]], primary_number_id=n["id"])
    assert api.delete(f"/v1/numbers/{n['id']}").status_code == 204
    after = api.get(f"/v1/agents/{agent['id']}").json()
    assert after["number_ids"] == [] and after["primary_number_id"] is None
    assert_error(api.get(f"/v1/numbers/{n['id']}"), 404)
    assert_error(api.delete(f"/v1/numbers/{n['id']}"), 404)


def test_number_on_unknown_trunk_is_refused(api: httpx.Client) -> None:
    assert_error(api.post("/v1/numbers", json={"e164": unique_e164(), "trunk_id": "nope"}), 400, mentions="trunk_id")


def test_loopback_trunk_is_built_in(api: httpx.Client) -> None:
    trunks = api.get("/v1/trunks").json()
    loopback = next(t for t in trunks if t["name"] == "loopback")
    assert loopback["builtin"] is True and loopback["host"] == "127.0.0.1"
    assert_error(api.delete(f"/v1/trunks/{loopback['id']}"), 409, code="trunk_builtin")
    assert_error(api.patch(f"/v1/trunks/{loopback['id']}", json={"port": 5099}), 409, code="trunk_builtin")


def test_trunk_crud_never_returns_the_password(api: httpx.Client) -> None:
    r = api.post(
        "/v1/trunks",
        json={
            "name": "carrier-a",
            "host": "sip.example.net",
            "username": "u1",
            "password": "s3cret",
            "register": True,
            "codecs": ["alaw"],
        },
    )
    assert r.status_code == 201, r.text
    trunk = r.json()
    assert "password" not in trunk and "s3cret" not in r.text and trunk["has_password"] is True
    assert trunk["register"] is True and trunk["codecs"] == ["alaw"] and trunk["port"] == 5060
    assert trunk["registration_status"] in ("unknown", "unregistered", "registered", "rejected")
    r = api.patch(f"/v1/trunks/{trunk['id']}", json={"port": 5080, "transport": "tcp"})
    assert r.status_code == 200 and r.json()["port"] == 5080 and r.json()["transport"] == "tcp"
    assert api.get(f"/v1/trunks/{trunk['id']}").json()["port"] == 5080
    assert_error(api.post("/v1/trunks", json={"name": "carrier-a", "host": "10.0.0.1"}), 409)
    n = make_number(api, trunk_id=trunk["id"])
    assert_error(api.delete(f"/v1/trunks/{trunk['id']}"), 409, code="trunk_in_use")
    api.delete(f"/v1/numbers/{n['id']}")
    assert api.delete(f"/v1/trunks/{trunk['id']}").status_code == 204
    assert_error(api.get(f"/v1/trunks/{trunk['id']}"), 404)


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"name": "t", "host": "bad host!"}, "host"),
        ({"name": "t", "host": "1.2.3.4", "port": 70000}, "port"),
        ({"name": "t", "host": "1.2.3.4", "transport": "sctp"}, "transport"),
        ({"name": "t", "host": "1.2.3.4", "codecs": ["opus"]}, "codecs"),
        ({"name": "t", "host": "1.2.3.4", "register": True}, "register"),
        ({"name": "t]x", "host": "1.2.3.4"}, "name"),
        ({"name": "t", "host": "1.2.3.4", "password": "a\nb"}, "password"),
        ({"host": "1.2.3.4"}, "name"),
        (
            {"name": "t", "host": "1.2.3.4", "inbound_addresses": ["198.51.100.0/24", "sip.example.net"]},
            "inbound_addresses[1]",
        ),
        ({"name": "t", "host": "1.2.3.4", "inbound_addresses": ["198.51.100.7/24"]}, "inbound_addresses[0]"),
        ({"name": "t", "host": "1.2.3.4", "inbound_addresses": ["0.0.0.0/0"]}, "inbound_addresses[0]"),
        ({"name": "t", "host": "1.2.3.4", "inbound_addresses": "10.0.0.1"}, "inbound_addresses"),
    ],
)
def test_bad_trunks_are_refused(api: httpx.Client, body: dict, mentions: str) -> None:
    assert_error(api.post("/v1/trunks", json=body), 400, mentions=mentions)


def test_a_trunks_inbound_addresses_are_kept_and_changed(api: httpx.Client) -> None:
    body = {"name": "carrier-b", "host": "192.0.2.20", "inbound_addresses": ["198.51.100.0/24", "203.0.113.7/32"]}
    r = api.post("/v1/trunks", json=body)
    assert r.status_code == 201, r.text
    trunk = r.json()
    assert trunk["inbound_addresses"] == ["198.51.100.0/24", "203.0.113.7"]
    r = api.patch(f"/v1/trunks/{trunk['id']}", json={"inbound_addresses": ["2001:db8::/48"]})
    assert r.status_code == 200 and r.json()["inbound_addresses"] == ["2001:db8::/48"]
    assert_error(
        api.patch(f"/v1/trunks/{trunk['id']}", json={"inbound_addresses": ["nope"]}),
        400,
        mentions="inbound_addresses[0]",
    )
    loopback = next(t for t in api.get("/v1/trunks").json() if t["name"] == "loopback")
    assert loopback["inbound_addresses"] == []
    assert api.delete(f"/v1/trunks/{trunk['id']}").status_code == 204
