"""Bad SIP against a real Asterisk while a call is in progress: malformed packets, an unknown DID, a codec
mismatch, BYE and CANCEL for dialogs that do not exist, and a flood from one source (sipp). Each is refused
cleanly, Asterisk does not restart, the call in progress carries on and new calls work afterwards."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from appliance.call_status import TERMINAL
from tests.integration.conftest import requires_asterisk
from tests.support import ServerProcess, free_port

from . import sipp
from .box import ari_list, asterisk_pid, sip_target
from .budget import count, report

pytestmark = [requires_asterisk, pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed")]
UAS_ANSWER = Path(__file__).resolve().parents[1] / "integration" / "sipp" / "uas_answer.xml"
OUR_DID = "+14155550123"


@pytest.fixture(scope="module")
def peer(telephony_server: ServerProcess) -> Iterator[dict]:
    """A trunk whose carrier is sipp: a UAS that answers our call and holds it, and a port to send from."""
    uas_port = free_port(socket.SOCK_DGRAM)
    uas = subprocess.Popen(
        ["sipp", "-sf", str(UAS_ANSWER), "-i", "127.0.0.1", "-p", str(uas_port), "-m", "1", "-nostdin"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    send_port = free_port(socket.SOCK_DGRAM)
    with telephony_server.client() as api:
        held = api.post("/v1/trunks", json={"name": "held", "host": "127.0.0.1", "port": uas_port}).json()
        sender = api.post("/v1/trunks", json={"name": "sender", "host": "127.0.0.1", "port": send_port}).json()
        ours = api.post("/v1/numbers", json={"e164": OUR_DID, "trunk_id": sender["id"]}).json()
        api.post("/v1/agents", json={"name": "inbound", "type": "inbound", "number_ids": [ours["id"]]})
        caller_id = api.post("/v1/numbers", json={"e164": "+14155550124", "trunk_id": held["id"]}).json()
        agent = api.post("/v1/agents", json={"name": "held", "type": "outbound", "number_ids": [caller_id["id"]],
                                             "primary_number_id": caller_id["id"]}).json()  # fmt: skip
        call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550177"}).json()
        assert telephony_server.wait_for(call["id"], {"in_progress"} | TERMINAL, timeout=20)["status"] == "in_progress"
    yield {"call": call, "send_port": send_port}
    uas.kill()
    uas.wait()


MALFORMED = [
    b"\x00\xff" * 200,
    b"INVITE\r\n\r\n",
    b"INVITE sip:+14155550123@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n",  # no Via, From, To, Call-ID
    b"INVITE sip:+14155550123@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\n"
    b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: m1\r\nCSeq: 1 INVITE\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: 9999\r\n\r\nv=0\r\n",  # body shorter than declared
    b"INVITE sip:+14155550123@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKy\r\n"
    b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: m2\r\nCSeq: 1 INVITE\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: 22\r\n\r\nm=audio x RTP/AVP zz\r\n",  # garbage SDP
    b"INVITE sip:+14155550123@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKz\r\n"
    + b"X-Filler: "
    + b"a" * 60_000
    + b"\r\n\r\n",  # a header near the UDP limit
    b"OPTIONS sip:" + b"%" * 3000 + b" SIP/2.0\r\n\r\n",
]


def send_raw(target: str, packets: list[bytes], from_port: int) -> None:
    host, port = target.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", from_port))
        for packet in packets:
            s.sendto(packet, (host, int(port)))


def test_malformed_packets_from_anyone_and_from_a_trunk_do_not_disturb_asterisk(
    telephony_server: ServerProcess, peer: dict, tmp_path: Path
) -> None:
    before = asterisk_pid(telephony_server)
    target = sip_target(telephony_server, "APPLIANCE_SIP_PORT")
    send_raw(target, MALFORMED, free_port(socket.SOCK_DGRAM))
    send_raw(target, MALFORMED, peer["send_port"])
    after_garbage = sipp.run(tmp_path, target, "INVITE", "+14155550199", 404, local_port=peer["send_port"])
    assert after_garbage.returncode == 0, after_garbage.trace  # still answering, and correctly
    assert asterisk_pid(telephony_server) == before


@pytest.mark.parametrize(
    ("method", "user", "payloads", "expect"),
    [
        ("INVITE", "+14155550199", "0", 404),  # a DID we do not own
        ("INVITE", OUR_DID, "18", 488),  # ours, but only G.729 offered: no common codec
        ("INVITE", OUR_DID, "9 3", 488),
        ("BYE", OUR_DID, "0", 481),  # BYE before any dialog exists
        ("CANCEL", OUR_DID, "0", 481),
    ],
    ids=["unknown-did", "codec-g729-only", "codec-g722-gsm", "early-bye", "stray-cancel"],
)
def test_bad_requests_from_a_trunk_are_refused_with_the_right_code(
    telephony_server: ServerProcess, peer: dict, tmp_path: Path, method: str, user: str, payloads: str, expect: int
) -> None:
    target = sip_target(telephony_server, "APPLIANCE_SIP_PORT")
    result = sipp.run(tmp_path, target, method, user, expect, local_port=peer["send_port"], payloads=payloads)
    assert result.returncode == 0 and result.final == expect, result.trace


class HealthProbe:
    """GET /healthz every 100 ms in a thread; the slowest answer and any failure are kept."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    client.get(self.url + "/healthz").raise_for_status()
                    self.latencies.append(time.monotonic() - started)
                except httpx.HTTPError:
                    self.failures += 1
                self._stop.wait(0.1)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.parametrize(("source", "user", "expect", "quick", "full", "rate"),
                         [("stranger", "+14155550123", 401, 200, 3000, 150),
                          ("trunk", "+14155550199", 404, 60, 1000, 50)],
                         ids=["stranger-invites", "trunk-unknown-dids"])  # fmt: skip
