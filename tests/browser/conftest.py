"""The console in a real browser: Debian's chromium driven by Playwright against a real `appliance serve`
(real Asterisk, real models). Screenshots of the main pages land in build/screenshots/ as test artefacts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support import ServerProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
# As root in a container, without the sandbox; no background traffic (the machine has no internet).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

requires_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed (make setup)")


@pytest.fixture(scope="session")
def console(voice_box: ServerProcess) -> ServerProcess:
    """The run's voice appliance (tests/conftest.py), whose first start printed the console's password."""
    assert voice_box.console_password, "the first start prints the console's admin password"
    return voice_box


@pytest.fixture(scope="module")
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    # Module scope, not session: Playwright's sync API keeps an event loop running until it exits, and
    # pytest-asyncio tests after it would find that loop and refuse to start their own. A module may add
    # flags of its own (a fake microphone) in CHROMIUM_EXTRA_ARGS.
    args = CHROMIUM_ARGS + getattr(request.module, "CHROMIUM_EXTRA_ARGS", [])
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, console: ServerProcess) -> Iterator[Page]:
    """A fresh browser context (no cookies) on a laptop-sized screen, allowed to use the microphone."""
    context = browser.new_context(
        base_url=console.url, viewport={"width": 1366, "height": 820}, permissions=["microphone"]
    )
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page: Page, console: ServerProcess) -> None:
    page.goto("/")
    page.fill("#username", "admin")
    page.fill("#password", console.console_password or "")
    page.click("button[type=submit]")
    page.wait_for_url(f"{console.url}/")


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
