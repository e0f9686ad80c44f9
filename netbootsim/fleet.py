"""The fleet: servers that power on and fetch their boot files over the network.

Each server is a plain SimPy generator that reads like its boot log: power on, the
firmware's start-up (the profile's measured ``rom_start``, when calibrated), iPXE's
``dhcp`` against the group's DHCP service (:mod:`netbootsim.dhcp`; iPXE boot paths),
then fetch each boot file (kernel, initrd, ...) from its group's service, one after
another, over TFTP or HTTP through the flow engine. Every phase attempt becomes a
:class:`~netbootsim.records.PhaseRecord`.

Scope today (issue 2, the foundation): the transfer phase of a boot storm. DHCP,
firmware start-up times, service slot caps and worker limits, retries on iPXE's
timers, the iPXE interpreter and the OS install arrive with the fleet issue; reports
say so in their notes.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, replace

import simpy

from .dhcp import DhcpServer, ipxe_dhcp
from .net import FlowEngine, Resource
from .profiles import Profile
from .protocols import http_plan, http_transfer, tftp_plan, tftp_transfer
from .protocols.result import TransferResult
from .records import PhaseRecord
from .runtime import relaxed_gc
from .services import HttpWorkers, TftpSlots, run_with_slot
from .topology import Topology

__all__ = ["Service", "Group", "DhcpSpec", "FleetRun", "simulate", "DNSMASQ_TFTP_RETRANSMIT"]

#: dnsmasq's TFTP ignores duplicate ACKs and resends a lost DATA block on its own timer:
#: 1.95 s fitted on lab runs with 1 % loss (docs/calibration.md; lost-DATA gaps of
#: 1.56–2.07 s in lab/traces/tftp-loss1-*).
DNSMASQ_TFTP_RETRANSMIT = 1.95


@dataclass(frozen=True)
class Service:
    """A boot service on a host.

    Attributes:
        name: service name from the scenario.
        kind: ``tftp`` or ``http``.
        host: topology node it runs on.
        block_cost: TFTP server CPU time per block (s).
        disk_rate: read rate shared by all its transfers (bytes/s; ``inf`` for none).
        retransmit: TFTP: ``None`` if a duplicate ACK makes it resend, else its own
            resend timer (s) — see :class:`~netbootsim.protocols.TftpParams`.
        max_sessions: TFTP: concurrent transfers (dnsmasq ``tftp-max``); ``None``: no cap
            (a process per client, like tftpd-hpa). See :mod:`netbootsim.services`.
        workers: HTTP: worker cap (Apache prefork MaxRequestWorkers); ``None``: no cap.
        keepalive: HTTP: how long the server keeps an idle connection (and its worker).
    """

    name: str
    kind: str
    host: str
    block_cost: float = 0.0
    disk_rate: float = math.inf
    retransmit: float | None = None
    max_sessions: int | None = None
    workers: int | None = None
    keepalive: float = 5.0


@dataclass(frozen=True)
class DhcpSpec:
    """A DHCP service for the fleet (see :class:`netbootsim.dhcp.DhcpServer`)."""

    name: str
    host: str
    service_time: float = 0.5e-3
    ping: float = 3.0
    no_pxedhcp: bool = False
    ipv6_ra: bool = False


@dataclass(frozen=True)
class Group:
    """A fleet group: servers that boot the same way.

    Attributes:
        name: group name.
        boot: boot path name (``pxe``, ``pxe-chainload-ipxe``, ``ipxe``).
        profile: client firmware profile.
        images: ``(name, size in bytes)`` fetched in order.
        service: where the images come from.
        power_on_at: time the first server of the group is powered on (s).
        per_second: servers powered on per second (``inf``: all at once).
        dhcp: the DHCP service iPXE configures from (``None``: no DHCP phase).
        link_outage: seconds after the firmware starts during which the server's port
            drops every frame (a LAG port until LACP converges; STP blocking).
    """

    name: str
    boot: str
    profile: Profile
    images: tuple[tuple[str, float], ...]
    service: Service
    power_on_at: float = 0.0
    per_second: float = math.inf
    dhcp: DhcpSpec | None = None
    link_outage: float = 0.0


@dataclass
class FleetRun:
    """Everything a run produced, before it is written anywhere.

    Attributes:
        records: one per phase attempt, in the order they ended.
        servers: per server ``(name, group, rack, power_on, ready, outcome, reason, bytes)``.
        wire_bytes: bytes each resource had to carry (for the line-rate bound).
        capacity: capacity of each such resource (bytes/s).
        saturated: seconds each resource spent limiting flows.
        max_flows: most flows a resource limited at once.
        first_last: first and last time each resource limited flows.
        timeline: ``(time, resource, utilisation, flows)`` samples of busy resources.
        events, solves: engine work counters.
    """

    records: list[PhaseRecord] = field(default_factory=list)
    servers: list[tuple] = field(default_factory=list)
    wire_bytes: dict[str, float] = field(default_factory=dict)
    capacity: dict[str, float] = field(default_factory=dict)
    saturated: dict[str, float] = field(default_factory=dict)
    max_flows: dict[str, int] = field(default_factory=dict)
    first_last: dict[str, list[float]] = field(default_factory=dict)
    timeline: list[tuple[float, str, float, int]] = field(default_factory=list)
    events: int = 0
    solves: int = 0
    slots: dict = field(default_factory=dict)
    workers: dict = field(default_factory=dict)


class _Observer:
    """Bottleneck attribution and utilisation samples, fed by the engine after solves."""

    def __init__(self, run: FleetRun, sample_every: float):
        self.run = run
        self.sample_every = sample_every  # relative: next sample after max(1 ms, this × now)
        self.prev_t = 0.0
        self.prev: list[tuple[Resource, float, int]] = []
        self.next_sample = 0.0

    def __call__(self, now: float, engine: FlowEngine) -> None:
        run = self.run
        for r, _, _ in self.prev:
            run.saturated[r.name] = run.saturated.get(r.name, 0.0) + (now - self.prev_t)
            run.first_last[r.name][1] = now
        current = engine.bottlenecks()
        for r, _, n in current:
            if r.name not in run.first_last:
                run.first_last[r.name] = [now, now]
            run.max_flows[r.name] = max(run.max_flows.get(r.name, 0), n)
        self.prev, self.prev_t = current, now
        if now >= self.next_sample:
            loads = engine.resource_loads()
            if not loads:
                return
            # Thinning: about 1 / sample_every samples per decade of simulated time, so a
            # long storm costs a bounded number of O(flows) load sweeps.
            self.next_sample = now + max(1e-3, self.sample_every * now)
            busiest = sorted(loads.items(), key=lambda kv: (-kv[1] / kv[0].capacity,
                                                            kv[0].name))[:8]
            counts: dict[Resource, int] = {}
            for f, _ in engine.flow_rates():
                for x in f.path:
                    counts[x] = counts.get(x, 0) + 1
            for r, load in busiest:
                run.timeline.append((now, r.name, min(load / r.capacity, 1.0), counts[r]))


def _path_loss(links: Sequence) -> float:
    keep = 1.0
    for ld in links:
        keep *= 1.0 - ld.loss
    return 1.0 - keep


def simulate(
    topology: Topology,
    groups: Sequence[Group],
    members: Sequence[tuple[str, str]],
    *,
    name: str,
    seed: int,
    full_recompute: bool = False,
    until: float | None = None,
    sample_every: float = 0.005,
) -> FleetRun:
    """Boot a fleet and return what happened.

    Args:
        topology: the network.
        groups: fleet groups by name.
        members: ``(server, group name)`` in power-on order within each group.
        name: run name for the records.
        seed: the run's seed (recorded; the transfer phase itself draws no randomness).
        full_recompute: use the engine's reference mode.
        until: stop the simulation at this time (s); servers still booting are
            reported ``unfinished``.
        sample_every: utilisation samples are at least ``sample_every × now`` (and 1 ms)
            apart: about 200 per decade of simulated time by default.
    """
    env = simpy.Environment()
    run = FleetRun()
    engine = FlowEngine(env, full_recompute=full_recompute,
                        on_solve=_Observer(run, sample_every))
    resources: dict[str, Resource] = {}
    by_name = {g.name: g for g in groups}
    disks = {}
    for g in groups:
        s = g.service
        if s.name not in disks and math.isfinite(s.disk_rate):
            disks[s.name] = Resource(f"{s.name}:disk", s.disk_rate)
    state: dict[str, list] = {}
    # iPXE keeps one HTTP/1.1 keep-alive connection per server (IPXE-FACTS §3b); Linux
    # keeps its window open across back-to-back requests (RFC 2861 validation only after
    # an idle RTO): bytes of the previous transfer on each (client, service) connection.
    connections: dict[tuple[str, str], float] = {}
    workers = {g.service.name: HttpWorkers(env, g.service.workers,
                                           keepalive=g.service.keepalive) for g in groups
               if g.service.kind == "http" and g.service.workers}
    run.workers = workers
    held: dict[str, list] = {}  # server -> worker requests its connections hold

    def resource(ld) -> Resource:
        r = resources.get(ld.name)
        if r is None:
            r = resources[ld.name] = Resource(ld.name, ld.capacity)
        return r

    slots = {g.service.name: TftpSlots(env, g.service.max_sessions) for g in groups
             if g.service.kind == "tftp" and g.service.max_sessions}
    run.slots = slots
    dhcp_servers = {g.dhcp.name: DhcpServer(env, g.dhcp.name,
                                            service_time=g.dhcp.service_time,
                                            ping=g.dhcp.ping, no_pxedhcp=g.dhcp.no_pxedhcp,
                                            ipv6_ra=g.dhcp.ipv6_ra)
                    for g in groups if g.dhcp is not None}

    def fetch(server: str, group: Group, image: str, size: float, rack: str
              ) -> Generator[simpy.Event, object, TransferResult]:
        svc = group.service
        fwd, back, rtt = topology.round_trip(svc.host, server, f"{server}/{image}")
        path = [resource(ld) for ld in fwd]
        if svc.name in disks:
            path.append(disks[svc.name])
        caps = [ld.capacity for ld in fwd]
        loss_f, loss_b = _path_loss(fwd), _path_loss(back)
        if svc.kind == "tftp":
            params = replace(group.profile.tftp, server_block_cost=svc.block_cost,
                             server_retransmit=svc.retransmit)
            plan = tftp_plan(size, params, rtt, caps, loss_f, loss_b)
            wire = plan.wire_bytes
            gen = tftp_transfer(env, engine, path, plan, f"{server}/{image}")
            if svc.name in slots:
                gen = _slotted(slots[svc.name], gen, params, server, group, image, rack)
        else:
            prof = group.profile
            prev = connections.get((server, svc.name))
            connections[(server, svc.name)] = size
            hp = http_plan(size, prof.tcp, rtt + prof.tcp_client_delay,
                           min(caps) if caps else math.inf, loss_f,
                           server_time=prof.http_request_overhead,
                           rate_cap=prof.http_client_rate, connected=prev is not None,
                           warm=prev is not None and prev >= prof.tcp.rwnd)
            wire = hp.wire_bytes
            gen = http_transfer(env, engine, path, hp, f"{server}/{image}")
            if prev is None and svc.name in workers:
                gen = _with_worker(workers[svc.name], gen, server, group, image, rack)
        res = yield from gen
        if res.outcome == "ok":  # the line-rate bound counts only bytes that really moved
            for r in path:
                run.wire_bytes[r.name] = run.wire_bytes.get(r.name, 0.0) + wire
                run.capacity[r.name] = r.capacity
        return res

    def record(server: str, group: Group, rack: str, phase: str, start: float, end: float,
               nbytes: float = 0.0, protocol: str = "", endpoint: str = "",
               outcome: str = "ok", reason: str = "") -> None:
        run.records.append(PhaseRecord(name, seed, server, group.name, rack, "boot", phase, 1,
                                       start, end, nbytes, protocol, endpoint, outcome, reason))

    def _slotted(slot: TftpSlots, gen, params, server, group, image, rack):
        start = env.now
        wait, res = yield from run_with_slot(slot, lambda: gen, params.retry_min,
                                             params.retry_max)
        cap = f"tftp-max {slot.max_sessions}"
        if wait.gave_up:
            return TransferResult("tftp", start, env.now, 0.0, 0.0, "failed",
                                  f"no TFTP slot: {wait.sends} RRQs unanswered in "
                                  f"{env.now - start:.2f} s ({cap})")
        if wait.sends > 1:
            record(server, group, rack, f"tftp-wait:{image}", start, wait.served, 0.0, "tftp",
                   group.service.name, "ok", f"{wait.sends} RRQs before a slot ({cap})")
        return res

    def _with_worker(pool: HttpWorkers, gen, server, group, image, rack):
        start = env.now
        req, syns, waited = yield from pool.connect()
        cap = f"{pool.workers.capacity} workers, backlog {pool.backlog}"
        if req is None:
            return TransferResult("http", start, env.now, 0.0, 0.0, "failed",
                                  f"no HTTP worker: {syns} SYNs unanswered in "
                                  f"{env.now - start:.2f} s ({cap})")
        held.setdefault(server, []).append((pool, req))
        if waited > 0:
            record(server, group, rack, f"http-wait:{image}", start, env.now, 0.0, "http",
                   group.service.name, "ok", f"waited for a worker, {syns} SYNs ({cap})")
        return (yield from gen)

    def boot(server: str, group: Group, index: int):
        rack = topology.graph.nodes[server].get("rack") or ""
        at = group.power_on_at + (index / group.per_second if math.isfinite(group.per_second)
                                  else 0.0)
        st = state[server] = [at, math.nan, "unfinished", "", 0.0, rack]
        yield env.timeout(at)
        record(server, group, rack, "power-on", at, at)
        rom = group.profile.rom_start
        if rom > 0:  # BIOS/POST and the ROM's start-up, to its first network packet
            yield env.timeout(rom)
            record(server, group, rack, "firmware", at, env.now)
        if group.dhcp is not None and group.boot != "pxe":
            _, _, rtt = topology.round_trip(server, group.dhcp.host, f"{server}/dhcp")
            d = yield from ipxe_dhcp(env, dhcp_servers[group.dhcp.name], rtt,
                                     ipv6=group.profile.ipv6,
                                     discover_end=group.profile.dhcp_discover_end,
                                     blackout_until=env.now + group.link_outage)
            if d.outcome == "ok":
                record(server, group, rack, "dhcp-exchange", d.start, d.exchange_end, 0.0,
                       "dhcp", group.dhcp.name)
            record(server, group, rack, "dhcp", d.start, d.end, 0.0, "dhcp", group.dhcp.name,
                   d.outcome, d.reason)
            if d.outcome != "ok":
                st[2], st[3] = "failed", f"dhcp: {d.reason}"
                return
        for image, size in group.images:
            res = yield from fetch(server, group, image, size, rack)
            record(server, group, rack, f"fetch:{image}", res.start, res.end, res.bytes,
                   res.protocol, group.service.name, res.outcome, res.reason)
            st[4] += res.bytes
            if res.outcome != "ok":
                st[2], st[3] = "failed", f"fetch:{image}: {res.reason}"
                return
        st[1], st[2] = env.now, "ok"

    def boot_and_close(server: str, group: Group, index: int):
        yield from boot(server, group, index)
        for pool, req in held.pop(server, ()):
            pool.hold_then_release(req)  # idle keep-alive: the worker is freed later

    index: dict[str, int] = {}
    for server, gname in members:
        group = by_name[gname]
        i = index.get(gname, 0)
        index[gname] = i + 1
        env.process(boot_and_close(server, group, i))
    with relaxed_gc():
        env.run(until=until)
    if run.timeline:  # close the step plot: everything idle once the last phase is done
        t_end = max((r.end for r in run.records), default=env.now)
        for name in sorted({row[1] for row in run.timeline}):
            run.timeline.append((t_end, name, 0.0, 0))
    for server, gname in members:
        at, ready, outcome, reason, nbytes, rack = state[server]
        run.servers.append((server, gname, rack, at, ready, outcome, reason, nbytes))
    run.events, run.solves = engine.events, engine.solves
    return run
