"""How PJSIP identifies a trunk's INVITEs: its host from any port plus its inbound addresses; only a host shared
with another peer (the loopback carrier's 127.0.0.1) is told apart by port."""

from __future__ import annotations

from typing import Any

from appliance.telephony.trunk_config import TrunkConfig, shared_hosts


def trunk(host: str, port: int = 5060, **extra: Any) -> TrunkConfig:
    name = host.replace(".", "-")
    row = {"id": f"t-{name}-{port}", "host": host, "port": port, "transport": "udp", "register": 0,
           "codecs": ["ulaw"], "builtin": 0, **extra}  # fmt: skip
    return TrunkConfig.from_row(row)


def test_a_trunk_is_identified_by_its_host_from_any_port_and_its_inbound_addresses() -> None:
    lab = trunk("127.0.0.2", 5090, inbound_addresses=["127.0.0.3", "198.51.100.0/24"])
    carrier = trunk("sip.example.net")
    trunks = [lab, carrier, trunk("127.0.0.1", 5062, builtin=1)]
    shared = shared_hosts(trunks, carrier=True)
    assert lab.match(shared) == "127.0.0.2,127.0.0.3,198.51.100.0/24"
    assert carrier.match(shared) == "sip.example.net"  # Asterisk resolves it: each of its addresses, any port


def test_hosts_shared_by_two_peers_are_told_apart_by_port() -> None:
    loopback, phone = trunk("127.0.0.1", 5062, builtin=1), trunk("127.0.0.1", 5090)
    twins = [trunk("192.0.2.5", 5060), trunk("192.0.2.5", 5070)]
    shared = shared_hosts([loopback, phone, *twins], carrier=True)
    assert (loopback.match(shared), phone.match(shared)) == ("127.0.0.1:5062", "127.0.0.1:5090")
    assert [t.match(shared) for t in twins] == ["192.0.2.5:5060", "192.0.2.5:5070"]
    assert phone.match(shared_hosts([phone], carrier=False)) == "127.0.0.1"  # no carrier: nobody to share with
