from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance import validation
from appliance.errors import InvalidInput


@pytest.mark.parametrize("value", ["+14155550123", "+442079460958", "+12025550101", "+18005550199"])
def test_valid_e164_numbers_pass(value: str) -> None:
    assert validation.e164(value, "to") == value


@pytest.mark.parametrize("value", ["14155550123", "+1415", "+1 415 555 0123", "+0414", "", "+99912345678"])
def test_invalid_e164_numbers_name_the_field(value: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validation.e164(value, "from_number")
    assert info.value.field == "from_number"


@given(st.text(max_size=40))
def test_e164_never_raises_anything_but_invalid_input(value: str) -> None:
    try:
        assert validation.e164(value, "to").startswith("+")
    except InvalidInput:
        pass


def test_test_carrier_numbers_are_recognised() -> None:
    assert validation.is_test_number("+12025550104")
    assert not validation.is_test_number("+14155550104")


@pytest.mark.parametrize("url", ["http://10.0.0.5:9000/hook", "https://crm.local/x?y=1", "http://[::1]:80/"])
def test_lan_webhook_urls_are_accepted(url: str) -> None:
    assert validation.http_url(url, "webhook_url") == url


@pytest.mark.parametrize("url", ["ftp://x/y", "http://", "not a url", "http://bad host/", "http://h:99999/"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        validation.http_url(url, "webhook_url")


@pytest.mark.parametrize(
    ("tag", "ok"), [("en", True), ("en-US", True), ("zh-Hant-TW", True), ("e", False), ("en_US", False)]
)
def test_language_tags(tag: str, ok: bool) -> None:
    if ok:
        assert validation.language(tag) == tag
    else:
        with pytest.raises(InvalidInput):
            validation.language(tag)


def test_url_allowlist_matches_hosts_domains_and_networks() -> None:
    from appliance.validation import host_allowed

    allow = ["crm.lan", ".example.com", "10.0.0.0/8"]
    assert host_allowed("crm.lan", allow) and host_allowed("hooks.example.com", allow)
    assert host_allowed("example.com", allow) and host_allowed("10.1.2.3", allow)
    assert host_allowed("hooks.internal", allow, resolved=["10.9.9.9"])
    assert not host_allowed("evil.com", allow)
    assert not host_allowed("hooks.internal", allow, resolved=["10.9.9.9", "8.8.8.8"])  # every address must be in
    assert not host_allowed("notexample.com", allow)
    assert host_allowed("anything.at.all", [])


def test_a_url_outside_the_allowlist_is_refused_naming_the_field() -> None:
    import pytest

    from appliance.errors import InvalidInput
    from appliance.validation import allowed_url

    assert allowed_url("https://crm.lan/hook", "webhook_url", ["crm.lan"])
    with pytest.raises(InvalidInput) as caught:
        allowed_url("https://evil.com/hook", "webhook_url", ["crm.lan"])
    assert caught.value.field == "webhook_url" and "url_allowlist" in str(caught.value)


def test_inbound_addresses_are_ips_or_networks_no_wider_than_a_slash_8() -> None:
    assert validation.network("203.0.113.7", "f") == "203.0.113.7"
    assert validation.network("203.0.113.7/32", "f") == "203.0.113.7"
    assert validation.network("198.51.100.0/24", "f") == "198.51.100.0/24"
    for bad in ("198.51.100.7/24", "example.net", "10.0.0.0/7", "::/0", ""):
        with pytest.raises(InvalidInput) as refused:
            validation.network(bad, "inbound_addresses[2]")
        assert refused.value.field == "inbound_addresses[2]"
