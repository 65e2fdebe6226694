"""Toll fraud: SIP from outside reaches only Stasis for numbers we own, never a dial-out; REGISTER needs
credentials. Driven by sipp, a third-party SIP client, against a real Asterisk."""

from __future__ import annotations

import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import requires_asterisk
from tests.support import ServerProcess, free_port

from . import sipp
from .box import ari_list, sip_target

pytestmark = [
    requires_asterisk,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed (make setup)"),
]
# What a fraudster dials: international and national dial-out, a number of the test carrier (another
# context), feature codes and dialplan names.
NOT_OURS = ["+14155550199", "9011441234567", "011441234567", "+442071234567", "0044207123456", "+12025550102",
            "1234", "*97", "s", "admin"]  # fmt: skip


def carrier_password(server: ServerProcess) -> str:
    conf = (server.data_dir / "asterisk" / "etc" / "pjsip.conf").read_text()
    match = re.search(r"\[appliance-test-auth\][^\[]*password = (\S+)", conf)
    assert match
    return match.group(1)


@pytest.fixture
def trunk_peer(telephony_server: ServerProcess) -> Iterator[int]:
    """A UDP port that a trunk trusts: sipp sending from it is that trunk's carrier."""
    port = free_port(socket.SOCK_DGRAM)
    with telephony_server.client() as api:
        trunk = api.post("/v1/trunks", json={"name": f"peer-{port}", "host": "127.0.0.1", "port": port})
        assert trunk.status_code == 201, trunk.text
        yield port
        api.delete(f"/v1/trunks/{trunk.json()['id']}")


@pytest.mark.parametrize("transport", ["APPLIANCE_SIP_PORT", "APPLIANCE_CARRIER_SIP_PORT"])
@pytest.mark.parametrize("number", ["+12025550101", "9011441234567"])
def test_invite_from_an_unknown_address_is_challenged_and_a_guessed_password_refused(
    telephony_server: ServerProcess, tmp_path: Path, transport: str, number: str
) -> None:
    target = sip_target(telephony_server, transport)
    plain = sipp.run(tmp_path, target, "INVITE", number, 401, local_port=free_port(socket.SOCK_DGRAM))
    assert plain.returncode == 0 and plain.final == 401, plain.trace
    guessed = sipp.run(
        tmp_path, target, "INVITE", number, 401, local_port=free_port(socket.SOCK_DGRAM), password="guess"
    )
    assert guessed.returncode == 0 and guessed.codes.count(401) >= 2 and 200 not in guessed.codes, guessed.trace


@pytest.mark.parametrize("number", NOT_OURS)
def test_trunk_peer_cannot_reach_numbers_we_do_not_own_and_nothing_is_dialled(
    telephony_server: ServerProcess, trunk_peer: int, tmp_path: Path, number: str
) -> None:
    target = sip_target(telephony_server, "APPLIANCE_SIP_PORT")
    result = sipp.run(tmp_path, target, "INVITE", number, 404, local_port=trunk_peer)
    assert result.returncode == 0 and result.final == 404, result.trace
    with telephony_server.client() as api:
        calls = api.get("/v1/calls", params={"limit": 200}).json()["data"]
    assert [c for c in calls if c["direction"] == "outbound"] == []
    assert {(c["status"], c["error_code"]) for c in calls} <= {("failed", "no_agent")}
    assert no_channels_left(telephony_server)


def no_channels_left(server: ServerProcess, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while ari_list(server, "channels"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize(
    ("transport", "user"), [("APPLIANCE_SIP_PORT", "appliance-test"), ("APPLIANCE_CARRIER_SIP_PORT", "appliance-test")]
)
def test_register_without_the_password_is_refused(
    telephony_server: ServerProcess, tmp_path: Path, transport: str, user: str
) -> None:
    target = sip_target(telephony_server, transport)
    plain = sipp.run(tmp_path, target, "REGISTER", user, 401, local_port=free_port(socket.SOCK_DGRAM))
    assert plain.returncode == 0 and plain.final == 401, plain.trace
    guessed = sipp.run(
        tmp_path, target, "REGISTER", user, 401, local_port=free_port(socket.SOCK_DGRAM), password="guess"
    )
    assert guessed.returncode == 0 and 200 not in guessed.codes, guessed.trace


def test_register_with_the_password_is_accepted(telephony_server: ServerProcess, tmp_path: Path) -> None:
    """The control: the same scenario succeeds with the right credentials, so the refusals above are real."""
    target = sip_target(telephony_server, "APPLIANCE_CARRIER_SIP_PORT")
    result = sipp.run(
        tmp_path, target, "REGISTER", "appliance-test", 200, local_port=free_port(socket.SOCK_DGRAM),
        password=carrier_password(telephony_server),
    )  # fmt: skip
    assert result.returncode == 0 and result.codes == [401, 200], result.trace
