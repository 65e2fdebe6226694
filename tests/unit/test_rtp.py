"""RTP packets, G.711 µ-law and the 20 ms pacing math, with bytes and a fake clock (no sockets)."""

from __future__ import annotations

import math
import struct

import pytest

from appliance.telephony.g711 import ULAW_SILENCE, ulaw_decode, ulaw_encode
from appliance.telephony.pacing import Pacer, next_deadline, resume_timestamp
from appliance.telephony.rtp import PT_PCMU, RtpError, build_rtp, parse_rtp, sequence_gap
from appliance.voice.call_audio import FRAME_SECONDS

# --- RTP ------------------------------------------------------------------------------------------


def test_build_writes_the_rfc3550_header() -> None:
    pkt = build_rtp(PT_PCMU, 1, 160, 0x12345678, b"\xff" * 160, marker=True)
    assert pkt[:12] == bytes.fromhex("80 80 0001 000000a0 12345678")
    assert len(pkt) == 172


def test_parse_roundtrips_build() -> None:
    payload = bytes(range(160))
    pkt = parse_rtp(build_rtp(PT_PCMU, 65535, 0xFFFFFFFF, 7, payload))
    assert pkt == (PT_PCMU, 65535, 0xFFFFFFFF, 7, False, payload)


def test_build_wraps_sequence_and_timestamp() -> None:
    pkt = parse_rtp(build_rtp(PT_PCMU, 65536 + 3, 2**32 + 5, 2**32 + 9, b""))
    assert (pkt.sequence_number, pkt.timestamp, pkt.ssrc) == (3, 5, 9)


def test_parse_skips_csrcs_extension_and_padding() -> None:
    b0 = 0x80 | 0x20 | 0x10 | 2  # V=2, P, X, CC=2
    header = struct.pack("!BBHII", b0, 0x80 | 8, 10, 20, 30)
    csrcs = struct.pack("!II", 1, 2)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x00\x00\x00\x00"
    payload = b"abc"
    padding = b"\x00\x00\x03"
    pkt = parse_rtp(header + csrcs + extension + payload + padding)
    assert pkt.payload == payload and pkt.payload_type == 8 and pkt.marker


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x00\x00",  # shorter than a header
        bytes([0x40]) + b"\x00" * 11,  # version 1
        bytes([0x81]) + b"\x00" * 11,  # CC=1 but no CSRC
        bytes([0x90]) + b"\x00" * 11 + b"\x00\x00",  # X but no extension word
        bytes([0xA0]) + b"\x00" * 11 + b"\x00",  # padding count 0
        bytes([0xA0]) + b"\x00" * 11 + b"\x09",  # padding longer than the payload
    ],
)
def test_parse_rejects_malformed_packets(data: bytes) -> None:
    with pytest.raises(RtpError):
        parse_rtp(data)


@pytest.mark.parametrize(
    ("previous", "current", "gap"),
    [(1, 2, 0), (1, 4, 2), (65535, 0, 0), (65534, 1, 2), (5, 5, -1), (6, 5, -2)],
)
def test_sequence_gap_handles_wraparound(previous: int, current: int, gap: int) -> None:
    assert sequence_gap(previous, current) == gap


# --- G.711 µ-law ----------------------------------------------------------------------------------


def reference_ulaw_encode(sample: int) -> int:
    """G.711 µ-law as in Sun's reference g711.c (14-bit magnitude, bias 0x21, clip 8159, inverted bits)."""
    value = sample >> 2
    mask = 0x7F if value < 0 else 0xFF
    value = min(abs(value), 8159) + 0x21
    segment = max(0, value.bit_length() - 6)
    if segment > 7:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


def pcm(samples: list[int]) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def samples(data: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(data) // 2}h", data))


def test_ulaw_matches_the_g711_reference() -> None:
    values = list(range(-32768, 32768, 7))
    assert list(ulaw_encode(pcm(values))) == [reference_ulaw_encode(v) for v in values]


def test_ulaw_known_codes() -> None:
    assert ulaw_encode(pcm([0])) == bytes([ULAW_SILENCE])
    assert samples(ulaw_decode(bytes([0xFF, 0x00, 0x80]))) == [0, -32124, 32124]


def test_every_ulaw_code_survives_decode_then_encode() -> None:
    codes = bytes(range(256))
    again = ulaw_encode(ulaw_decode(codes))
    # 0x7F is "negative zero": it decodes to 0, which encodes as 0xFF.
    assert [c for c, d in zip(codes, again, strict=True) if c != d] == [0x7F]


def test_ulaw_roundtrip_error_is_within_g711_quantisation() -> None:
    tone = [int(12000 * math.sin(2 * math.pi * 1000 * n / 8000)) for n in range(800)]
    back = samples(ulaw_decode(ulaw_encode(pcm(tone))))
    for a, b in zip(tone, back, strict=True):
        assert abs(a - b) <= max(4, abs(a) // 16)  # µ-law steps are 1/16 of the segment


def test_ulaw_sizes() -> None:
    assert len(ulaw_encode(b"\x00\x00" * 160)) == 160
    assert len(ulaw_decode(b"\xff" * 160)) == 320


# --- pacing ---------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_deadlines_do_not_accumulate_wakeup_jitter() -> None:
    deadline = 10.0
    for n in range(1, 501):
        woke_late = deadline + 0.004 * (n % 3)  # the loop wakes 0-8 ms late each time
        deadline = next_deadline(deadline, woke_late)
        assert deadline == pytest.approx(10.0 + n * FRAME_SECONDS, abs=1e-9)


def test_a_stalled_loop_restarts_the_clock_instead_of_bursting() -> None:
    assert next_deadline(10.0, 10.1) == pytest.approx(10.02)  # 80 ms behind: catch up
    assert next_deadline(10.0, 10.5) == 10.5  # 480 ms behind: resync, no burst


def test_pacer_with_a_controllable_clock() -> None:
    clock = FakeClock(100.0)
    pacer = Pacer(clock=clock)
    assert pacer.resume() == 100.0
    assert pacer.delay() == 0.0
    sent_at = []
    for _ in range(5):
        clock.now = max(clock.now, pacer.deadline) + 0.003  # "sleep" until the deadline, wake 3 ms late
        sent_at.append(pacer.deadline)
        pacer.advance()
    assert sent_at == pytest.approx([100.0, 100.02, 100.04, 100.06, 100.08])
    assert pacer.delay() == pytest.approx(100.1 - clock.now)
    clock.now = 101.0  # stalled for almost a second
    pacer.advance()
    assert pacer.deadline == 101.0 and pacer.resyncs == 1


def test_pacer_resume_keeps_the_cadence_after_a_short_underrun() -> None:
    clock = FakeClock(100.0)
    pacer = Pacer(clock=clock)
    pacer.resume()
    pacer.advance()  # next frame due at 100.02
    clock.now = 100.005  # new audio arrives early
    assert pacer.resume() == pytest.approx(100.02)
    clock.now = 105.0  # after a long pause the first frame goes at once
    assert pacer.resume() == 105.0


def test_resume_timestamp_follows_the_sampling_clock() -> None:
    assert resume_timestamp(1000, last_deadline=5.0, now=5.0) == 1000
    assert resume_timestamp(1000, last_deadline=5.0, now=6.0) == 1000 + 50 * 160  # one second of silence
    assert resume_timestamp(2**32 - 160, last_deadline=5.0, now=5.02) == 0  # wraps
    assert resume_timestamp(1000, last_deadline=5.0, now=4.99) == 1000  # resumed before the planned slot
