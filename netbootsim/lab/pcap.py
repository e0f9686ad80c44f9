"""Packets of a lab capture, decoded into DHCP exchanges, TFTP transfers and TCP connections.

Reads ``capture.pcap`` (or ``capture.pcap.gz``) with `dpkt <https://dpkt.readthedocs.io>`_
and keeps only what the timing analysis needs. Captures may be cut short by tcpdump's
``snaplen``: every length used here comes from the headers (IP total length, UDP
length), never from the captured bytes, so a capture taken with ``snaplen: 300``
(enough for the DHCP message type, option 53 at byte 284 of the frame) or even
``snaplen: 128`` gives the same byte counts and block numbers. DHCP packets cut
before option 53 get their type from the BOOTP opcode and their place in the exchange.

All times are seconds since ``t0`` (the wall-clock start of the run), so they share
the time base of the console logs.
"""

from __future__ import annotations

import bisect
import gzip
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

__all__ = ["DhcpPacket", "TftpTransfer", "TcpConn", "HttpExchange", "Capture", "read_capture",
           "TLS_ALERT", "TLS_CCS", "TLS_DATA", "TLS_HANDSHAKE", "TlsRecord", "byte_time",
           "tcp_stream", "tls_records"]

_DHCP_TYPES = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK",
               7: "RELEASE", 8: "INFORM"}
_TFTP_RRQ, _TFTP_DATA, _TFTP_ACK, _TFTP_ERROR, _TFTP_OACK = 1, 3, 4, 5, 6


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


@dataclass
class DhcpPacket:
    """One BOOTP/DHCP packet.

    Attributes:
        t: capture time (s since the run start).
        op: 1 BOOTREQUEST (client), 2 BOOTREPLY (server).
        xid: transaction id (iPXE keeps one per DHCP session: DISCOVER and REQUEST share it).
        chaddr: client MAC from the BOOTP header.
        yiaddr: "your" address of a reply.
        kind: DHCP message type (``DISCOVER`` ...) or ``""`` when option 53 was not captured.
    """

    t: float
    op: int
    xid: int
    chaddr: str
    yiaddr: str
    kind: str


@dataclass
class TftpTransfer:
    """One TFTP transfer as the server opened it: one server port (TID) answering one RRQ.

    Attributes:
        client: ``(ip, port)`` of the client.
        server: ``(ip, port)``: the server's transfer port.
        filename: from the RRQ.
        rrq_times: times of every RRQ the client sent for this (ip, port); shared by
            all transfers the server opened for these copies.
        oack_times: OACKs sent on this TID (retransmissions included).
        options: options of the first OACK (e.g. ``{"blksize": "1432", "tsize": ...}``).
        data: ``(t, block, payload bytes)`` of every DATA packet, in capture order.
        acks: ``(t, block)`` of every ACK from the client to this TID.
        errors: ``(t, code, message)`` of ERROR packets on this TID (either side).
    """

    client: tuple[str, int]
    server: tuple[str, int]
    filename: str = ""
    rrq_times: list[float] = field(default_factory=list)
    oack_times: list[float] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    data: list[tuple[float, int, int]] = field(default_factory=list)
    acks: list[tuple[float, int]] = field(default_factory=list)
    errors: list[tuple[float, int, str]] = field(default_factory=list)


@dataclass
class TcpSegment:
    """One TCP segment.

    Time, direction (``from_client``), flags, seq, ack, raw window, payload length
    (from the IP header), the captured part of the payload and the TCP options.
    """

    t: float
    from_client: bool
    flags: int
    seq: int
    ack: int
    win: int
    plen: int
    head: bytes
    opts: dict[int, bytes]


@dataclass
class TcpConn:
    """One TCP connection, from the client's SYN on.

    Attributes:
        client: ``(ip, port)``; ``server``: ``(ip, port)``; ``client_mac``: from Ethernet.
        segments: every segment of the connection, in capture order.
    """

    client: tuple[str, int]
    server: tuple[str, int]
    client_mac: str
    segments: list[TcpSegment] = field(default_factory=list)


@dataclass
class HttpExchange:
    """One HTTP request and its response on a connection (no pipelining in iPXE).

    Attributes:
        method, path: from the request line.
        t_request: first capture of the segment carrying the request line.
        data: ``(t, payload bytes, retransmitted)`` of the server's data segments.
        header_len: bytes of the response head (``-1`` when not captured).
        content_length: from the response head (``-1`` when not captured).
    """

    method: str
    path: str
    t_request: float
    data: list[tuple[float, int, bool]] = field(default_factory=list)
    header_len: int = -1
    content_length: int = -1


