"""What a newcomer does in the console, in a real browser: sign in, create an agent (a bad `returns` first),
place test calls (busy, then the simulated person with the transcript streaming live and the result at the
end), replay a webhook delivery; and what an attacker cannot do (no session, no CSRF token)."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_conversation import APPOINTMENT, use_script
from tests.integration.conftest import requires_asterisk
from tests.receiver import Receiver
from tests.support import ServerProcess

from .conftest import requires_chromium, screenshot, sign_in

pytestmark = [requires_asterisk, requires_chromium, pytest.mark.integration]


def create_agent(page: Page, name: str, returns: str, webhook_url: str = "") -> str:
    page.goto("/agents/new")
    page.fill("#name", name)
    page.fill("#persona", APPOINTMENT["persona"])
    page.fill("#instructions", APPOINTMENT["instructions"])
    page.fill("#first_message", APPOINTMENT["first_message"])
    page.fill("#max_duration_seconds", "120")
    page.fill("#returns", returns)
    page.fill("#webhook_url", webhook_url)
    page.click("form.stack button[type=submit]")
    page.wait_for_load_state()
    match = re.search(r"/agents/([0-9a-f-]{36})", page.url)
    return match.group(1) if match else ""


def place_call(page: Page, agent_id: str, to: str) -> str:
    page.goto(f"/agents/{agent_id}")
    page.fill("#to", to)
    page.get_by_role("button", name="Call", exact=True).click()
    page.wait_for_url(re.compile(r"/calls/[0-9a-f-]{36}$"))
    return page.url.rsplit("/", 1)[1]


def test_pages_need_a_session_and_a_wrong_password_is_refused(page: Page, console: ServerProcess) -> None:
    page.goto("/calls")
    expect(page).to_have_url(re.compile(r"/login\?next=/calls$"))
    page.fill("#username", "admin")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator(".alert")).to_have_text("Wrong user name or password.")
    screenshot(page, "sign-in")
    sign_in(page, console)
    expect(page.locator("h1")).to_have_text("Today")
    expect(page.locator(".stat[data-outcome=busy]")).to_be_visible()
    screenshot(page, "dashboard")


def test_a_bad_returns_schema_is_shown_beside_the_field_then_a_good_one_creates_the_agent(
    page: Page, console: ServerProcess
) -> None:
    sign_in(page, console)
    page.goto("/agents/new")
    page.fill("#returns", '{"confirmed": "boolean"}')  # checked as it is typed, before any submit
    expect(page.locator("#returns-check")).to_contain_text("Valid: confirmed: boolean")
    assert create_agent(page, "Broken", '{"confirmed": "maybe"}') == ""
    error = page.locator("#error-returns")
    expect(error).to_contain_text("confirmed")
    expect(page.locator("#returns")).to_have_value('{"confirmed": "maybe"}')  # the input is kept
    screenshot(page, "agent-form-error")
    agent_id = create_agent(page, "Sam", '{"confirmed": "boolean"}')
    assert agent_id
    page.goto("/agents")
    expect(page.locator("table")).to_contain_text("Sam")
    screenshot(page, "agents")
    with console.client() as api:
        assert api.get(f"/v1/agents/{agent_id}").json()["returns"] == {"confirmed": "boolean"}


def test_a_test_call_to_the_busy_number_is_labelled_busy(page: Page, console: ServerProcess) -> None:
    sign_in(page, console)
    agent_id = create_agent(page, "Busy check", "")
    call_id = place_call(page, agent_id, "+12025550102")
    expect(page.locator("#call-status")).to_have_text("Busy", timeout=30_000)
    page.goto("/calls")
    row = page.locator("tr", has=page.locator(f"a[href='/calls/{call_id}']"))
    expect(row.locator(".badge")).to_have_text("Busy")
    screenshot(page, "calls")


def test_a_call_to_the_simulated_person_streams_its_transcript_and_ends_with_the_result(
    page: Page, console: ServerProcess
) -> None:
    receiver = Receiver().start()
    try:
        sign_in(page, console)
        agent_id = create_agent(page, "Sam live", '{"confirmed": "boolean"}', receiver.url)
        use_script(console, "appointment")
        call_id = place_call(page, agent_id, "+12025550101")
        # Lines appear while the call is still in progress: pushed over SSE, not loaded with the page.
        expect(page.locator("#transcript .turn.agent").first).to_contain_text("Bright Smile", timeout=60_000)
        expect(page.locator("#call-status")).to_have_text("In progress")
        assert page.locator("#transcript .turn.user").count() >= 1
        screenshot(page, "call-live")
        expect(page.locator("#result-json")).to_be_visible(timeout=240_000)
        assert json.loads(page.locator("#result-json").inner_text()) == {"confirmed": True}
        expect(page.locator("#call-status")).to_have_text("Completed")
        expect(page.locator("audio[src$='/recording']")).to_have_count(1)
        expect(page.locator("text=call.completed")).to_be_visible(timeout=30_000)
        screenshot(page, "call-done")

        # Replay the terminal delivery: the receiver gets it again with the same webhook-id.
        def completed_ids() -> list[str]:
            return [
                r.headers["webhook-id"] for r in receiver.received if json.loads(r.body)["type"] == "call.completed"
            ]

        deadline = time.monotonic() + 30
        while not completed_ids():
            assert time.monotonic() < deadline, "call.completed was not delivered"
            time.sleep(0.2)
        row = page.locator("tr", has_text="call.completed")
        row.locator("button", has_text="Replay").click()
        while len(completed_ids()) < 2:
            assert time.monotonic() < deadline + 30, "the replay was not delivered"
            time.sleep(0.2)
        assert completed_ids()[0] == completed_ids()[1]
        with console.client() as api:
            assert api.get(f"/v1/calls/{call_id}").json()["result"] == {"confirmed": True}
    finally:
        receiver.stop()


def test_a_post_without_the_csrf_token_is_refused(page: Page, console: ServerProcess) -> None:
    sign_in(page, console)
    # Same browser, same session cookie, but no token: what a forged cross-site form would send.
    refused = page.request.post("/access/keys", form={"name": "forged"})
    assert refused.status == 403
    page.goto("/access")
    expect(page.locator("table").first).not_to_contain_text("forged")
    # Without any session at all the API-style request is refused too.
    assert httpx.post(f"{console.url}/access/keys", data={"name": "x"}).status_code == 403


def test_api_keys_are_shown_once_and_usage_renders(page: Page, console: ServerProcess) -> None:
    sign_in(page, console)
    page.goto("/access")
    page.fill("#key-name", "CRM")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#shown-secret").inner_text()
    assert key.startswith("sk_")
    screenshot(page, "access")
    page.goto("/access")
    expect(page.locator("body")).not_to_contain_text(key)
    with httpx.Client(base_url=console.url, headers={"Authorization": f"Bearer {key}"}) as api:
        assert api.get("/v1/agents").status_code == 200
    sample = page.request.get("/voices/en_US-joe-medium/sample.wav")
    assert sample.status == 200 and sample.headers["content-type"] == "audio/wav"
    assert len(sample.body()) > 8000  # more than half a second of 8 kHz speech
    page.goto("/usage")
    expect(page.locator("svg.chart")).to_be_visible()
    screenshot(page, "usage")
    page.goto("/numbers")
    expect(page.locator("#trunk-rows")).to_contain_text("loopback")
    screenshot(page, "numbers")
