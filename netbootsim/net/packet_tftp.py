"""TFTP over the packet engine: an iPXE-like client and a server, packet by packet.

The same semantics as the analytic law in :mod:`netbootsim.protocols.tftp`, so the two
can be checked against each other:

- Client (iPXE, tftp.c): sends RRQ; ACKs the OACK with ACK 0 at once; processes each
  in-order DATA block for ``client_block_delay`` (one block at a time) and ACKs the
  window's last block (every ``windowsize``-th block, and the final short one) when its
  processing ends. Out-of-order and duplicate blocks are discarded without an ACK. Its
  last packet is resent on the retry timer: waits ``retry_waits(first, retry_max)``
  counted from the packet's first send, ``first = max(retry_min, t)`` with ``t`` the
  retry.c smoothed estimate ``t := t - t/8 + runtime/2`` (≈ 4 × exchange time; samples
  from resent exchanges skipped, Karn); after the last wait it gives up. The doubling
  restarts with each new packet, as the law assumes (retry.c keeps the doubled value
  until the next smoothing; on a LAN the difference is one doubled wait after a loss).
- Server: answers RRQ with OACK; on ACK ``n`` spends ``server_block_cost`` before
  each DATA of the window ``n+1 .. n+W`` (one block at a time). With
  ``server_retransmit = None`` a duplicate ACK resends the window; otherwise
  duplicate ACKs are ignored and the window is resent ``server_retransmit`` seconds
  after its last send, at most one time fewer than the client's retry schedule has
  sends (5 with iPXE's defaults).
- Sizes on the wire use :mod:`netbootsim.protocols.wire`: DATA = payload + 4 + 8 + 20 +
  38, ACK = 4 + 8 + 20 + 38 (opcode and block number, like a DATA header), RRQ and OACK
  from their RFC 1350 [rfc1350] / RFC 2347 [rfc2347] text (filename, ``octet``,
  ``blksize``, ``tsize``, ``windowsize`` when W > 1).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import simpy

from ..protocols.retry import retry_waits
from ..protocols.tftp import TftpParams
from ..protocols.wire import ETHERNET_OVERHEAD, IPV4_HEADER, TFTP_FRAME_OVERHEAD, UDP_HEADER
from .packet import LazyTimer, PacketLink, PacketPath

__all__ = ["PacketTftpResult", "ack_wire", "oack_wire", "rrq_wire", "tftp_over_packets"]

_L3_L2 = UDP_HEADER + IPV4_HEADER + ETHERNET_OVERHEAD

#: Wire bytes of an ACK: opcode 2 + block 2, UDP, IPv4, Ethernet = 70.
ack_wire = TFTP_FRAME_OVERHEAD


def _options(params: TftpParams, tsize: int) -> bytes:
    opts = b"blksize\0%d\0tsize\0%d\0" % (params.blksize, tsize)
    if params.windowsize > 1:
        opts += b"windowsize\0%d\0" % params.windowsize
    return opts


def rrq_wire(filename: str, params: TftpParams) -> int:
    """Wire bytes of the RRQ: opcode, filename, ``octet`` and options (tsize 0)."""
    text = 2 + len(filename.encode()) + 1 + len(b"octet\0") + len(_options(params, 0))
    return text + _L3_L2


def oack_wire(size: int, params: TftpParams) -> int:
    """Wire bytes of the OACK: opcode and the accepted options (tsize = file size)."""
    return 2 + len(_options(params, size)) + _L3_L2


@dataclass(frozen=True, slots=True)
class PacketTftpResult:
    """One TFTP transfer on the packet engine.

    Attributes:
        start: time the RRQ was sent (s).
        end: time the final ACK was sent, or the client gave up (s).
        bytes: payload bytes delivered to the client.
        blocks: DATA blocks delivered in order.
        retransmissions: packets resent (client retries + server resends).
        client_retries: client packets resent on its timer.
        server_resends: DATA blocks the server sent more than once.
        outcome: ``"ok"`` or ``"failed"``.
    """

    start: float
    end: float
    bytes: int
    blocks: int
    retransmissions: int
    client_retries: int
    server_resends: int
    outcome: str

    @property
    def seconds(self) -> float:
        """Request to final ACK (or failure)."""
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class _Msg:
    op: str  # "RRQ", "OACK", "DATA", "ACK"
    block: int = 0
    length: int = 0


class _Counts:
    __slots__ = ("client", "server")

    def __init__(self) -> None:
        self.client = 0
        self.server = 0


def tftp_over_packets(
    env: simpy.Environment,
    forward: Sequence[PacketLink],
    back: Sequence[PacketLink],
    size: int,
    params: TftpParams,
    filename: str = "undionly.kpxe",
) -> Generator[simpy.Event, object, PacketTftpResult]:
    """Fetch ``size`` bytes server → client over ``forward`` (ACKs over ``back``).

    ``yield from`` it in a process. Client and server are callbacks on packet arrival
    and on their timers (no process, no queue of their own: a packet is handled when it
    arrives); interrupting the process closes both.
    """
    done = env.event()
    counts = _Counts()
    client = _Client(env, size, params, filename, counts, done)
    server = _Server(env, size, params, counts)
    client.up = PacketPath(env, back, server.on_packet)
    server.down = PacketPath(env, forward, client.on_packet)
    client.start()
    try:
        result = yield done
    except simpy.Interrupt:
        client.closed = server.closed = True  # the client went away (power cycle)
        raise
    server.closed = True
    return result


class _Client:
    __slots__ = ("env", "size", "params", "filename", "counts", "done", "up", "blocks",
                 "smooth", "got", "cpu_free", "last", "sent_at", "attempt", "waits",
                 "timer", "closed", "start_t")

    def __init__(self, env, size, params, filename, counts, done):
        self.env = env
        self.size = size
        self.params = params
        self.filename = filename
        self.counts = counts
        self.done = done
        self.up: PacketPath | None = None
        self.blocks = size // params.blksize + 1
        self.smooth = 0.0
        self.got = 0  # highest in-order block received
        self.cpu_free = env.now
        self.last = (rrq_wire(filename, params), _Msg("RRQ"))
        self.sent_at = env.now
        self.attempt = 0
        self.waits = retry_waits(params.retry_min, params.retry_max)
        self.timer = LazyTimer(env, self._expired)
        self.closed = False
        self.start_t = env.now

    def start(self) -> None:
        self.up.send(*self.last)
        self.timer.set(self.env.now + self.waits[0])

    def on_packet(self, packet) -> None:
        if self.closed:
            return
        msg = packet.payload
        p = self.params
        if msg.op == "OACK" and self.last[1].op == "RRQ":
            self._ack(0)
        elif msg.op == "DATA" and msg.block == self.got + 1:
            self.got += 1
            now = self.env.now
            self.cpu_free = max(now, self.cpu_free) + p.client_block_delay
            if self.got % p.windowsize and self.got < self.blocks:
                return
            if self.cpu_free > now:  # ACK when the window's last block is processed
                ev = self.env.timeout(self.cpu_free - now, self.got)
                ev.callbacks.append(self._ack_later)
            else:
                self._ack(self.got)
        # else: duplicate or out of order: discarded

    def _ack_later(self, event: simpy.Event) -> None:
        if not self.closed:
            self._ack(event.value)

    def _ack(self, ack: int) -> None:
        env, p = self.env, self.params
        if self.attempt == 0:  # Karn: only exchanges that were not resent
            self.smooth = self.smooth - self.smooth / 8 + (env.now - self.sent_at) / 2
        self.last = (ack_wire, _Msg("ACK", ack))
        self.up.send(*self.last)
        if ack == self.blocks:
            self._finish("ok", self.size)
            return
        self.sent_at = env.now
        self.attempt = 0
        self.waits = retry_waits(max(p.retry_min, min(self.smooth, p.retry_max)), p.retry_max)
        self.timer.set(env.now + self.waits[0])

    def _expired(self) -> None:
        if self.closed:
            return
        self.attempt += 1
        if self.attempt == len(self.waits):
            self._finish("failed", min(self.size, self.got * self.params.blksize))
            return
        self.counts.client += 1
        self.up.send(*self.last)
        self.timer.set(self.env.now + self.waits[self.attempt])

    def _finish(self, outcome: str, nbytes: int) -> None:
        self.closed = True
        self.timer.set(math.inf)
        c = self.counts
        self.done.succeed(PacketTftpResult(self.start_t, self.env.now, nbytes, self.got,
                                           c.client + c.server, c.client, c.server, outcome))


class _Server:
    __slots__ = ("env", "size", "params", "counts", "down", "blocks", "acked", "sent_hi",
                 "resends", "max_resends", "timer", "free", "closed")

    def __init__(self, env, size, params, counts):
        self.env = env
        self.size = size
        self.params = params
        self.counts = counts
        self.down: PacketPath | None = None
        self.blocks = size // params.blksize + 1
        self.acked = -1  # ACK 0 acknowledges the OACK
        self.sent_hi = 0
        self.resends = 0
        self.max_resends = len(retry_waits(params.retry_min, params.retry_max)) - 1
        self.timer = LazyTimer(env, self._expired)
        self.free = env.now  # the server's CPU is busy until then (block costs)
        self.closed = False

    def on_packet(self, packet) -> None:
        if self.closed:
            return
        msg = packet.payload
        rto = self.params.server_retransmit
        if msg.op == "RRQ":
            if self.acked < 0:
                self.down.send(oack_wire(self.size, self.params), _Msg("OACK"))
                if rto is not None:
                    self.timer.set(self.env.now + rto)
            return
        if msg.block > self.acked:
            self.acked = msg.block
            self.resends = 0
        elif rto is not None or msg.block < self.acked:
            return  # duplicate ACK ignored (or stale)
        if self.acked >= self.blocks:
            self.closed = True
            self.timer.set(math.inf)
            return
        self._send_window()

    def _expired(self) -> None:
        if self.closed:
            return
        self.resends += 1
        if self.resends > self.max_resends:
            self.closed = True
            return
        if self.acked < 0:  # OACK lost, server timer: resend it
            self.down.send(oack_wire(self.size, self.params), _Msg("OACK"))
            self.timer.set(self.env.now + self.params.server_retransmit)
        else:
            self._send_window()

    def _send_window(self) -> None:
        p = self.params
        bs = p.blksize
        env = self.env
        t = max(env.now, self.free)
        for block in range(self.acked + 1, min(self.acked + p.windowsize, self.blocks) + 1):
            length = bs if block < self.blocks else self.size - (self.blocks - 1) * bs
            if block <= self.sent_hi:
                self.counts.server += 1
            self.sent_hi = max(self.sent_hi, block)
            msg = _Msg("DATA", block, length)
            if p.server_block_cost > 0:
                t += p.server_block_cost
                env.timeout(t - env.now, msg).callbacks.append(self._send_data)
            else:
                self._send_data_now(msg)
        self.free = t
        if p.server_retransmit is not None:
            self.timer.set(t + p.server_retransmit)

    def _send_data(self, event: simpy.Event) -> None:
        if not self.closed:
            self._send_data_now(event.value)

    def _send_data_now(self, msg: _Msg) -> None:
        self.down.send(msg.length + TFTP_FRAME_OVERHEAD, msg)
