"""TCP and HTTP over the packet engine: a Linux-like sender and an iPXE-like receiver.

The same parameters as the law in :mod:`netbootsim.protocols.tcp` (``TcpParams``: MSS,
initial window, receiver window), so the two can be checked against each other.

Sender (the mirror). **NewReno with SACK loss recovery** — Linux with
``net.ipv4.tcp_congestion_control=reno`` (``tcp_cong.c`` ``tcp_reno_cong_avoid`` [linux]),
SACK on (the default); ns-3 has the same pair (``TcpNewReno`` with
``TcpSocketBase::Sack`` true, ``benchmarks/ns3_sharing.py``). With ``cc="cubic"`` (a
mirror's ``tcp_cc: cubic``, Linux's default) the same recovery with CUBIC's window:
``ssthresh = 0.7 cwnd`` on a loss (fast convergence), and in congestion avoidance the
window aims one RTT ahead at ``max(C (t − K)³ + W_max, W_est)`` (RFC 9438 [rfc9438]
§4.2-4.7; ``W_est`` the Reno-friendly estimate). BBR is not modelled here (a
scenario's ``tcp_cc: bbr`` needs the flow engine). The sender:

- initial window ``init_cwnd`` segments (RFC 6928 [rfc6928]; Linux ``TCP_INIT_CWND`` 10);
  slow start adds one segment per segment acknowledged (Linux ``tcp_slow_start``: byte
  counting, capped at ``ssthresh``), congestion avoidance ``1/cwnd`` per segment
  (RFC 5681 §3.1 [rfc5681]). The window grows only while it limits the sender (Linux
  ``tcp_is_cwnd_limited``), so a window held down by the receiver does not inflate it;
- in flight at most ``min(cwnd, rwnd / MSS)`` segments (the receiver's window, iPXE's);
- fast retransmit when three duplicate ACKs or three SACKed segments above the first
  hole arrive (RFC 6675 [rfc6675] ``DupThresh`` 3): ``ssthresh = max(cwnd / 2, 2)`` (Linux
  ``tcp_reno_ssthresh``), ``cwnd = ssthresh`` at once (Linux reaches it by PRR);
  during recovery every unSACKed segment below the highest SACKed one is taken as
  lost and resent once, in order, while ``pipe < cwnd`` (RFC 6675 §5, with
  the FACK-like loss mark Linux also uses); recovery ends when the ACK passes the
  highest segment sent when it began (NewReno ``recover``, RFC 6582 [rfc6582]);
- retransmission timeout ``srtt + max(4 rttvar, 200 ms)`` (Linux ``tcp_set_rto``: the
  variance term floored at ``TCP_RTO_MIN``; ns-3 and RFC 6298 floor the sum instead),
  1 s before the first sample (RFC 6298 §2.1 [rfc6298], ``TCP_TIMEOUT_INIT``), doubled on each
  expiry, the connection dropped after 15 expiries without progress (``tcp_retries2``);
  on expiry ``cwnd = 1`` and every unSACKed segment is resent in order in slow start;
  ``ssthresh = max(cwnd / 2, 2)`` unless already in recovery or loss (``tcp_enter_loss``
  keeps it then). RTT samples come from timestamps (every ACK echoes the send time of
  the segment that triggered it, RFC 7323 [rfc7323]).
- window growth counts newly delivered segments only: a cumulative ACK that passes
  SACKed segments grows the window by the others (Linux counts ``tp->delivered``).
- not modelled: RACK (Linux detects a lost retransmission by time; here only the RTO
  recovers it), PRR, F-RTO/Eifel undo of spurious timeouts, TSO bursts.
- no pacing: a window leaves at the sender's line rate.

Receiver (iPXE, net/tcp.c [ipxe-src]): a fixed window (the profile's
``rwnd``); out-of-order segments are kept; **one ACK per segment**, sent at once (no
delayed-ACK timer), carrying the cumulative ACK and a SACK for an out-of-order segment.
The client's own costs: segments are taken in at most ``client_rate`` wire bytes/s (a
FIFO of unbounded size in front of the stack: the emulated NIC under QEMU, a measured
profile value) and each packet the client sends leaves ``client_delay`` after the event
that caused it (``tcp_client_delay``: the law adds it to the RTT, so here it lengthens
every round trip by the same amount).

HTTP/1.1 on top, as the law: SYN → SYN-ACK → ACK + GET (a reused connection starts at
the GET), ``server_time`` from the GET's arrival to the first response byte, then the
response (``header_bytes`` + body) as segments. The client's SYN and GET are resent on
iPXE's generic retry timer (0.25 s doubling to 10 s, net/retry.c [ipxe-src]); the server answers
every SYN it receives.

Wire sizes (:mod:`netbootsim.protocols.wire`): a data segment is payload + 90; a pure
ACK 90 (SACK blocks are not counted: 12 bytes on the few ACKs that carry them); SYN and
SYN-ACK 98 (20 bytes of MSS, SACK-permitted, timestamp and window-scale options); the
GET request ``request_bytes`` (120: iPXE's request line, Host, User-Agent; the lab's
pcaps) + 90.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import simpy

from ..protocols.recovery import TCP_RETRIES2, TCP_RTO_MIN
from ..protocols.retry import retry_waits
from ..protocols.tcp import (
    CUBIC_ALPHA,
    CUBIC_BETA,
    CUBIC_C,
    RESPONSE_HEADER_BYTES,
    TcpParams,
)
from ..protocols.wire import ETHERNET_OVERHEAD, IPV4_HEADER, TCP_FRAME_OVERHEAD, TCP_HEADER
from .packet import LazyTimer, Packet, PacketLink, PacketPath

__all__ = ["PacketHttpResult", "http_over_packets", "RTO_MIN", "RTO_INIT", "DUPTHRESH",
           "RTO_GIVE_UP"]

#: Linux ``TCP_RTO_MIN`` and ``tcp_retries2`` (:mod:`netbootsim.protocols.recovery`, where
#: the flow engine's outage law takes them too): RTO = srtt + max(4 rttvar, 200 ms); after
#: 15 timeouts without progress the sender drops the connection.
RTO_MIN = TCP_RTO_MIN
RTO_GIVE_UP = TCP_RETRIES2
#: Initial RTO before any RTT sample: RFC 6298 §2.1 [rfc6298]; Linux ``TCP_TIMEOUT_INIT``
#: (1 s).
RTO_INIT = 1.0
#: Duplicate ACKs (or SACKed segments above a hole) that trigger fast retransmit:
#: RFC 5681 §3.2 [rfc5681], RFC 6675 ``DupThresh`` [rfc6675].
DUPTHRESH = 3
#: SYN and SYN-ACK on the wire: TCP 20 + options 20 (MSS 4, SACK-permitted 2, timestamps
#: 10, window scale 3, NOP padding) + IPv4 20 + Ethernet 38.
SYN_WIRE = TCP_HEADER + 20 + IPV4_HEADER + ETHERNET_OVERHEAD
#: A pure ACK on the wire: TCP 20 + timestamps 12 + IPv4 20 + Ethernet 38.
ACK_WIRE = TCP_FRAME_OVERHEAD
#: iPXE's GET request: request line, Host, User-Agent, blank line (about 120 bytes in the
#: lab's captures, issue 3).
REQUEST_BYTES = 120
#: iPXE retransmits its SYN and request on the generic retry timer: 0.25 s doubling to
#: 10 s, then gives up (include/ipxe/retry.h:16,19, net/retry.c:181-183 [ipxe-src]).
CLIENT_RETRY = (0.25, 10.0)


@dataclass(frozen=True, slots=True)
class PacketHttpResult:
    """One HTTP GET on the packet engine.

    Attributes:
        start: time the client began (SYN, or GET on a reused connection) (s).
        end: time the last response byte reached the client, or the client gave up (s).
        bytes: body bytes delivered (all of them, or 0 on failure).
        wire_bytes: response bytes on the wire (segments sent, retransmissions included).
        segments: response segments.
        retransmissions: resends of response segments (a segment resent twice counts 2).
        timeouts: the sender's retransmission timeouts.
        fast_recoveries: fast-retransmit episodes.
        outcome: ``"ok"`` or ``"failed"``.
    """

    start: float
    end: float
    bytes: float
    wire_bytes: float
    segments: int
    retransmissions: int
    timeouts: int
    fast_recoveries: int
    outcome: str

    @property
    def seconds(self) -> float:
        """Request to last byte (or failure)."""
        return self.end - self.start


class _Sender:
    """The mirror's side of one response: NewReno + SACK over a packet path."""

    __slots__ = ("env", "path", "n", "mss", "last_len", "rwnd_segs", "cwnd", "ssthresh",
                 "una", "nxt", "sacked", "nsacked", "retx", "recovering", "rto_mode",
                 "recover", "high", "hole", "dupacks", "srtt", "rttvar", "rto", "backoff",
                 "rtx", "cwnd_limited", "done", "closed", "wire", "resent", "timeouts",
                 "recoveries", "sent_once", "streak", "cubic", "w_max", "epoch", "w_est",
                 "min_rtt")

    def __init__(self, env: simpy.Environment, path: PacketPath, response: float,
                 params: TcpParams, done: simpy.Event, cc: str = "reno") -> None:
        if cc not in ("reno", "cubic"):
            raise ValueError(f"cc {cc!r}: the packet sender is reno or cubic")
        self.env = env
        self.cubic = cc == "cubic"
        self.w_max = 0.0  # CUBIC: the window before its last cut
        self.epoch = math.nan  # CUBIC: when it was cut (nan: never)
        self.w_est = 0.0  # CUBIC: the Reno-friendly estimate since the cut
        self.min_rtt = math.inf  # the least RTT sample (CUBIC's delay_min)
        self.path = path
        self.mss = params.mss
        self.n = max(1, math.ceil(response / params.mss))
        self.last_len = response - (self.n - 1) * params.mss
        self.rwnd_segs = max(1, int(params.rwnd // params.mss))
        self.cwnd = float(params.init_cwnd)
        self.ssthresh = math.inf
        self.una = 0  # first unacknowledged segment
        self.nxt = 0  # next new segment
        self.sacked = bytearray(self.n)
        self.nsacked = 0  # SACKed segments in [una, nxt)
        self.retx = bytearray(self.n)  # resent in the current loss episode
        self.sent_once = bytearray(self.n)
        self.recovering = False
        self.rto_mode = False
        self.recover = 0
        self.high = 0  # segments below this (unSACKed, not resent) are taken as lost
        self.hole = 0
        self.dupacks = 0
        self.srtt = math.nan
        self.rttvar = math.nan
        self.rto = RTO_INIT
        self.backoff = 1
        self.rtx = LazyTimer(env, self._expire)
        self.streak = 0  # RTOs since the last new ACK
        self.cwnd_limited = False
        self.done = done
        self.closed = False
        self.wire = 0.0
        self.resent = 0
        self.timeouts = 0
        self.recoveries = 0

    # -- sending -------------------------------------------------------------------
    def _send(self, seg: int) -> None:
        length = self.last_len if seg == self.n - 1 else self.mss
        size = length + TCP_FRAME_OVERHEAD
        self.wire += size
        if self.sent_once[seg]:
            self.resent += 1
        self.sent_once[seg] = 1
        self.path.send(size, (seg, self.env.now))

    def _pipe(self) -> int:
        """Segments in flight (RFC 6675 ``pipe`` [rfc6675]): sent, not SACKed, not lost."""
        pipe = self.nxt - self.una - self.nsacked
        if self.recovering:
            sacked, retx = self.sacked, self.retx
            for i in range(self.hole, self.high):
                if not sacked[i] and not retx[i]:
                    pipe -= 1
        return pipe

    def pump(self) -> None:
        """Send what the windows allow: lost segments first, then new ones."""
        if self.closed:
            return
        pipe = self._pipe()
        sent = False
        while pipe < self.cwnd:
            if self.recovering:
                sacked, retx = self.sacked, self.retx
                while self.hole < self.high and (sacked[self.hole] or retx[self.hole]):
                    self.hole += 1
                if self.hole < self.high:
                    retx[self.hole] = 1
                    self._send(self.hole)
                    pipe += 1
                    sent = True
                    continue
            if self.nxt < self.n and self.nxt - self.una < self.rwnd_segs:
                self._send(self.nxt)
                self.nxt += 1
                pipe += 1
                sent = True
                continue
            break
        self.cwnd_limited = pipe >= self.cwnd
        if sent:
            self._arm()

    # -- the retransmission timer ----------------------------------------------------
    def _arm(self) -> None:
        """Start the timer if it is not running."""
        if self.rtx.deadline == math.inf:
            self.rtx.set(self.env.now + self.rto * self.backoff)

    def _restart(self) -> None:
        """New data acknowledged: restart it, or stop it with nothing in flight."""
        self.rtx.set(self.env.now + self.rto * self.backoff if self.una < self.nxt
                     else math.inf)

    def _expire(self) -> None:
        if self.closed:
            return
        self.timeouts += 1
        self.streak += 1
        if self.streak > RTO_GIVE_UP:  # tcp_retries2: the connection is dropped
            self.closed = True
            return
        if not self.recovering:  # tcp_enter_loss keeps ssthresh inside Recovery/Loss
            self.ssthresh = self._cut()
        self.cwnd = 1.0
        self.recovering = self.rto_mode = True
        self.recover = self.high = self.nxt
        self.hole = self.una
        self.retx[self.una:self.nxt] = bytes(self.nxt - self.una)
        self.dupacks = 0
        self.backoff = min(self.backoff * 2, 64)
        self.pump()
        self._arm()

    # -- ACKs ----------------------------------------------------------------------
    def on_ack(self, packet: Packet) -> None:
        """One ACK from the client: ``(cumulative, SACKed segment or -1, echoed time)``."""
        if self.closed:
            return
        cum, sseg, echo = packet.payload
        if sseg >= self.una and not self.sacked[sseg]:
            self.sacked[sseg] = 1
            if sseg < self.nxt:
                self.nsacked += 1
            if self.recovering and not self.rto_mode:
                self.high = max(self.high, sseg + 1)
        if cum > self.una:
            self._sample(self.env.now - echo)
            acked = cum - self.una  # newly delivered: not SACKed before (tp->delivered)
            sacked = self.sacked
            for i in range(self.una, cum):
                if sacked[i]:
                    self.nsacked -= 1
                    acked -= 1
            self.streak = 0
            self.una = cum
            self.hole = max(self.hole, cum)
            self.dupacks = 0
            self.backoff = 1
            if cum >= self.n:
                self.closed = True
                self.rtx.set(math.inf)
                return
            if self.recovering and cum >= self.recover:
                if not self.rto_mode:
                    self.cwnd = self.ssthresh  # NewReno: deflate to ssthresh
                self.recovering = self.rto_mode = False
            if self.recovering and not self.rto_mode:
                self.high = max(self.high, cum + 1)  # NewReno partial ACK: resend the next
            else:
                self._grow(acked)
            self._restart()
        elif sseg >= 0:
            self.dupacks += 1
            if not self.recovering and (self.dupacks >= DUPTHRESH
                                        or self._sacked_above() >= DUPTHRESH):
                self._fast_retransmit()
        self.pump()

    def _sacked_above(self) -> int:
        return self.nsacked  # every SACKed segment in flight is above the hole at una

    def _fast_retransmit(self) -> None:
        self.recoveries += 1
        self.ssthresh = self._cut()
        self.cwnd = self.ssthresh
        self.recovering = True
        self.rto_mode = False
        self.recover = self.nxt
        self.hole = self.una
        self.retx[self.una:self.nxt] = bytes(self.nxt - self.una)
        top = self.una
        for i in range(self.nxt - 1, self.una - 1, -1):
            if self.sacked[i]:
                top = i + 1
                break
        self.high = max(top, self.una + 1)

    def _cut(self) -> float:
        """The new ``ssthresh`` on a loss: Reno's half, CUBIC's 0.7 (fast convergence)."""
        if not self.cubic:
            return max(self.cwnd / 2.0, 2.0)  # tcp_reno_ssthresh: cwnd / 2
        self.w_max = (self.cwnd * (1.0 + CUBIC_BETA) / 2.0 if self.cwnd < self.w_max
                      else self.cwnd)  # RFC 9438 §4.7 [rfc9438]
        self.epoch = self.env.now
        self.w_est = max(self.cwnd * CUBIC_BETA, 2.0)
        return self.w_est

    def _grow(self, acked: int) -> None:
        if not self.cwnd_limited:
            return
        if self.cwnd < self.ssthresh:  # slow start, byte counting (tcp_slow_start)
            room = self.ssthresh - self.cwnd
            step = min(acked, room)
            self.cwnd += step
            acked -= step
        if acked <= 0 or self.cwnd < self.ssthresh:
            return
        if not self.cubic or math.isnan(self.epoch):
            self.cwnd += acked / self.cwnd  # congestion avoidance (tcp_reno_cong_avoid)
            return
        # CUBIC (RFC 9438 §4.2-4.4 [rfc9438]): aim at W_cubic one RTT ahead (the least RTT
        # seen, Linux tcp_cubic's delay_min), never below the Reno-friendly estimate;
        # grow by (target - cwnd) / cwnd a segment acknowledged
        rtt = self.min_rtt if math.isfinite(self.min_rtt) else 0.0
        k = (self.w_max * (1.0 - CUBIC_BETA) / CUBIC_C) ** (1.0 / 3.0)
        target = CUBIC_C * (self.env.now + rtt - self.epoch - k) ** 3 + self.w_max
        self.w_est += CUBIC_ALPHA * acked / self.cwnd
        target = min(max(target, self.w_est), 1.5 * self.cwnd)
        if target > self.cwnd:
            self.cwnd += (target - self.cwnd) / self.cwnd * acked
        else:
            self.cwnd += 0.01 * acked / self.cwnd  # RFC 9438 §4.4 [rfc9438]: plateau

    def _sample(self, r: float) -> None:
        self.min_rtt = min(self.min_rtt, r)
        if math.isnan(self.srtt):  # RFC 6298 §2.2 [rfc6298]
            self.srtt, self.rttvar = r, r / 2
        else:  # §2.3
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
            self.srtt = 0.875 * self.srtt + 0.125 * r
        self.rto = self.srtt + max(4 * self.rttvar, RTO_MIN)  # Linux tcp_set_rto


class _Receiver:
    """iPXE's side: keeps out-of-order segments, one ACK per segment, at once."""

    __slots__ = ("env", "up", "n", "got", "nxt", "delay", "done", "closed")

    def __init__(self, env: simpy.Environment, up: PacketPath, n: int, delay: float,
                 done: simpy.Event) -> None:
        self.env = env
        self.up = up
        self.n = n
        self.got = bytearray(n)
        self.nxt = 0
        self.delay = delay
        self.done = done
        self.closed = False

    def on_data(self, packet: Packet) -> None:
        if self.closed:
            return
        seg, sent = packet.payload
        sack = -1
        if seg >= self.nxt and not self.got[seg]:
            self.got[seg] = 1
            if seg == self.nxt:
                got, nxt = self.got, self.nxt
                while nxt < self.n and got[nxt]:
                    nxt += 1
                self.nxt = nxt
            else:
                sack = seg
        elif seg > self.nxt:
            sack = seg
        ack = (self.nxt, sack, sent)
        if self.delay > 0:
            self.env.timeout(self.delay, ack).callbacks.append(self._send_ack)
        else:
            self.up.send(ACK_WIRE, ack)
        if self.nxt >= self.n and not self.done.triggered:
            self.done.succeed(self.env.now)

    def _send_ack(self, event: simpy.Event) -> None:
        if not self.closed:
            self.up.send(ACK_WIRE, event.value)


def _reliable(env: simpy.Environment, send, answered: simpy.Event,
              waits: Sequence[float]) -> Generator[simpy.Event, object, bool]:
    """Send, then resend on ``waits`` until ``answered`` fires; ``False`` if it never does."""
    for w in waits:
        send()
        timer = env.timeout(w)
        yield answered | timer
        if answered.triggered:
            return True
    return False


def http_over_packets(
    env: simpy.Environment,
    forward: Sequence[PacketLink],
    back: Sequence[PacketLink],
    body: float,
    params: TcpParams,
    *,
    connected: bool = False,
    server_time: float = 0.0,
    header_bytes: float = RESPONSE_HEADER_BYTES,
    client_rate: float = math.inf,
    client_delay: float = 0.0,
    warm: bool = False,
    cc: str = "reno",
) -> Generator[simpy.Event, object, PacketHttpResult]:
    """One HTTP GET of ``body`` bytes: server → client over ``forward``, ACKs over ``back``.

    ``yield from`` it in a process. ``client_rate`` (wire bytes/s) and ``client_delay``
    (s) are the client's intake rate and per-packet reaction time (module docstring).
    ``warm``: a keep-alive connection that just carried a window's worth — Linux keeps
    its cwnd (RFC 2861 validation [rfc2861], as the law's ``warm``), so the sender starts
    at the receiver's window instead of the initial one. ``cc``: the sender's
    congestion control, ``reno`` or ``cubic`` (module docstring).
    Interrupting the process closes the connection: nothing more is sent.
    """
    start = env.now
    response = body + header_bytes
    done = env.event()
    synack, get_seen = env.event(), env.event()
    links = list(forward)
    if math.isfinite(client_rate):
        links.append(PacketLink(env, client_rate, 0.0, name="client-intake"))

    sender: _Sender | None = None
    gone = [False]  # the client went away: the server ignores what is still in flight

    def at_server(packet: Packet) -> None:
        nonlocal sender
        kind = packet.payload
        if gone[0]:
            return
        if kind == "SYN":
            to_client.send(SYN_WIRE, "SYN-ACK")
        elif kind == "GET" and sender is None:
            get_seen.succeed()
            sender = _Sender(env, data_path, response, params, done, cc)
            if warm:
                sender.cwnd = max(sender.cwnd, float(sender.rwnd_segs))
            if server_time > 0:
                env.timeout(server_time).callbacks.append(lambda _e: sender.pump())
            else:
                sender.pump()
        elif isinstance(kind, tuple) and sender is not None:
            sender.on_ack(packet)

    up = PacketPath(env, back, at_server)
    receiver = _Receiver(env, up, max(1, math.ceil(response / params.mss)), client_delay,
                         done)

    def at_client(packet: Packet) -> None:
        if packet.payload == "SYN-ACK":
            if not synack.triggered:
                synack.succeed()
        else:
            receiver.on_data(packet)

    to_client = PacketPath(env, forward, at_client)
    data_path = PacketPath(env, links, at_client)

    def later(what: str, size: float):
        def send() -> None:
            if client_delay > 0:
                env.timeout(client_delay).callbacks.append(
                    lambda _e: None if gone[0] else up.send(size, what))
            else:
                up.send(size, what)
        return send

    waits = retry_waits(*CLIENT_RETRY)
    try:
        if not connected:
            ok = yield from _reliable(env, later("SYN", SYN_WIRE), synack, waits)
            if not ok:
                gone[0] = True
                return _failed(start, env.now, sender)
        ok = yield from _reliable(env, later("GET", REQUEST_BYTES + ACK_WIRE), get_seen,
                                  waits)
        if not ok:
            gone[0] = True
            return _failed(start, env.now, sender)
        yield done
    except simpy.Interrupt:
        gone[0] = receiver.closed = True
        if sender is not None:
            sender.closed = True
        raise
    receiver.closed = True
    assert sender is not None
    sender.closed = True
    return PacketHttpResult(start, env.now, float(body), sender.wire, sender.n, sender.resent,
                            sender.timeouts, sender.recoveries, "ok")


def _failed(start: float, end: float, sender: _Sender | None) -> PacketHttpResult:
    return PacketHttpResult(start, end, 0.0, sender.wire if sender else 0.0,
                            sender.n if sender else 0, 0, 0, 0, "failed")
