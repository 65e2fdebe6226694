"""The campaigns page in a real browser against a real appliance (real Asterisk, voice off): upload a CSV,
watch the progress follow the campaign to its end without a reload, download the results."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.integration.conftest import requires_asterisk
from tests.support import ServerProcess

from .conftest import requires_chromium, screenshot, sign_in

pytestmark = [requires_asterisk, requires_chromium, pytest.mark.integration]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"APPLIANCE_CAMPAIGN_HOURS": "00:00-23:59"}
    proc = ServerProcess(tmp_path_factory.mktemp("campaign-page"), env=env).start()
    yield proc
    proc.stop()


@pytest.fixture
def tab(browser: Browser, box: ServerProcess) -> Iterator[Page]:
    context = browser.new_context(base_url=box.url, viewport={"width": 1366, "height": 820})
    page = context.new_page()
    yield page
    context.close()


def test_upload_then_watch_the_campaign_finish_and_export_it(tab: Page, box: ServerProcess, tmp_path: Path) -> None:
    with box.client() as api:
        api.post("/v1/agents", json={"name": "Reminders", "type": "outbound", "ring_timeout_seconds": 5})
    sign_in(tab, box)
    contacts = tmp_path / "list.csv"
    contacts.write_text("to,first_name\n" + "".join(f"+12025552{n:03d},P{n}\n" for n in range(6)))  # busy
    tab.goto("/campaigns")
    tab.fill("#name", "Browser list")
    tab.set_input_files("#contacts_file", str(contacts))
    tab.fill("#window_start", "00:00")
    tab.fill("#window_end", "23:59")
    tab.fill("input[name=busy_attempts]", "1")
    tab.click("form.stack button[type=submit]")
    tab.wait_for_url(re.compile(r"/campaigns/[0-9a-f-]{36}$"))
    # htmx swaps the progress panel every 2 s until the campaign is over.
    expect(tab.locator("#campaign-status")).to_have_text("completed", timeout=60_000)
    expect(tab.locator("#campaign-counters")).to_contain_text("6 of 6 done")
    expect(tab.locator("td", has_text="busy")).to_have_count(6)  # the contacts refresh with it
    screenshot(tab, "campaign")
    href = tab.get_by_role("link", name="Results (CSV)").get_attribute("href")
    cookies = {c["name"]: c["value"] for c in tab.context.cookies()}
    results = httpx.get(box.url + (href or ""), cookies=cookies, timeout=10)
    rows = list(csv.DictReader(io.StringIO(results.text)))
    assert [(r["first_name"], r["outcome"], r["call_status"]) for r in rows] == [
        (f"P{n}", "busy", "busy") for n in range(6)
    ]
