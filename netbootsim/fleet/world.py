"""The shared world of a fleet run: the network, the services and the records.

:class:`World` owns the SimPy environment, the flow engine, the services with their
limits (TFTP slots, HTTP workers, provisioning API, DHCP servers) and the records.
Servers (:mod:`.machine`) ask it to move bytes: :meth:`World.tftp`, :meth:`World.http`
and :meth:`World.api` return a :class:`~netbootsim.protocols.result.TransferResult`
and write their waits (``tftp-wait``, ``http-wait``) as records themselves.

URIs name a service by its name or by its host (``http://boot1/kernel``,
``tftp://tftp1/undionly.kpxe``, ``http://api1/boot?mac=...``), case-insensitively as
DNS names are: :meth:`World.resolve`. Files are looked up among the scenario's images
only; no URI ever reaches a file of the machine running the simulation.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import numpy as np
import simpy

from ..net import Flow, Resource, make_engine
from ..net.fifo import FifoSharing
from ..net.lockstep import LockstepQueueing
from ..net.packet import SWITCH_BUFFER, FairLink, PacketNetwork
from ..net.packet_l2 import Broadcasts
from ..net.packet_tcp import http_over_packets
from ..net.packet_tftp import tftp_over_packets
from ..net.transfer import transfer
from ..profiles import Profile
from ..protocols import TcpParams, http_plan, retry_waits, tftp_plan
from ..protocols.result import TransferResult
from ..protocols.wire import TCP_FRAME_OVERHEAD, TFTP_FRAME_OVERHEAD
from ..records import PhaseRecord
from ..services.dhcp import DhcpServer
from ..services.slots import SYN_GIVE_UP, HttpWorkers, TftpSlots, run_with_slot
from ..topology import Topology
from .results import FleetRun, Observer, PacketSampler
from .spec import LINUX_RWND, TLS_CLIENT_TIME, DhcpSpec, FaultWindows, Service

__all__ = ["World", "Target", "Window", "SCHEMES"]

#: URI schemes and the service kinds that answer them.
SCHEMES = {"tftp": ("tftp",), "http": ("http", "api"), "https": ("http", "api")}


@dataclass(frozen=True)
class Window:
    """A fault window ``[start, end)`` on a link or a service."""

    start: float
    end: float

    def covers(self, t: float) -> bool:
        """Whether ``t`` is inside the window."""
        return self.start <= t < self.end


@dataclass(frozen=True)
class Target:
    """What a URI names: a service and a file on it (``file`` ``""`` for an API call)."""

    service: Service
    file: str
    query: str = ""
    scheme: str = "http"


def _path_loss(links: Sequence, extra: dict[str, list[tuple[Window, float]]] | None = None,
               t: float = 0.0) -> float:
    """Loss of a path: its links' own, and any loss fault covering time ``t``."""
    keep = 1.0
    for ld in links:
        keep *= 1.0 - ld.loss
        for w, p in (extra or {}).get(ld.link, ()):
            if w.covers(t):
                keep *= 1.0 - p
    return 1.0 - keep


