from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from appliance.config import load_settings
from appliance.telephony.asterisk_install import AsteriskNotInstalled, find_asterisk
from tests.support import ServerProcess


def _asterisk_available() -> bool:
    try:
        find_asterisk(load_settings({}, config_file=None))
    except AsteriskNotInstalled:
        return False
    return True


requires_asterisk = pytest.mark.skipif(not _asterisk_available(), reason="Asterisk is not installed (make setup)")


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real `appliance serve` with its own Asterisk, ports and data dir."""
    if not _asterisk_available():
        pytest.skip("Asterisk is not installed (make setup)")
    proc = ServerProcess(tmp_path_factory.mktemp("appliance"), env={"APPLIANCE_MAX_CONCURRENT_CALLS": "8"}).start()
    yield proc
    proc.stop()


@pytest.fixture
def api(appliance: ServerProcess) -> Iterator[httpx.Client]:
    with appliance.client() as client:
        yield client


@pytest.fixture
def outbound_agent(api: httpx.Client) -> dict:
    r = api.post(
        "/v1/agents",
        json={
            "name": "dialer test",
            "type": "outbound",
            "ring_timeout_seconds": 5,
            "returns": {"confirmed": "boolean"},
        },
    )
    assert r.status_code == 201, r.text
    return r.json()
