from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support import ServerProcess


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real `appliance serve` with the API alone (no Asterisk)."""
    proc = ServerProcess(tmp_path_factory.mktemp("reliability-api"), env={"APPLIANCE_TELEPHONY": "false"}).start()
    yield proc
    proc.stop()


@pytest.fixture
def api(api_server: ServerProcess) -> Iterator[httpx.Client]:
    with api_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def telephony_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real `appliance serve` with its own Asterisk (voice off), ports and data dir."""
    proc = ServerProcess(tmp_path_factory.mktemp("reliability-sip")).start().wait_for_telephony()
    yield proc
    proc.stop()
