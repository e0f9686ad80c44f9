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
  after its last send, at most as many times as the client's retry schedule has sends.
- Sizes on the wire use :mod:`netbootsim.protocols.wire`: DATA = payload + 4 + 8 + 20 +
  38, ACK = 4 + 8 + 20 + 38 (opcode and block number, like a DATA header), RRQ and OACK
  from their RFC 1350/2347 text (filename, ``octet``, ``blksize``, ``tsize``,
  ``windowsize`` when W > 1).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass

import simpy

from ..protocols.tftp import TftpParams, retry_waits
from ..protocols.wire import ETHERNET_OVERHEAD, IPV4_HEADER, TFTP_FRAME_OVERHEAD, UDP_HEADER
from .packet import PacketLink, PacketPath

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

    ``yield from`` it in a process (or wrap it in ``env.process``). The server runs as
    its own process and is interrupted when the client ends.
    """
    to_client = simpy.Store(env)
    to_server = simpy.Store(env)
    down = PacketPath(env, forward, to_client)
    up = PacketPath(env, back, to_server)
    counts = _Counts()
    server = env.process(_server(env, to_server, down, size, params, counts))
    try:
        result = yield from _client(env, to_client, up, size, params, filename, counts)
    except simpy.Interrupt:
        if server.is_alive:  # the client went away (power cycle): the server stops too
            server.interrupt("client gone")
        raise
    if server.is_alive:
        server.interrupt("client done")
    return result


def _client(env, inbox, up, size, params, filename, counts):
    start = env.now
    blocks = size // params.blksize + 1
    w = params.windowsize
    smooth = 0.0
    got = 0  # highest in-order block received
    cpu_free = env.now
    last = (rrq_wire(filename, params), _Msg("RRQ"))
    sent_at = env.now
    attempt = 0
    waits = retry_waits(params.retry_min, params.retry_max)
    up.send(*last)
    timer = env.timeout(waits[0])
    get = inbox.get()
    while True:
        yield get | timer
        if get.triggered:
            msg = get.value.payload
            get = inbox.get()
            if msg.op == "OACK" and last[1].op == "RRQ":
                ack = 0
            elif msg.op == "DATA" and msg.block == got + 1:
                got += 1
                cpu_free = max(env.now, cpu_free) + params.client_block_delay
                if got % w and got < blocks:
                    continue
                if cpu_free > env.now:
                    yield env.timeout(cpu_free - env.now)
                ack = got
            else:
                continue  # duplicate or out of order: discarded
            if attempt == 0:  # Karn: only exchanges that were not resent
                smooth = smooth - smooth / 8 + (env.now - sent_at) / 2
            last = (ack_wire, _Msg("ACK", ack))
            up.send(*last)
            if ack == blocks:
                get.cancel()
                return PacketTftpResult(start, env.now, size, got, counts.client + counts.server,
                                        counts.client, counts.server, "ok")
            sent_at = env.now
            attempt = 0
            waits = retry_waits(max(params.retry_min, min(smooth, params.retry_max)),
                                params.retry_max)
            timer = env.timeout(waits[0])
        elif timer.triggered:
            attempt += 1
            if attempt == len(waits):
                get.cancel()
                got_bytes = min(size, got * params.blksize)
                return PacketTftpResult(start, env.now, got_bytes, got,
                                        counts.client + counts.server,
                                        counts.client, counts.server, "failed")
            counts.client += 1
            up.send(*last)
            timer = env.timeout(waits[attempt])


def _server(env, inbox, down, size, params, counts):
    blocks = size // params.blksize + 1
    w = params.windowsize
    bs = params.blksize
    acked = -1  # ACK 0 acknowledges the OACK
    sent_hi = 0
    resends = 0
    max_resends = len(retry_waits(params.retry_min, params.retry_max)) - 1
    rto = params.server_retransmit
    get = inbox.get()
    timer = None
    try:
        while True:
            yield get if timer is None else get | timer
            if get.triggered:
                msg = get.value.payload
                get = inbox.get()
                if msg.op == "RRQ":
                    if acked < 0:
                        down.send(oack_wire(size, params), _Msg("OACK"))
                        timer = env.timeout(rto) if rto is not None else None
                    continue
                if msg.block > acked:
                    acked = msg.block
                    resends = 0
                elif rto is not None or msg.block < acked:
                    continue  # duplicate ACK ignored (or stale)
                if acked >= blocks:
                    return
            elif timer is not None and timer.triggered:
                resends += 1
                if resends > max_resends:
                    return
            else:
                continue
            if acked < 0:  # OACK lost, server timer: resend it
                down.send(oack_wire(size, params), _Msg("OACK"))
            else:
                for block in range(acked + 1, min(acked + w, blocks) + 1):
                    if params.server_block_cost > 0:
                        yield env.timeout(params.server_block_cost)
                    length = bs if block < blocks else size - (blocks - 1) * bs
                    if block <= sent_hi:
                        counts.server += 1
                    sent_hi = max(sent_hi, block)
                    down.send(length + TFTP_FRAME_OVERHEAD, _Msg("DATA", block, length))
            timer = env.timeout(rto) if rto is not None else None
    except simpy.Interrupt:
        get.cancel()
