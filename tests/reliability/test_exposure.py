"""What the box exposes: ARI and AMI listen on 127.0.0.1 only (even with SIP on every address), and no secret
(ARI/AMI/registrar passwords, trunk password, webhook secret, the sealing key, API keys) appears in the logs of
a run with calls, trunk changes and failed sign-ins, in Asterisk's logs, or in any API response."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from appliance.call_status import TERMINAL
from appliance.store.sealed import KEY_FILE
from tests.integration.conftest import requires_asterisk
from tests.support import ServerProcess

from .box import asterisk_pid

pytestmark = requires_asterisk
TRUNK_PASSWORD = "Tr0nk-Pa55-exposure-7"


@pytest.fixture(scope="module")
def public_sip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """SIP on 0.0.0.0 as in production (the other ports are ours alone)."""
    proc = ServerProcess(tmp_path_factory.mktemp("exposure"), env={"APPLIANCE_SIP_HOST": "0.0.0.0"}).start()
    yield proc
    proc.stop()


def conf_value(data_dir: Path, name: str, pattern: str) -> str:
    match = re.search(pattern, (data_dir / "asterisk" / "etc" / name).read_text())
    assert match, f"{pattern} not in {name}"
    return match.group(1)


def test_ari_and_ami_listen_on_loopback_only(public_sip: ServerProcess) -> None:
    listening = {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.Process(asterisk_pid(public_sip)).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }
    for setting in ("APPLIANCE_ARI_PORT", "APPLIANCE_AMI_PORT"):
        port = int(public_sip.env[setting])
        assert {ip for ip, p in listening if p == port} == {"127.0.0.1"}, (setting, listening)
    sip = int(public_sip.env["APPLIANCE_SIP_PORT"])
    udp = {(c.laddr.ip, c.laddr.port) for c in psutil.Process(asterisk_pid(public_sip)).net_connections(kind="udp")}
    assert ("0.0.0.0", sip) in udp  # the control: SIP really is public in this run


def test_no_secret_in_logs_or_api_responses(public_sip: ServerProcess, tmp_path: Path) -> None:
    data = public_sip.data_dir
    secrets = {
        "ARI password": conf_value(data, "ari.conf", r"password = (\S+)"),
        "AMI secret": conf_value(data, "manager.conf", r"secret = (\S+)"),
        "registrar password": conf_value(data, "pjsip.conf", r"\[appliance-test-auth\][^\[]*password = (\S+)"),
        "sealing key": (data / KEY_FILE).read_text().strip(),
        "trunk password": TRUNK_PASSWORD,
    }
    responses: list[str] = []
    with public_sip.client() as api:
        trunk = api.post("/v1/trunks", json={"name": "carrier-x", "host": "192.0.2.50", "username": "acct-1",
                                             "password": TRUNK_PASSWORD, "register": True})  # fmt: skip
        assert trunk.status_code == 201, trunk.text
        endpoint = api.post("/v1/webhook_endpoints", json={"url": "http://127.0.0.1:9/hook"})
        secrets["webhook secret"] = endpoint.json()["signing_secret"]
        agent = api.post("/v1/agents", json={"name": "exposure", "type": "outbound", "ring_timeout_seconds": 5})
        calls = [api.post("/v1/calls", json={"agent_id": agent.json()["id"], "to": to}).json()
                 for to in ("+12025550102", "+12025550101", "+12025550105")]  # fmt: skip
        public_sip.wait_for(calls[1]["id"], {"in_progress"} | TERMINAL, timeout=30)
        api.post(f"/v1/calls/{calls[1]['id']}/cancel")
        for call in calls:
            public_sip.wait_for(call["id"], TERMINAL, timeout=30)
            responses += [api.get(f"/v1/calls/{call['id']}{tail}").text for tail in ("", "/events", "/transcript")]
        for path in (
            "/v1/trunks",
            f"/v1/trunks/{trunk.json()['id']}",
            "/v1/webhook_endpoints",
            "/v1/agents",
            "/v1/calls",
            "/v1/webhook_deliveries",
            "/openapi.json",
            "/metrics",
            "/readyz",
            "/healthz",
        ):
            responses.append(api.get(path).text)  # fmt: skip
        responses.append(api.patch(f"/v1/trunks/{trunk.json()['id']}", json={"password": TRUNK_PASSWORD + "b"}).text)
    with public_sip.client("sk_wrong" + "x" * 40) as wrong:
        responses.append(wrong.get("/v1/agents").text)

    logs = "".join(public_sip.output)
    asterisk_logs = "".join(p.read_text(errors="replace") for p in (data / "asterisk" / "var" / "log").glob("*"))
    assert public_sip.key is not None
    banner = [line for line in public_sip.output if public_sip.key in line]
    assert len(banner) == 1 and "shown once" in banner[0]  # the first key is printed once, by design
    found = {name for name, value in secrets.items() if value in logs or value in asterisk_logs}
    assert found == set()
    in_responses = {name for name, value in secrets.items() if any(value in r for r in responses)}
    assert in_responses == set()
    assert len(public_sip.output) > 20  # the run did log: calls, trunk reloads, the refused key
