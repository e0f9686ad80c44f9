"""An 802.11 access point's useful capacity with ``n`` active stations (pure functions).

Bianchi's analysis of the 802.11 DCF [bianchi2000] under saturation: each of ``n``
stations transmits in a slot with probability ``tau``, which solves

    tau = 2 (1 - 2p) / ((1 - 2p)(W + 1) + p W (1 - (2p)^m)),   p = 1 - (1 - tau)^(n-1)

(``W`` = CWmin + 1, ``m`` backoff stages up to CWmax), and the channel's payload rate is

    S = Ps Ptr L / ((1 - Ptr) slot + Ptr Ps Ts + Ptr (1 - Ps) Tc)

with ``Ptr = 1 - (1 - tau)^n`` (a slot is busy) and ``Ps = n tau (1 - tau)^(n-1) / Ptr``
(a busy slot is a success). ``Ts`` is a successful exchange (DATA, SIFS, ACK, DIFS),
``Tc`` a collision (DATA, DIFS), both in basic access (no RTS/CTS).

Stations at different PHY rates: the DCF gives each station the same chance to send a
frame, so each gets the same throughput, and one slow station drags the others down to
about its rate, the 802.11 performance anomaly [heusse2003]. Here a transmission is any
station's with equal probability, so ``Ts`` and ``Tc`` are the means over the active
stations' frame times (a collision lasts as long as its longer frame: the mean
understates it slightly, said here), and each active station gets ``S / n``.

The PHY is 802.11a/g OFDM (IEEE 802.11-2020 Table 17-21 [ieee80211]): slot 9 us, SIFS
16 us, DIFS = SIFS + 2 slots = 34 us, CWmin 15, CWmax 1023, a 20 us preamble and
SIGNAL, 4 us symbols carrying ``4 x rate`` bits (rate in Mb/s), 16 service and 6 tail
bits; an ACK (14 bytes) at 24 Mb/s. iPXE's 802.11 stack has no 802.11n (and so no
aggregation): legacy rates up to 54 Mb/s only (src/include/ipxe/net80211.h [ipxe-src]).
A frame carries one 1500-byte IP packet (MAC header and FCS 28 bytes, LLC/SNAP 8).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["SLOT", "SIFS", "DIFS", "CW_MIN", "CW_MAX", "MSDU", "frame_time", "tau_of",
           "dcf_throughput", "OFDM_RATES"]

#: OFDM PHY timing (IEEE 802.11-2020 Table 17-21 [ieee80211]), seconds.
SLOT, SIFS = 9e-6, 16e-6
DIFS = SIFS + 2 * SLOT
PREAMBLE = 20e-6  # PLCP preamble 16 us + SIGNAL 4 us
SYMBOL = 4e-6
CW_MIN, CW_MAX = 15, 1023
#: The OFDM rates (Mb/s) of 802.11a/g (Table 17-4 [ieee80211]).
OFDM_RATES = (6.0, 9.0, 12.0, 18.0, 24.0, 36.0, 48.0, 54.0)
#: An ACK's rate (Mb/s): the highest basic rate not above a 54 Mb/s frame's.
ACK_RATE = 24.0
#: Payload of a frame: one IP packet (bytes), and what the frame adds.
MSDU = 1500
MAC_OVERHEAD = 28 + 8  # MAC header with FCS, LLC/SNAP
ACK_BYTES = 14


def frame_time(nbytes: int, rate_mbps: float) -> float:
    """Air time of an OFDM frame of ``nbytes`` at ``rate_mbps`` (preamble included)."""
    bits = 16 + 8 * nbytes + 6  # SERVICE + PSDU + tail
    return PREAMBLE + math.ceil(bits / (4 * rate_mbps)) * SYMBOL


def tau_of(n: int, w: int = CW_MIN + 1, m: int = 6, tol: float = 1e-13) -> float:
    """Bianchi's per-slot transmission probability of each of ``n`` saturated stations.

    ``w`` = CWmin + 1; ``m`` backoff stages (CWmax + 1 = 2^m w: 1024 = 2^6 x 16).
    Solved by bisection on ``p`` (the fixed point is unique [bianchi2000]).
    """
    if n < 1:
        raise ValueError(f"stations must be >= 1, got {n}")

    def tau_p(p: float) -> float:
        if abs(1 - 2 * p) < 1e-15:  # the limit as p -> 1/2
            return 2 / (w + 1 + w * m / 2)
        return 2 * (1 - 2 * p) / ((1 - 2 * p) * (w + 1) + p * w * (1 - (2 * p) ** m))

    if n == 1:
        return tau_p(0.0)
    lo, hi = 0.0, 1.0
    while hi - lo > tol:  # g(p) = 1 - (1 - tau(p))^(n-1) - p falls from >0 to <0
        mid = (lo + hi) / 2
        if 1 - (1 - tau_p(mid)) ** (n - 1) - mid > 0:
            lo = mid
        else:
            hi = mid
    return tau_p((lo + hi) / 2)


def dcf_throughput(rates_mbps: Sequence[float]) -> float:
    """Payload bytes/s the medium carries with these stations all active (saturated).

    Each station gets an equal share (the anomaly): the result over ``len(rates)``.
    """
    n = len(rates_mbps)
    if n == 0:
        return 0.0
    tau = tau_of(n)
    p_tr = 1 - (1 - tau) ** n
    p_s = n * tau * (1 - tau) ** (n - 1) / p_tr
    ack = frame_time(ACK_BYTES, ACK_RATE)
    data = [frame_time(MSDU + MAC_OVERHEAD, r) for r in rates_mbps]
    t_s = sum(d + SIFS + ack + DIFS for d in data) / n
    t_c = sum(d + DIFS for d in data) / n
    slot_time = (1 - p_tr) * SLOT + p_tr * p_s * t_s + p_tr * (1 - p_s) * t_c
    return p_s * p_tr * MSDU / slot_time
