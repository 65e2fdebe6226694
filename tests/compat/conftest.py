"""The hosted service's own SDK and CLI (`callingbox` 0.1.0, pinned) against one real `appliance serve`
with its Asterisk and the loopback test carrier, shared by the whole suite."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from callingbox import Call, Callingbox

from appliance.call_status import TERMINAL
from tests.support import ServerProcess


@pytest.fixture(scope="session")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("compat"), env={"APPLIANCE_MAX_CONCURRENT_CALLS": "8"}).start()
    # What a customer moving off the hosted service sets (README: "Moving from the hosted service").
    saved = {k: os.environ.get(k) for k in ("CALLINGBOX_API_KEY", "CALLINGBOX_BASE_URL")}
    os.environ.update({"CALLINGBOX_API_KEY": proc.key or "", "CALLINGBOX_BASE_URL": proc.url})
    yield proc
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    proc.stop()


@pytest.fixture
def client(box: ServerProcess) -> Iterator[Callingbox]:
    with Callingbox(api_key=box.key, base_url=box.url) as sdk:
        yield sdk


def wait_terminal(sdk: Callingbox, call_id: str, timeout: float = 30) -> Call:
    """Poll as the SDK's users do, until the call has ended and its result is in."""
    deadline = time.monotonic() + timeout
    while True:
        call = sdk.calls.retrieve(call_id)
        if call.status in TERMINAL and call.result_status != "pending":
            return call
        if time.monotonic() > deadline:
            raise TimeoutError(f"call {call_id} still {call.status} / {call.result_status} after {timeout} s")
        time.sleep(0.2)