def test_flood_from_one_source_is_answered_and_the_call_in_progress_survives(
    telephony_server: ServerProcess, peer: dict, tmp_path: Path, source: str, user: str, expect: int,
    quick: int, full: int, rate: int,
) -> None:  # fmt: skip
    n = count(quick=quick, full=full)
    target = sip_target(telephony_server, "APPLIANCE_SIP_PORT")
    port = peer["send_port"] if source == "trunk" else free_port(socket.SOCK_DGRAM)
    before = asterisk_pid(telephony_server)
    started = time.monotonic()
    with HealthProbe(telephony_server.url) as probe:
        result = sipp.run(tmp_path, target, "INVITE", user, expect, local_port=port, calls=n, rate=rate,
                          timeout=n // rate + 60)  # fmt: skip
    elapsed = time.monotonic() - started
    answered = sum(1 for c in result.codes if c == expect)
    report(f"sip_flood_{source}", invites=n, rate_per_s=rate, seconds=round(elapsed, 1), refused_with=expect,
           refusals_received=answered, sipp_ok=result.returncode == 0, api_health_failures=probe.failures,
           api_health_max_ms=round(max(probe.latencies) * 1000),
           asterisk_restarted=asterisk_pid(telephony_server) != before)  # fmt: skip
    assert result.returncode == 0, result.trace[-3000:]
    assert answered >= n and probe.failures == 0
    assert asterisk_pid(telephony_server) == before
    with telephony_server.client() as api:
        assert api.get(f"/v1/calls/{peer['call']['id']}").json()["status"] == "in_progress"


def test_after_the_bad_sip_the_held_call_ends_cleanly_and_new_calls_work(
    telephony_server: ServerProcess, peer: dict
) -> None:
    with telephony_server.client() as api:
        held = peer["call"]
        assert api.get(f"/v1/calls/{held['id']}").json()["status"] == "in_progress"
        api.post(f"/v1/calls/{held['id']}/cancel")
        done = telephony_server.wait_for(held["id"], TERMINAL, timeout=20)
        assert done["status"] == "completed" and done["end_reason"] == "canceled"
        agent = api.post("/v1/agents", json={"name": "after", "type": "outbound"}).json()
        after = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550102"}).json()
        assert telephony_server.wait_for(after["id"], TERMINAL, timeout=30)["status"] == "busy"
    deadline = time.monotonic() + 10
    while ari_list(telephony_server, "channels"):
        assert time.monotonic() < deadline, ari_list(telephony_server, "channels")
        time.sleep(0.2)


def test_re_invites_to_hold_and_resume_keep_the_call_up(telephony_server: ServerProcess, tmp_path: Path) -> None:
    """The far end puts our call on hold and back (two re-INVITEs of its own): both get 200, the call carries
    on, and it ends cleanly when we hang up."""
    port = free_port(socket.SOCK_DGRAM)
    trace = tmp_path / "reinvite.messages"
    uas = subprocess.Popen(
        ["sipp", "-sf", str(Path(__file__).parent / "sipp" / "uas_answer_reinvite.xml"), "-i", "127.0.0.1",
         "-p", str(port), "-m", "1", "-nostdin", "-trace_msg", "-message_file", str(trace)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with telephony_server.client() as api:
            trunk = api.post("/v1/trunks", json={"name": f"reinvite-{port}", "host": "127.0.0.1", "port": port})
            number = api.post("/v1/numbers", json={"e164": "+14155550125", "trunk_id": trunk.json()["id"]}).json()
            agent = api.post("/v1/agents", json={"name": "reinvite", "type": "outbound", "number_ids": [number["id"]],
                                                 "primary_number_id": number["id"]}).json()  # fmt: skip
            call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550178"}).json()
            live = telephony_server.wait_for(call["id"], {"in_progress"} | TERMINAL, timeout=20)
            assert live["status"] == "in_progress"
            deadline = time.monotonic() + 20
            while "CSeq: 2 INVITE" not in (received := received_messages(trace)):
                assert time.monotonic() < deadline and uas.poll() is None, trace.read_text(errors="replace")[-3000:]
                time.sleep(0.2)
            assert received.count("SIP/2.0 200") >= 2  # both re-INVITEs accepted
            assert api.get(f"/v1/calls/{call['id']}").json()["status"] == "in_progress"
            api.post(f"/v1/calls/{call['id']}/cancel")
            done = telephony_server.wait_for(call["id"], TERMINAL, timeout=20)
        assert done["status"] == "completed" and done["end_reason"] == "canceled"
        assert uas.wait(timeout=20) == 0  # sipp saw our BYE and answered it: its scenario ran to the end
    finally:
        uas.kill()


def received_messages(trace: Path) -> str:
    """The messages sipp received, from its message trace."""
    text = trace.read_text(errors="replace") if trace.exists() else ""
    blocks = text.split("----------------------------------------------- ")
    return "\n".join(b for b in blocks if "message received" in b)
