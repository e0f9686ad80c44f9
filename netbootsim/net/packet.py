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

Cost: one SimPy event (a timeout at the arrival instant) per packet per hop; a
:class:`PacketPath` chains links store-and-forward (each hop: queue, serialise,
propagate) and hands the packet to a callback or a :class:`simpy.Store` at the end
(one ``put`` event more).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import simpy

__all__ = ["Packet", "PacketLink", "PacketPath", "path_rtt"]


@dataclass(slots=True)
class Packet:
    """One packet in flight.

    Attributes:
        size: bytes it occupies on the wire (framing included).
        payload: what it carries (opaque to the network).
        sent: simulated time it entered the first link (s).
        hops: links passed so far.
    """

    size: float
    payload: object
    sent: float = 0.0
    hops: int = field(default=0)


class PacketLink:
    """One direction of a link: drop-tail FIFO, serialisation, loss, propagation.

    Attributes:
        capacity: transmitter rate (bytes/s); ``math.inf`` for no serialisation.
        latency: propagation delay (s).
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
    ) -> None:
        """Build a link; ``rng`` is required when ``loss > 0`` (no global random state)."""
        if capacity <= 0:
            raise ValueError(f"link {name!r}: capacity {capacity} must be > 0")
        if latency < 0:
            raise ValueError(f"link {name!r}: latency {latency} must be ≥ 0")
        if buffer <= 0:
            raise ValueError(f"link {name!r}: buffer {buffer} must be > 0")
        if not 0.0 <= loss <= 1.0:
            raise ValueError(f"link {name!r}: loss {loss} outside 0..1")
        if loss > 0 and rng is None:
            raise ValueError(f"link {name!r}: loss > 0 needs an explicit numpy Generator")
        self.env = env
        self.capacity = capacity
        self.latency = latency
        self.buffer = buffer
        self.loss = loss
        self.rng = rng
        self.name = name
        self.busy_until = 0.0
        self.sent = 0
        self.dropped_queue = 0
        self.dropped_loss = 0
        self.bytes = 0.0

    def backlog(self) -> float:
        """Bytes in the queue now, the packet being serialised included."""
        if self.capacity == math.inf:
            return 0.0
        return max(0.0, self.busy_until - self.env.now) * self.capacity

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
        if self.loss > 0 and self.rng.random() < self.loss:
            self.dropped_loss += 1
            return True
        arrival = self.env.timeout(self.busy_until + self.latency - now, packet)
        arrival.callbacks.append(_Deliver(deliver))
        return True


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
        packet = Packet(size, payload, self.env.now)
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
