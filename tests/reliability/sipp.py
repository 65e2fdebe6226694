"""sipp (Debian's sip-tester) as a third-party SIP client: one request, the final response it must get.

Each run builds a small scenario (INVITE or REGISTER, optionally answering a digest challenge) and
returns the SIP status codes the far end sent, read from sipp's message trace.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

SDP = """v=0
o=sipp 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio [media_port] RTP/AVP {payloads}
{rtpmaps}"""
RTPMAPS = {"0": "a=rtpmap:0 PCMU/8000", "8": "a=rtpmap:8 PCMA/8000", "3": "a=rtpmap:3 GSM/8000",
           "9": "a=rtpmap:9 G722/8000", "18": "a=rtpmap:18 G729/8000"}  # fmt: skip


@dataclass
class SipResult:
    returncode: int
    codes: list[int]  # every status code received, in order
    trace: str

    @property
    def final(self) -> int | None:
        finals = [c for c in self.codes if c >= 200]
        return finals[-1] if finals else None


def request(method: str, user: str, cseq: int, *, payloads: str = "0", credentials: bool = False) -> str:
    """A request as sipp sends it (with `credentials`: the retry that answers a digest challenge)."""
    body = ""
    if method == "INVITE":
        pts = payloads.split()
        body = SDP.format(payloads=" ".join(pts), rtpmaps="\n".join(RTPMAPS[p] for p in pts))
    caller = user if method == "REGISTER" else "sipp"
    headers = [
        f"{method} sip:{user}@[remote_ip]:[remote_port] SIP/2.0",
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
        f"From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]",
        f"To: <sip:{user}@[remote_ip]:[remote_port]>",
        "Call-ID: [call_id]",
        f"CSeq: {cseq} {method}",
        "Contact: <sip:sipp@[local_ip]:[local_port]>",
        "Max-Forwards: 70",
    ]
    if method == "REGISTER":
        headers.append("Expires: 120")
    if credentials:
        headers.append("[authentication]")
    if body:
        headers.append("Content-Type: application/sdp")
    headers.append("Content-Length: [len]")
    return "\n".join(headers) + "\n\n" + body


def ack(user: str, cseq: int) -> str:
    """The ACK of a non-2xx final response: same branch (the INVITE's Via), same CSeq number."""
    return f"""ACK sip:{user}@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
CSeq: {cseq} ACK
Max-Forwards: 70
Content-Length: 0

"""


PROVISIONAL = '<recv response="100" optional="true"/><recv response="180" optional="true"/>' + (
    '<recv response="183" optional="true"/>'
)


def scenario(method: str, user: str, expect: int, *, password: str | None = None, payloads: str = "0") -> str:
    """A sipp scenario: send `method`; with `password`, answer a 401 with digest credentials; expect `expect`."""

    def send(text: str) -> str:
        return f'<send retrans="500"><![CDATA[\n{text}\n]]></send>'

    steps = [send(request(method, user, 1, payloads=payloads))]
    cseq = 1
    if password is not None:
        steps += [PROVISIONAL, '<recv response="401" auth="true"/>']
        if method == "INVITE":
            steps.append(f"<send><![CDATA[\n{ack(user, 1)}\n]]></send>")
        cseq = 2
        steps.append(send(request(method, user, cseq, payloads=payloads, credentials=True)))
    steps += [PROVISIONAL, f'<recv response="{expect}"/>']
    if method == "INVITE" and expect >= 300:
        steps.append(f"<send><![CDATA[\n{ack(user, cseq)}\n]]></send>")
    body = "\n".join(steps)
    return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{method} {user}">\n{body}\n</scenario>\n'


def run(
    workdir: Path,
    target: str,
    method: str,
    user: str,
    expect: int,
    *,
    local_port: int,
    auth_user: str | None = None,
    password: str | None = None,
    payloads: str = "0",
    calls: int = 1,
    rate: int = 10,
    timeout: int = 20,
    local_ip: str = "127.0.0.1",
) -> SipResult:
    """Run sipp once against `target` ("127.0.0.1:5060") from `local_ip`:`local_port`."""
    name = re.sub(r"\W", "_", f"{method}_{user}_{expect}_{local_ip}_{local_port}")
    xml = workdir / f"{name}.xml"
    xml.write_text(scenario(method, user, expect, password=password, payloads=payloads))
    trace = workdir / f"{name}.messages"
    args = ["sipp", target, "-sf", str(xml), "-i", local_ip, "-p", str(local_port), "-m", str(calls),
            "-r", str(rate), "-l", str(max(1, rate)), "-timeout", f"{timeout}s", "-timeout_error",
            "-trace_msg", "-message_file", str(trace), "-nostdin"]  # fmt: skip
    if password is not None:
        args += ["-au", auth_user or user, "-ap", password]
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 30)
    text = trace.read_text(errors="replace") if trace.exists() else ""
    codes = [int(c) for c in re.findall(r"^SIP/2\.0 (\d{3}) ", text, re.M)]
    return SipResult(done.returncode, codes, text)
