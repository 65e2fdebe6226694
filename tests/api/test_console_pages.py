"""The console's forms and guards over HTTP against a real server (no telephony): the same rules as /v1,
errors beside their fields, secrets shown once, sessions, CSRF and the sign-in throttle."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ServerProcess

TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


class Console:
    """A signed-in browser, minus the browser: cookies plus the form token of the last page."""

    def __init__(self, server: ServerProcess) -> None:
        self.http = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)
        self.token = ""
        page = self.get("/login")
        assert page.status_code == 200
        signed_in = self.post("/login", {"username": "admin", "password": server.console_password or ""})
        assert signed_in.status_code == 303, signed_in.text

    def get(self, path: str) -> httpx.Response:
        response = self.http.get(path)
        if m := TOKEN.search(response.text):
            self.token = m.group(1)
        return response

    def post(self, path: str, form: dict[str, str | list[str]]) -> httpx.Response:
        response = self.http.post(path, data={"_csrf_token": self.token, **form})
        if m := TOKEN.search(response.text):
            self.token = m.group(1)
        return response


@pytest.fixture
def console(server: ServerProcess) -> Iterator[Console]:
    session = Console(server)
    yield session
    session.http.close()


def field_error(page: httpx.Response, field: str) -> str:
    m = re.search(rf'id="error-{field}">([^<]*)<', page.text)
    return m.group(1) if m else ""


def test_every_page_redirects_to_sign_in_without_a_session(server: ServerProcess) -> None:
    for path in ("/", "/agents", "/agents/new", "/calls", "/numbers", "/access", "/usage", "/usage.csv"):
        response = httpx.get(server.url + path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == f"/login?next={path}"


def test_a_forged_or_missing_session_cookie_is_refused(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/agents", cookies={"appliance_session": "forged"}, follow_redirects=False)
    assert response.status_code == 303


def test_pages_carry_strict_security_headers_and_the_session_cookie_is_httponly(server: ServerProcess) -> None:
    page = httpx.get(server.url + "/login")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    token = TOKEN.search(page.text).group(1)  # type: ignore[union-attr]
    signed_in = httpx.post(
        server.url + "/login",
        data={"_csrf_token": token, "username": "admin", "password": server.console_password or ""},
        cookies=page.cookies,
    )
    cookie = next(v for k, v in signed_in.headers.multi_items() if k == "set-cookie" and "appliance_session" in v)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_sign_out_ends_the_session(console: Console) -> None:
    assert console.get("/agents").status_code == 200
    console.get("/")
    assert console.post("/logout", {}).status_code == 303
    assert console.get("/agents").status_code == 303


def test_an_agent_form_shows_each_problem_beside_its_field_and_writes_nothing(
    console: Console, api: httpx.Client
) -> None:
    before = len(api.get("/v1/agents").json()["data"])
    console.get("/agents/new")
    cases = {
        "returns": ({"returns": '{"ok": "maybe"}'}, "returns.ok must be one of"),
        "name": ({"name": ""}, "name"),
        "max_duration_seconds": ({"max_duration_seconds": "five"}, "must be a whole number"),
        "tools": ({"tools": "[{"}, "not valid JSON"),
        "voice": ({"voice": "nobody"}, "is not installed"),
        "webhook_url": ({"webhook_url": "ftp://x"}, "webhook_url"),
    }
    for field, (override, message) in cases.items():
        page = console.post("/agents/new", {"name": "Agent", "type": "outbound", **override})
        assert page.status_code == 400, field
        assert message in field_error(page, field), (field, field_error(page, field))
    assert len(api.get("/v1/agents").json()["data"]) == before


def test_the_returns_editor_checks_the_schema_as_it_is_typed(console: Console) -> None:
    console.get("/agents/new")
    bad = console.post("/agents/check-returns", {"returns": '{"ok": "maybe"}'})
    assert "returns.ok must be one of" in field_error(bad, "returns")
    broken = console.post("/agents/check-returns", {"returns": '{"ok": '})
    assert "not valid JSON" in field_error(broken, "returns")
    good = console.post("/agents/check-returns", {"returns": '{"ok": "boolean", "when": "string"}'})
    assert "Valid: ok: boolean, when: string" in good.text


def test_an_agent_made_in_the_console_is_the_same_agent_in_the_api(console: Console, api: httpx.Client) -> None:
    console.get("/agents/new")
    created = console.post(
        "/agents/new",
        {
            "name": "Console agent",
            "type": "outbound",
            "instructions": "Confirm the order.",
            "returns": '{"confirmed": "boolean", "day": "string"}',
            "silence_timeout_seconds": "15",
            "voicemail_action": "leave_message",
        },
    )
    assert created.status_code == 303
    agent_id = created.headers["location"].rsplit("/", 1)[1]
    agent = api.get(f"/v1/agents/{agent_id}").json()
    assert agent["returns"] == {"confirmed": "boolean", "day": "string"}
    assert agent["silence_timeout_seconds"] == 15 and agent["voicemail_action"] == "leave_message"
    console.get(f"/agents/{agent_id}")
    edited = console.post(f"/agents/{agent_id}", {"name": "Renamed", "instructions": "", "returns": ""})
    assert edited.status_code == 303
    agent = api.get(f"/v1/agents/{agent_id}").json()
    assert (agent["name"], agent["instructions"], agent["returns"]) == ("Renamed", None, None)


def test_a_test_call_with_bad_input_is_refused_beside_the_form(console: Console, api: httpx.Client) -> None:
    agent = api.post("/v1/agents", json={"name": "Caller", "type": "outbound"}).json()
    console.get(f"/agents/{agent['id']}")
    refused = console.post(f"/agents/{agent['id']}/call", {"to": "12345"})
    assert refused.status_code == 400
    assert "to" in refused.text and "E.164" in refused.text


def test_a_post_without_the_form_token_is_refused(console: Console, api: httpx.Client) -> None:
    response = console.http.post("/access/keys", data={"name": "forged"})
    assert response.status_code == 403
    assert all(k["name"] != "forged" for k in api.get("/v1/agents").json()["data"])
    assert "forged" not in console.get("/access").text


def test_an_api_key_is_shown_once_and_revoking_it_stops_it_at_once(console: Console, server: ServerProcess) -> None:
    console.get("/access")
    page = console.post("/access/keys", {"name": "integration"})
    key = re.search(r'id="shown-secret">(sk_[^<]+)<', page.text).group(1)  # type: ignore[union-attr]
    assert key not in console.get("/access").text
    with server.client(key) as api:
        assert api.get("/v1/agents").status_code == 200
        key_id = re.search(r'<td>integration</td>.*?action="/access/keys/([^/]+)/revoke"', page.text, re.S)
        assert key_id
        console.get("/access")
        assert console.post(f"/access/keys/{key_id.group(1)}/revoke", {}).status_code == 303
        assert api.get("/v1/agents").status_code == 401


def test_a_webhook_endpoint_secret_is_shown_once_and_a_bad_url_names_the_field(console: Console) -> None:
    console.get("/access")
    bad = console.post("/access/webhooks", {"url": "not a url"})
    assert bad.status_code == 400 and "url" in bad.text
    made = console.post("/access/webhooks", {"url": "http://127.0.0.1:9/hook", "enabled_events": ["call.completed"]})
    secret = re.search(r'id="shown-secret">(whsec_[^<]+)<', made.text)
    assert secret
    assert secret.group(1) not in console.get("/access").text


def test_numbers_and_trunks_are_added_with_the_api_rules(console: Console, api: httpx.Client) -> None:
    console.get("/numbers")
    bad = console.post("/numbers", {"e164": "555"})
    assert bad.status_code == 400 and "e164" in bad.text
    assert console.post("/numbers", {"e164": "+14155552671", "friendly_name": "Front desk"}).status_code == 303
    assert any(n["e164"] == "+14155552671" for n in api.get("/v1/numbers").json()["data"])
    trunk = console.post("/numbers/trunks", {"name": "console-trunk", "host": "sip.example.lan", "port": "5061"})
    assert trunk.status_code == 303
    made = next(t for t in api.get("/v1/trunks").json() if t["name"] == "console-trunk")
    assert made["port"] == 5061 and made["codecs"] == ["ulaw", "alaw"]
    assert 'value="sip.example.lan"' in console.get(f"/numbers/trunks/{made['id']}").text
    bad_edit = console.post(f"/numbers/trunks/{made['id']}", {"name": "console-trunk", "host": "", "codecs": ["alaw"]})
    assert bad_edit.status_code == 400 and "host" in bad_edit.text
    edited = console.post(
        f"/numbers/trunks/{made['id']}", {"name": "console-trunk", "host": "sip2.example.lan", "codecs": ["alaw"]}
    )
    assert edited.status_code == 303
    assert api.get(f"/v1/trunks/{made['id']}").json()["codecs"] == ["alaw"]


def test_usage_exports_one_csv_row_per_day_and_per_agent(console: Console) -> None:
    response = console.get("/usage.csv?days=7")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["kind"] for r in rows].count("day") == 7
    assert "<svg" in console.get("/usage?days=7").text


def test_repeated_wrong_passwords_are_throttled(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, env={"APPLIANCE_TELEPHONY": "false"}).start()  # its own: this locks 127.0.0.1 out
    try:
        with httpx.Client(base_url=server.url) as http:
            statuses = []
            for password in ["wrong"] * 11 + [server.console_password or ""]:
                token = TOKEN.search(http.get("/login").text).group(1)  # type: ignore[union-attr]
                form = {"_csrf_token": token, "username": "admin", "password": password}
                statuses.append(http.post("/login", data=form).status_code)
        assert statuses == [401] * 10 + [429, 429]  # even the right password waits
    finally:
        server.stop()


def test_the_privacy_and_analysis_fields_are_set_in_the_console(console: Console, api: httpx.Client) -> None:
    console.get("/agents/new")
    created = console.post(
        "/agents/new",
        {
            "name": "Private agent",
            "type": "outbound",
            "analysis": '{"outcomes": ["confirmed", "declined"]}',
            "redact": ["card", "email"],
            "redact_exempt_fields": "email, phone",
            "recording": "off",
            "recording_retention_days": "7",
            "transcript_retention_days": "",
            "recording_notice": "This call is recorded.",
        },
    )
    assert created.status_code == 303, field_error(created, "analysis")
    agent = api.get(f"/v1/agents/{created.headers['location'].rsplit('/', 1)[1]}").json()
    assert agent["analysis"]["outcomes"] == ["confirmed", "declined"] and agent["redact"] == ["card", "email"]
    assert agent["redact_exempt_fields"] == ["email", "phone"] and agent["recording"] == "off"
    assert (agent["recording_retention_days"], agent["transcript_retention_days"]) == (7, None)
    assert agent["recording_notice"] == "This call is recorded."
    page = console.get(f"/agents/{agent['id']}")
    assert 'value="card" checked' in page.text and "This call is recorded." in page.text
    bad = console.post("/agents/new", {"name": "x", "type": "outbound", "analysis": '{"outcomes": "yes"}'})
    assert bad.status_code == 400 and "analysis.outcomes" in bad.text


def test_the_questions_an_agent_asks_are_written_in_the_console_checked_and_kept_across_its_updates(
    console: Console, api: httpx.Client
) -> None:
    properties = {
        "gate_code": {"type": "string", "description": "the code of their gate"},
        "window": {"type": "string"},
    }
    returns = {"type": "object", "properties": properties}
    agent = api.post("/v1/agents", json={"name": "Courier", "type": "outbound", "returns": returns}).json()
    page = console.get(f"/agents/{agent['id']}")
    assert 'name="q.gate_code"' in page.text and 'placeholder="the code of their gate"' in page.text
    assert "The model writes them" in page.text
    refused = console.post(f"/agents/{agent['id']}/questions", {"q.gate_code": "Tell me the code.", "q.window": ""})
    assert refused.status_code == 400 and "one sentence ending in" in field_error(refused, "q-gate_code")
    assert '"badge">yours' not in console.get(f"/agents/{agent['id']}").text  # nothing was written
    saved = console.post(f"/agents/{agent['id']}/questions", {"q.gate_code": "What is your gate code?", "q.window": ""})
    assert saved.status_code == 303
    page = console.get(f"/agents/{agent['id']}")
    assert 'value="What is your gate code?"' in page.text and '"badge">yours' in page.text
    assert "yours are kept" in page.text  # the model writes the other one after a call
    # A change of what the model writes them from: the person's question stays.
    api.patch(f"/v1/agents/{agent['id']}", json={"instructions": "Deliver the sofa."}).raise_for_status()
    page = console.get(f"/agents/{agent['id']}")
    assert "yours are kept" in page.text and 'value="What is your gate code?"' in page.text
    emptied = console.post(f"/agents/{agent['id']}/questions", {"q.gate_code": "", "q.window": ""})
    assert emptied.status_code == 303 and '"badge">yours' not in console.get(f"/agents/{agent['id']}").text
