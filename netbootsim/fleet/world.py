"""The shared world of a fleet run: the network, the services and the records.

:class:`World` owns the SimPy environment, the transport of the run's engine
(:mod:`.transport`: flow or packet, chosen once when the world is built), the faults
(:mod:`.faults`), the services with their limits (TFTP slots, HTTP workers,
provisioning API, DHCP servers) and the records. Servers (:mod:`.machine`) ask it to
move bytes: :meth:`World.tftp`, :meth:`World.http` and :meth:`World.api` return a
:class:`~netbootsim.protocols.result.TransferResult` and write their waits
(``tftp-wait``, ``http-wait``) as records themselves.

URIs name a service by its name or by its host (``http://boot1/kernel``,
``tftp://tftp1/undionly.kpxe``, ``http://api1/boot?mac=...``), case-insensitively as
DNS names are: :meth:`World.resolve`. Files are looked up among the scenario's images
only; no URI ever reaches a file of the machine running the simulation.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import simpy

from ..dist import Dist
from ..net import Resource
from ..net.packet import SWITCH_BUFFER
from ..net.wifi import MSDU, dcf_throughput
from ..profiles import Profile
from ..protocols import TcpParams, http_plan, retry_waits, tftp_plan
from ..protocols.recovery import tcp_rto_waits
from ..protocols.result import TransferResult
from ..protocols.wire import ETHERNET_OVERHEAD
from ..services.dhcp import DhcpServer
from ..services.orchestrator import CappedPool
from ..services.registry import HTTP, SCHEMES
from ..services.slots import SYN_GIVE_UP, HttpWorkers, TftpSlots, run_with_slot
from ..streams import Streams
from ..topology import Topology
from .balance import Balancer, LbSpec
from .dns import Dns
from .edge import Edges
from .faults import Faults
from .flow_transport import FlowTransport
from .outages import Cuts, TransferGuard
from .packet_transport import PacketTransport
from .results import FleetRun
from .san import San, SanSpec
from .spec import (
    LINUX_RWND,
    DhcpSpec,
    DnsSpec,
    FaultWindows,
    Service,
    TlsSpec,
    tls_handshake_time,
)
from .transport import Route, Transport
from .variation import RequestDraws

__all__ = ["World", "Target", "SCHEMES", "ENGINES"]

#: The flows' wire bytes per byte of an 802.11 frame's payload: a 1500-byte IP packet
#: counts 1500 + 38 (Ethernet framing) in a flow (:mod:`netbootsim.protocols.wire`).
WIRE_PER_MSDU = (MSDU + ETHERNET_OVERHEAD) / MSDU

def rtt_spread(route: Route) -> float:
    """The standard deviation of a route's round trip from its links' jitter (s).

    Each direction's delay is uniform in ``latency ± jitter``: variance ``jitter² / 3``;
    the round trip's is their sum (the sender's RTTVAR estimates its spread).
    """
    return math.sqrt(sum(ld.jitter ** 2 for ld in (*route.fwd, *route.back)) / 3.0)


class TlsEnd(NamedTuple):
    """Where TLS ends: a service or balancer with ``tls``.

    Its spec, the cores its handshakes hold, and its bulk cipher as a resource its
    HTTPS transfers cross.
    """

    spec: TlsSpec
    cores: CappedPool
    cipher: Resource


#: The engines a world can move bytes with.
ENGINES = ("flow", "packet")


#: URIs whose answer :meth:`World.resolve` keeps (per-server URIs, an API's query with
#: the MAC in it, would otherwise keep one each)
_RESOLVED_KEPT = 4096


@dataclass(frozen=True, slots=True)
class Target:
    """What a URI names: a service and a file on it (``file`` ``""`` for an API call)."""

    service: Service
    file: str
    query: str = ""
    scheme: str = "http"


class World:
    """Network, services and records of one fleet run.

    Args:
        topology: the network.
        services: boot services by name (TFTP, HTTP, API).
        dhcp: DHCP services.
        images: image sizes by name.
        scripts: script bodies of images that are iPXE scripts, by name.
        name, seed: for the records.
        streams: the run's named random streams (default ``Streams(seed)``).
        full_recompute: the flow engine's reference mode.
        engine: ``"flow"`` (fluid flows, max-min) or ``"packet"`` (TFTP and TCP packet by
            packet, :mod:`netbootsim.net.packet`): the world's :class:`~.transport.Transport`.
            DHCP's servers, the API and the waits for slots and workers are the same in
            both.
        buffer: the packet engine's switch-port buffer (bytes).
        host_queue: the packet engine's host egress, ``fair`` or ``fifo``
            (:class:`~netbootsim.net.packet.PacketNetwork`).
        sample_every: utilisation sampling (see :class:`.results.Observer`).
        faults: fault windows on links, services and images.
        provisioners: inventory and templates of each provisioning API, by name.

    Raises:
        ValueError: ``engine`` is not one of :data:`ENGINES`.
    """

    def __init__(self, topology: Topology, services: dict[str, Service],
                 dhcp: Sequence[DhcpSpec], images: dict[str, float],
                 scripts: dict[str, str], *, name: str, seed: int,
                 streams: Streams | None = None,
                 full_recompute: bool = False, sample_every: float = 0.005,
                 engine: str = "flow", buffer: float = SWITCH_BUFFER,
                 host_queue: str = "fair",
                 faults: FaultWindows | None = None, provisioners: dict | None = None,
                 dns: dict[str, DnsSpec] | None = None, lbs: dict[str, LbSpec] | None = None,
                 san: dict[str, SanSpec] | None = None):
        if engine not in ENGINES:
            raise ValueError(f"engine {engine!r}: one of {', '.join(ENGINES)}")
        self.env = env = simpy.Environment()
        self.topology = topology
        self.services = services
        self.images = images
        self.scripts = scripts
        self.name = name
        self.seed = seed
        self.streams = streams = Streams(seed) if streams is None else streams
        self.run = run = FleetRun()
        self.faults = Faults(faults)
        hosts = frozenset(n for n in topology.graph
                          if topology.node_kind(n) in ("server", "host"))
        self.transport: Transport
        if engine == "packet":
            self.transport = PacketTransport(
                env, run, topology, hosts, streams=streams, fault_loss=self.faults.link_drop_at,
                sample_every=sample_every, buffer=buffer, host_queue=host_queue)
        else:
            self.transport = FlowTransport(
                env, run, hosts, streams=streams, full_recompute=full_recompute,
                sample_every=sample_every, buffer=buffer, host_queue=host_queue)
        #: running flows over links, or from services, that will go down (the flow
        #: engine's outages; the packet engine's links drop the packets themselves)
        self.cuts = Cuts(env, self.faults) if engine == "flow" and \
            (self.faults.link_down or self.faults.service_down) else None
        self.provisioners = provisioners or {}  # API name -> services.provisioning.Provisioner
        self.dns = Dns(dns or {}, topology, self.faults, streams.rng("dns"))
        self.san = San(san or {}, topology)  # SAN targets (sanboot, sanhook)
        self.lbs = {n: Balancer(s, {m: list(self.faults.service_down.get(m, ()))
                                    for m in s.pool}) for n, s in sorted((lbs or {}).items())}
        #: a redirector by its name and its host's, lower case (URIs name it either way)
        self.lb_at = {k.lower(): b for b in self.lbs.values()
                      for k in (b.spec.name, b.spec.host)}
        #: the services by their name and their host's, lower case, each in the order of
        #: ``services`` (:meth:`resolve`: a storm of 50 mirrors looked through all of
        #: them for each of its 200,000 fetches)
        self._named: dict[str, list[Service]] = {}
        #: URI -> what it names (:meth:`resolve`: the services and images are fixed for the
        #: run), for up to :data:`_RESOLVED_KEPT` URIs (a fleet's are mostly one script's)
        self._resolved: dict[str, Target | str] = {}
        for svc in services.values():
            for n in dict.fromkeys((svc.name.lower(), svc.host.lower())):
                self._named.setdefault(n, []).append(svc)
        #: names a URI may give that are no DNS names: services', hosts', balancers'
        self._own_names = frozenset(self.lb_at) | frozenset(self._named)
        self.running: dict[str, int] = {}  # HTTP transfers running now, per service
        self.bytes_left: dict[str, float] = {}  # their sizes, summed (least-bytes)
        self.edges = Edges(env, services, self.http, self.record)
        self.trace: set[str] = set()  # servers whose console is kept
        #: the stages of lifecycle events (``<event>:<stage>``): their records go to the
        #: run's event log (:mod:`.events`)
        self.event_stages: set[str] = set()
        #: event boots in progress, by machine index (:func:`.events.unfinished_rows`)
        self.event_boots: dict = {}
        #: replaced nodes: their name -> the machine carrying their identity now
        self.replacements: dict = {}
        #: each lifecycle event's generator of its work times (:mod:`.events`)
        self.event_rngs: dict = {}
        self._resources: dict[str, Resource] = {}
        self._disks = {s.name: Resource(f"{s.name}:disk", s.disk_rate)
                       for s in services.values() if math.isfinite(s.disk_rate)}
        #: Wi-Fi: each access point's shared medium, as a resource its stations' flows
        #: cross, its capacity set to the DCF throughput of the stations transferring
        #: (:mod:`netbootsim.net.wifi`); stations with flows running, per access point
        self._air = {ap: Resource(f"{ap}:air", WIRE_PER_MSDU * dcf_throughput([rate]))
                     for ap, rate in sorted(set(topology.stations.values()))}
        self._air_of = {st: self._air[ap] for st, (ap, _) in topology.stations.items()}
        self._air_active: dict[str, dict[str, int]] = {}
        #: TLS terminated at a service or balancer: (its spec, its handshake cores, its
        #: bulk cipher as a resource its HTTPS transfers cross)
        self._tls: dict[str, TlsEnd] = {}
        terminators = [(s.name, s.tls) for s in services.values() if s.tls is not None]
        terminators += [(n, b.spec.tls) for n, b in self.lbs.items() if b.spec.tls is not None]
        for name, spec in sorted(terminators, key=lambda t: t[0]):
            pool = CappedPool(env, spec.cores)
            self._tls[name] = TlsEnd(spec, pool,
                                     Resource(f"{name}:tls", spec.cores * spec.cipher_rate))
            run.caps[f"{name}:tls-handshakes"] = (pool, spec.cores)
        self.slots = {s.name: TftpSlots(env, s.max_sessions, orphan_hold=s.orphan_hold,
                                        recv_buffer=s.recv_buffer,
                                        request_truesize=s.request_truesize)
                      for s in services.values() if s.kind == "tftp" and s.max_sessions}
        self.workers = {s.name: HttpWorkers(env, s.workers, keepalive=s.keepalive,
                                            backlog=s.backlog)
                        for s in services.values() if s.kind == "http" and s.workers}
        for n, b in self.lbs.items():  # an L4 balancer's connection cap (maxconn): an
            # entry is freed when its client closes; SYNs beyond wait in a Linux listen
            # backlog (511, as the web servers' [apache-httpd] [nginx-docs])
            if b.spec.mode == "l4" and b.spec.max_connections:
                self.workers[n] = HttpWorkers(env, b.spec.max_connections, keepalive=0.0,
                                              backlog=HTTP.model("nginx").backlog)
        self.apis = {s.name: simpy.Resource(env, capacity=s.concurrency)
                     for s in services.values() if s.kind == "api"}
        self._api_times = {s.name: RequestDraws(s.service_time, streams, "service", s.name,
                                                "service_time")
                           for s in services.values()
                           if s.kind == "api" and isinstance(s.service_time, Dist)}
        self.dhcp = {d.name: DhcpServer(env, d.name, service_time=d.service_time,
                                        ping=d.ping, deaf_ping=d.deaf_ping,
                                        ping_window=d.ping_window,
                                        ping_share=d.ping_share, queue=d.queue,
                                        no_pxedhcp=d.no_pxedhcp,
                                        ipv6_ra=d.ipv6_ra, pool=d.pool, proxy=d.proxy,
                                        boot_files=dict(d.boot_files), script=d.script,
                                        user_class_check=d.user_class_check)
                     for d in dhcp}
        self.dhcp_hosts = {d.name: d.host for d in dhcp}
        self.dhcp_dns = {d.name: d.dns for d in dhcp}  # option 6 (None: every DNS server)
        # Boot-side hosts get addresses (DHCP's next-server is an IPv4 setting in iPXE);
        # URIs may name a host by address, name, or a service name.
        self.host_ip = {h: f"10.255.{i >> 8}.{(i & 255) + 1}"
                        for i, h in enumerate(sorted({s.host for s in services.values()}
                                                     | set(self.dhcp_hosts.values())))}
        self.ip_host = {ip: h for h, ip in self.host_ip.items()}
        run.slots, run.workers, run.apis, run.dhcp = self.slots, self.workers, self.apis, \
            self.dhcp
        run.dns = self.dns
        run.san = self.san
        # iPXE keeps one HTTP/1.1 keep-alive connection per server (httpconn.c [ipxe-src]);
        # Linux keeps its window open across back-to-back requests (RFC 2861 [rfc2861] validation
        # only after an idle RTO): bytes of the previous transfer per (client, service).
        self.connections: dict[str, dict[str, float]] = {}  # server -> service -> bytes
        #: server -> the (pool, request) of each worker its connections hold, in order
        self.held: dict[str, tuple[tuple[Any, Any], ...]] = {}
        self.stage_caps: dict[str, simpy.Resource] = {}
        #: power-on policies and orchestrators (:class:`.power.PowerControl`), set by
        #: :func:`.simulate.simulate` when a group has a policy; ``None``: none.
        self.power = None

    # -------------------------------------------------------------------- records
    def record(self, server: str, group: str, rack: str, stage: str, phase: str,
               attempt: int, start: float, end: float, nbytes: float = 0.0,
               protocol: str = "", endpoint: str = "", outcome: str = "ok",
               reason: str = "") -> None:
        """Append one phase record (to the run's columns: no record object is made).

        A lifecycle event's stage (``event_stages``) goes to the run's event log.
        """
        if self.event_stages and stage in self.event_stages:
            self.run.event_records.add(self.name, self.seed, server, group, rack, stage,
                                       phase, attempt, start, end, nbytes, protocol,
                                       endpoint, outcome, reason)
            return
        self.run.records.add(self.name, self.seed, server, group, rack, stage, phase, attempt,
                             start, end, nbytes, protocol, endpoint, outcome, reason)

    # -------------------------------------------------------------------- naming
    def dns_name(self, uri: str) -> str | None:
        """The host name of ``uri`` to resolve by DNS first, if any (:mod:`.dns`).

        With DNS servers in the scenario, a host that is neither a service's nor a
        host's name nor a host's address is a DNS name (one no server knows fails as
        iPXE fails it); without any, names stay the services' and hosts' own.
        """
        if not self.dns.servers:
            return None
        parts = urlsplit(uri)
        host = (parts.hostname or "").rstrip(".")
        if parts.scheme.lower() not in SCHEMES or not host or host in self.ip_host:
            return None
        if host in self.dns.names:
            return host
        return None if host in self._own_names else host

    def resolve(self, uri: str) -> Target | str:
        """The service and file a URI names, or why it names none.

        Only the simulated world answers: a URI names a service (by its name, its host's
        name or address; case-insensitively, as DNS names are) and a file by the last
        segment of its path, looked up among the scenario's images. Nothing of the
        machine running the simulation is ever opened, whatever the path holds.
        """
        known = self._resolved.get(uri)
        if known is not None:
            return known
        found = self._resolve(uri)
        if len(self._resolved) < _RESOLVED_KEPT:
            self._resolved[uri] = found
        return found

    def _resolve(self, uri: str) -> Target | str:
        """:meth:`resolve` without its memo."""
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if scheme == "file":  # interface/efi/efi_local.c [ipxe-src]: its own EFI volume
            return (f"file: URIs name files of the machine's own EFI volume; a simulated "
                    f"machine has none ({uri})")
        kinds = SCHEMES.get(scheme)
        if kinds is None:
            return f"unsupported URI scheme {parts.scheme!r} in {uri!r}"
        host = parts.hostname or ""  # urlsplit lower-cases it
        host = self.ip_host.get(host, host).lower()
        cands = [s for s in self._named.get(host, ()) if s.kind in kinds]
        if not cands:
            return f"no {scheme} service at {host!r} ({uri})"
        file = parts.path.rsplit("/", 1)[-1]
        named = [s for s in cands if s.name.lower() == host] or cands
        static = [s for s in named if s.kind != "api"]
        if static and (file in self.images or not [s for s in named if s.kind == "api"]):
            return Target(min(static, key=lambda s: s.name), file, parts.query, parts.scheme)
        api = min((s for s in named if s.kind == "api"), key=lambda s: s.name)
        return Target(api, "", parts.query, parts.scheme)

    # ----------------------------------------------------------------- transfers
    def _resource(self, ld) -> Resource:
        r = self._resources.get(ld.name)
        if r is None:
            r = self._resources[ld.name] = Resource(ld.name, ld.capacity)
        return r

    def _route(self, svc: Service, server: str, key: str, t: float | None = None) -> Route:
        """The route from ``svc`` to ``server`` around the links down at ``t`` (now)."""
        fwd, back, rtt = self.topology.round_trip(
            svc.host, server, key, self.faults.links_down(self.env.now if t is None else t))
        path = [self._resource(ld) for ld in fwd]
        if svc.name in self._disks:
            path.append(self._disks[svc.name])
        if server in self._air_of:  # a Wi-Fi station: its access point's medium too
            path.append(self._air_of[server])
        return Route(fwd, back, rtt, path)

    def _route_via(self, svc: Service, server: str, key: str, via: Balancer,
                   t: float | None = None) -> tuple[Route, Route]:
        """The route mirror -> balancer -> client, and the balancer's own to the client."""
        near = self._route(via.service, server, key, t)
        far = self._route(svc, via.spec.host, key, t)
        # the links in order, then what is not a link (a disk, a Wi-Fi medium)
        return Route((*far.fwd, *near.fwd), (*near.back, *far.back), far.rtt + near.rtt,
                     [*far.path[:len(far.fwd)], *near.path[:len(near.fwd)],
                      *far.path[len(far.fwd):], *near.path[len(near.fwd):]]), near

    def _rerouter(self, svc: Service, server: str, key: str, via: Balancer | None = None,
                  term: TlsEnd | None = None):
        """The route of a transfer at a time ``t``, chosen again around the links down."""
        def reroute(t: float) -> Route:
            r = self._route(svc, server, key, t) if via is None else \
                self._route_via(svc, server, key, via, t)[0]
            return r if term is None else Route(r.fwd, r.back, r.rtt, [*r.path, term.cipher])
        return reroute

    def _guard(self, route: Route, reroute, kind: str, waits: list[float], restart,
               where: tuple, file: str, svc: Service, *, via: Balancer | None = None,
               watchdog: float = math.inf) -> TransferGuard:
        """The transfer's :class:`~.outages.TransferGuard` (a run with :attr:`cuts`).

        Only the flow engine has cuts: the packet engine's links drop the packets
        themselves. The services watched: ``svc``, and ``via`` (an L4 balancer the
        bytes cross).
        """
        server, group, rack, stage, attempt, nest = where

        def note(start: float, end: float, outcome: str, reason: str) -> None:
            self.record(server, group, rack, stage, f"{nest}outage:{file}", attempt, start, end,
                        0.0, kind, svc.name, outcome, reason)
        services = (svc.name,) if via is None else (svc.name, via.spec.name)
        return TransferGuard(self.cuts, route, reroute, kind, waits, restart, note, services,
                             watchdog)

    def _moved_legs(self, route: Route, wire: float, guard) -> None:
        """:meth:`_moved` for a transfer, stretch by stretch when an outage moved it."""
        if guard is None or not guard.legs:
            self._moved(route.path, wire)
            return
        done = 0.0
        for leg, moved in guard.legs:
            self._moved(leg.path, moved)
            done += moved
        self._moved(guard.route.path, max(wire - done, 0.0))

    def _aired(self, server: str, gen: Generator) -> Generator:
        """``gen`` with the station counted on its medium while it runs."""
        self._on_air(server, +1)
        try:
            return (yield from gen)
        finally:
            self._on_air(server, -1)

    def _on_air(self, server: str, delta: int) -> None:
        """A station's transfer starts (+1) or ends (-1): its medium's capacity follows.

        The capacity is the DCF throughput of the stations transferring now (each
        counted once), in the flows' wire bytes (:data:`WIRE_PER_MSDU`).
        """
        ap, _ = self.topology.stations[server]
        active = self._air_active.setdefault(ap, {})
        n = active.get(server, 0) + delta
        if n:
            active[server] = n
        else:
            active.pop(server, None)
        if active:
            rates = [self.topology.stations[s][1] for s in sorted(active)]
            cap = WIRE_PER_MSDU * dcf_throughput(rates)
            air = self._air[ap]
            if cap != air.capacity:
                self.transport.engine.set_capacity(air, cap)

    def _moved(self, path: list[Resource], wire: float) -> None:
        run = self.run  # the line-rate bound counts only bytes that really moved
        for r in path:
            run.wire_bytes[r.name] = run.wire_bytes.get(r.name, 0.0) + wire
            # the most it could carry (a Wi-Fi medium's varies): a true lower bound
            run.capacity[r.name] = max(run.capacity.get(r.name, 0.0), r.capacity)

    def tftp(self, server: str, group: str, rack: str, stage: str, attempt: int,
             profile: Profile, svc: Service, file: str, size: float
             ) -> Generator[simpy.Event, object, TransferResult]:
        """One TFTP read of ``file`` (``size`` bytes) by ``server`` from ``svc``."""
        env = self.env
        start = env.now
        route = self._route(svc, server, f"{server}/{file}")
        # iPXE's RRQ retry timer gives up 15.75 s after the first (net/retry.c [ipxe-src])
        give_up = sum(retry_waits(profile.tftp.retry_min, profile.tftp.retry_max))
        fail = yield from self._reachable((server, group, rack, stage, attempt, ""), file,
                                          "tftp", svc, route.fwd, start, give_up)
        if fail is not None:
            return fail
        params = replace(profile.tftp, server_block_cost=svc.block_cost,
                         server_retransmit=svc.retransmit)
        plan = tftp_plan(size, params, route.rtt, [ld.capacity for ld in route.fwd],
                         self.faults.path_loss(route.fwd, env.now),
                         self.faults.path_loss(route.back, env.now),
                         rng=self.transport.law_rng)
        guard = None if self.cuts is None else self._guard(
            route, self._rerouter(svc, server, f"{server}/{file}"), "tftp",
            retry_waits(plan.retry_timeout, params.retry_max), plan.rate,
            (server, group, rack, stage, attempt, ""), file, svc)
        gen = self.transport.tftp(server, svc, route, file, size, params, plan, guard=guard)
        if server in self._air_of:  # a Wi-Fi station: on the air while it transfers
            gen = self._aired(server, gen)
        slots = self.slots.get(svc.name)
        if slots is None:
            res = yield from gen
        else:
            wait, res = yield from run_with_slot(slots, lambda: gen, params.retry_min,
                                                 params.retry_max)
            cap = f"tftp-max {slots.max_sessions}"
            if wait.gave_up:
                return TransferResult("tftp", start, env.now, 0.0, 0.0, "failed",
                                      f"no TFTP slot: {wait.sends} RRQs unanswered in "
                                      f"{env.now - start:.2f} s ({cap})")
            if wait.served > wait.start:  # queued for a slot (one RRQ or several)
                rrqs = f"{wait.sends} RRQ{'s' if wait.sends > 1 else ''}"
                self.record(server, group, rack, stage, f"tftp-wait:{file}", attempt,
                            wait.start, wait.served, 0.0, "tftp", svc.name, "ok",
                            f"{rrqs} before a slot ({cap})")
        if res.outcome == "ok":
            self._moved_legs(route, plan.wire_bytes, guard)
        return res

    def http(self, server: str, group: str, rack: str, stage: str, attempt: int,
             profile: Profile | None, svc: Service, file: str, size: float,
             rate_cap: float = math.inf, tls: bool = False, via: Balancer | None = None,
             record_as: tuple[str, str] | None = None
             ) -> Generator[simpy.Event, object, TransferResult]:
        """One HTTP GET of ``file`` by ``server`` from ``svc``.

        ``profile`` None: the client is Linux (the installer), with its own window
        (:data:`~.spec.LINUX_RWND`) and no firmware delays; ``rate_cap`` bounds it (the
        disk it streams to). ``tls``: HTTPS — a new connection adds the TLS 1.2
        handshake's round trips (:data:`~.spec.TLS_HANDSHAKE_RTTS`) and the client's crypto
        time. ``via``: an L4
        balancer the connection goes through (:mod:`.balance`): the bytes cross it.
        ``record_as``: ``(server, prefix)``: the GET is another machine's on the way to
        that server's (an edge cache's fill from its origin, :mod:`.edge`): the waits
        and outages it meets are that server's records, named ``prefix`` + the phase
        (nested in its ``edge-fill``), not records of ``server``, which is no booting
        machine.
        """
        env = self.env
        start = env.now
        who = (server, group, rack, stage, attempt, "") if record_as is None else \
            (record_as[0], group, rack, stage, attempt, record_as[1])
        if svc.origin is not None:  # an edge cache (.edge): fill the object first
            svc, failed = yield from self._edge_first(svc, file, size, who)
            if failed is not None:
                return failed
        key = f"{server}/{file}"
        if via is None:
            route = self._route(svc, server, key)
        else:  # mirror -> balancer, then balancer -> client
            route, near = self._route_via(svc, server, key, via)
            fail = yield from self._reachable(who, file, "http", via.service, near.fwd,
                                              start, SYN_GIVE_UP)
            if fail is not None:
                return fail
        fwd = route.fwd
        fail = yield from self._reachable(who, file, "http", svc, fwd, start, SYN_GIVE_UP)
        if fail is not None:
            return fail
        conns = self.connections.setdefault(server, {})
        peer = svc.name if via is None else via.spec.name  # the connection's other end
        prev = conns.get(peer)
        if profile is None:  # rate_cap is a payload rate (a disk); the flow's is on the wire
            tcp = TcpParams(rwnd=LINUX_RWND)
            extra, overhead, cap = 0.0, 0.0, rate_cap * tcp.wire_factor
            rate_cap = cap
        else:
            tcp, extra = profile.tcp, profile.tcp_client_delay
            overhead, cap = profile.http_request_overhead, profile.http_client_rate
            if tls:  # the client's bulk cipher (QEMU TCG's AES-GCM in the lab: 7-9 MB/s)
                cap = min(cap, profile.tls_client_rate)
        conns[peer] = size
        if via is not None:
            overhead += via.spec.service_time  # the balancer's time on each request
        connected, warm = prev is not None, prev is not None and prev >= tcp.rwnd
        hp = http_plan(size, tcp, route.rtt + extra, min(ld.capacity for ld in fwd) if fwd
                       else math.inf, self.faults.path_loss(fwd, env.now),
                       server_time=overhead, rate_cap=min(cap, rate_cap),
                       connected=connected, warm=warm, cc=svc.tcp_cc,
                       rng=self.transport.law_rng)
        if prev is None:  # a new connection: a balancer's entry, a mirror's worker
            failed = yield from self._connect(svc, file, via, who, start, env.now, server)
            if failed is not None:
                return failed
        t_req = env.now
        term = None  # where the TLS ends, its CPU's cost: a balancer's, else the mirror's
        if tls:
            term = (self._tls.get(via.spec.name) if via is not None else None) or \
                self._tls.get(svc.name)
        if tls and prev is None:
            # iPXE's TLS 1.2 full handshake, as the lab measured it
            yield env.timeout(tls_handshake_time(
                route.rtt, profile.tls_client_time if profile is not None else 0.0))
            if term is not None:  # the server's half: a core, waited for if all are busy
                yield from term.cores.hold(term.spec.handshake)
        if term is not None:  # its bulk cipher encrypts every byte sent
            route = Route(route.fwd, route.back, route.rtt, [*route.path, term.cipher])
        guard = None if self.cuts is None else self._guard(
            route, self._rerouter(svc, server, key, via, term), "http",
            tcp_rto_waits(route.rtt + extra, rtt_spread(route)),
            (tcp, self.faults.path_loss(fwd, env.now), min(cap, rate_cap), extra,
             svc.tcp_cc),
            who, file, svc, via=via,
            watchdog=profile.http_watchdog if profile is not None else math.inf)
        gen = self.transport.http(
            server, svc, route, file, size, tcp, hp, connected=connected, warm=warm,
            server_time=overhead, client_rate=min(cap, rate_cap), client_delay=extra,
            guard=guard)
        if server in self._air_of:  # a Wi-Fi station: on the air while it transfers
            gen = self._aired(server, gen)
        self.running[svc.name] = self.running.get(svc.name, 0) + 1  # (least-connections)
        self.bytes_left[svc.name] = self.bytes_left.get(svc.name, 0.0) + size  # (least-bytes)
        try:
            res = yield from gen
        finally:
            self.running[svc.name] -= 1
            self.bytes_left[svc.name] -= size
        if res.start != t_req:  # the fetch includes its TLS handshake
            res = replace(res, start=t_req)
        if res.outcome == "ok":
            self._moved_legs(route, hp.wire_bytes, guard)
        return res

    def _reachable(self, who: tuple, file: str, proto: str, svc: Service, fwd: Sequence,
                   start: float, give_up: float
                   ) -> Generator[simpy.Event, object, TransferResult | None]:
        """:meth:`.faults.Faults.unreachable`, the client's wait recorded.

        While ``svc``, or a link on the way, is down, the client's SYNs or RRQs go
        unanswered until it is back: a ``down-wait:<file>`` phase (endpoint: the
        service), so that the server's phases cover that stretch too.
        """
        env = self.env
        since = env.now
        fail = yield from self.faults.unreachable(env, proto, svc, fwd, start, give_up)
        if fail is None and env.now > since:
            server, group, rack, stage, attempt, nest = who
            what = (f"{svc.name} down" if self.faults.down(svc.name, since) is not None
                    else f"a link down on the way to {svc.name}")
            self.record(server, group, rack, stage, f"{nest}down-wait:{file}", attempt, since,
                        env.now, 0.0, proto, svc.name, "ok",
                        f"retried until it answered ({what})")
        return fail

    def _edge_first(self, svc: Service, file: str, size: float, who: tuple
                    ) -> Generator[simpy.Event, object, tuple[Service, TransferResult | None]]:
        """An edge cache's part of a fetch: ``(the service to fetch from, failure)``.

        The edge fills the object from its origin first (a miss, :mod:`.edge`); a dead
        edge sends its client on as its ``fallback`` says: to its origin, or to the
        service it names (the next edge, whose own fill or fallback then applies).
        """
        start = self.env.now
        server, group, rack, stage, attempt, nest = who
        while True:
            edge_down = self.faults.down(svc.name, start) is not None
            if not edge_down or svc.fallback == "none":
                break
            to = self.services[svc.origin if svc.fallback == "origin" else svc.fallback]
            said = "its origin" if svc.fallback == "origin" else to.name
            self.record(server, group, rack, stage, f"{nest}edge-fallback:{file}", attempt,
                        start, start, 0.0, "http", to.name, "ok", f"{svc.name} down: to {said}")
            if to.origin is None:  # the origin (or a mirror) holds every image
                return to, None
            svc = to  # the next edge (validation: the chain of fallbacks ends)
        if not edge_down:
            failed = yield from self.edges.fill(svc, file, size, who)
            if failed is not None:  # (its time is in the edge-fill or edge-wait record)
                now = self.env.now
                return svc, TransferResult("http", now, now, 0.0, 0.0, "failed",
                                           f"HTTP 504 from {svc.name}: its fill from "
                                           f"{svc.origin} failed ({failed.reason})")
        return svc, None

    def _connect(self, svc: Service, file: str, via: Balancer | None, who: tuple,
                 start: float, since: float, client: str
                 ) -> Generator[simpy.Event, object, TransferResult | None]:
        """A new connection's waits: None, or the failed fetch (SYNs unanswered).

        An L4 balancer's entry first (its ``max_connections``), then a mirror worker.
        ``start``: when the request began; ``since``: up to when the client's records
        already account for it (its waits for an edge's fill or for a service that was
        down): each wait's record, and a failure's, begins there, so none overlaps
        another. ``who``: the records' ``(server, group, rack, stage, attempt, nest)``;
        ``client``: the machine connecting, whose connections hold the workers taken (an
        edge's host for its fill, else ``who``'s server).
        """
        env = self.env
        server, group, rack, stage, attempt, nest = who
        held = self.held
        if via is not None and via.spec.name in self.workers:
            # the balancer's connection table first (maxconn), then a mirror worker
            req, syns, waited = yield from self.workers[via.spec.name].connect()
            if req is None:
                return TransferResult("http", since, env.now, 0.0, 0.0, "failed",
                                      f"no connection at {via.spec.name}: {syns} SYNs "
                                      f"unanswered ({via.spec.max_connections} at once)")
            held[client] = (*held.get(client, ()), (self.workers[via.spec.name], req))
            if waited > 0:
                self.record(server, group, rack, stage, f"{nest}lb-wait:{file}", attempt, since,
                            env.now, 0.0, "http", via.spec.name, "ok",
                            f"waited for a connection, {syns} SYNs "
                            f"(max_connections {via.spec.max_connections})")
                since = env.now
        pool = self.workers.get(svc.name)
        if pool is not None:
            req, syns, waited = yield from pool.connect()
            what = f"{pool.workers.capacity} workers, backlog {pool.backlog}"
            if req is None:
                return TransferResult("http", since, env.now, 0.0, 0.0, "failed",
                                      f"no HTTP worker: {syns} SYNs unanswered in "
                                      f"{env.now - start:.2f} s ({what})")
            held[client] = (*held.get(client, ()), (pool, req))
            if waited > 0:
                self.record(server, group, rack, stage, f"{nest}http-wait:{file}", attempt,
                            since, env.now, 0.0, "http", svc.name, "ok",
                            f"waited for a worker, {syns} SYNs ({what})")
        return None

    def redirect(self, server: str, lb: Balancer, tls: bool = False,
                 tls_client_time: float = 0.0
                 ) -> Generator[simpy.Event, object, tuple[TransferResult, str | None]]:
        """One request to a 302 redirector: ``(the exchange, the mirror it names)``.

        The TCP handshake (and with ``tls`` the TLS one) when no connection to it is
        pooled, then the request's round trip and its time per request
        (:mod:`.balance`). The mirror is ``None`` when every one is out (``503``).
        """
        env = self.env
        start = env.now
        spec = lb.spec
        fwd, _, rtt = self.topology.round_trip(spec.host, server, f"{server}/lb",
                                               self.faults.links_down(env.now))
        fail = yield from self.faults.unreachable(env, "http", lb.service, fwd, start,
                                                  SYN_GIVE_UP)
        if fail is not None:
            return fail, None
        conns = self.connections.setdefault(server, {})
        if spec.name not in conns:  # a new connection: the handshakes first
            yield env.timeout(rtt + (tls_handshake_time(rtt, tls_client_time) if tls
                                     else 0.0))
            term = self._tls.get(spec.name) if tls else None
            if term is not None:  # the redirector's half of the TLS handshake
                yield from term.cores.hold(term.spec.handshake)
            conns[spec.name] = 0.0
        yield env.timeout(rtt + spec.service_time)
        mirror = self.pick_mirror(lb, server)
        if mirror is None:
            return TransferResult("http", start, env.now, 0.0, 0.0, "failed",
                                  f"HTTP 503 from {spec.name}: every mirror of its pool "
                                  "is out (health checks)"), None
        return TransferResult("http", start, env.now, 0.0, 0.0, "ok", ""), mirror

    def l4_mirror(self, lb: Balancer, server: str
                  ) -> Generator[simpy.Event, object, tuple[str | None, list[tuple[str, float]]]]:
        """The mirror an ``l4`` balancer connects a new connection of ``server`` to.

        ``(mirror or None, [(mirror that did not answer, when it was given up)...])``.
        With passive health (:mod:`.balance`) the balancer finds out by connecting: each
        mirror down now costs the client its ``connect_timeout``, counts against the
        mirror and sends the connection to the next one; ``None`` when every mirror was
        tried or is held out. Otherwise (health checks) the pick is immediate.
        """
        if not lb.passive:
            return self.pick_mirror(lb, server), []
        env, gave_up = self.env, []
        tried: list[str] = []
        while True:
            mirror = self.pick_mirror(lb, server, tried)
            if mirror is None or self.faults.down(mirror, env.now) is None:
                if mirror is not None:
                    lb.connected(mirror)
                return mirror, gave_up
            yield env.timeout(lb.spec.connect_timeout)
            lb.failed(mirror, env.now)
            tried.append(mirror)
            gave_up.append((mirror, env.now))

    def pick_mirror(self, lb: Balancer, server: str, tried: Sequence[str] = ()) -> str | None:
        """The mirror ``lb`` sends ``server`` to now, from what the world knows of them."""
        def rtt(mirror: str) -> float:
            return self.topology.round_trip(server, self.services[mirror].host)[2]
        return lb.pick(server, self.env.now, self.running, self.bytes_left, rtt, tried)

    def api(self, server: str, svc: Service, size: float, tls: bool = False,
            tls_client_time: float = 0.0
            ) -> Generator[simpy.Event, object, TransferResult]:
        """One request to a provisioning API: connect, queue, service time, response.

        ``tls``: over HTTPS, a TLS 1.2 handshake (its round trips and the client's
        crypto time) follows the TCP one.
        """
        env = self.env
        start = env.now
        fwd, _, rtt = self.topology.round_trip(svc.host, server, f"{server}/api",
                                               self.faults.links_down(env.now))
        fail = yield from self.faults.unreachable(env, "http", svc, fwd, start, SYN_GIVE_UP)
        if fail is not None:
            return fail
        yield env.timeout(rtt + (tls_handshake_time(rtt, tls_client_time) if tls
                                 else 0.0))  # handshakes
        with self.apis[svc.name].request() as req:
            yield req
            draws = self._api_times.get(svc.name)
            t = svc.service_time if draws is None else draws.next()
            yield env.timeout(t * self.faults.slowdown(svc.name, env.now))
        yield env.timeout(rtt)  # request out, (small) response back
        return TransferResult("http", start, env.now, size, size, "ok", "")

    def release_connections(self, server: str) -> None:
        """The server stopped talking (booted, or power-cycled).

        Its idle keep-alive connections free their workers after the server's
        keep-alive timeout.
        """
        for pool, req in self.held.pop(server, ()):
            pool.hold_then_release(req)
        self.connections.pop(server, None)

    def stage_cap(self, stage: str, cap: int | None) -> simpy.Resource | None:
        """The fleet-wide in-flight cap of a stage (shared by every group)."""
        if cap is None:
            return None
        res = self.stage_caps.get(stage)
        if res is None:
            res = self.stage_caps[stage] = simpy.Resource(self.env, capacity=cap)
        return res

