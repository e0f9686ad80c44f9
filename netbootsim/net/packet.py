"""Packet engine: links that queue, serialise, lose and propagate single packets.

The flow engine (:mod:`netbootsim.net.engine`) moves bytes as fluid flows; this module
moves packets, one at a time, to check the flow laws against and to model what fluids
cannot (drop-tail queues, per-packet loss, lock-step protocols under queueing).

A :class:`PacketLink` is one direction of a link: a FIFO output queue of ``buffer``
bytes in front of a transmitter of ``capacity`` bytes/s, followed by ``latency``
seconds of propagation. The queue is kept analytically: the transmitter is busy until
``busy_until``, so a packet accepted at ``now`` finishes serialisation at
``max(now, busy_until) + size / capacity`` and arrives ``latency`` later. The bytes in
the queue (the packet in service included) are ``(busy_until - now) × capacity``; a
packet that does not fit is dropped (drop-tail). A packet that is accepted is then lost
on the wire with probability ``loss``, drawn from an explicit
``numpy.random.Generator``: it still occupies the transmitter but is never delivered.
With ``jitter``, each packet's propagation is drawn uniformly in ``latency ± jitter``
(netem's ``delay TIME JITTER``, uniform by default [netem]) but a packet never arrives
before the one sent before it on the link (a line whose delay varies, as netem with a
``rate``, which serialises its output: no reordering).

Cost: one SimPy event (a timeout at the arrival instant) per packet per hop; a
:class:`PacketPath` chains links store-and-forward (each hop: queue, serialise,
propagate) and hands the packet to a callback or a :class:`simpy.Store` at the end
(one ``put`` event more).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field

import numpy as np
import simpy

__all__ = ["FairLink", "LazyTimer", "Packet", "PacketLink", "PacketNetwork", "PacketPath",
           "path_rtt", "resend_until_answered", "SWITCH_BUFFER"]

#: Egress buffer of a switch port (bytes): Broadcom Tomahawk, the common leaf/spine ASIC,
#: shares 16 MB among 32 × 100 GbE ports (BCM56960 product brief) — 512 KiB a port when
#: every port is busy. Hosts' own egress does not drop: Linux holds a sender's segments
#: in the socket (TCP Small Queues, ``tcp_limit_output_bytes``) rather than tail-drop
#: them in its qdisc, so a host's queue is unbounded here (:class:`FairLink`).
SWITCH_BUFFER = 512 * 1024


@dataclass(slots=True)
class Packet:
    """One packet in flight.

    Attributes:
        size: bytes it occupies on the wire (framing included).
        payload: what it carries (opaque to the network).
        sent: simulated time it entered the first link (s).
        hops: links passed so far.
        flow: what a fair queue tells flows apart by (the :class:`PacketPath`).
    """

    size: float
    payload: object
    sent: float = 0.0
    hops: int = field(default=0)
    flow: object = None


class PacketLink:
    """One direction of a link: drop-tail FIFO, serialisation, loss, propagation.

    Attributes:
        capacity: transmitter rate (bytes/s); ``math.inf`` for no serialisation.
        latency: propagation delay (s).
        jitter: each packet's propagation is ``latency`` ± up to this, uniformly, order
            kept (s; ``<= latency``).
        buffer: queue size in bytes, the packet being serialised included.
        loss: probability that an accepted packet is lost on the wire.
        name: for messages and records.
        sent: packets accepted into the queue (lost ones included).
        dropped_queue: packets refused because the queue was full.
        dropped_loss: accepted packets lost on the wire.
        bytes: bytes accepted (and so serialised).
    """

    def __init__(
        self,
        env: simpy.Environment,
        capacity: float,
        latency: float = 0.0,
        buffer: float = math.inf,
        loss: float = 0.0,
        rng: np.random.Generator | None = None,
        name: str = "",
        jitter: float = 0.0,
    ) -> None:
        """Build a link; ``rng`` is required when ``loss`` or ``jitter`` > 0."""
        if capacity <= 0:
            raise ValueError(f"link {name!r}: capacity {capacity} must be > 0")
        if latency < 0:
            raise ValueError(f"link {name!r}: latency {latency} must be ≥ 0")
        if buffer <= 0:
            raise ValueError(f"link {name!r}: buffer {buffer} must be > 0")
        if not 0.0 <= loss <= 1.0:
            raise ValueError(f"link {name!r}: loss {loss} outside 0..1")
        if not 0.0 <= jitter <= latency:
            raise ValueError(f"link {name!r}: jitter {jitter} outside 0..latency")
        if (loss > 0 or jitter > 0) and rng is None:
            raise ValueError(f"link {name!r}: loss or jitter > 0 needs an explicit numpy "
                             "Generator")
        self.env = env
        self.capacity = capacity
        self.latency = latency
        self.jitter = jitter
        self._last = 0.0  # the latest arrival so far (jitter keeps the order)
        self.buffer = buffer
        self.loss = loss
        self.rng = rng
        self.name = name
        self.busy_until = 0.0
        self.sent = 0
        self.dropped_queue = 0
        self.dropped_loss = 0
        self.bytes = 0.0
        #: optional ``extra_loss(now)``: loss added during fault windows.
        self.extra_loss: Callable[[float], float] | None = None

    def backlog(self) -> float:
        """Bytes in the queue now, the packet being serialised included."""
        if self.capacity == math.inf:
            return 0.0
        return max(0.0, self.busy_until - self.env.now) * self.capacity

    def _lost(self, now: float) -> bool:
        """Draw whether a packet leaving now is lost on the wire (and count it)."""
        loss = self.loss
        if self.extra_loss is not None:
            loss = 1.0 - (1.0 - loss) * (1.0 - self.extra_loss(now))
        if loss > 0 and self.rng.random() < loss:
            self.dropped_loss += 1
            return True
        return False

    def send(self, packet: Packet, deliver: Callable[[Packet], None]) -> bool:
        """Queue ``packet``; call ``deliver(packet)`` when it reaches the far end.

        Returns:
            ``False`` if the queue was full and the packet was dropped, else ``True``
            (even if the packet is then lost on the wire).
        """
        now = self.env.now
        if self.backlog() + packet.size > self.buffer:
            self.dropped_queue += 1
            return False
        self.sent += 1
        self.bytes += packet.size
        self.busy_until = max(now, self.busy_until) + packet.size / self.capacity
        if self._lost(now):
            return True
        arrival = self.env.timeout(self._delay(self.busy_until, now), packet)
        arrival.callbacks.append(_Deliver(deliver))
        return True

    def _delay(self, sent: float, now: float) -> float:
        """From ``now`` until a packet whose last bit leaves at ``sent`` arrives."""
        d = sent + self.latency - now
        if not self.jitter:
            return d
        d += self.jitter * (2.0 * self.rng.random() - 1.0)
        while now + d < self._last:  # never before the packet ahead (float-exact)
            d = max(self._last - now, math.nextafter(d, math.inf))
        self._last = now + d
        return d


class FairLink(PacketLink):
    """A host's egress: per-flow round robin, one packet per turn, never drops.

    Linux does not let its own TCP flows fill one FIFO with whole windows: TCP Small
    Queues (``tcp_limit_output_bytes``) keep each socket's backlog in the socket, and
    the default qdisc ``fq_codel`` (systemd's ``net.core.default_qdisc``) serves flows
    by deficit round robin. Either way each backlogged flow gets an equal turn at the
    NIC — modelled here as round robin with a quantum of one packet (``flow`` of a
    packet: its :class:`PacketPath`). Costs one more event per packet than the FIFO
    (the end of each packet's serialisation).
    """

    def __init__(self, env: simpy.Environment, capacity: float, latency: float = 0.0,
                 loss: float = 0.0, rng: np.random.Generator | None = None,
                 name: str = "", jitter: float = 0.0) -> None:
        """Build a host egress (unbounded: ``buffer`` is infinite)."""
        super().__init__(env, capacity, latency, math.inf, loss, rng, name, jitter)
        self.queues: dict[object, deque] = {}
        self.turns: deque = deque()  # flows with packets waiting, in service order
        self.busy = False
        self.queued = 0.0

    def backlog(self) -> float:
        """Bytes waiting or being serialised."""
        return self.queued

    def send(self, packet: Packet, deliver: Callable[[Packet], None]) -> bool:
        """Queue ``packet`` behind its own flow's earlier packets; always accepted."""
        self.sent += 1
        self.bytes += packet.size
        self.queued += packet.size
        q = self.queues.get(packet.flow)
        if q is None:
            q = self.queues[packet.flow] = deque()
            self.turns.append(packet.flow)
        q.append((packet, deliver))
        if not self.busy:
            self._serve()
        return True

    def _serve(self) -> None:
        if not self.turns:
            self.busy = False
            return
        flow = self.turns.popleft()
        q = self.queues[flow]
        item = q.popleft()
        if q:
            self.turns.append(flow)
        else:
            del self.queues[flow]
        self.busy = True
        t = item[0].size / self.capacity
        self.busy_until = self.env.now + t
        self.env.timeout(t, item).callbacks.append(self._serialised)

    def _serialised(self, event: simpy.Event) -> None:
        packet, deliver = event.value
        self.queued -= packet.size
        now = self.env.now
        if not self._lost(now):
            self.env.timeout(self._delay(now, now), packet).callbacks.append(
                _Deliver(deliver))
        self._serve()


def resend_until_answered(env: simpy.Environment, exchange: Callable[[], Generator],
                          waits: Sequence[float]) -> Generator[simpy.Event, object, bool]:
    """A request/answer over lossy packets, resent on a retry timer.

    Each try runs ``exchange()`` (a generator: send, wait for the answer) as its own
    process; a new try starts after each of ``waits`` without an answer. Returns ``True``
    as soon as any try has its answer (late answers to earlier tries count), ``False``
    after the last wait. Tries whose packets were lost stay blocked, harmlessly (nothing
    ever wakes them; they do not keep the simulation alive).
    """
    done = env.event()

    def attempt():
        yield from exchange()
        if not done.triggered:
            done.succeed()

    for wait in waits:
        env.process(attempt())
        yield done | env.timeout(wait)
        if done.triggered:
            return True
    return False


class LazyTimer:
    """A protocol timer on one lazily re-armed SimPy timeout.

    ``set(deadline)`` moves it (``math.inf``: stopped); ``fire()`` runs once the
    deadline is reached. A deadline moved later costs nothing until the pending
    timeout wakes (it then sleeps again); an earlier one schedules a new timeout and
    the old one is ignored — per-ACK timer resets stay O(1) events.
    """

    __slots__ = ("env", "fire", "deadline", "event", "at")

    def __init__(self, env: simpy.Environment, fire) -> None:
        self.env = env
        self.fire = fire
        self.deadline = math.inf
        self.event: simpy.Event | None = None
        self.at = math.inf

    def set(self, deadline: float) -> None:
        """Fire at ``deadline`` (absolute time; ``math.inf`` stops the timer)."""
        self.deadline = deadline
        if deadline < math.inf and (self.event is None or deadline < self.at):
            self.at = deadline
            self.event = self.env.timeout(deadline - self.env.now)
            self.event.callbacks.append(self._wake)

    def _wake(self, event: simpy.Event) -> None:
        if event is not self.event:
            return
        self.event = None
        if self.deadline == math.inf:
            return
        if self.env.now < self.deadline:  # moved later since: sleep again
            self.set(self.deadline)
            return
        self.deadline = math.inf
        self.fire()


class _Deliver:
    """Event callback handing the event's packet to ``deliver`` (picklable, no lambda)."""

    __slots__ = ("deliver",)

    def __init__(self, deliver: Callable[[Packet], None]) -> None:
        self.deliver = deliver

    def __call__(self, event: simpy.Event) -> None:
        self.deliver(event.value)


class PacketPath:
    """A store-and-forward chain of links ending in a sink.

    Args:
        env: the simulation environment.
        links: the hops, in order; ``[]`` delivers at once.
        sink: a callable taking the :class:`Packet`, or a :class:`simpy.Store`
            that receives it.
    """

    def __init__(
        self,
        env: simpy.Environment,
        links: Sequence[PacketLink],
        sink: Callable[[Packet], None] | simpy.Store,
    ) -> None:
        """Chain ``links`` towards ``sink``."""
        self.env = env
        self.links = list(links)
        self.sink = sink.put if isinstance(sink, simpy.Store) else sink
        self.delivered = 0

    def send(self, size: float, payload: object) -> Packet:
        """Send ``size`` wire bytes carrying ``payload``; returns the packet."""
        packet = Packet(size, payload, self.env.now, 0, self)
        self._forward(packet)
        return packet

    def _forward(self, packet: Packet) -> None:
        if packet.hops == len(self.links):
            self.delivered += 1
            self.sink(packet)
            return
        link = self.links[packet.hops]
        packet.hops += 1
        link.send(packet, self._forward)


def path_rtt(forward: Sequence[PacketLink], back: Sequence[PacketLink], size: float) -> float:
    """Propagation both ways plus the serialisation of ``size`` bytes on the way back.

    This is the ``rtt`` argument of :func:`netbootsim.protocols.tftp.tftp_plan` for a
    packet path, with ``size`` the ACK's wire bytes: the law adds each DATA frame's
    forward serialisation itself (``hop_capacities``), so only the ACK's is in ``rtt``.
    """
    lat = sum(link.latency for link in forward) + sum(link.latency for link in back)
    return lat + size * sum(1.0 / link.capacity for link in back)


class PacketNetwork:
    """One :class:`PacketLink` per link direction of a topology, made on first use.

    Args:
        env: the simulation environment.
        rng: the generator every lossy link draws from (one stream: the order of draws
            is the order of packets, fixed by the event order, so runs repeat).
        buffer: egress buffer of a switch or router port (bytes).
        hosts: nodes whose egress never drops (servers and boot hosts).
        extra_loss: optional ``extra_loss(link, now)``: loss of fault windows on the
            full-duplex ``link`` at time ``now``.
        host_queue: a host's egress: ``"fair"`` — per-flow round robin
            (:class:`FairLink`: fq_codel's scheduling without its drops, or TSQ), the
            default — or ``"fifo"``: one unbounded FIFO (a host without fq_codel and
            TSQ, e.g. the ns-3 reference as ``benchmarks/ns3_sharing.py`` runs it).
    """

    def __init__(self, env: simpy.Environment, rng: np.random.Generator,
                 buffer: float = SWITCH_BUFFER, hosts: frozenset[str] = frozenset(),
                 extra_loss: Callable[[str, float], float] | None = None,
                 host_queue: str = "fair") -> None:
        """Start with no links; :meth:`links` makes them."""
        if host_queue not in ("fair", "fifo"):
            raise ValueError(f"host_queue {host_queue!r}: 'fair' or 'fifo'")
        self.host_queue = host_queue
        self.env = env
        self.rng = rng
        self.buffer = buffer
        self.hosts = hosts
        self.extra_loss = extra_loss
        self.by_name: dict[str, PacketLink] = {}

    def links(self, dirs: Sequence) -> list[PacketLink]:
        """The packet links of link directions (``name, src, capacity, latency, loss, link``)."""
        out = []
        for d in dirs:
            link = self.by_name.get(d.name)
            if link is None:
                jitter = d.jitter
                if d.src in self.hosts and self.host_queue == "fifo":
                    link = PacketLink(self.env, d.capacity, d.latency, buffer=math.inf,
                                      loss=d.loss, rng=self.rng, name=d.name, jitter=jitter)
                elif d.src in self.hosts:
                    link = FairLink(self.env, d.capacity, d.latency, loss=d.loss,
                                    rng=self.rng, name=d.name, jitter=jitter)
                else:
                    link = PacketLink(self.env, d.capacity, d.latency, buffer=self.buffer,
                                      loss=d.loss, rng=self.rng, name=d.name, jitter=jitter)
                if self.extra_loss is not None:
                    link.extra_loss = _LinkLoss(self.extra_loss, d.link)
                    link.rng = self.rng
                self.by_name[d.name] = link
            out.append(link)
        return out


class _LinkLoss:
    """``extra_loss(now)`` of one link, bound to its name (no lambda)."""

    __slots__ = ("fn", "link")

    def __init__(self, fn: Callable[[str, float], float], link: str) -> None:
        self.fn = fn
        self.link = link

    def __call__(self, now: float) -> float:
        return self.fn(self.link, now)
