"""The flow engine's transport: a law's plan driven as a fluid flow (``run.engine: flow``).

Each transfer is a flow on the max-min fair engine (:mod:`netbootsim.net`) whose
bound follows the law's plan (:func:`netbootsim.net.transfer.transfer`). Two
corrections see every flow start and end: lock-step (TFTP) flows beside window (TCP)
flows at a host NIC's fair queue (:class:`~netbootsim.net.lockstep.LockstepQueueing`),
and flows of different round trips at FIFO ports — switch egress, and hosts' egress
with ``host_queue: fifo`` (:class:`~netbootsim.net.fifo.FifoSharing`).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence

import simpy

from ..net import Flow, Resource, make_engine
from ..net.fifo import FifoSharing
from ..net.lockstep import LockstepQueueing
from ..net.transfer import transfer
from ..protocols import HttpPlan, TcpParams, TftpParams, TftpPlan
from ..protocols.result import TransferResult
from ..protocols.wire import TCP_FRAME_OVERHEAD, TFTP_FRAME_OVERHEAD
from ..streams import Streams
from .outages import TransferGuard
from .results import FleetRun, Observer
from .spec import Service
from .transport import Route, Transport

__all__ = ["FlowTransport"]


class FlowTransport(Transport):
    """Transfers as flows of the max-min fair engine.

    Args:
        env: the run's SimPy environment.
        run: what the run produces (its observer samples the engine's solves).
        hosts: the topology's servers and hosts (their egress is a NIC).
        streams: the run's random streams (the laws' draws under loss: ``net/laws``).
        full_recompute: the flow engine's reference mode.
        sample_every: utilisation sampling (see :class:`.results.Observer`).
        buffer: a switch port's buffer (bytes), for the FIFO ports' sharing.
        host_queue: hosts' egress, ``fair`` or ``fifo``.
    """

    def __init__(self, env: simpy.Environment, run: FleetRun, hosts: frozenset[str], *,
                 streams: Streams, full_recompute: bool, sample_every: float, buffer: float,
                 host_queue: str):
        self.env = env
        self.engine = make_engine(env, full_recompute=full_recompute,
                                  on_solve=Observer(run, sample_every, env))
        self.law_rng = streams.rng("net", "laws")
        #: lock-step flows' bounds beside window flows at a host NIC
        self.lockstep = LockstepQueueing(env, self.engine)
        #: flows of different round trips at FIFO ports
        self.fifo = FifoSharing(env, self.engine)
        self._hosts, self._buffer, self._host_queue = hosts, buffer, host_queue

    def tftp(self, server: str, svc: Service, route: Route, file: str, size: float,
             params: TftpParams, plan: TftpPlan, guard: TransferGuard | None = None
             ) -> Generator[simpy.Event, object, TransferResult]:
        """One TFTP read as a lock-step flow of ``windowsize`` blocks per cycle."""
        block = params.windowsize * (params.blksize + TFTP_FRAME_OVERHEAD)
        if guard is not None:
            guard.bind(lambda r: self._on_flow(r.fwd, r.path, block))
        return transfer(self.env, self.engine, route.path, plan, f"{server}/{file}",
                        on_flow=self._on_flow(route.fwd, route.path, block), guard=guard)

    def http(self, server: str, svc: Service, route: Route, file: str, size: float,
             tcp: TcpParams, plan: HttpPlan, *, connected: bool, warm: bool,
             server_time: float, client_rate: float, client_delay: float,
             guard: TransferGuard | None = None
             ) -> Generator[simpy.Event, object, TransferResult]:
        """One HTTP GET as a window flow (the plan holds the connection's state)."""
        segment = tcp.mss + TCP_FRAME_OVERHEAD
        if guard is not None:
            guard.bind(lambda r: self._on_flow(r.fwd, r.path, segment,
                                               rtt=r.rtt + client_delay))
        return transfer(self.env, self.engine, route.path, plan, f"{server}/{file}",
                        on_flow=self._on_flow(route.fwd, route.path, segment,
                                              rtt=route.rtt + client_delay), guard=guard)

    def _on_flow(self, fwd: Sequence, path: list[Resource], packet: float,
                 rtt: float | None = None):
        """The hook that tells the flow engine's corrections about a flow.

        ``rtt`` None: a lock-step flow (TFTP) of ``packet`` bytes per cycle; else a window
        flow (TCP) of ``packet``-byte segments over ``rtt``. Its host's NIC (a fair queue)
        gets the lock-step correction, FIFO ports the round-trip-weighted sharing.
        """
        if not path:
            return None
        nic = path[0]
        ports = [(r, self._buffer if ld.src not in self._hosts else math.inf)
                 for ld, r in zip(fwd, path, strict=False)
                 if ld.src not in self._hosts or self._host_queue == "fifo"]
        fair = self._host_queue == "fair" and fwd and fwd[0].src in self._hosts
        lockstep, fifo = self.lockstep, self.fifo

        def hook(flow: Flow, active: bool) -> None:
            if fair:
                if rtt is None:
                    lockstep.lockstep_flow(nic, flow, packet, active)
                else:
                    lockstep.window_flow(nic, flow, packet, active)
            if ports:
                fifo.flow(ports, flow, rtt, packet, active)
        return hook

    def tally(self, run: FleetRun) -> None:
        """The engine's events and solves."""
        run.events, run.solves = self.engine.events, self.engine.solves
        run.entries_solved = self.engine.entries_solved