@dataclass
class Capture:
    """Everything decoded from one capture.

    Attributes:
        dhcp: DHCP packets in capture order.
        tftp: TFTP transfers, by first packet time.
        tftp_rrqs: client ``(ip, port)`` → (file name, times of every RRQ copy), also
            for requests no transfer ever answered.
        tcp: TCP connections, by SYN time.
        ip_of_mac: first address seen from each MAC (Ethernet source with IPv4 source).
        packets: IPv4 packets read.
    """

    dhcp: list[DhcpPacket]
    tftp: list[TftpTransfer]
    tftp_rrqs: dict[tuple[str, int], tuple[str, list[float]]]
    tcp: list[TcpConn]
    ip_of_mac: dict[str, str]
    packets: int


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115


def _frames(path: Path) -> Iterator[tuple[float, bytes]]:
    with _open(path) as f:
        yield from dpkt.pcap.Reader(f)


def _dhcp(t: float, udp_payload: bytes) -> DhcpPacket | None:
    if len(udp_payload) < 34:
        return None
    op = udp_payload[0]
    xid = struct.unpack("!I", udp_payload[4:8])[0]
    yiaddr = socket.inet_ntoa(udp_payload[16:20])
    chaddr = _mac(udp_payload[28:34])
    kind = ""
    opts = udp_payload[240:] if udp_payload[236:240] == b"\x63\x82\x53\x63" else b""
    i = 0
    while i + 1 < len(opts):
        code = opts[i]
        if code == 0:
            i += 1
            continue
        if code == 255:
            break
        n = opts[i + 1]
        if code == 53 and i + 2 < len(opts):
            kind = _DHCP_TYPES.get(opts[i + 2], str(opts[i + 2]))
            break
        i += 2 + n
    return DhcpPacket(t, op, xid, chaddr, yiaddr, kind)


def _infer_dhcp_kinds(packets: list[DhcpPacket]) -> None:
    """Fill in DHCP types that were not captured.

    Per (client, xid): requests before the first reply are DISCOVERs, later ones
    REQUESTs; replies before the first REQUEST are OFFERs, later ones ACKs.
    """
    replied: set[tuple[str, int]] = set()
    requested: set[tuple[str, int]] = set()
    for p in packets:
        key = (p.chaddr, p.xid)
        if p.op == 1:
            if not p.kind:
                p.kind = "REQUEST" if key in replied else "DISCOVER"
            if p.kind == "REQUEST":
                requested.add(key)
        elif p.op == 2:
            if not p.kind:
                p.kind = "ACK" if key in requested else "OFFER"
            replied.add(key)


def _cstrings(raw: bytes) -> list[str]:
    return [s.decode("ascii", "replace") for s in raw.split(b"\0")]


def read_capture(path: str | Path, t0: float, server_ip: str) -> Capture:
    """Decode a lab capture.

    Args:
        path: ``capture.pcap`` or ``capture.pcap.gz``.
        t0: wall-clock (Unix) time of the run start; subtracted from every timestamp.
        server_ip: the lab server (DHCP, TFTP and HTTP) address.

    Returns:
        The decoded :class:`Capture`.
    """
    dhcp: list[DhcpPacket] = []
    tftp: dict[tuple, TftpTransfer] = {}
    rrqs: dict[tuple[str, int], tuple[str, list[float]]] = {}
    tcp: dict[tuple, TcpConn] = {}
    ip_of_mac: dict[str, str] = {}
    count = 0
    for ts, buf in _frames(Path(path)):
        t = float(ts) - t0
        if len(buf) < 34 or buf[12:14] != b"\x08\x00":
            continue  # not IPv4 (ARP, IPv6 router advertisements, ...)
        raw = buf[14:]
        hl, proto = (raw[0] & 0x0F) * 4, raw[9]
        total = struct.unpack("!H", raw[2:4])[0]
        count += 1
        src, dst = socket.inet_ntoa(raw[12:16]), socket.inet_ntoa(raw[16:20])
        smac = _mac(buf[6:12])
        if src != "0.0.0.0":
            ip_of_mac.setdefault(smac, src)
        body = raw[hl:total]  # the captured part of the IP payload
        if proto == dpkt.ip.IP_PROTO_UDP and len(body) >= 8:
            sport, dport, ulen = struct.unpack("!HHH", body[:6])
            payload, plen = body[8:ulen], ulen - 8
            if {sport, dport} == {67, 68}:
                if (p := _dhcp(t, payload)) is not None:
                    dhcp.append(p)
            elif len(payload) >= 2:
                _tftp(t, src, sport, dst, dport, payload, plen, server_ip, tftp, rrqs)
        elif proto == dpkt.ip.IP_PROTO_TCP and len(body) >= 20:
            _tcp(t, smac, src, dst, total - hl, body, server_ip, tcp)
    _infer_dhcp_kinds(dhcp)
    for tr in tftp.values():
        tr.filename, tr.rrq_times = rrqs.get(tr.client, ("", []))
    return Capture(dhcp, sorted(tftp.values(), key=_first_time), rrqs,
                   sorted(tcp.values(), key=lambda c: c.segments[0].t), ip_of_mac, count)


