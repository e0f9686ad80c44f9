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

**Loss, drawn per transfer** (:func:`tcp_loss_rounds`, when the caller gives a
generator): the sender's window is followed round trip by round trip. Each round sends
``w = min(cwnd, rwnd / MSS, segments left)`` segments, ``Binomial(w, p)`` of them are
lost and resent in later rounds; the round's delivered segments set the flow's bound for
that round. The congestion control of the sender (the mirror's ``tcp_cc``) reacts:

- ``reno``: halve the window once per recovery episode, else +1 segment a round (RFC
  5681 [rfc5681]);
- ``cubic`` (Linux's default): cut to ``β = 0.7`` of the window once per recovery
  episode; between cuts the larger of the cubic curve ``C (t − K)³ + W_max`` (``C = 0.4``,
  ``K = ∛(W_max (1 − β) / C)``, fast convergence) and the Reno-friendly estimate that
  grows by ``α = 3 (1 − β) / (1 + β)`` a round (RFC 9438 [rfc9438] §4.2-4.7);
- ``bbr`` (BBR v1, Linux ``tcp_bbr``): no cut on loss — its rate follows the delivery
  rate it measures, which random loss barely lowers (Cardwell et al. 2016 [bbr-2016]);
  the window doubles a round in startup up to what the receiver or the line allows.

A recovery episode is NewReno's (``recover``, RFC 6582 [rfc6582] §3.2; Linux's
``high_seq``): it covers every segment sent before the loss that began it was detected,
a round trip after that segment left, so losses among them are resent without a second
cut. A round's first loss sits on average ``f = w / (lost + 1)`` segments in; by its
detection the sender has sent about ``f`` segments of the next round (``2 f`` in slow
start, where each of the ``f`` ACKs before the loss also grew the window by one), so a
loss among those first segments of the next round starts no new episode. (Cut once per
round with a loss instead, the law was 23 % above the lab's 2 MiB Reno mean on the
runs' own losses, and 117-122 % above CUBIC's on the two seeds whose first loss came
late in slow start: the rounds after a large window's cut each cut again.)

A loss while the receiver's window is full (BBR's usual state here, and a sender
just out of slow start) stalls the next round to the resends: iPXE's window advances
only on in-order data, so nothing new may be sent past the hole until it is filled.
A warm (kept-alive) connection under loss starts at about the Mathis window,
``C / sqrt(p)`` segments: it carried a receive window of data under the same loss before,
and Linux keeps a connection's window across requests (only an idle gap longer than the
RTO restarts it, ``tcp_slow_start_after_idle`` in ip-sysctl.rst [linux]; in lab/traces6 the
kernel-to-initrd gap was 3-10 ms). Slow start doubles the window a round up to the first
round with a loss (HyStart's delay-based exit is not modelled: nothing here queues). The
last segment lost alone is
found by Linux's tail-loss probe, ``2 SRTT`` plus ``TCP_RTO_MIN`` (200 ms) when it is
the only segment in flight (RFC 8985 [rfc8985] §7.2; Linux ``tcp_schedule_loss_probe``):
the lab saw exactly this gap, 212 ms at an RTT of 5.4 ms. Checked against the lab's
1 % loss runs with CUBIC, Reno and BBR senders (``docs/calibration.md``, *Loss as the
lab sees it*). Without a generator the expected-value law above applies (the Mathis
bound for ``reno`` and ``cubic``, whose Reno-friendly region gives the same average
window; for ``bbr`` the receiver's window over ``1 + q`` round trips, ``q`` the chance
that a full window has a loss, each such round followed by a stalled one).
:mod:`netbootsim.net.transfer` runs a GET in the flow engine: the terms before ``D``
and the last ``R/2`` as delays, ``D`` as one flow following the bound schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .wire import TCP_FRAME_OVERHEAD, tcp_wire_bytes

__all__ = ["TCP_CC", "TcpParams", "HttpPlan", "LossRounds", "tcp_schedule", "tcp_data_time",
           "tcp_loss_rounds", "http_plan"]

#: Senders' congestion controls the law knows (a mirror's ``tcp_cc``).
TCP_CC = ("cubic", "reno", "bbr")
#: CUBIC's multiplicative decrease and cubic constant (RFC 9438 [rfc9438] §4.6, §5;
#: Linux ``tcp_cubic.c``: ``beta`` 717/1024, ``bic_scale`` 41 → C = 0.4).
CUBIC_BETA = 0.7
CUBIC_C = 0.4
#: CUBIC's Reno-friendly growth, segments a round trip: 3 (1 − β) / (1 + β) (RFC 9438
#: [rfc9438] §4.3), so its average window under loss is Reno's.
CUBIC_ALPHA = 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA)
#: Linux ``TCP_RTO_MIN`` (200 ms), added to a tail-loss probe's ``2 SRTT`` when one
#: segment is in flight (``tcp_schedule_loss_probe`` [linux]; RFC 8985 [rfc8985] §7.2).
TLP_SINGLE_EXTRA = 0.2
#: Rounds merged into one step of a drawn schedule at most (a step also ends at every
#: window cut): keeps a lossy 3 s transfer to tens of steps, not hundreds.
_ROUNDS_PER_STEP = 8

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