class World:
    """Network, services and records of one fleet run.

    Args:
        topology: the network.
        services: boot services by name (TFTP, HTTP, API).
        dhcp: DHCP services.
        images: image sizes by name.
        scripts: script bodies of images that are iPXE scripts, by name.
        name, seed: for the records.
        full_recompute: the flow engine's reference mode.
        engine: ``"flow"`` (fluid flows, max-min) or ``"packet"`` (TFTP and TCP packet by
            packet, :mod:`netbootsim.net.packet`); DHCP, the API and the waits for
            slots and workers are the same in both.
        buffer: the packet engine's switch-port buffer (bytes).
        host_queue: the packet engine's host egress, ``fair`` or ``fifo``
            (:class:`~netbootsim.net.packet.PacketNetwork`).
        sample_every: utilisation sampling (see :class:`.results.Observer`).
        faults: fault windows on links, services and images.
        provisioners: inventory and templates of each provisioning API, by name.
    """

    def __init__(self, topology: Topology, services: dict[str, Service],
                 dhcp: Sequence[DhcpSpec], images: dict[str, float],
                 scripts: dict[str, str], *, name: str, seed: int,
                 full_recompute: bool = False, sample_every: float = 0.005,
                 engine: str = "flow", buffer: float = SWITCH_BUFFER,
                 host_queue: str = "fair",
                 faults: FaultWindows | None = None, provisioners: dict | None = None):
        self.env = env = simpy.Environment()
        self.topology = topology
        self.services = services
        self.images = images
        self.scripts = scripts
        self.name = name
        self.seed = seed
        self.run = run = FleetRun()
        self.engine = make_engine(env, full_recompute=full_recompute,
                                  on_solve=Observer(run, sample_every, env))
        f = faults or FaultWindows()
        #: draws the flow laws' retries under loss (one stream, in event order)
        self.law_rng = np.random.default_rng([seed, 0x7F7])
        self.packets: PacketNetwork | None = None
        #: lock-step flows' bounds beside window flows at a host NIC (flow engine)
        self.lockstep = LockstepQueueing(env, self.engine)
        #: flows of different round trips at FIFO ports: switch egress and, with
        #: ``host_queue: fifo``, hosts' egress (flow engine)
        self.fifo = FifoSharing(env, self.engine)
        self._packet_disks: dict[str, FairLink] = {}
        hosts = frozenset(n for n in topology.graph
                          if topology.node_kind(n) in ("server", "host"))
        self._hosts, self._buffer, self._host_queue = hosts, buffer, host_queue
        if engine == "packet":
            self.packets = PacketNetwork(env, np.random.default_rng([seed, 0x9AC]),
                                         buffer, hosts, self._fault_loss, host_queue)
            self.l2 = Broadcasts(env, topology, self.packets, run.broadcast_frames)
            self.sampler = PacketSampler(run, env, self.packets.by_name, sample_every)
        self.link_down, self.service_down, self.link_loss = f.link_down, f.service_down, \
            f.link_loss
        self.tamper, self.service_slow, self.service_error = f.tamper, f.service_slow, \
            f.service_error
        self.provisioners = provisioners or {}  # API name -> services.provisioning.Provisioner
        self.trace: set[str] = set()  # servers whose console is kept
        self._resources: dict[str, Resource] = {}
        self._disks = {s.name: Resource(f"{s.name}:disk", s.disk_rate)
                       for s in services.values() if math.isfinite(s.disk_rate)}
        self.slots = {s.name: TftpSlots(env, s.max_sessions, orphan_hold=s.orphan_hold)
                      for s in services.values() if s.kind == "tftp" and s.max_sessions}
        self.workers = {s.name: HttpWorkers(env, s.workers, keepalive=s.keepalive,
                                            backlog=s.backlog)
                        for s in services.values() if s.kind == "http" and s.workers}
        self.apis = {s.name: simpy.Resource(env, capacity=s.concurrency)
                     for s in services.values() if s.kind == "api"}
        self.dhcp = {d.name: DhcpServer(env, d.name, service_time=d.service_time,
                                        ping=d.ping, no_pxedhcp=d.no_pxedhcp,
                                        ipv6_ra=d.ipv6_ra, pool=d.pool, proxy=d.proxy,
                                        boot_files=dict(d.boot_files), script=d.script,
                                        user_class_check=d.user_class_check)
                     for d in dhcp}
        self.dhcp_hosts = {d.name: d.host for d in dhcp}
        # Boot-side hosts get addresses (DHCP's next-server is an IPv4 setting in iPXE);
        # URIs may name a host by address, name, or a service name.
        self.host_ip = {h: f"10.255.{i >> 8}.{(i & 255) + 1}"
                        for i, h in enumerate(sorted({s.host for s in services.values()}
                                                     | set(self.dhcp_hosts.values())))}
        self.ip_host = {ip: h for h, ip in self.host_ip.items()}
        run.slots, run.workers, run.apis, run.dhcp = self.slots, self.workers, self.apis, \
            self.dhcp
        # iPXE keeps one HTTP/1.1 keep-alive connection per server (httpconn.c [ipxe-src]);
        # Linux keeps its window open across back-to-back requests (RFC 2861 validation
        # only after an idle RTO): bytes of the previous transfer per (client, service).
        self.connections: dict[str, dict[str, float]] = {}  # server -> service -> bytes
        self.held: dict[str, list] = {}  # server -> worker requests its connections hold
        self.stage_caps: dict[str, simpy.Resource] = {}

    # -------------------------------------------------------------------- records
    def record(self, server: str, group: str, rack: str, stage: str, phase: str,
               attempt: int, start: float, end: float, nbytes: float = 0.0,
               protocol: str = "", endpoint: str = "", outcome: str = "ok",
               reason: str = "") -> None:
        """Append one phase record."""
        self.run.records.append(PhaseRecord(self.name, self.seed, server, group, rack, stage,
                                            phase, attempt, start, end, nbytes, protocol,
                                            endpoint, outcome, reason))

    # -------------------------------------------------------------------- naming
    def resolve(self, uri: str) -> Target | str:
        """The service and file a URI names, or why it names none.

        Only the simulated world answers: a URI names a service (by its name, its host's
        name or address; case-insensitively, as DNS names are) and a file by the last
        segment of its path, looked up among the scenario's images. Nothing of the
        machine running the simulation is ever opened, whatever the path holds.
        """
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if scheme == "file":  # interface/efi/efi_local.c: the machine's own EFI volume
            return (f"file: URIs name files of the machine's own EFI volume; a simulated "
                    f"machine has none ({uri})")
        kinds = SCHEMES.get(scheme)
        if kinds is None:
            return f"unsupported URI scheme {parts.scheme!r} in {uri!r}"
        host = parts.hostname or ""  # urlsplit lower-cases it
        host = self.ip_host.get(host, host).lower()
        cands = [s for s in self.services.values() if s.kind in kinds
                 and host in (s.name.lower(), s.host.lower())]
        if not cands:
            return f"no {scheme} service at {host!r} ({uri})"
        file = parts.path.rsplit("/", 1)[-1]
        named = [s for s in cands if s.name.lower() == host] or cands
        static = [s for s in named if s.kind != "api"]
        if static and (file in self.images or not [s for s in named if s.kind == "api"]):
            return Target(min(static, key=lambda s: s.name), file, parts.query, parts.scheme)
        api = min((s for s in named if s.kind == "api"), key=lambda s: s.name)
        return Target(api, "", parts.query, parts.scheme)

    def tampered_at(self, service: str, image: str, t: float) -> bool:
        """Whether ``image`` on ``service`` was served tampered with at ``t``."""
        return any(w.covers(t) for key in (image, f"{service}:{image}")
                   for w in self.tamper.get(key, ()))

    def erroring(self, service: str, t: float) -> bool:
        """Whether ``service`` answers HTTP 500 at ``t`` (a service-error fault)."""
        return any(w.covers(t) for w in self.service_error.get(service, ()))

    def slowdown(self, service: str, t: float) -> float:
        """How many times slower ``service`` serves a request at ``t``."""
        f = 1.0
        for w, factor in self.service_slow.get(service, ()):
            if w.covers(t):
                f *= factor
        return f

    def down(self, service: str, t: float) -> Window | None:
        """The outage window of ``service`` covering ``t``, if any."""
        return next((w for w in self.service_down.get(service, ()) if w.covers(t)), None)

    def path_down_until(self, links: Sequence, t: float) -> float:
        """When every link of ``links`` is up again (``t`` if none is down at ``t``)."""
        end = t
        for ld in links:
            for w in self.link_down.get(ld.link, ()):
                if w.covers(t):
                    end = max(end, w.end)
        return end

    def _fault_loss(self, link: str, t: float) -> float:
        """Loss that fault windows add on ``link`` at time ``t`` (packet engine)."""
        keep = 1.0
        for w, p in self.link_loss.get(link, ()):
            if w.covers(t):
                keep *= 1.0 - p
        return 1.0 - keep

    # ----------------------------------------------------------------- transfers
    def _resource(self, ld) -> Resource:
        r = self._resources.get(ld.name)
        if r is None:
            r = self._resources[ld.name] = Resource(ld.name, ld.capacity)
        return r

    def _path(self, svc: Service, server: str, key: str):
        fwd, back, rtt = self.topology.round_trip(svc.host, server, key)
        path = [self._resource(ld) for ld in fwd]
        if svc.name in self._disks:
            path.append(self._disks[svc.name])
        return fwd, back, rtt, path

    def _moved(self, path: list[Resource], wire: float) -> None:
        run = self.run  # the line-rate bound counts only bytes that really moved
        for r in path:
            run.wire_bytes[r.name] = run.wire_bytes.get(r.name, 0.0) + wire
            run.capacity[r.name] = r.capacity

    def _unreachable(self, proto: str, svc: Service, fwd: Sequence, start: float,
                     give_up: float) -> Generator[simpy.Event, object, TransferResult | None]:
        """Wait out a service or link outage as a client's retries would, or fail."""
        env = self.env
        while True:
            w = self.down(svc.name, env.now)
            up = max(w.end if w else env.now, self.path_down_until(fwd, env.now))
            if up <= env.now:
                return None
            if up - start > give_up:
                yield env.timeout(max(start + give_up - env.now, 0.0))
                what = f"service {svc.name} down" if w else "link down on the path"
                return TransferResult(proto, start, env.now, 0.0, 0.0, "failed",
                                      f"no answer from {svc.name}: {what} "
                                      f"({give_up:g} s of retries)")
            yield env.timeout(up - env.now)

    def tftp(self, server: str, group: str, rack: str, stage: str, attempt: int,
             profile: Profile, svc: Service, file: str, size: float
             ) -> Generator[simpy.Event, object, TransferResult]:
        """One TFTP read of ``file`` (``size`` bytes) by ``server`` from ``svc``."""
        env = self.env
        start = env.now
        fwd, back, rtt, path = self._path(svc, server, f"{server}/{file}")
        # iPXE's RRQ retry timer gives up 15.75 s after the first (net/retry.c [ipxe-src])
        give_up = sum(retry_waits(profile.tftp.retry_min, profile.tftp.retry_max))
        fail = yield from self._unreachable("tftp", svc, fwd, start, give_up)
        if fail is not None:
            return fail
        params = replace(profile.tftp, server_block_cost=svc.block_cost,
                         server_retransmit=svc.retransmit)
        plan = tftp_plan(size, params, rtt, [ld.capacity for ld in fwd],
                         _path_loss(fwd, self.link_loss, env.now),
                         _path_loss(back, self.link_loss, env.now),
                         rng=self.law_rng if self.packets is None else None)  # packets: real
        if self.packets is None:
            block = params.windowsize * (params.blksize + TFTP_FRAME_OVERHEAD)
            gen = transfer(env, self.engine, path, plan, f"{server}/{file}",
                           on_flow=self._on_flow(fwd, path, block))
        else:
            gen = self._tftp_packets(server, svc, fwd, back, size, params, file, plan)
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
            if wait.sends > 1:
                self.record(server, group, rack, stage, f"tftp-wait:{file}", attempt, start,
                            wait.served, 0.0, "tftp", svc.name, "ok",
                            f"{wait.sends} RRQs before a slot ({cap})")
        if res.outcome == "ok":
            self._moved(path, plan.wire_bytes)
        return res

    def http(self, server: str, group: str, rack: str, stage: str, attempt: int,
             profile: Profile | None, svc: Service, file: str, size: float,
             rate_cap: float = math.inf, tls: bool = False
             ) -> Generator[simpy.Event, object, TransferResult]:
        """One HTTP GET of ``file`` by ``server`` from ``svc``.

        ``profile`` None: the client is Linux (the installer), with its own window
        (:data:`~.spec.LINUX_RWND`) and no firmware delays; ``rate_cap`` bounds it (the
        disk it streams to). ``tls``: HTTPS — a new connection adds the TLS 1.2
        handshake's two round trips and the client's crypto time.
        """
        env = self.env
        start = env.now
        fwd, back, rtt, path = self._path(svc, server, f"{server}/{file}")
        fail = yield from self._unreachable("http", svc, fwd, start, SYN_GIVE_UP)
        if fail is not None:
            return fail
        conns = self.connections.setdefault(server, {})
        prev = conns.get(svc.name)
        if profile is None:  # rate_cap is a payload rate (a disk); the flow's is on the wire
            tcp = TcpParams(rwnd=LINUX_RWND)
            extra, overhead, cap = 0.0, 0.0, rate_cap * tcp.wire_factor
            rate_cap = cap
        else:
            tcp, extra = profile.tcp, profile.tcp_client_delay
            overhead, cap = profile.http_request_overhead, profile.http_client_rate
        conns[svc.name] = size
        hp = http_plan(size, tcp, rtt + extra, min(ld.capacity for ld in fwd) if fwd
                       else math.inf, _path_loss(fwd, self.link_loss, env.now),
                       server_time=overhead,
                       rate_cap=min(cap, rate_cap), connected=prev is not None,
                       warm=prev is not None and prev >= tcp.rwnd)
        pool = self.workers.get(svc.name)
        if prev is None and pool is not None:
            req, syns, waited = yield from pool.connect()
            what = f"{pool.workers.capacity} workers, backlog {pool.backlog}"
            if req is None:
                return TransferResult("http", start, env.now, 0.0, 0.0, "failed",
                                      f"no HTTP worker: {syns} SYNs unanswered in "
                                      f"{env.now - start:.2f} s ({what})")
            self.held.setdefault(server, []).append((pool, req))
            if waited > 0:
                self.record(server, group, rack, stage, f"http-wait:{file}", attempt, start,
                            env.now, 0.0, "http", svc.name, "ok",
                            f"waited for a worker, {syns} SYNs ({what})")
        t_req = env.now
        if tls and prev is None:
            yield env.timeout(2 * rtt + TLS_CLIENT_TIME)  # TLS 1.2 full handshake
        if self.packets is None:
            res = yield from transfer(
                env, self.engine, path, hp, f"{server}/{file}",
                on_flow=self._on_flow(fwd, path, tcp.mss + TCP_FRAME_OVERHEAD,
                                      rtt=rtt + extra))
        else:
            res = yield from self._http_packets(server, svc, fwd, back, size, tcp, hp,
                                                prev, overhead, min(cap, rate_cap), extra)
        res = replace(res, start=t_req)  # the fetch includes its TLS handshake
        if res.outcome == "ok":
            self._moved(path, hp.wire_bytes)
        return res

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

    def _packet_links(self, svc: Service, fwd: Sequence) -> list:
        """The data path's packet links: the service's disk first, when it has a rate.

        The disk (page cache) serves its readers in turn, like a host NIC: a
        :class:`~netbootsim.net.packet.FairLink` of ``disk_rate`` with no latency.
        """
        links = self.packets.links(fwd)
        if math.isfinite(svc.disk_rate):
            disk = self._packet_disks.get(svc.name)
            if disk is None:
                disk = self._packet_disks[svc.name] = FairLink(
                    self.env, svc.disk_rate, 0.0, name=f"{svc.name}:disk")
            links.insert(0, disk)
        return links

    def _over_packets(self, proto: str, server: str, svc: Service, fwd: Sequence,
                      back: Sequence, transfer) -> Generator[simpy.Event, object, tuple]:
        """ARP for the next hop, then ``transfer(links, back_links)``, counted by the sampler.

        Returns ``(start, result)``: ``result`` is a failed :class:`TransferResult` when
        ARP got no reply, else what ``transfer`` returned.
        """
        start = self.env.now
        why = yield from self.l2.arp(server, svc.host)
        if why:
            return start, TransferResult(proto, start, self.env.now, 0.0, 0.0, "failed", why)
        names = [ld.name for ld in fwd]
        self.sampler.started(names)
        try:
            r = yield from transfer(self._packet_links(svc, fwd), self.packets.links(back))
        finally:
            self.sampler.ended(names)
        return start, r

    def _tftp_packets(self, server, svc, fwd, back, size, params, file, plan
                      ) -> Generator[simpy.Event, object, TransferResult]:
        """One TFTP read packet by packet (the same result type as the law's)."""
        if plan.error is not None:
            start = self.env.now
            yield self.env.timeout(plan.handshake)
            return TransferResult("tftp", start, self.env.now, 0.0, 0.0, "failed", plan.error)
        start, r = yield from self._over_packets(
            "tftp", server, svc, fwd, back,
            lambda links, back_links: tftp_over_packets(self.env, links, back_links,
                                                        int(size), params, file))
        if isinstance(r, TransferResult):
            return r
        if r.outcome != "ok":
            return TransferResult("tftp", start, r.end, 0.0, 0.0, "failed",
                                  f"TFTP timeout: {r.blocks} blocks received, then no "
                                  f"answer to {r.client_retries} resent packets")
        return TransferResult("tftp", start, r.end, float(size), plan.wire_bytes, "ok", "")

    def _http_packets(self, server, svc, fwd, back, size, tcp, hp, prev, overhead, rate,
                      delay) -> Generator[simpy.Event, object, TransferResult]:
        """One HTTP GET packet by packet (the same result type as the law's)."""
        start, r = yield from self._over_packets(
            "http", server, svc, fwd, back,
            lambda links, back_links: http_over_packets(
                self.env, links, back_links, size, tcp, connected=prev is not None,
                warm=prev is not None and prev >= tcp.rwnd, server_time=overhead,
                client_rate=rate, client_delay=delay))
        if isinstance(r, TransferResult):
            return r
        if r.outcome != "ok":
            return TransferResult("http", start, r.end, 0.0, 0.0, "failed",
                                  "no answer to the SYN or the request (TCP retries "
                                  "exhausted)")
        return TransferResult("http", start, r.end, r.bytes, hp.wire_bytes, "ok", "")

    def api(self, server: str, svc: Service, size: float, tls: bool = False
            ) -> Generator[simpy.Event, object, TransferResult]:
        """One request to a provisioning API: connect, queue, service time, response.

        ``tls``: over HTTPS, a TLS 1.2 handshake (two round trips and the client's
        crypto time) follows the TCP one.
        """
        env = self.env
        start = env.now
        fwd, _, rtt = self.topology.round_trip(svc.host, server, f"{server}/api")
        fail = yield from self._unreachable("http", svc, fwd, start, SYN_GIVE_UP)
        if fail is not None:
            return fail
        yield env.timeout(rtt + (2 * rtt + TLS_CLIENT_TIME if tls else 0.0))  # handshakes
        with self.apis[svc.name].request() as req:
            yield req
            yield env.timeout(svc.service_time * self.slowdown(svc.name, env.now))
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

