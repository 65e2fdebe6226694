"""Outbound HTTP cannot be steered: webhook redirects are not followed (to another host or at all), a huge
response is read only up to the cap, and HTTP tool URLs obey the url_allowlist like webhook URLs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlite_utils

from appliance.errors import InvalidInput
from appliance.results.webhooks import MAX_RESPONSE_BYTES, WebhookOutbox
from appliance.store import agents, calls
from appliance.store import webhooks as store
from appliance.store.db import open_db
from appliance.tools import validate_tools
from tests.receiver import Receiver

HUGE = 200 * 1024 * 1024  # what a hostile receiver offers to send


class Hostile:
    """A receiver on 127.0.0.1 that answers /redirect with 302 to `target` and /huge with an endless body."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.sent_bytes = 0
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> Hostile:
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", hostile.target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(HUGE))
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    while hostile.sent_bytes < HUGE:
                        self.wfile.write(chunk)
                        hostile.sent_bytes += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "w.db")


@pytest.fixture
def elsewhere() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def hostile(elsewhere: Receiver) -> Iterator[Hostile]:
    h = Hostile(elsewhere.url.replace("127.0.0.1", "localhost")).start()  # another host name, same box
    yield h
    h.stop()


def queue_event(db: sqlite_utils.Database, webhook_url: str) -> str:
    agent_id = agents.create_agent(db, {"name": "w", "type": "outbound"})
    call, _ = calls.create_call(
        db, agent=agents.agent_row(db, agent_id), direction="outbound", to_number="+12025550102", from_number=None,
        trunk_id=None, instructions=None, context={}, metadata={}, webhook_url=webhook_url,
    )  # fmt: skip
    return call.id


async def deliver_once(db: sqlite_utils.Database) -> None:
    outbox = WebhookOutbox(db, clock=lambda: time.time() + 1, timeout=10)
    await asyncio.gather(*outbox.dispatch_due())
    await outbox.stop()


async def test_webhook_redirect_to_another_host_is_not_followed(
    db: sqlite_utils.Database, hostile: Hostile, elsewhere: Receiver
) -> None:
    call_id = queue_event(db, hostile.url + "/redirect")
    await deliver_once(db)
    [delivery] = store.list_deliveries(db, endpoint_id=None, call_id=call_id, status=None, limit=5)
    assert elsewhere.begun == 0
    assert delivery.status == "pending" and delivery.last_response_status == 302 and delivery.last_error == "HTTP 302"


async def test_webhook_response_body_is_read_only_up_to_the_cap(db: sqlite_utils.Database, hostile: Hostile) -> None:
    call_id = queue_event(db, hostile.url + "/huge")
    started = time.monotonic()
    await deliver_once(db)
    [delivery] = store.list_deliveries(db, endpoint_id=None, call_id=call_id, status=None, limit=5)
    assert delivery.status == "delivered"
    assert time.monotonic() - started < 5
    assert hostile.sent_bytes < MAX_RESPONSE_BYTES + 16 * 1024 * 1024  # socket buffers, not the 200 MB offered


def test_http_tool_url_outside_the_allowlist_is_refused_naming_the_field() -> None:
    tool = {"type": "http", "name": "lookup", "url": "http://203.0.113.9/lookup"}
    with pytest.raises(InvalidInput) as refused:
        validate_tools([tool], ["10.0.0.0/8", ".example.internal"])
    assert refused.value.field == "tools[0].url" and "url_allowlist" in refused.value.message
    inside = {**tool, "url": "http://crm.example.internal/lookup"}
    assert validate_tools([inside], ["10.0.0.0/8", ".example.internal"])[0]["url"] == inside["url"]
    assert validate_tools([tool])[0]["url"] == tool["url"]  # no allow-list: any host