def steady_bound(params: TcpParams, rtt: float, loss: float = 0.0, cc: str = "cubic"
                 ) -> float:
    """The expected-value law's bound after slow start (wire bytes/s), ``rtt`` > 0.

    The receiver's window a round trip; under ``loss`` no more than the Mathis bound
    (``reno``, ``cubic``), or for ``bbr`` the window over ``1 + q`` round trips, ``q``
    the chance that a full window holds a loss (the next round stalls to its resends).
    """
    phi = params.wire_factor
    steady = params.rwnd * phi / rtt
    if loss > 0 and cc != "bbr":
        steady = min(steady, params.mss * phi / rtt * MATHIS_C / math.sqrt(loss))
    elif loss > 0:
        steady /= 2.0 - (1.0 - loss) ** (params.rwnd / params.mss)  # 1 + q
    return steady


def tcp_schedule(
    params: TcpParams, rtt: float, line_rate: float, loss: float = 0.0, cc: str = "cubic"
) -> tuple[float, tuple[tuple[float, float], ...]]:
    """Bound of a TCP flow over time: ``(initial_bound, ((t, bound), ...))``.

    Times are relative to the first data byte leaving the sender; bounds in wire
    bytes/s. See the module docstring for the law.
    """
    phi = params.wire_factor
    if rtt <= 0:
        return math.inf, ()
    steady = steady_bound(params, rtt, loss, cc)
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
                  loss: float = 0.0, cc: str = "cubic") -> float:
    """Time to move ``wire_bytes`` alone on a path of ``line_rate``, by the law."""
    first, changes = tcp_schedule(params, rtt, line_rate, loss, cc)
    return schedule_time(wire_bytes, first, changes, line_rate)


def schedule_time(wire_bytes: float, first: float,
                  changes: tuple[tuple[float, float], ...], line_rate: float) -> float:
    """Time to move ``wire_bytes`` alone on a path of ``line_rate`` under a bound schedule."""
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
class LossRounds:
    """One transfer's rounds under drawn loss (:func:`tcp_loss_rounds`).

    Attributes:
        bound: the first step's bound (wire bytes/s of delivered segments).
        schedule: later steps ``((t, bound), ...)``, ``t`` from the first data byte.
        data_time: time until the last byte is delivered, alone on the path, by
            :func:`schedule_time` on these steps (without the tail probe).
        tail: the tail-loss probe's wait when the last segment was lost alone, else 0.
        lost: segments lost (each resent once in a later round; a resend may be lost
            again and counts again).
        cuts: rounds in which the window was cut.
    """

    bound: float
    schedule: tuple[tuple[float, float], ...]
    data_time: float
    tail: float
    lost: int
    cuts: int


