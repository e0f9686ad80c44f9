"""A running transfer whose path goes down: when its data moves again, or when it fails.

When a link under a running transfer goes down, every packet in flight is lost. The
side whose timer runs resends, backing off, until a resend gets through or the timer
gives up. Data moves again at the first resend sent once a path is up: the same path
when the link comes back, or another one at once when the network has one (a LAG
member that is up, an ECMP next hop; the route is chosen again, as
:meth:`~netbootsim.topology.Topology.path` chooses any route).

- **TFTP** (iPXE the client, lock-step): the client's generic retry timer resends its
  last ACK after the timer's current timeout, doubling it on each expiry, and gives up
  when the doubled value exceeds 10 s (net/retry.c:181-183, net/udp/tftp.c:545-552
  [ipxe-src]). :func:`resends` with :func:`~.retry.retry_waits` from the plan's first
  wait: on a LAN resends at 0.25, 0.75, 1.75, 3.75 and 7.75 s after the outage, given
  up at 15.75 s. (A server that ignores duplicate ACKs and resends on its own timer,
  such as dnsmasq, may resume later than the client's resend; not modelled.)
- **HTTP** (Linux the sender): the retransmission timer, RTO = SRTT + max(4 RTTVAR,
  ``TCP_RTO_MIN`` 200 ms) (tcp_input.c ``tcp_set_rto`` [linux]; RFC 6298 §2 [rfc6298]),
  doubles on each expiry up to ``TCP_RTO_MAX`` (120 s) and drops the connection on the
  expiry after ``tcp_retries2`` (15) retransmissions: :func:`tcp_rto_waits`. From a
  200 ms RTO the drop comes 924.6 s after the outage, the figure ip-sysctl.rst [linux]
  gives. After the timeout the sender starts again from a one-segment window (the loss
  window, RFC 5681 §3.1 [rfc5681]) with ``ssthresh`` at half what was in flight:
  :func:`tcp_restart_schedule`.
- **iPXE's side of a dropped connection**: iPXE receives; it has no timer on data it
  waits for (before its 2025 HTTP watchdog), but sends a keep-alive ACK every 15 s
  while idle (``TCP_KEEPALIVE_DELAY``, include/ipxe/tcp.h:394 [ipxe-src]). Once the
  sender has dropped the connection and a path is up, the next keep-alive is answered
  by a reset and the fetch fails (:func:`tcp_reset_at`); with no path it waits for ever.

Pure functions: nothing here knows the engines or the network.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import accumulate

from .tcp import TcpParams, steady_bound

__all__ = ["TCP_RTO_MIN", "TCP_RTO_MAX", "TCP_RETRIES2", "TCP_KEEPALIVE", "tcp_rto_waits",
           "resends", "first_resend", "tcp_reset_at", "tcp_restart_schedule"]

#: Linux ``TCP_RTO_MIN`` (include/net/tcp.h [linux]: HZ/5): the floor of the RTO's
#: variance term, RTO = SRTT + max(4 RTTVAR, 200 ms) (tcp_input.c ``tcp_set_rto``).
TCP_RTO_MIN = 0.2
#: Linux ``TCP_RTO_MAX`` (include/net/tcp.h [linux]: 120 × HZ): the backoff's ceiling.
TCP_RTO_MAX = 120.0
#: Linux ``tcp_retries2`` default: retransmissions of unacknowledged data before the
#: connection is dropped (ip-sysctl.rst [linux]: "about 924.6 seconds" from a 200 ms RTO).
TCP_RETRIES2 = 15
#: iPXE ``TCP_KEEPALIVE_DELAY``: a pure ACK every 15 s while the connection is idle
#: (include/ipxe/tcp.h:394 [ipxe-src]).
TCP_KEEPALIVE = 15.0


def tcp_rto_waits(rtt: float, rttvar: float = 0.0) -> list[float]:
    """A Linux sender's retransmission waits from a loss on a path of ``rtt``.

    The first RTO is ``rtt + max(4 rttvar, TCP_RTO_MIN)`` (``rttvar``: the round trip's
    variation, 0 on a steady path, where the floor holds); each expiry doubles it,
    capped at ``TCP_RTO_MAX``; ``TCP_RETRIES2`` retransmissions, the connection dropped
    at the next expiry: 16 waits. ``sum(tcp_rto_waits(0.0))`` = 924.6 s.
    """
    rto = rtt + max(4.0 * rttvar, TCP_RTO_MIN)
    return [min(rto * 2 ** k, TCP_RTO_MAX) for k in range(TCP_RETRIES2 + 1)]


def resends(t_down: float, waits: Sequence[float]) -> tuple[list[float], float]:
    """A timer's resends after a loss at ``t_down``: ``(resend times, give-up time)``.

    The timer expires after each wait in turn; every expiry but the last resends, the
    last gives up (iPXE's ``fail``, Linux's ``tcp_retries2``).
    """
    times = [t_down + s for s in accumulate(waits)]
    return times[:-1], times[-1]


def first_resend(t_down: float, waits: Sequence[float],
                 path_up: Callable[[float], bool]) -> float | None:
    """The first resend after ``t_down`` sent while a path is up; None: given up first."""
    sends, _ = resends(t_down, waits)
    return next((t for t in sends if path_up(t)), None)


def tcp_reset_at(t_down: float, dropped: float, up_from: float | None) -> float | None:
    """When iPXE learns that its sender dropped the connection (``None``: never).

    Its keep-alives go every :data:`TCP_KEEPALIVE` seconds from the last data
    (``t_down``); the first one sent at or after both the drop and ``up_from`` (when a
    path is up again; ``None``: never) is answered by a reset.
    """
    if up_from is None:
        return None
    after = max(dropped, up_from)
    k = math.ceil((after - t_down) / TCP_KEEPALIVE - 1e-12)
    return t_down + max(k, 1) * TCP_KEEPALIVE


def tcp_restart_schedule(params: TcpParams, rtt: float, line_rate: float, flight: float,
                         loss: float = 0.0, cc: str = "cubic"
                         ) -> tuple[float, tuple[tuple[float, float], ...]]:
    """A TCP flow's bound after a retransmission timeout: ``(first, ((t, bound), ...))``.

    Slow start from one segment (RFC 5681 §3.1 [rfc5681]: the loss window) doubling each
    round trip up to ``ssthresh = max(flight / 2, 2 MSS)`` (``flight``: payload bytes
    in flight at the loss), then congestion avoidance, one segment more each round
    trip, up to the receiver's window (under ``loss``: :func:`~.tcp.steady_bound` for
    the sender's ``cc``), as in :func:`~.tcp.tcp_schedule`; cut short once the bound
    passes ``line_rate`` (from then on it cannot hold the flow back alone). Times from
    the first resent byte; bounds in wire bytes/s.
    """
    phi = params.wire_factor
    mss = params.mss
    if rtt <= 0:
        return math.inf, ()
    steady = steady_bound(params, rtt, loss, cc)
    ssthresh = max(flight / 2, 2 * mss)
    window = float(mss)
    bound = min(window * phi / rtt, steady)
    first = bound
    changes: list[tuple[float, float]] = []
    k = 0
    while bound < steady and bound < line_rate:
        k += 1
        window = min(window * 2, ssthresh) if window < ssthresh else window + mss
        bound = min(window * phi / rtt, steady)
        changes.append((k * rtt, bound))
    return first, tuple(changes)
