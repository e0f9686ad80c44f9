"""The packet engine's transport: TFTP and TCP packet by packet (``run.engine: packet``).

Each transfer runs its protocol over packet links (:mod:`netbootsim.net.packet`):
TFTP's lock-step with its real timers (:mod:`netbootsim.net.packet_tftp`), HTTP over a
Linux NewReno+SACK sender and iPXE's receiver (:mod:`netbootsim.net.packet_tcp`),
after ARP for the next hop. DHCP frames are packets too (flooded in the L2 domain,
relayed), and a sampler reads the links' byte counters for the utilisation timeline
and the bottlenecks (:class:`~.results.PacketSampler`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence

import simpy

from ..net.packet import FairLink, PacketNetwork
from ..net.packet_l2 import Broadcasts, DhcpCarrier
from ..net.packet_tcp import http_over_packets
from ..net.packet_tftp import tftp_over_packets
from ..protocols import HttpPlan, TcpParams, TftpParams, TftpPlan
from ..protocols.result import TransferResult
from ..streams import Streams
from ..topology import Topology
from .results import FleetRun, PacketSampler
from .spec import Service
from .transport import Route, Transport

__all__ = ["PacketTransport"]


class PacketTransport(Transport):
    """Transfers, DHCP and ARP as packets on drop-tail links.

    Args:
        env: the run's SimPy environment.
        run: what the run produces (broadcast copies, utilisation samples).
        topology: the network (L2 domains, relays).
        hosts: the topology's servers and hosts (their egress is a NIC).
        streams: the run's random streams (the links' loss draws: ``net/packets``).
        fault_loss: ``fault_loss(link, t)``, the loss fault windows add on a link.
        sample_every: utilisation sampling (see :class:`.results.PacketSampler`).
        buffer: a switch port's buffer (bytes).
        host_queue: hosts' egress, ``fair`` or ``fifo``
            (:class:`~netbootsim.net.packet.PacketNetwork`).
    """

    def __init__(self, env: simpy.Environment, run: FleetRun, topology: Topology,
                 hosts: frozenset[str], *, streams: Streams,
                 fault_loss: Callable[[str, float], float], sample_every: float,
                 buffer: float, host_queue: str):
        self.env = env
        self.packets = PacketNetwork(env, streams.rng("net", "packets"), buffer,
                                     hosts, fault_loss, host_queue)
        self.l2 = Broadcasts(env, topology, self.packets, run.broadcast_frames)
        self.sampler = PacketSampler(run, env, self.packets.by_name, sample_every)
        self._disks: dict[str, FairLink] = {}

    def tftp(self, server: str, svc: Service, route: Route, file: str, size: float,
             params: TftpParams, plan: TftpPlan, guard: None = None
             ) -> Generator[simpy.Event, object, TransferResult]:
        """One TFTP read packet by packet (the same result type as the law's).

        No ``guard``: a link that is down drops the packets, the timers resend them.
        """
        if plan.error is not None:
            start = self.env.now
            yield self.env.timeout(plan.handshake)
            return TransferResult("tftp", start, self.env.now, 0.0, 0.0, "failed", plan.error)
        start, r = yield from self._over_packets(
            "tftp", server, svc, route,
            lambda links, back_links: tftp_over_packets(self.env, links, back_links,
                                                        int(size), params, file))
        if isinstance(r, TransferResult):
            return r
        if r.outcome != "ok":
            return TransferResult("tftp", start, r.end, 0.0, 0.0, "failed",
                                  f"TFTP timeout: {r.blocks} blocks received, then no "
                                  f"answer to {r.client_retries} resent packets")
        return TransferResult("tftp", start, r.end, float(size), plan.wire_bytes, "ok", "")

    def http(self, server: str, svc: Service, route: Route, file: str, size: float,
             tcp: TcpParams, plan: HttpPlan, *, connected: bool, warm: bool,
             server_time: float, client_rate: float, client_delay: float,
             guard: None = None) -> Generator[simpy.Event, object, TransferResult]:
        """One HTTP GET packet by packet (the same result type as the law's)."""
        start, r = yield from self._over_packets(
            "http", server, svc, route,
            lambda links, back_links: http_over_packets(
                self.env, links, back_links, size, tcp, connected=connected, warm=warm,
                server_time=server_time, client_rate=client_rate,
                client_delay=client_delay, cc=svc.tcp_cc))
        if isinstance(r, TransferResult):
            return r
        if r.outcome != "ok":
            return TransferResult("http", start, r.end, 0.0, 0.0, "failed",
                                  "no answer to the SYN or the request (TCP retries "
                                  "exhausted)")
        return TransferResult("http", start, r.end, r.bytes, plan.wire_bytes, "ok", "")

    def dhcp_carrier(self, server: str, domain: str, hosts: dict[str, str]
                     ) -> DhcpCarrier | None:
        """DHCP frames as packets: flooded, relayed; a new boot's neighbour cache empty."""
        carrier = DhcpCarrier(self.l2, server, domain, dict(hosts))
        self.l2.forget(server)
        return carrier

    def tally(self, run: FleetRun) -> None:
        """Packets the links accepted, one per hop (broadcast copies included)."""
        run.packets = sum(link.sent for link in self.packets.by_name.values())

    def _links(self, svc: Service, fwd: Sequence, extra: Sequence = ()) -> list:
        """The data path's packet links: the service's disk first, when it has a rate.

        The disk (page cache) serves its readers in turn, like a host NIC: a
        :class:`~netbootsim.net.packet.FairLink` of ``disk_rate`` with no latency. So
        does a TLS terminator's bulk cipher (``extra``: the route's resources past its
        links that are not the disk, such as ``<service>:tls``).
        """
        links = self.packets.links(fwd)
        for r in extra:
            if r.name.endswith(":disk"):
                continue
            cpu = self._disks.get(r.name)
            if cpu is None:
                cpu = self._disks[r.name] = FairLink(self.env, r.capacity, 0.0, name=r.name)
            links.insert(0, cpu)
        if math.isfinite(svc.disk_rate):
            disk = self._disks.get(svc.name)
            if disk is None:
                disk = self._disks[svc.name] = FairLink(
                    self.env, svc.disk_rate, 0.0, name=f"{svc.name}:disk")
            links.insert(0, disk)
        return links

    def _over_packets(self, proto: str, server: str, svc: Service, route: Route,
                      transfer) -> Generator[simpy.Event, object, tuple]:
        """ARP for the next hop, then ``transfer(links, back_links)``, counted by the sampler.

        Returns ``(start, result)``: ``result`` is a failed :class:`TransferResult` when
        ARP got no reply, else what ``transfer`` returned.
        """
        start = self.env.now
        why = yield from self.l2.arp(server, svc.host)
        if why:
            return start, TransferResult(proto, start, self.env.now, 0.0, 0.0, "failed", why)
        names = [ld.name for ld in route.fwd]
        self.sampler.started(names)
        try:
            r = yield from transfer(self._links(svc, route.fwd, route.path[len(route.fwd):]),
                                    self.packets.links(route.back))
        finally:
            self.sampler.ended(names)
        return start, r