def _first_time(tr: TftpTransfer) -> float:
    times = tr.oack_times + [d[0] for d in tr.data[:1]] + [a[0] for a in tr.acks[:1]]
    return min(times) if times else float("inf")


def _tftp(t: float, src: str, sport: int, dst: str, dport: int, payload: bytes, plen: int,
          server_ip: str, transfers: dict, rrqs: dict) -> None:
    op = struct.unpack("!H", payload[:2])[0]
    if op == _TFTP_RRQ and dst == server_ip and dport == 69:
        parts = _cstrings(payload[2:])
        name, times = rrqs.setdefault((src, sport), (parts[0], []))
        times.append(t)
        return
    if src == server_ip and sport != 69:
        key, from_server = ((dst, dport), (src, sport)), True
    elif dst == server_ip and dport != 69:
        key, from_server = ((src, sport), (dst, dport)), False
    else:
        return
    if key not in transfers:
        if op not in (_TFTP_OACK, _TFTP_DATA, _TFTP_ERROR):
            return  # a stray ACK for a TID never seen opening: not a transfer of ours
        transfers[key] = TftpTransfer(client=key[0], server=key[1])
    tr = transfers[key]
    if op == _TFTP_DATA and from_server and len(payload) >= 4:
        tr.data.append((t, struct.unpack("!H", payload[2:4])[0], plen - 4))
    elif op == _TFTP_ACK and not from_server and len(payload) >= 4:
        tr.acks.append((t, struct.unpack("!H", payload[2:4])[0]))
    elif op == _TFTP_OACK and from_server:
        tr.oack_times.append(t)
        if not tr.options:
            parts = _cstrings(payload[2:])
            tr.options = {parts[i].lower(): parts[i + 1] for i in range(0, len(parts) - 1, 2)
                          if parts[i]}
    elif op == _TFTP_ERROR and len(payload) >= 4:
        msg = _cstrings(payload[4:])[0]
        tr.errors.append((t, struct.unpack("!H", payload[2:4])[0], msg))


def _tcp(t: float, smac: str, src: str, dst: str, plen: int, body: bytes, server_ip: str,
         conns: dict) -> None:
    sport, dport, seq, ack, off_flags, win = struct.unpack("!HHIIHH", body[:16])
    off = (off_flags >> 12) * 4
    flags = off_flags & 0x1FF
    if dst == server_ip:
        key, from_client = (src, sport, dst, dport), True
    elif src == server_ip:
        key, from_client = (dst, dport, src, sport), False
    else:
        return
    if flags & dpkt.tcp.TH_SYN and not flags & dpkt.tcp.TH_ACK and from_client:
        conns[key] = TcpConn((src, sport), (dst, dport), smac)
    conn = conns.get(key)
    if conn is None:
        return  # connection opened before the capture started
    opts = {o: v for o, v in dpkt.tcp.parse_opts(body[20:off])} if off > 20 else {}
    conn.segments.append(TcpSegment(t, from_client, flags, seq, ack, win, plen - off,
                                    body[off:], opts))


