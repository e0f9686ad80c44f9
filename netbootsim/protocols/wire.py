"""Bytes on the wire: header and framing overheads, in one place.

Every rate in netbootsim is in bytes per second *on the wire*, counted the way a
link is occupied: payload plus transport, IP and Ethernet headers, the frame check
sequence, preamble and inter-frame gap. Transfer models turn a payload size into
wire bytes with these constants, so that the line-rate bound of a link is exact.
"""

from __future__ import annotations

import math

__all__ = [
    "ETHERNET_OVERHEAD",
    "IPV4_HEADER",
    "UDP_HEADER",
    "TCP_HEADER",
    "TCP_TIMESTAMP_OPTION",
    "TFTP_DATA_HEADER",
    "TFTP_FRAME_OVERHEAD",
    "TCP_FRAME_OVERHEAD",
    "ETHERNET_MTU",
    "tcp_wire_bytes",
]

#: Ethernet header 14 + FCS 4 + preamble/SFD 8 + minimum inter-frame gap 12 bytes
#: (IEEE 802.3 clauses 3.1.1 and 4.4.2): link time a frame occupies beyond its L3 packet.
ETHERNET_OVERHEAD = 38
#: IPv4 header without options (RFC 791 [rfc791]).
IPV4_HEADER = 20
#: UDP header (RFC 768 [rfc768]).
UDP_HEADER = 8
#: TCP header without options (RFC 9293 [rfc9293]).
TCP_HEADER = 20
#: TCP timestamp option, 10 bytes padded to 12 (RFC 7323 [rfc7323]); Linux senders use it and iPXE
#: echoes it when offered (net/tcp.c:713-731 [ipxe-src]).
TCP_TIMESTAMP_OPTION = 12
#: TFTP DATA opcode 2 + block number 2 (RFC 1350 §5 [rfc1350]).
TFTP_DATA_HEADER = 4
#: Largest IPv4 packet on standard Ethernet.
ETHERNET_MTU = 1500

#: Wire bytes a TFTP DATA frame adds to its payload: 4 + 8 + 20 + 38 = 70.
TFTP_FRAME_OVERHEAD = TFTP_DATA_HEADER + UDP_HEADER + IPV4_HEADER + ETHERNET_OVERHEAD
#: Wire bytes a TCP segment (with timestamps) adds to its payload: 20 + 12 + 20 + 38 = 90.
TCP_FRAME_OVERHEAD = TCP_HEADER + TCP_TIMESTAMP_OPTION + IPV4_HEADER + ETHERNET_OVERHEAD


def tcp_wire_bytes(payload: float, mss: int) -> float:
    """Wire bytes of ``payload`` bytes sent as TCP segments of at most ``mss`` payload bytes."""
    if payload <= 0:
        return 0.0
    return payload + math.ceil(payload / mss) * TCP_FRAME_OVERHEAD
