"""Boot services with the limits that bite in storms.

:class:`TftpSlots` is a TFTP server with a session cap that behaves the way dnsmasq
does at its ``tftp-max`` (default 50, dnsmasq(8)), as the lab's traces show it
(tests/data/lab/traces/tftp-4guests-max1): while every slot is busy the server reads
no requests, so they queue in its socket; the waiting iPXE client re-sends its read
request (RRQ) on its retry timer — 0.25, 0.5, 1, 2, 4, 8 s, giving up 15.75 s after
the first (net/retry.c [ipxe-src]) — and every copy waits in the queue too. When a slot
frees, the server opens a transfer for the next queued copy, whatever it is: the
client's first unanswered copy starts its real transfer; a copy whose client is already
being served, or has given up, becomes an *orphan* transfer to a port nobody reads,
which holds the slot until the server gives up on it (about 15 s of OACK resends in
the lab). That feedback — more waiting clients, more copies, more orphans, fewer slots
for real transfers — is the cliff users hit, not a polite queue.

The queue is the server socket's receive buffer, and it is bounded: dnsmasq reads RRQs
from one socket per address (its TFTP port; each transfer then gets a socket of its own,
so ACKs never land there), sets no ``SO_RCVBUF`` on it and stops polling it while
``tftp-max`` transfers run (src/tftp.c, src/network.c, src/dnsmasq.c
``set_tftp_listeners`` [dnsmasq-src]). Linux charges each queued datagram its skb
*truesize*, not its length, and drops one that would take the charge past the socket's
buffer (``__udp_enqueue_schedule_skb``, net/ipv4/udp.c [linux-rmem]): the default
``net.core.rmem_default`` of 212,992 B holds 256 RRQs of 832 B each, as the lab measured
([lab-rcvbuf]), not 212,992 / 36 B. A dropped copy is gone: the client's timer re-sends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import simpy
from simpy.events import NORMAL

from ..protocols.retry import retry_waits
from .registry import HTTP, TFTP

__all__ = ["FifoResource", "FifoReader", "TftpSlots", "SlotWait", "run_with_slot",
           "rrqs_held", "HttpWorkers", "SYN_WAITS", "SYN_GIVE_UP"]

#: The defaults of the caps: the default models' (dnsmasq, Apache prefork).
_TFTP, _HTTP = TFTP.model(), HTTP.model()


def rrqs_held(recv_buffer: float, truesize: float) -> int:
    """How many RRQs a socket's receive buffer holds while nobody reads it.

    Linux queues a datagram if the truesize already charged to the socket plus its own
    stays within the buffer (``sk_rcvbuf``), and always the first one into an empty
    queue (``__udp_enqueue_schedule_skb``, net/ipv4/udp.c [linux-rmem]), so
    ``max(1, ⌊recv_buffer / truesize⌋)``: 212,992 B / 832 B = 256, the count the lab
    measured on Linux 6.18 ([lab-rcvbuf]). (Kernels before 6.18 let one more in, since
    they compared the charge *before* the datagram with the buffer: 257.)

    Args:
        recv_buffer: the socket's receive buffer (``sk_rcvbuf``; ``net.core.rmem_default``
            unless the server sets ``SO_RCVBUF``), bytes.
        truesize: what the kernel charges per queued RRQ, bytes.
    """
    return max(1, int(recv_buffer // truesize))


@dataclass
class SlotWait:
    """How one client fared getting a TFTP slot.

    Attributes:
        start: time of the first RRQ.
        served: time the server opened the real transfer (``nan`` if never).
        sends: RRQs the client sent (1: its first was served, at once or from the queue).
        dropped: of those, how many found the server's receive buffer full.
        gave_up: the client's retry timer ran out first.
    """

    start: float
    served: float = float("nan")
    sends: int = 1
    dropped: int = 0
    gave_up: bool = False
    event: simpy.Event | None = field(default=None, repr=False)



class _Waiting(deque):
    """SimPy's put queue as a deque: requests are served from its head in O(1).

    SimPy's default is a list, whose ``pop(0)`` moves every waiting request: a DHCP
    server with 100,000 packets queued at a storm's start spent seconds on it.
    """

    def pop(self, index: int = -1):  # noqa: D102  (SimPy calls pop(idx))
        if index == 0:
            return self.popleft()
        item = self[index]
        del self[index]
        return item


class FifoResource(simpy.Resource):
    """A :class:`simpy.Resource` whose waiting requests are kept in a deque.

    Same order, same events as SimPy's (its ``_trigger_put`` pops the head it grants).
    """

    PutQueue = _Waiting


class FifoReader:
    """One reader serving packets in arrival order, each for a fixed time.

    What a capacity-1 :class:`FifoResource` held for ``service`` gives, without its
    request and release events (two SimPy events a packet fewer; a DHCP server reads
    three packets a booting server): a packet's event is put in SimPy's queue when the
    reader takes it up — at once if idle, else when the packet before it is done —
    ``service`` later, so it fires at the same instant as the resource's timeout would
    (the grant's time plus ``service``, the same float). ``waiting``: the packets
    arrived and not yet taken up, as the resource's queue holds them.

    (A first version put every packet's event in SimPy's queue when it arrived, at its
    computed instant. At 100,000 servers that made 100,000 queue entries at the storm's
    start, freed over its DHCP wall among objects that live on, and the process kept
    0.28 GiB more after its loop: most likely the allocator's arenas, held by those.)
    """

    __slots__ = ("env", "service", "_busy", "_queue", "_taken")

    def __init__(self, env: simpy.Environment, service: float) -> None:
        """An idle reader taking ``service`` seconds a packet."""
        self.env = env
        self.service = service
        self._busy = False
        self._queue: deque[simpy.Event] = deque()  # arrived, not yet taken up
        self._taken = (self._next,)  # the callback that takes up the next one

    def waiting(self) -> int:
        """Packets arrived and not yet taken up."""
        return len(self._queue)

    def take(self) -> simpy.Event:
        """A packet arrives now; the event fires when it has been read and processed."""
        ev = simpy.Event(self.env)
        if self._busy:
            self._queue.append(ev)
        else:
            self._busy = True
            self._start(ev)
        return ev

    def _start(self, ev: simpy.Event) -> None:
        ev._ok = True
        ev._value = None
        ev.callbacks.extend(self._taken)
        self.env.schedule(ev, NORMAL, self.service)

    def _next(self, _ev: simpy.Event) -> None:
        if self._queue:
            self._start(self._queue.popleft())
        else:
            self._busy = False


class TftpSlots:
    """A TFTP server's session cap, with queued RRQ copies and orphan transfers.

    Args:
        env: the SimPy environment.
        max_sessions: concurrent transfers the server opens (dnsmasq ``--tftp-max``).
        orphan_hold: how long an orphan transfer holds its slot (s; dnsmasq's by default).
        recv_buffer: the receive buffer of the socket RRQs wait in (bytes; the kernel's
            default by default).
        request_truesize: what the kernel charges that buffer per RRQ (bytes).

    Attributes:
        capacity: RRQ copies the buffer holds (:func:`rrqs_held`); more are dropped.
        orphans: orphan transfers opened so far.
        max_queue: most RRQ copies waiting at once (at most ``capacity``).
        dropped: RRQ copies dropped at a full buffer.
    """

    def __init__(self, env: simpy.Environment, max_sessions: int,
                 orphan_hold: float = _TFTP.orphan_hold,
                 recv_buffer: float = _TFTP.recv_buffer,
                 request_truesize: float = _TFTP.request_truesize):
        self.env = env
        self.free = max_sessions
        self.max_sessions = max_sessions
        self.orphan_hold = orphan_hold
        self.capacity = rrqs_held(recv_buffer, request_truesize)
        self.queue: deque[SlotWait] = deque()
        self.orphans = 0
        self.max_queue = 0
        self.dropped = 0
        #: ``[start, end]`` of each stretch with every slot taken (end ``inf``: still).
        self.full: list[list[float]] = []

    def acquire(self, retry_min: float = 0.25, retry_max: float = 10.0
                ) -> Generator[simpy.Event, object, SlotWait]:
        """Send RRQs on the client's retry timer until a slot serves one, or give up.

        Args:
            retry_min: the client's first retry wait (iPXE: 0.25 s).
            retry_max: the client's backoff ceiling (iPXE: 10 s).

        On success the caller holds a slot and must call :meth:`release` after its
        transfer.
        """
        env = self.env
        waits = retry_waits(retry_min, retry_max)
        wait = SlotWait(start=env.now, event=env.event())
        self._enqueue(wait)
        try:
            for i, delay in enumerate(waits):
                if wait.event.triggered:
                    break
                yield wait.event | env.timeout(delay)
                if wait.event.triggered:
                    break
                if i + 1 < len(waits):
                    wait.sends += 1
                    self._enqueue(wait)  # iPXE re-sends its RRQ
        except simpy.Interrupt:
            if wait.event.triggered:
                self.release()  # served just now: the transfer never starts
            wait.gave_up = True  # power-cycled: its queued RRQs become orphans
            raise
        if not wait.event.triggered:
            wait.gave_up = True
        return wait

    def release(self) -> None:
        """A transfer ended: its slot serves the next queued RRQ copy."""
        self.free += 1
        self._dispatch()
        self._account()

    def _account(self) -> None:
        _track_full(self.full, self.free == 0, self.env.now)

    def _enqueue(self, wait: SlotWait) -> None:
        # a slot is free only while the queue is empty (_dispatch drains it): a full
        # queue means every slot is busy and the server reads nothing
        if len(self.queue) >= self.capacity:
            self.dropped += 1  # the kernel drops it; the client's timer re-sends
            wait.dropped += 1
            return
        self.queue.append(wait)
        self.max_queue = max(self.max_queue, len(self.queue))
        self._dispatch()
        self._account()

    def _dispatch(self) -> None:
        while self.free > 0 and self.queue:
            wait = self.queue.popleft()
            self.free -= 1
            if not wait.event.triggered and not wait.gave_up:
                wait.served = self.env.now
                wait.event.succeed()  # the client's real transfer takes this slot
            else:
                self.orphans += 1
                self.env.process(self._orphan())

    def _orphan(self) -> Generator[simpy.Event, object, None]:
        yield self.env.timeout(self.orphan_hold)
        self.release()


def _track_full(stretches: list[list[float]], full: bool, now: float) -> None:
    """Open a stretch when a cap fills, close it when it frees (bottleneck attribution)."""
    open_ = bool(stretches) and stretches[-1][1] == float("inf")
    if full and not open_:
        stretches.append([now, float("inf")])
    elif not full and open_:
        stretches[-1][1] = now


def run_with_slot(slots: TftpSlots, transfer: Callable[[], Generator],
                  retry_min: float = 0.25, retry_max: float = 10.0
                  ) -> Generator[simpy.Event, object, tuple[SlotWait, object]]:
    """Acquire a slot, run ``transfer()`` in it, release; ``(wait, result or None)``."""
    wait = yield from slots.acquire(retry_min, retry_max)
    if wait.gave_up:
        return wait, None
    try:
        result = yield from transfer()
    finally:
        slots.release()
    return wait, result


#: iPXE's TCP SYN retry timer (net/retry.c defaults, net/tcp.c [ipxe-src]): SYNs at 0, 0.25,
#: 0.75, 1.75, 3.75, 7.75 s; the connection fails 15.75 s after the first.
SYN_WAITS = tuple(retry_waits(0.25, 10.0))
SYN_GIVE_UP = sum(SYN_WAITS)


class HttpWorkers:
    """An HTTP server's worker cap, as Apache prefork has it (MaxRequestWorkers).

    A client's keep-alive connection holds one worker from its first request until
    ``keepalive`` seconds after its last response. While every worker is busy, new
    connections wait in the listen backlog (their handshake done by the kernel); once the
    backlog is full, SYNs are dropped and iPXE re-sends them on its retry timer (0.25 s
    doubling; the connection fails 15.75 s after the first SYN, net/tcp.c [ipxe-src]).

    Args:
        env: the SimPy environment.
        workers: the cap (Apache prefork's MaxRequestWorkers).
        backlog: listen backlog (Apache's by default).
        keepalive: how long an idle connection keeps its worker (Apache's by default).

    Attributes:
        max_waiting: most connections waiting for a worker at once.
        dropped_syns: SYNs dropped at a full backlog.
    """

    def __init__(self, env: simpy.Environment, workers: int, *,
                 backlog: int = _HTTP.backlog, keepalive: float = _HTTP.keepalive):
        self.env = env
        self.workers = FifoResource(env, capacity=workers)
        self.backlog = backlog
        self.keepalive = keepalive
        self.max_waiting = 0
        self.dropped_syns = 0
        #: ``[start, end]`` of each stretch with every worker taken (end ``inf``: still).
        self.full: list[list[float]] = []

    def _account(self) -> None:
        _track_full(self.full, self.workers.count >= self.workers.capacity, self.env.now)

    def connect(self) -> Generator[simpy.Event, object, tuple[object | None, int, float]]:
        """Get a worker for a new connection: ``(request or None, SYNs sent, waited s)``.

        ``None`` means the client gave up (the caller reports the failure).
        """
        env = self.env
        start = env.now
        syns = 0
        for delay in SYN_WAITS:
            syns += 1
            if len(self.workers.queue) < self.backlog:
                req = self.workers.request()
                self.max_waiting = max(self.max_waiting, len(self.workers.queue))
                try:
                    yield req
                except simpy.Interrupt:
                    if req.triggered:  # granted at the very instant it went away
                        self.workers.release(req)
                    else:
                        req.cancel()  # went away while queued: the kernel drops it
                    raise
                self._account()
                return req, syns, env.now - start
            self.dropped_syns += 1
            yield env.timeout(delay)
        return None, syns, env.now - start  # 15.75 s: iPXE gives the connection up

    def hold_then_release(self, req: object) -> None:
        """The connection's last response is out: free the worker after the keep-alive.

        A timeout with the release as its callback: no process of its own (two SimPy
        events a connection fewer).
        """
        def release(_ev: simpy.Event) -> None:
            self.workers.release(req)
            self._account()

        self.env.timeout(self.keepalive).callbacks.append(release)