def http_exchanges(conn: TcpConn) -> list[HttpExchange]:
    """Split a connection into request/response exchanges.

    A request is a client segment whose payload starts with an HTTP method (first
    capture of that sequence number); its response is every server data segment after
    it and before the next request. A server segment adding no new bytes to the
    stream (its end at or below the highest end seen) counts as a retransmission.
    """
    out: list[HttpExchange] = []
    seen_req: set[int] = set()
    high = None
    for s in conn.segments:
        if s.plen <= 0:
            continue
        if s.from_client:
            word = s.head.split(b" ", 1)[0]
            if word in (b"GET", b"HEAD", b"POST") and s.seq not in seen_req:
                seen_req.add(s.seq)
                line = s.head.split(b"\r\n", 1)[0].decode("ascii", "replace").split(" ")
                out.append(HttpExchange(line[0], line[1] if len(line) > 1 else "", s.t))
            continue
        if not out:
            continue
        end = (s.seq + s.plen) & 0xFFFFFFFF
        retrans = high is not None and ((end - high) & 0xFFFFFFFF) >= 0x80000000 or end == high
        if not retrans:
            high = end
        ex = out[-1]
        if not ex.data and b"\r\n\r\n" in s.head:
            head, _ = s.head.split(b"\r\n\r\n", 1)
            ex.header_len = len(head) + 4
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    ex.content_length = int(line.split(b":", 1)[1])
        ex.data.append((s.t, s.plen, retrans))
    return out


#: TLS record content types (RFC 5246 §6.2.1 [rfc5246])
TLS_CCS, TLS_ALERT, TLS_HANDSHAKE, TLS_DATA = 20, 21, 22, 23


@dataclass
class TlsRecord:
    """One TLS record of one direction: its first byte's and last byte's capture times.

    Attributes:
        from_client: its direction.
        kind: content type (:data:`TLS_HANDSHAKE`, :data:`TLS_DATA`, ...).
        length: the record's payload length (from its 5-byte header, never encrypted).
        t_first, t_last: capture times of the segments carrying its first and last byte.
    """

    from_client: bool
    kind: int
    length: int
    t_first: float
    t_last: float


def tls_records(conn: TcpConn) -> list[TlsRecord]:
    """The TLS records of a connection, both directions, in order of their first byte.

    Each direction's byte stream is rebuilt from its segments by sequence number (a
    retransmitted byte counts when it is first seen); the records are read from their
    headers (type, version, length: RFC 5246 §6.2.1 [rfc5246]), which TLS never
    encrypts. A stream cut short (payload not captured, snaplen) ends the records of its
    direction at the first byte missing.
    """
    out: list[TlsRecord] = []
    for side in (True, False):
        stream, starts, times = tcp_stream(conn, side)
        i = 0
        while i + 5 <= len(stream):
            kind, length = stream[i], int.from_bytes(stream[i + 3:i + 5], "big")
            if i + 5 + length > len(stream):
                break
            out.append(TlsRecord(side, kind, length, byte_time(starts, times, i),
                                 byte_time(starts, times, i + 4 + length)))
            i += 5 + length
    return sorted(out, key=lambda r: r.t_first)


def tcp_stream(conn: TcpConn, from_client: bool) -> tuple[bytes, list[int], list[float]]:
    """One direction's byte stream, rebuilt from its segments by sequence number.

    Segments are taken in stream order (by offset, then capture time), so a segment
    retransmitted after later ones fills its gap; each byte is timed by the first
    segment, in that order, that carried it. The stream ends at the first byte no
    segment carried (not captured: snaplen, or lost and never sent again).

    Returns:
        ``(stream, starts, times)``: the bytes, the stream offset where each segment's
        new bytes begin and that segment's capture time (:func:`byte_time` reads them).
    """
    segs = [s for s in conn.segments if s.from_client == from_client]
    stream = bytearray()
    starts: list[int] = []
    times: list[float] = []
    syn = next((s for s in segs if s.flags & 0x02), None)
    if syn is None:
        return bytes(stream), starts, times
    isn = (syn.seq + 1) & 0xFFFFFFFF
    pieces = sorted(((s.seq - isn) & 0xFFFFFFFF, s.t, s.head) for s in segs
                    if s.plen > 0 and s.head)
    for off, t, head in pieces:
        if off > len(stream):
            break  # a hole no segment fills
        new = head[len(stream) - off:]
        if new:
            starts.append(len(stream))
            times.append(t)
            stream += new
    return bytes(stream), starts, times


def byte_time(starts: list[int], times: list[float], byte: int) -> float:
    """Capture time of stream offset ``byte`` (the segment that first carried it)."""
    return times[bisect.bisect_right(starts, byte) - 1]
