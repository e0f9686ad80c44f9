"""How a run moves bytes: one transport per engine, behind one interface.

The world (:class:`~.world.World`) does what both engines share — the route, the
waits for outages, TFTP slots and HTTP workers, the law's plan, the records — and
hands the transfer itself to the :class:`Transport` of the run's engine, chosen once
when the world is built:

* :class:`~.flow_transport.FlowTransport` (``run.engine: flow``): the law's plan
  driven in the max-min flow engine (:func:`netbootsim.net.transfer.transfer`);
* :class:`~.packet_transport.PacketTransport` (``run.engine: packet``): TFTP's
  lock-step and TCP packet by packet (:mod:`netbootsim.net.packet`).

Both return a :class:`~netbootsim.protocols.result.TransferResult` of the same form.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import numpy as np
import simpy

from ..net import Resource
from ..net.packet_l2 import DhcpCarrier
from ..net.transfer import Guard
from ..protocols import HttpPlan, TcpParams, TftpParams, TftpPlan
from ..protocols.result import TransferResult
from ..topology import LinkDir
from .results import FleetRun
from .spec import Service

__all__ = ["Route", "Transport"]


@dataclass(frozen=True, slots=True)
class Route:
    """The way between a service and a client.

    Attributes:
        fwd: the links the data crosses, service to client.
        back: the links back, client to service.
        rtt: the round trip (s).
        path: the flow engine's resources of ``fwd``, then the service's disk if it
            has a rate (the line-rate bound counts bytes on these, on both engines).
    """

    fwd: Sequence[LinkDir]
    back: Sequence[LinkDir]
    rtt: float
    path: list[Resource]


class Transport(ABC):
    """One engine's way of moving a transfer's bytes.

    Attributes:
        law_rng: draws the flow laws' retries under loss (one stream, in event order);
            None when the engine draws its own losses, packet by packet.
    """

    law_rng: np.random.Generator | None = None

    @abstractmethod
    def tftp(self, server: str, svc: Service, route: Route, file: str, size: float,
             params: TftpParams, plan: TftpPlan, guard: Guard | None = None
             ) -> Generator[simpy.Event, object, TransferResult]:
        """One TFTP read of ``file`` (``size`` bytes) by ``server`` from ``svc``.

        ``params``: the client's TFTP with the server's block cost and resend timer;
        ``plan``: the law's plan of it (its wire bytes, or its error); ``guard``: what
        the transfer does when a link under it goes down (:mod:`.outages`; the flow
        engine's: the packet engine's links drop the packets themselves).
        """

    @abstractmethod
    def http(self, server: str, svc: Service, route: Route, file: str, size: float,
             tcp: TcpParams, plan: HttpPlan, *, connected: bool, warm: bool,
             server_time: float, client_rate: float, client_delay: float,
             guard: Guard | None = None
             ) -> Generator[simpy.Event, object, TransferResult]:
        """One HTTP GET of ``file`` (``size`` bytes) by ``server`` from ``svc``.

        ``tcp``: the client's TCP; ``plan``: the law's plan of the GET; ``connected``:
        over a kept-alive connection, ``warm`` with its window already open;
        ``server_time``: the server's time per request; ``client_rate``: the most the
        client takes (bytes/s on the wire); ``client_delay``: the client's own delay
        per round trip (s); ``guard``: as for :meth:`tftp`.
        """

    def dhcp_carrier(self, server: str, domain: str, hosts: dict[str, str]
                     ) -> DhcpCarrier | None:
        """How ``server``'s DHCP frames travel: None for a count of broadcasts alone.

        Called once per exchange (a new boot). ``hosts``: DHCP server name → its node.
        """
        return None

    @abstractmethod
    def tally(self, run: FleetRun) -> None:
        """Write the engine's work counters into ``run`` once the run has ended."""
