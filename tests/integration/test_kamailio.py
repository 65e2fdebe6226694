"""Several boxes behind one SIP address: Kamailio's dispatcher (deploy/kamailio/kamailio.cfg, exactly as
it ships) in front of two appliance nodes on this machine, each with its own data dir and ports; sipp
(Debian's sip-tester) is the caller. Kamailio comes from Debian's package, installed here if missing.

What it shows: OPTIONS probing sees both nodes, new calls go to the node with fewer calls, a full node
answers 503 and the next node takes the call, and a node killed mid-run (the appliance and its
Asterisk, -9) is taken out while every one of 20 calls is answered or cleanly refused, none lost."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import ServerProcess, free_port

from .conftest import requires_asterisk

ROOT = Path(__file__).resolve().parents[2]
KAMAILIO_CFG = ROOT / "deploy" / "kamailio" / "kamailio.cfg"
CALLER = Path(__file__).resolve().parent / "sipp" / "uac_inbound.xml"
DID = "+14155550142"
pytestmark = [
    requires_asterisk,
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed (make setup)"),
]


def kamailio_binary() -> str:
    """Debian's kamailio, installed if missing (its service is never started: the test runs its own)."""
    found = shutil.which("kamailio") or ("/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None)
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    policy = Path("/usr/sbin/policy-rc.d")
    guard = not policy.exists() and os.geteuid() == 0
    if guard:  # keep the package's own service (SIP on 5060) from starting
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", "kamailio"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, capture_output=True)
            subprocess.run(install, env=env, check=True, capture_output=True)
    finally:
        if guard:
            policy.unlink()
    return "/usr/sbin/kamailio"


@dataclass
class Node:
    name: str
    server: ServerProcess

    @property
    def sip(self) -> str:
        return f"sip:127.0.0.1:{self.server.env['APPLIANCE_SIP_PORT']}"

    @property
    def asterisk_pid(self) -> int:
        return int((self.server.data_dir / "asterisk" / "var" / "run" / "asterisk.pid").read_text().strip())

    def kill(self) -> None:
        """The box dies: the appliance and its Asterisk, both -9, nothing said to anyone."""
        asterisk = self.asterisk_pid
        self.server.stop(signal.SIGKILL)
        os.kill(asterisk, signal.SIGKILL)

    def inbound_calls(self) -> list[dict]:
        """The node's own record, read from its database (works after the node died too)."""
        with sqlite3.connect(f"file:{self.server.data_dir / 'appliance.db'}?mode=ro", uri=True) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT id, status, answered_at FROM calls WHERE direction = 'inbound'").fetchall()
        return [dict(r) for r in rows]


class Dispatcher:
    """Kamailio on a port of its own, with a dispatcher list of the given nodes."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port(socket.SOCK_DGRAM)
        self.log = workdir / "kamailio.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, nodes: list[Node], maxload: int) -> Dispatcher:
        listing = self.workdir / "dispatcher.list"
        # setid destination flags priority attrs: one set, every node with its call-load id. Flags 9 =
        # inactive + probing: a node takes calls only once it has answered OPTIONS.
        listing.write_text("".join(f"1 {n.sip} 9 0 duid={n.name};maxload={maxload}\n" for n in nodes))
        cmd = [
            kamailio_binary(),
            "-f", str(KAMAILIO_CFG), "-DD", "-E", "-Y", str(self.workdir), "-w", str(self.workdir),
            "-A", f"LISTEN=udp:127.0.0.1:{self.port}",
            "-A", f'DISPATCHER_LIST="{listing}"',
            "-A", "DS_PING_INTERVAL=1",
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        return self

    def wait_active(self, nodes: list[Node], timeout: float = 60) -> None:
        """Until OPTIONS probing has seen every node answer (the dispatcher's dst-up event, in its log)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc and self.proc.poll() is None, self.log.read_text()[-3000:]
            text = self.log.read_text(errors="replace")
            if all(f"dispatcher: node {n.sip} up" in text for n in nodes):
                return
            time.sleep(0.3)
        # Said apart: a node that does not answer OPTIONS at all, or a dispatcher that never probed.
        probes = "\n".join(f"{n.sip} answers an OPTIONS of ours with: {options_answer(n)}" for n in nodes)
        text = self.log.read_text(errors="replace")
        said = [line for line in text.splitlines() if re.search(r"dispatcher|ERROR|WARN|CRIT", line)][-20:]
        raise TimeoutError("dispatcher did not see every node answer OPTIONS:\n" + "\n".join([probes, *said]))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def options_answer(node: Node) -> str:
    """The status line a node's Asterisk answers to an OPTIONS sent from a fresh port, or "nothing in 2 s"."""
    port = int(node.server.env["APPLIANCE_SIP_PORT"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        probe.settimeout(2)
        local = probe.getsockname()[1]
        probe.sendto(
            (
                f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-probe\r\n"
                f"From: <sip:probe@127.0.0.1:{local}>;tag=probe\r\nTo: <sip:127.0.0.1:{port}>\r\n"
                f"Call-ID: probe-{local}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            ).encode(),
            ("127.0.0.1", port),
        )
        try:
            return probe.recv(4096).decode(errors="replace").splitlines()[0]
        except TimeoutError:
            return "nothing in 2 s"


def start_node(tmp: Path, name: str, max_calls: int, dispatcher_port: int) -> Node:
    server = ServerProcess(tmp / name, env={"APPLIANCE_MAX_CONCURRENT_CALLS": str(max_calls)}).start()
    with server.client() as api:
        trunk = api.post(
            "/v1/trunks", json={"name": "dispatcher", "host": "127.0.0.1", "port": dispatcher_port, "codecs": ["ulaw"]}
        )
        assert trunk.status_code == 201, trunk.text
        number = api.post("/v1/numbers", json={"e164": DID, "trunk_id": trunk.json()["id"]})
        assert number.status_code == 201, number.text
        agent = api.post(
            "/v1/agents",
            json={"name": f"front desk {name}", "type": "inbound", "number_ids": [number.json()["id"]]},
        )
        assert agent.status_code == 201, agent.text
    return Node(name, server)


def place_calls(dispatcher: Dispatcher, workdir: Path, calls: int, rate: int, hold_ms: int) -> subprocess.Popen:
    """sipp places `calls` calls at `rate` a second through the dispatcher, each held `hold_ms`."""
    log = workdir / f"sipp-{time.monotonic_ns()}.log"
    scenario = workdir / CALLER.name
    scenario.write_text(CALLER.read_text().replace("HOLD_MS", str(hold_ms)))
    cmd = [
        "sipp", f"127.0.0.1:{dispatcher.port}", "-sf", str(scenario), "-s", DID,
        "-i", "127.0.0.1", "-p", str(free_port(socket.SOCK_DGRAM)), "-mp", str(free_port(socket.SOCK_DGRAM)),
        "-m", str(calls), "-l", str(calls), "-r", str(rate), "-rp", "1000",
        "-trace_logs", "-log_file", str(log), "-trace_err", "-trace_msg", "-nostdin", "-timeout", "180s",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def outcomes(proc: subprocess.Popen, calls: int) -> dict[int, str]:
    """Wait for sipp; one outcome per call number: "answered bye 200", "rejected 503", "lost", ..."""
    proc.wait(timeout=240)
    log: Path = proc.log  # type: ignore[attr-defined]
    lines = log.read_text().splitlines() if log.exists() else []
    found = {int(m.group(1)): m.group(2) for line in lines if (m := re.match(r"(\d+) (.+)", line.strip()))}
    # A call sipp aborted (a message its scenario does not expect) has no line: its error log says why. A BYE
    # that came before the scenario's hold (a node whose appliance died just after answering, seen in CI) is the
    # node hanging up: the caller's outcome is that, not a lost call.
    full = "".join(e.read_text(errors="replace") for e in log.parent.glob("*_errors.log"))
    for m in re.finditer(r"call on unexpected message for Call-Id '(\d+)-[^']*'.{0,200}?received 'BYE ", full, re.S):
        found.setdefault(int(m.group(1)), "answered node bye")
    errors = full[-3000:]
    assert sorted(found) == list(range(1, calls + 1)), f"not one outcome per call: {lines}\nsipp errors:\n{errors}"
    return found


def settled(*nodes: Node, timeout: float = 10) -> list[dict]:
    """The nodes' call records once each is closed (or at `timeout`): a node closes a call's record a moment
    after sipp reads the answer to its BYE (records still open were read in CI, in both tests)."""
    deadline = time.monotonic() + timeout
    while True:
        calls = [c for node in nodes for c in node.inbound_calls()]
        if all(c["status"] == "completed" for c in calls) or time.monotonic() > deadline:
            return calls
        time.sleep(0.2)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "kamailio").mkdir()
    return tmp_path / "kamailio"


@pytest.fixture
def cluster(tmp_path: Path, workdir: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Dispatcher, list[Node]]]:
    sizes: tuple[int, int] = request.param
    dispatcher = Dispatcher(workdir)
    nodes: list[Node] = []
    try:
        nodes = [start_node(tmp_path, f"node{i + 1}", size, dispatcher.port) for i, size in enumerate(sizes)]
        # maxload above every node's own limit: a full node is found by its 503, not guessed by the proxy
        dispatcher.start(nodes, maxload=max(sizes) + 10)
        dispatcher.wait_active(nodes)
        yield dispatcher, nodes
    finally:
        dispatcher.stop()
        for node in nodes:
            node.server.stop()


@pytest.mark.parametrize("cluster", [(2, 8)], indirect=True)
def test_calls_spread_by_load_and_a_full_node_hands_over_with_503(
    cluster: tuple[Dispatcher, list[Node]], workdir: Path
) -> None:
    dispatcher, (small, big) = cluster
    sipp = place_calls(dispatcher, workdir, calls=8, rate=4, hold_ms=6000)
    results = outcomes(sipp, 8)
    assert all(o == "answered bye 200" for o in results.values()), results
    # Least-loaded first: the small node got calls until it was full (2), then answered 503 and its
    # next calls went to the big node, which took the other 6.
    assert len(small.inbound_calls()) == 2 and len(big.inbound_calls()) == 6, (
        small.inbound_calls(),
        big.inbound_calls(),
    )
    assert any('"event": "dialer.inbound_full"' in line for line in small.server.output), "no 503 from the full node"
    # Its /metrics told the same: a capacity of 2, and the calls it refused for want of a slot.
    assert small.server.metric("appliance_call_slots") == 2
    assert (small.server.metric("appliance_inbound_refused_total", reason="full") or 0) >= 1
    log = dispatcher.log.read_text(errors="replace")
    assert re.search(rf"-> next node {re.escape(big.sip)} \(previous answered 503\)", log), log[-3000:]
    calls = settled(small, big)
    assert all(c["status"] == "completed" and c["answered_at"] for c in calls), calls


# Room for every call on either node (voice off, so a call costs little): after the kill the survivor
# must take all the rest, so a refusal would be a failure of the failover, not a full box.
@pytest.mark.parametrize("cluster", [(20, 20)], indirect=True)
def test_a_node_killed_mid_run_is_taken_out_and_no_call_is_lost(
    cluster: tuple[Dispatcher, list[Node]], workdir: Path
) -> None:
    dispatcher, (doomed, survivor) = cluster
    sipp = place_calls(dispatcher, workdir, calls=20, rate=2, hold_ms=5000)
    deadline = time.monotonic() + 30
    while len(doomed.inbound_calls()) < 3:  # mid-run: the doomed node is holding calls
        assert time.monotonic() < deadline, "the first node never got calls"
        time.sleep(0.2)
    doomed.kill()
    killed_at = time.monotonic()
    results = outcomes(sipp, 20)

    # Every call answered (its BYE then answered by the node, or 408 from the proxy for the calls the
    # dead node held) or refused with a final SIP answer. None without an answer.
    assert not [n for n, o in results.items() if o == "lost" or o.endswith("none")], results
    answered = [n for n, o in results.items() if o.startswith("answered")]
    refused = [n for n, o in results.items() if o.startswith("rejected")]
    assert len(answered) + len(refused) == 20
    # Each answer is a call one node wrote down; the survivor ended each of its calls.
    # A call the doomed node had written down but not marked answered when it died may have had its 200 OK out
    # (then sipp counts it answered there) or not (the proxy sent it on to the survivor): CI saw both.
    written = doomed.inbound_calls()
    on_doomed = [c for c in written if c["answered_at"] is not None]
    on_survivor = survivor.inbound_calls()
    assert len(on_doomed) + len(on_survivor) <= len(answered) <= len(written) + len(on_survivor), (
        results, written, on_survivor,
    )  # fmt: skip
    on_survivor = settled(survivor)
    assert all(c["status"] == "completed" for c in on_survivor), on_survivor
    # The calls the dead node held lost their node, not their answer: BYE went unanswered (408), or the node's
    # Asterisk, its appliance gone, hung up first (CI saw that just after an answer, before the re-INVITE).
    cut = [n for n, o in results.items() if o in ("answered bye 408", "answered node bye")]
    assert len(on_doomed) <= len(cut) <= len(written), (results, written)
    # Taken out: the proxy marked it inactive (INVITE timeout or failed OPTIONS) and sent on to the survivor.
    log = dispatcher.log.read_text(errors="replace")
    assert f"dispatcher: node {doomed.sip} down" in log, log[-3000:]
    assert len(on_survivor) > 20 // 2, "the survivor did not take the calls after the kill"
    assert time.monotonic() - killed_at < 120
    assert not refused, results  # with a node alive and room on it, nobody is turned away


@pytest.mark.parametrize("cluster", [(20, 20)], indirect=True)
def test_a_node_whose_appliance_died_refuses_with_503_and_the_next_node_answers(
    cluster: tuple[Dispatcher, list[Node]], workdir: Path
) -> None:
    """Its Asterisk lives on and answers OPTIONS, so the proxy still sends it calls: they must come back 503 (the
    dialplan after a Stasis() that found no appliance), which the proxy passes on, not 603, which ends the call."""
    dispatcher, (orphaned, survivor) = cluster
    asterisk = orphaned.asterisk_pid
    orphaned.server.stop(signal.SIGKILL)
    try:
        results = outcomes(place_calls(dispatcher, workdir, calls=4, rate=2, hold_ms=1000), 4)
    finally:
        os.kill(asterisk, signal.SIGKILL)
    assert all(o == "answered bye 200" for o in results.values()), results
    assert len(settled(survivor)) == 4
    log = dispatcher.log.read_text(errors="replace")
    assert re.search(rf"-> next node {re.escape(survivor.sip)} \(previous answered 503\)", log), log[-3000:]
