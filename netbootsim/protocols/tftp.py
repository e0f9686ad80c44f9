"""TFTP: the lock-step transfer law, with the blksize and windowsize options.

The protocol is RFC 1350 [rfc1350], its block size option RFC 2348 [rfc2348], its
window option RFC 7440 [rfc7440].

The law, used everywhere in netbootsim and documented once here. A transfer of
``size`` bytes with block size ``B`` has ``blocks = floor(size / B) + 1`` DATA
blocks (a file that is an exact multiple of ``B`` ends with an empty block,
RFC 1350 §6 [rfc1350]). With ``windowsize = 1`` (iPXE: no RFC 7440 [rfc7440] support):

    time = RTT                                   # RRQ -> OACK, then ACK 0
         + blocks × (RTT + d_client + d_server)  # one exchange per block
         + Σ_blocks ser(block)                   # each DATA frame serialised

where ``ser(x) = wire(x) × Σ_hops 1/C_hop`` (store-and-forward on every hop),
``wire(x) = x + 70`` bytes (TFTP 4 + UDP 8 + IPv4 20 + Ethernet framing 38,
:mod:`netbootsim.protocols.wire`), ``RTT`` the round trip of a minimal packet,
``d_client`` the client's per-block delay and ``d_server`` the server's per-block
cost.

Windows (``windowsize = W > 1``): the server sends ``W`` blocks back to back and
the client ACKs the last. Blocks pass through a pipeline of stages — server CPU
(``d_server``), each hop's serialisation, client processing (``d_client``) — so a
window costs one full block latency, ``RTT + d_server + d_client + ser(first)``,
plus, for each further block, the slowest stage ``max(d_server, d_client,
wire / C_min)``. With ``W = 1`` this is the lock-step law above. (To be checked
against the packet engine.)

Loss, as an expected value (the flow engine moves no packets): a window succeeds
when its ``W`` DATA frames and the ACK arrive, ``q = (1-p_fwd)^W (1-p_back)``.
A server that ignores duplicate ACKs (dnsmasq; ``server_retransmit``) recovers a lost
DATA block on its own timer instead, ``T_srv × (1-q_data)/q_data`` per window, and
only lost ACKs cost the client's timer. Otherwise a lost exchange costs the client's
retry timer (:mod:`.retry`): iPXE's generic timer starts at
``max(0.25 s, 4 × exchange time)`` (retry.c [ipxe-src] smoothing ``t := t - t/8 +
runtime/2`` converges to 4 × runtime; ``DEFAULT_MIN_TIMEOUT`` 0.25 s) and doubles on each
expiry until the doubled value exceeds 10 s (``DEFAULT_MAX_TIMEOUT``): on a LAN,
waits of 0.25, 0.5, 1, 2, 4, 8 s — six sends, given up at 15.75 s. The expected
time per window is taken conditional on success; the chance that some window
exhausts its retries is reported as ``fail_probability``.

Loss, drawn (fleet runs pass a seeded ``numpy.random.Generator``): the same timers, but
each transfer draws how many of its windows needed a second send, how many of those a
third, ... (binomial thinning, the exchanges being independent), and pays the waits it
drew — or fails when some window exhausts its sends. The mean over transfers is the
expected value above; the spread is what sets a fleet's makespan and p99 under loss
(``netbootsim validate-engines`` case ``tftp-loss-16``: expected-value makespan 38 %
short of the packet engine's).

Sharing: the flow engine runs the data phase (:mod:`netbootsim.net.transfer` drives
it: the handshake a delay, then the flow) as one flow bounded by the client's
steady lock-step ``rate`` — wire bytes of a full window over the (expected) time of
a full window, a property of client, server and path, not of the file — and sized
``data_time × rate``, so that alone on its path it ends exactly when the law says.
(The size differs from ``wire_bytes`` only by the partial last window; records
report ``wire_bytes``.) Because the bound does not depend on the file size, the
lock-step flows of one client type on one path are interchangeable and the engine
solves them as one class. On a saturated link a flow gets ``min(rate, fair
share)`` (RTT-unfairness of lock-step under queueing is left to the packet engine).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .retry import DEFAULT_MAX_TIMEOUT, DEFAULT_MIN_TIMEOUT, retry_waits
from .wire import TFTP_FRAME_OVERHEAD

__all__ = ["TftpParams", "TftpPlan", "tftp_plan", "MAX_BLOCKS"]

#: Largest block number without rollover (16-bit field, RFC 1350 §5 [rfc1350]).
MAX_BLOCKS = 65535


@dataclass(frozen=True, slots=True)
class TftpParams:
    """A TFTP client/server pair's parameters; defaults are iPXE's.

    Attributes:
        blksize: DATA payload per block; iPXE always asks 1432 (tftp.c:368-370,
            tftp.h:17 [ipxe-src]). RFC 2348 allows 8–65464 [rfc2348].
        windowsize: blocks per ACK (RFC 7440 [rfc7440]); iPXE has no windowsize support:
            1.
        client_block_delay: client time per block between DATA in and ACK out
            (per firmware; fitted in the lab, ipxe/ipxe#145 shows 15× between drivers).
        server_block_cost: server CPU time per block.
        rollover: client accepts block-number wrap 65535 → 0; iPXE does (tftp.c:817-825).
        retry_min: retry timer floor, iPXE ``DEFAULT_MIN_TIMEOUT`` = 0.25 s (retry.h:16).
        retry_max: backoff ceiling, iPXE ``DEFAULT_MAX_TIMEOUT`` = 10 s (retry.h:19).
        server_retransmit: ``None`` if the server resends a DATA block when the client
            re-ACKs the previous one (recovery at the client's retry timer); else the
            server ignores duplicate ACKs (RFC 1123 §4.2.3.1 [rfc1123], Sorcerer's Apprentice) and
            resends after this many seconds. dnsmasq does the latter, on a timer armed in
            whole seconds: a lost DATA block cost 1.0–2.2 s in the lab, 1.78 s on average
            over 324 (lab/traces10 and lab/traces/tftp-loss1-r1 [lab-traces]), which its
            service model sets.
    """

    blksize: int = 1432
    windowsize: int = 1
    client_block_delay: float = 0.0
    server_block_cost: float = 0.0
    rollover: bool = True
    retry_min: float = DEFAULT_MIN_TIMEOUT
    retry_max: float = DEFAULT_MAX_TIMEOUT
    server_retransmit: float | None = None

    def __post_init__(self) -> None:
        if not 8 <= self.blksize <= 65464:
            raise ValueError(f"blksize {self.blksize} outside 8..65464 (RFC 2348 [rfc2348])")
        if not 1 <= self.windowsize <= 65535:
            raise ValueError(f"windowsize {self.windowsize} outside 1..65535 (RFC 7440 [rfc7440])")
        # a firmware profile's client_block_delay may be a distribution (drawn per server
        # by the fleet, netbootsim.dist), which checks its own support
        delays = (self.client_block_delay, self.server_block_cost)
        if any(isinstance(d, int | float) and d < 0 for d in delays):
            raise ValueError("per-block delays must be ≥ 0")


@dataclass(frozen=True)
class TftpPlan:
    """What the law gives for one transfer on one path (all times in seconds).

    Attributes:
        size: payload bytes.
        blocks: DATA blocks, ``floor(size / blksize) + 1``.
        windows: ACKed windows, ``ceil(blocks / windowsize)``.
        wire_bytes: bytes on the wire for all DATA frames.
        handshake: RRQ → OACK round trip (plus expected retries under loss).
        data_time: from ACK 0 to the last block's ACK (expected, under loss).
        lossless_data_time: ``data_time`` without loss.
        rate: steady lock-step rate in wire bytes/s: a full window's wire bytes over a
            full window's expected time (the flow's bound).
        retry_timeout: the client's first retry wait.
        fail_probability: chance that some exchange exhausts the retry schedule.
        error: ``None``, or why the transfer cannot happen (``"block-number-overflow"``).
    """

    size: float
    blocks: int
    windows: int
    wire_bytes: float
    handshake: float
    data_time: float
    lossless_data_time: float
    rate: float
    retry_timeout: float
    fail_probability: float
    error: str | None = None

    @property
    def seconds(self) -> float:
        """Whole transfer, request to last block: ``handshake + data_time``."""
        return self.handshake + self.data_time


def _expected_extra(q: float, waits: list[float]) -> tuple[float, float]:
    """Expected retry time of one exchange given success, and the give-up probability."""
    if q >= 1.0:
        return 0.0, 0.0
    miss = 1.0 - q
    attempts = len(waits)  # sends before giving up
    p_ok = 1.0 - miss**attempts
    extra = 0.0
    waited = 0.0
    for k in range(1, attempts):  # success on send k+1 after k expiries
        waited += waits[k - 1]
        extra += miss**k * q * waited
    return (extra / p_ok if p_ok > 0 else math.inf), miss**attempts


def _drawn_extra(rng: np.random.Generator, count: int, q: float, waits: list[float]
                 ) -> tuple[float, bool]:
    """Drawn retry time of ``count`` exchanges each getting through with ``q`` per send.

    After send *k* the exchanges still failing are a binomial thinning of those failing
    after send *k − 1*; each waits ``waits[k − 1]`` and sends again. Returns the total
    wait and whether some exchange failed its last send too (the client gives up).
    """
    miss = 1.0 - q
    left, extra = count, 0.0
    for w in waits:
        left = int(rng.binomial(left, miss)) if left and miss > 0 else 0
        if not left:
            return extra, False
        extra += left * w
    return extra, True


def tftp_plan(
    size: float,
    params: TftpParams,
    rtt: float,
    hop_capacities: Sequence[float],
    loss_fwd: float = 0.0,
    loss_back: float = 0.0,
    rng: np.random.Generator | None = None,
) -> TftpPlan:
    """Apply the TFTP law to one transfer.

    Args:
        size: payload bytes (≥ 0).
        params: client/server parameters.
        rtt: round trip of a minimal packet on the path (s).
        hop_capacities: capacity of each forward hop (bytes/s); ``()`` for none.
        loss_fwd: packet loss probability server → client.
        loss_back: packet loss probability client → server.
        rng: draw this transfer's retries (module docstring) instead of charging the
            expected value; ``None``: expected value.

    Returns:
        The :class:`TftpPlan`.
    """
    bs = params.blksize
    w = params.windowsize
    blocks = int(size // bs) + 1
    last = size - (blocks - 1) * bs
    wire_full = bs + TFTP_FRAME_OVERHEAD
    wire_last = last + TFTP_FRAME_OVERHEAD
    wire_bytes = (blocks - 1) * wire_full + wire_last
    per_byte = sum(1.0 / c for c in hop_capacities)  # store-and-forward: s per byte
    c_min = min(hop_capacities) if hop_capacities else math.inf
    windows = -(-blocks // w)
    d = params.client_block_delay + params.server_block_cost
    # Each window: one full block latency, plus the slowest stage per further block.
    last_leads = (blocks - 1) % w == 0  # the last block opens its own window
    firsts = (windows - 1) * wire_full + (wire_last if last_leads else wire_full)
    stage = max(params.server_block_cost, params.client_block_delay)
    followers_full = blocks - windows - (0 if last_leads else 1)
    follow = followers_full * max(stage, wire_full / c_min)
    if not last_leads:
        follow += max(stage, wire_last / c_min)
    lossless = windows * (rtt + d) + firsts * per_byte + follow
    exchange = lossless / windows
    timeout = max(params.retry_min, 4.0 * exchange)
    waits = retry_waits(timeout, params.retry_max)
    # Windows are all full but (maybe) the last; loss uses the full-window q for all.
    q_data = (1.0 - loss_fwd) ** min(w, blocks)
    if params.server_retransmit is None:
        extra_win, fail_win = _expected_extra(q_data * (1.0 - loss_back), waits)
    else:
        # lost DATA: the server's own timer, once per lost copy (geometric);
        # lost ACK: the client's retry timer, as above
        extra_ack, fail_win = _expected_extra(1.0 - loss_back, waits)
        extra_win = params.server_retransmit * (1.0 - q_data) / q_data + extra_ack
    q_hs = (1.0 - loss_fwd) * (1.0 - loss_back)
    hs_waits = retry_waits(max(params.retry_min, 4.0 * rtt), params.retry_max)
    extra_hs, fail_hs = _expected_extra(q_hs, hs_waits)
    fail = 1.0 - (1.0 - fail_hs) * (1.0 - fail_win) ** windows
    full_window = (rtt + d + wire_full * per_byte
                   + (w - 1) * max(stage, wire_full / c_min) + extra_win)
    rate = w * wire_full / full_window if full_window > 0 else math.inf
    error = None
    data_extra = windows * extra_win
    if rng is not None and (loss_fwd > 0 or loss_back > 0):
        extra_hs, gave_up = _drawn_extra(rng, 1, q_hs, hs_waits)
        if params.server_retransmit is None:
            data_extra, lost = _drawn_extra(rng, windows, q_data * (1.0 - loss_back), waits)
        else:
            copies = int(rng.negative_binomial(windows, q_data)) if q_data < 1 else 0
            data_extra, lost = _drawn_extra(rng, windows, 1.0 - loss_back, waits)
            data_extra += copies * params.server_retransmit
        if gave_up:  # extra_hs is already every wait of the request's schedule
            error = f"TFTP timeout: {len(hs_waits)} sends of the request lost"
        elif lost:  # given up at some window: fail there, after its last wait (the waits
            # drawn for the windows before it are a uniform share of the others)
            at = float(rng.random())
            extra_hs += at * (lossless + data_extra - sum(waits)) + sum(waits)
            error = f"TFTP timeout: {len(waits)} sends of one block lost"
    if not params.rollover and blocks > MAX_BLOCKS:
        error = "block-number-overflow"
    return TftpPlan(
        size=float(size),
        blocks=blocks,
        windows=windows,
        wire_bytes=float(wire_bytes),
        handshake=extra_hs if error and error.endswith("request lost") else rtt + extra_hs,
        data_time=lossless + data_extra,
        lossless_data_time=lossless,
        rate=rate,
        retry_timeout=timeout,
        fail_probability=fail,
        error=error,
    )