def tcp_loss_rounds(wire_bytes: float, params: TcpParams, rtt: float, line_rate: float,
                    loss: float, rng: np.random.Generator, cc: str = "cubic",
                    warm: bool = False) -> LossRounds:
    """Draw one transfer's losses round by round; see the module docstring.

    In slow start the window may grow to twice what a round can carry (Linux grows it
    while it is below twice the most in flight, ``tcp_is_cwnd_limited`` [linux]), so a
    first loss late in slow start may leave the sender at the receiver's window.
    ``warm``: the window starts open (a keep-alive connection's), in congestion
    avoidance. Draws a binomial for each part of a round in turn (its head inside the
    last recovery episode, if any, then the rest), and one uniform per round that sends
    the transfer's last new segment with a loss (was the last segment among the lost?).
    """
    if cc not in TCP_CC:
        raise ValueError(f"cc {cc!r}: one of {', '.join(TCP_CC)}")
    if rtt <= 0:
        raise ValueError("rtt must be positive")
    seg = params.mss + TCP_FRAME_OVERHEAD  # wire bytes of a full segment
    left = max(1, math.ceil(wire_bytes / seg))
    per_round = math.inf if math.isinf(line_rate) else max(1.0, line_rate * rtt / seg)
    rwnd = max(1.0, params.rwnd / params.mss)
    cap = min(rwnd, per_round)  # most a round carries
    w = cap if warm else float(params.init_cwnd)
    if warm and loss > 0 and cc != "bbr":
        # a kept-alive connection carried a window's worth under the same loss before:
        # its window is where that loss left it, about the Mathis window, not open
        w = min(cap, max(2.0, steady_bound(params, rtt, loss, cc) * rtt / seg))
    ssthresh = w if warm else math.inf
    w_max, epoch, w_est = w, 0.0, w  # CUBIC's state since its last cut
    t = chunk_t = 0.0
    chunk_seg, chunk_rounds = 0, 0
    steps: list[tuple[float, float]] = []
    lost_total = cuts = 0
    last_lost = False
    stalled = 0  # segments resent in a round the receiver's window holds to them
    episode = 0.0  # segments at the head of this round inside the last recovery episode
    while True:
        send = min(stalled or max(1, math.floor(min(w, cap))), left)
        full = not stalled and min(w, cap) >= rwnd  # the receiver's window limits it
        head = min(int(round(episode)), send) if loss > 0 else 0
        # lost among the round's first ``head`` segments (sent before the last episode's
        # loss was detected: resent, no new cut), then among the rest
        lost_head = int(rng.binomial(head, loss)) if head else 0
        lost_new = int(rng.binomial(send - head, loss)) if loss > 0 and send > head else 0
        lost = lost_head + lost_new
        episode = 0.0
        lost_total += lost
        delivered = send - lost
        if delivered == left:  # the round that ends the transfer: the share of a
            t_end = t + rtt * delivered / max(1.0, min(w, cap))  # round its window fills
            steps.append((chunk_t, (chunk_seg + delivered) * seg / (t_end - chunk_t)))
            break
        if lost and send == left:  # this round sent the last segment: was it lost?
            last_lost = bool(rng.random() < lost / send)
        left -= delivered
        chunk_seg += delivered
        chunk_rounds += 1
        t += rtt
        # a hole at the left edge of a full receiver window: nothing new may be sent
        # beyond it until the resends fill it, a round later (iPXE advances its window
        # on in-order data only, net/tcp.c tcp_rx_seq [ipxe-src])
        stalled = lost if lost and full else 0
        cut = lost_new > 0 and cc != "bbr"  # BBR v1 does not cut on loss
        if cut:  # the episode reaches into the next round (the module docstring)
            first = head + (send - head) / (lost_new + 1)
            episode = first * (2.0 if w < ssthresh else 1.0)
        if cut and w < ssthresh:
            # in slow start the window kept growing on the ACKs of the segments sent
            # before the first lost one (on average send / (lost + 1) of them) until the
            # loss was seen: the cut applies to that window (Linux tcp_enter_recovery)
            w = min(w + send / (lost + 1), 2.0 * cap)
        if cut:
            cuts += 1
            if cc == "reno":
                w = max(w / 2.0, 2.0)
            else:  # CUBIC, with fast convergence
                w_max = w * (1.0 + CUBIC_BETA) / 2.0 if w < w_max else w
                w = max(w * CUBIC_BETA, 2.0)
                epoch, w_est = t, w
            ssthresh = w
        elif w < ssthresh:
            w *= 2.0
        elif cc == "reno":
            w += 1.0
        elif cc == "cubic":
            w_est += CUBIC_ALPHA
            k = (w_max * (1.0 - CUBIC_BETA) / CUBIC_C) ** (1.0 / 3.0)
            w = max(CUBIC_C * (t - epoch - k) ** 3 + w_max, w_est)
        w = min(w, 2.0 * cap)
        if (cut or chunk_rounds >= _ROUNDS_PER_STEP) and chunk_seg:  # (a round that
            # delivered nothing joins the next step: no step has a zero bound)
            steps.append((chunk_t, chunk_seg * seg / (t - chunk_t)))
            chunk_t, chunk_seg, chunk_rounds = t, 0, 0
    merged: list[tuple[float, float]] = []
    for at, bound in steps[1:]:
        if (merged[-1][1] if merged else steps[0][1]) != bound:
            merged.append((at, bound))
    # the last segment lost: its resend waited for the probe, not the round trip the
    # rounds gave it (PTO = 2 SRTT + 200 ms when it is alone in flight)
    tail = rtt + TLP_SINGLE_EXTRA if last_lost else 0.0
    # the rounds count whole segments; the flow moves the exact bytes on these steps
    data_time = schedule_time(wire_bytes, steps[0][1], tuple(merged), line_rate)
    return LossRounds(steps[0][1], tuple(merged), data_time, tail, lost_total, cuts)


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
    cc: str = "cubic",
    rng: np.random.Generator | None = None,
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
    ``cc``: the sender's congestion control; ``rng`` with ``loss`` > 0: this transfer's
    losses are drawn (:func:`tcp_loss_rounds`) instead of the expected-value law.
    """
    response = body + header_bytes
    wire = tcp_wire_bytes(response, params.mss)
    line_rate = min(line_rate, rate_cap)
    tail = 0.0
    if rng is not None and loss > 0 and rtt > 0:
        drawn = tcp_loss_rounds(wire, params, rtt, line_rate, loss, rng, cc, warm)
        first, changes, data_time, tail = (drawn.bound, drawn.schedule, drawn.data_time,
                                           drawn.tail)
    else:
        first, changes = tcp_schedule(params, rtt, line_rate, loss, cc)
        if warm and changes:
            first, changes = changes[-1][1], ()
        first = min(first, rate_cap)
        changes = tuple((t, min(b, rate_cap)) for t, b in changes)
        data_time = (wire / min(first, line_rate) if warm
                     else tcp_data_time(wire, params, rtt, line_rate, loss, cc))
    return HttpPlan(
        body=float(body),
        response_bytes=float(response),
        wire_bytes=float(wire),
        before_data=(0.0 if connected else rtt) + rtt / 2 + server_time,
        after_data=rtt / 2 + tail,
        data_time=data_time,
        bound=first,
        schedule=changes,
    )

