"""The console's campaign pages against a real server (no telephony): CSV upload with the API's checks, live
progress with pause / resume / cancel, and the results CSV."""

from __future__ import annotations

import csv
import io
import re

import httpx

from tests.api.helpers import make_agent
from tests.api.test_console_pages import Console, console  # noqa: F401 (the fixture)
from tests.support import ServerProcess

FORM = {"window_start": "09:00", "window_end": "17:00", "day_mon": "on", "day_wed": "on", "max_concurrent": "2",
        "busy_attempts": "2", "busy_backoff": "0"}  # fmt: skip


def upload(session: Console, agent_id: str, csv_text: str) -> httpx.Response:
    session.get("/campaigns")
    files = {"contacts_file": ("list.csv", csv_text.encode(), "text/csv")}
    data = {"_csrf_token": session.token, "agent_id": agent_id, "name": "Upload", **FORM}
    return session.http.post("/campaigns", data=data, files=files)


def test_upload_creates_the_campaign_and_its_page_controls_it(console: Console, api: httpx.Client) -> None:  # noqa: F811
    agent = make_agent(api)
    r = upload(console, agent["id"], "to,first_name\n+12025550101,Ada\n+12025550103,Cy\n")
    assert r.status_code == 303, r.text
    campaign_id = r.headers["location"].rsplit("/", 1)[1]
    campaign = api.get(f"/v1/campaigns/{campaign_id}").json()
    assert campaign["window"] == {"start": "09:00", "end": "17:00", "days": ["mon", "wed"]}
    assert campaign["retry"]["busy"] == {"attempts": 2, "backoff_minutes": 0} and campaign["max_concurrent"] == 2
    page = console.get(f"/campaigns/{campaign_id}")
    assert "0 of 2 done" in page.text and 'hx-trigger="every 2s"' in page.text
    assert console.post(f"/campaigns/{campaign_id}/pause", {}).status_code == 303
    assert api.get(f"/v1/campaigns/{campaign_id}").json()["status"] == "paused"
    console.get(f"/campaigns/{campaign_id}")
    assert console.post(f"/campaigns/{campaign_id}/resume", {}).status_code == 303
    assert api.get(f"/v1/campaigns/{campaign_id}").json()["status"] == "running"
    console.get(f"/campaigns/{campaign_id}")
    assert console.post(f"/campaigns/{campaign_id}/cancel", {}).status_code == 303
    page = console.get(f"/campaigns/{campaign_id}")
    assert "canceled" in page.text and 'hx-trigger="every 2s"' not in page.text
    results = console.get(f"/campaigns/{campaign_id}/results.csv")
    assert results.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(results.text)))
    assert [(r["line"], r["to"], r["first_name"], r["outcome"], r["attempts"]) for r in rows] == [
        ("2", "+12025550101", "Ada", "canceled", "0"),
        ("3", "+12025550103", "Cy", "canceled", "0"),
    ]
    assert "Upload" in console.get("/campaigns").text


def test_a_bad_upload_shows_the_lines_and_creates_nothing(console: Console, api: httpx.Client) -> None:  # noqa: F811
    agent = make_agent(api)
    before = len(api.get("/v1/campaigns", params={"limit": 200}).json()["data"])
    r = upload(console, agent["id"], "to\n+12025550101\n555\n")
    assert r.status_code == 400
    assert re.search(r"line 3: &#39;555&#39;", r.text), r.text
    r = upload(console, agent["id"], "phone\n+12025550101\n")
    assert r.status_code == 400 and "no to column" in r.text
    assert len(api.get("/v1/campaigns", params={"limit": 200}).json()["data"]) == before


def test_campaign_pages_need_a_session(server: ServerProcess) -> None:
    for path in ("/campaigns", "/campaigns/x", "/campaigns/x/results.csv", "/dnc"):
        response = httpx.get(server.url + path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}", path
    assert httpx.post(server.url + "/campaigns/x/pause", follow_redirects=False).status_code in (303, 403)


def test_the_dnc_list_page_adds_and_removes(console: Console, api: httpx.Client) -> None:  # noqa: F811
    console.get("/dnc")
    assert console.post("/dnc", {"number": "+12025550188", "reason": "by phone"}).status_code == 303
    entry = api.get("/v1/dnc/+12025550188").json()
    assert (entry["reason"], entry["source"]) == ("by phone", "console")
    assert "+12025550188" in console.get("/dnc").text
    bad = console.post("/dnc", {"number": "0188"})
    assert bad.status_code == 400 and "number must be an E.164 number" in bad.text
    console.get("/dnc")
    assert console.post("/dnc/+12025550188/remove", {}).status_code == 303
    assert api.get("/v1/dnc/+12025550188").status_code == 404
