"""TCP and HTTP: handshake, slow start, window limit, Mathis bound; HTTP on top.

The law (fluid, per round trip), used by the flow engine and documented once here.
A sender (the mirror: Linux) starts with ``IW = init_cwnd × MSS`` payload bytes
and doubles its window every round trip ``R`` (slow start, RFC 5681 [rfc5681] with byte
counting) until it reaches the receiver's window ``rwnd`` (iPXE's, from the
firmware profile). During round ``k`` the flow's bound is

    bound_k = min(IW × 2^k, rwnd) × φ / R,   φ = (MSS + 90) / MSS

in wire bytes per second (90 bytes of TCP/IP/Ethernet framing per segment,
:mod:`netbootsim.protocols.wire`), and never above the Mathis et al. (1997) loss
bound ``φ × MSS / R × sqrt(3/2) / sqrt(p)``. After slow start the bound stays at
``min(rwnd × φ / R, Mathis)``. The flow engine gives the flow ``min(bound_k,
fair share)``; alone on a path of line rate ``C`` it moves at ``min(bound_k, C)``.
Slow start is cut short as soon as the bound passes the path's line rate (from
then on it cannot matter alone, and under sharing the window is above any fair
share too).

HTTP/1.1 GET (iPXE: one request per connection at a time, keep-alive, no
pipelining — net/tcp/httpcore.c, httpconn.c [ipxe-src]):

    time = R          # SYN -> SYN-ACK
         + R/2        # ACK + GET reach the server
         + server_time
         + D          # response (headers + body) as wire bytes, by the law above
         + R/2        # last byte reaches the client

On a reused keep-alive connection the first ``R`` is skipped (``connected=True``).
:mod:`netbootsim.net.transfer` runs a GET in the flow engine: the terms before ``D``
and the last ``R/2`` as delays, ``D`` as one flow following the bound schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .wire import TCP_FRAME_OVERHEAD, tcp_wire_bytes

__all__ = ["TcpParams", "HttpPlan", "tcp_schedule", "tcp_data_time", "http_plan"]

#: Mathis, Semke, Mahdavi, Ott (1997), "The macroscopic behavior of the TCP congestion
#: avoidance algorithm" [mathis-1997]: throughput ≤ MSS / RTT × C / sqrt(p), C = sqrt(3/2) for
#: periodic loss and ACK-every-segment (iPXE has no delayed ACK, net/tcp.c [ipxe-src]).
MATHIS_C = math.sqrt(1.5)


@dataclass(frozen=True)
class TcpParams:
    """TCP parameters of a mirror (sender) and an iPXE client (receiver).

    Attributes:
        mss: payload bytes per segment: 1460 (Ethernet MSS, iPXE advertises route MTU − 40,
            tcp.c:313) minus 12 bytes of timestamp option (RFC 7323 [rfc7323]; Linux sends it).
        init_cwnd: initial window in segments: 10 (RFC 6928 [rfc6928]; Linux
            ``TCP_INIT_CWND``).
        rwnd: receiver window, bytes: 256 KiB in iPXE up to v1.21.1 and the 2019 QEMU ROM;
            2 MiB since 2023 (``TCP_MAX_WINDOW_SIZE``, tcp.h:363 [ipxe-src]).
    """

    mss: int = 1448
    init_cwnd: int = 10
    rwnd: float = 256 * 1024

    def __post_init__(self) -> None:
        if self.mss < 1 or self.init_cwnd < 1 or not self.rwnd > 0:
            raise ValueError("mss, init_cwnd and rwnd must be positive")

    @property
    def wire_factor(self) -> float:
        """Wire bytes per payload byte for full segments, φ."""
        return (self.mss + TCP_FRAME_OVERHEAD) / self.mss


def tcp_schedule(
    params: TcpParams, rtt: float, line_rate: float, loss: float = 0.0
) -> tuple[float, tuple[tuple[float, float], ...]]:
    """Bound of a TCP flow over time: ``(initial_bound, ((t, bound), ...))``.

    Times are relative to the first data byte leaving the sender; bounds in wire
    bytes/s. See the module docstring for the law.
    """
    phi = params.wire_factor
    if rtt <= 0:
        return math.inf, ()
    steady = params.rwnd * phi / rtt
    if loss > 0:
        steady = min(steady, params.mss * phi / rtt * MATHIS_C / math.sqrt(loss))
    window = params.init_cwnd * params.mss
    bound = min(window * phi / rtt, steady)
    if bound >= line_rate:
        bound = steady  # already past the line rate: the window cannot matter alone
    first = bound
    changes: list[tuple[float, float]] = []
    k = 0
    while bound < steady and bound < line_rate:
        k += 1
        window *= 2
        bound = min(window * phi / rtt, steady)
        changes.append((k * rtt, bound))
    if changes and changes[-1][1] != steady:
        changes[-1] = (changes[-1][0], steady)
    return first, tuple(changes)


def tcp_data_time(wire_bytes: float, params: TcpParams, rtt: float, line_rate: float,
                  loss: float = 0.0) -> float:
    """Time to move ``wire_bytes`` alone on a path of ``line_rate``, by the law."""
    first, changes = tcp_schedule(params, rtt, line_rate, loss)
    left = wire_bytes
    t = 0.0
    rate = min(first, line_rate)
    for t_next, bound in changes:
        chunk = rate * (t_next - t)
        if chunk >= left:
            break
        left -= chunk
        t = t_next
        rate = min(bound, line_rate)
    return t + left / rate if left > 0 else t


@dataclass(frozen=True)
class HttpPlan:
    """One HTTP GET by the law (times in seconds).

    Attributes:
        body: payload bytes of the body.
        response_bytes: headers + body.
        wire_bytes: response bytes on the wire.
        before_data: time from the request to the first data byte leaving the server.
        after_data: one-way delay of the last byte to the client.
        data_time: the response's transfer by the TCP law, alone on the path.
        bound: initial bound of the data flow (wire bytes/s).
        schedule: bound changes ``((t, bound), ...)`` of the data flow.
    """

    body: float
    response_bytes: float
    wire_bytes: float
    before_data: float
    after_data: float
    data_time: float
    bound: float
    schedule: tuple[tuple[float, float], ...]

    @property
    def seconds(self) -> float:
        """Whole transfer alone on the path, request to last byte."""
        return self.before_data + self.data_time + self.after_data


#: Response header bytes of a static file from nginx/Apache (status line, Server, Date,
#: Content-Type, Content-Length, Last-Modified, ETag, Connection, Accept-Ranges): about
#: 250 bytes in captured responses (our measurement basis: the lab's pcaps, issue 3).
RESPONSE_HEADER_BYTES = 250


def http_plan(
    body: float,
    params: TcpParams,
    rtt: float,
    line_rate: float,
    loss: float = 0.0,
    *,
    connected: bool = False,
    server_time: float = 0.0,
    header_bytes: float = RESPONSE_HEADER_BYTES,
    rate_cap: float = math.inf,
    warm: bool = False,
) -> HttpPlan:
    """Apply the HTTP/TCP law to one GET of ``body`` bytes.

    ``rate_cap`` caps the flow's bound (wire bytes/s): the most the client can take in,
    e.g. an emulated NIC under QEMU (a measured profile value); ``server_time`` is the
    time from the request's arrival to the first response byte (measured overhead).
    ``warm``: the connection carried a transfer moments ago, so the sender's window is
    already open and there is no slow start. Linux keeps cwnd across requests on a
    keep-alive connection unless it sat idle longer than the RTO (RFC 2861 [rfc2861] congestion
    window validation, ``net.ipv4.tcp_slow_start_after_idle``); seen in the lab traces:
    an 8 MiB GET at RTT 20 ms runs at the window limit from its first round.
    """
    response = body + header_bytes
    wire = tcp_wire_bytes(response, params.mss)
    line_rate = min(line_rate, rate_cap)
    first, changes = tcp_schedule(params, rtt, line_rate, loss)
    if warm and changes:
        first, changes = changes[-1][1], ()
    first = min(first, rate_cap)
    changes = tuple((t, min(b, rate_cap)) for t, b in changes)
    return HttpPlan(
        body=float(body),
        response_bytes=float(response),
        wire_bytes=float(wire),
        before_data=(0.0 if connected else rtt) + rtt / 2 + server_time,
        after_data=rtt / 2,
        data_time=(wire / min(first, line_rate) if warm
                   else tcp_data_time(wire, params, rtt, line_rate, loss)),
        bound=first,
        schedule=changes,
    )

