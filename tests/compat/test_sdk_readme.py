"""A customer's first run after moving off the hosted service: the SDK README's own code, unchanged, and
the CLI, pointed at the box by `CALLINGBOX_BASE_URL` / `--base-url`."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

from callingbox import Callingbox

from tests.integration.conftest import requires_asterisk
from tests.support import ServerProcess

from .conftest import wait_terminal

pytestmark = requires_asterisk

QUICKSTART_RANGE = "+14155550100-+14155550119"


def readme_quickstart() -> str:
    """The first code block under "Quick Start" in the pinned SDK's README, as published."""
    readme = distribution("callingbox").read_text("METADATA") or ""
    section = readme.split("## Quick Start", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_sdk_readme_quickstart_runs_unchanged_through_the_loopback_carrier(box: ServerProcess) -> None:
    # The quickstart searches area code 415: the test carrier offers DIDs there once its trunk declares them.
    with box.client() as api:
        loopback = next(t for t in api.get("/v1/trunks").json() if t["name"] == "loopback")
        r = api.patch(f"/v1/trunks/{loopback['id']}", json={"did_ranges": [QUICKSTART_RANGE]})
        assert r.status_code == 200, r.text
    code = readme_quickstart()
    assert 'area_code="415"' in code and "calls.create(" in code
    printed = io.StringIO()
    scope: dict = {}
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README quickstart", "exec"), scope)
    call, number = scope["call"], scope["number"]
    assert printed.getvalue().split() == ["queued", call.id]
    assert number.e164 == "+14155550100" and number.status == "active" and number.monthly_cost_cents == 0
    with Callingbox() as sdk:
        done = wait_terminal(sdk, call.id)
    # +15551234567 (area code 555, in service nowhere) reaches the test carrier, which knows no such number.
    print("result:", done.result)
    assert done.result == {"confirmed": None} and done.result_status == "skipped"
    assert done.status == "failed" and done.from_number == number.e164 and done.prompt.startswith("Confirm")
    assert done.context == {"patient": "Maria Lopez"} and done.language == "en"
    assert done.reservation_status == "released" and done.billed_duration_seconds == 0
    with box.client() as api:
        raw = api.get(f"/v1/calls/{call.id}").json()
    assert raw["agent_id"] is None and raw["trunk_id"] == loopback["id"]
    # …and the CLI lists it.
    listed = cli(box, "--json", "calls", "list", "--limit", "5")
    assert call.id in [c["id"] for c in json.loads(listed.stdout)["data"]]


def test_the_readme_flow_search_purchase_call_and_poll_until_result(client: Callingbox) -> None:
    available = client.numbers.search_available(area_code="202", limit=3)
    assert [a.phone_number for a in available] == ["+12025550110", "+12025550111", "+12025550112"]
    assert {(a.country_code, a.number_type, a.currency, a.monthly_cost_cents) for a in available} == {
        ("US", "local", "USD", 0)
    }
    assert available[0].locality == "Washington D.C."
    number = client.numbers.purchase(available[0].phone_number)
    assert number.e164 == "+12025550110" and number.purchased_at and number.country_code == "US"
    assert "+12025550110" not in [a.phone_number for a in client.numbers.search_available(area_code="202")]
    call = client.calls.create(
        to="+12025550102",  # the carrier's busy line
        prompt="Confirm appointment tomorrow 2pm",
        returns={"confirmed": "boolean"},
        from_=number.e164,
    )
    assert call.status == "queued" and call.returns == {"confirmed": "boolean"} and call.result is None
    done = wait_terminal(client, call.id)
    assert done.status == "busy" and done.result == {"confirmed": None} and done.from_number == "+12025550110"


def cli(box: ServerProcess, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The SDK's own `callingbox` command, in a child process (not a TTY: it prints JSON)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLINGBOX_")}
    if home is not None:
        env["XDG_CONFIG_HOME"] = str(home)
    command = [sys.executable, "-m", "callingbox.cli", "--base-url", box.url, "--api-key", box.key or "", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=90)


def test_the_cli_dispatches_waits_and_prints_the_result(box: ServerProcess) -> None:
    out = cli(
        box,
        "call",
        "--to",
        "+12025550102",
        "--prompt",
        "Confirm appointment tomorrow 2pm",
        "--returns",
        '{"confirmed": "boolean"}',
        "--timeout",
        "60",
    )
    # The CLI prints the result, and exits 1 because a busy line is not a completed call.
    assert json.loads(out.stdout) == {"confirmed": None}, out.stderr
    assert out.returncode == 1 and "busy" in out.stderr
    listed = json.loads(cli(box, "--json", "calls", "list", "--all", "--limit", "2").stdout)
    assert listed and all(c["id"] for c in listed)
    one = json.loads(cli(box, "calls", "get", listed[0]["id"]).stdout)
    assert one["id"] == listed[0]["id"] and one["status"] == listed[0]["status"]


def test_the_cli_searches_buys_and_lists_numbers(box: ServerProcess) -> None:
    found = json.loads(cli(box, "numbers", "search", "--area-code", "202", "--limit", "2").stdout)
    assert len(found) == 2 and all(n["phone_number"].startswith("+1202555") for n in found)
    bought = cli(box, "numbers", "buy", found[-1]["phone_number"], "--yes")
    assert bought.returncode == 0, bought.stderr
    assert json.loads(bought.stdout)["e164"] == found[-1]["phone_number"]
    owned = json.loads(cli(box, "numbers", "list", "--all").stdout)
    assert found[-1]["phone_number"] in [n["e164"] for n in owned]
    missing = cli(box, "calls", "get", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 4  # the CLI's "not found" exit code


def test_the_cli_login_checks_the_key_against_the_box(box: ServerProcess, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLINGBOX_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    base = [sys.executable, "-m", "callingbox.cli"]
    bad = subprocess.run(
        [*base, "login", "--api-key", "sk_wrong", "--base-url", box.url], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 3, bad.stderr
    good = subprocess.run(
        [*base, "login", "--api-key", box.key or "", "--base-url", box.url], env=env, capture_output=True, text=True
    )
    assert good.returncode == 0, good.stderr
    # Saved with the base URL: later commands need neither flag.
    listed = subprocess.run([*base, "numbers", "list"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and "data" in json.loads(listed.stdout), listed.stderr
    who = subprocess.run([*base, "whoami"], env=env, capture_output=True, text=True)
    assert who.returncode == 0 and "config" in who.stderr and box.url in who.stderr
    assert subprocess.run([*base, "logout"], env=env, capture_output=True).returncode == 0
