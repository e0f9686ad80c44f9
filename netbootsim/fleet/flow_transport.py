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
        ports = tuple((r, self._buffer if ld.src not in self._hosts else math.inf)
                      for ld, r in zip(fwd, path, strict=False)
                      if ld.src not in self._hosts or self._host_queue == "fifo")
        fair = self._host_queue == "fair" and bool(fwd) and fwd[0].src in self._hosts
        return _FlowHook(self, path[0] if fair else None, ports, rtt, packet)

    def tally(self, run: FleetRun) -> None:
        """The engine's events and solves."""
        run.events, run.solves = self.engine.events, self.engine.solves
        run.entries_solved = self.engine.entries_solved


class _FlowHook:
    """What a flow's start and end tell the corrections (:meth:`FlowTransport._on_flow`).

    An object rather than a closure: one is alive per transfer in flight, a storm's
    every server at once, and its few slots are smaller than a function and its cells.
    """

    __slots__ = ("owner", "nic", "ports", "rtt", "packet")

    def __init__(self, owner: FlowTransport, nic: Resource | None,
                 ports: tuple[tuple[Resource, float], ...], rtt: float | None,
                 packet: float):
        self.owner, self.nic, self.ports, self.rtt, self.packet = owner, nic, ports, rtt, packet

    def __call__(self, flow: Flow, active: bool) -> None:
        """``flow`` starts (``active``) or ends."""
        owner = self.owner
        if self.nic is not None:  # the host's NIC, a fair queue
            if self.rtt is None:
                owner.lockstep.lockstep_flow(self.nic, flow, self.packet, active)
            else:
                owner.lockstep.window_flow(self.nic, flow, self.packet, active)
        if self.ports:
            owner.fifo.flow(self.ports, flow, self.rtt, self.packet, active)
