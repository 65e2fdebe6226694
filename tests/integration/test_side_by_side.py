"""Two appliances on one host: their own data dirs and ports (HTTP, SIP, carrier, ARI, AMI, RTP)."""

from __future__ import annotations

from pathlib import Path

from appliance.call_status import TERMINAL
from tests.support import ServerProcess

from .conftest import requires_asterisk


@requires_asterisk
def test_two_instances_run_side_by_side(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path / "one").start()
    second = ServerProcess(tmp_path / "two").start()
    try:
        for server in (first, second):
            with server.client() as api:
                agent = api.post("/v1/agents", json={"name": "side", "type": "outbound"}).json()
                call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550102"}).json()
            assert server.wait_for(call["id"], TERMINAL, timeout=30)["status"] == "busy"
        assert first.data_dir != second.data_dir
        assert first.env["APPLIANCE_SIP_PORT"] != second.env["APPLIANCE_SIP_PORT"]
    finally:
        first.stop()
        second.stop()
