"""RTP packets (RFC 3550 §5.1): pure parse/build functions for the externalMedia leg.

Own struct code rather than aiortc's `RtpPacket`: the header is 12 fixed bytes, and aiortc would
bring ICE, SRTP and OpenSSL into the appliance to parse them. Asterisk's chan_rtp sends no CSRC and
no extension, but we still honour CC, X and P so a stray packet can never shift the payload.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

RTP_VERSION = 2
PT_PCMU = 0  # G.711 µ-law, static payload type: the only kind Asterisk accepts back on UnicastRTP
HEADER_SIZE = 12
_HEADER = struct.Struct("!BBHII")
_EXTENSION = struct.Struct("!HH")


class RtpError(ValueError):
    """A datagram that is not a well-formed RTP packet."""


class RtpPacket(NamedTuple):
    """One parsed packet; `payload` excludes header, CSRCs, extension and padding."""

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse a datagram; raise `RtpError` when the version, lengths or padding are wrong."""
    if len(data) < HEADER_SIZE:
        raise RtpError(f"packet too short: {len(data)} bytes")
    b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
    if b0 >> 6 != RTP_VERSION:
        raise RtpError(f"RTP version {b0 >> 6}")
    start = HEADER_SIZE + 4 * (b0 & 0x0F)  # CSRC list
    if b0 & 0x10:  # header extension: 4-byte profile/length word, then length 32-bit words
        if len(data) < start + 4:
            raise RtpError("truncated header extension")
        _profile, words = _EXTENSION.unpack_from(data, start)
        start += 4 + 4 * words
    end = len(data)
    if b0 & 0x20:  # padding: the last byte counts the padding bytes, itself included
        pad = data[-1]
        if pad == 0 or end - pad < start:
            raise RtpError("bad padding")
        end -= pad
    if start > end:
        raise RtpError("header longer than packet")
    return RtpPacket(b1 & 0x7F, seq, ts, ssrc, bool(b1 & 0x80), data[start:end])


def build_rtp(
    payload_type: int, sequence_number: int, timestamp: int, ssrc: int, payload: bytes, marker: bool = False
) -> bytes:
    """Build a packet with a plain 12-byte header (no CSRC, extension or padding)."""
    b1 = (0x80 if marker else 0) | (payload_type & 0x7F)
    return (
        _HEADER.pack(RTP_VERSION << 6, b1, sequence_number & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF)
        + payload
    )


def sequence_gap(previous: int, current: int) -> int:
    """Packets missing between two sequence numbers, modulo 2^16 (0 when consecutive).

    Negative for a late or duplicate packet (within half the sequence space)."""
    delta = (current - previous) & 0xFFFF
    if delta >= 0x8000:
        return delta - 0x10000 - 1
    return delta - 1
