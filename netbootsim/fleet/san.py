"""SAN boot: iSCSI, AoE and FCoE targets, and what a server booting from one reads.

A target (a scenario service of ``kind: iscsi``, ``aoe`` or ``fcoe``) serves a disk.
iPXE's ``sanhook``/``sanboot`` (:mod:`netbootsim.ipxe.san_cmd`) reach it through
:meth:`San.hook` and :meth:`San.boot`, called by the server's iPXE world:

* **attach**: the initiator's round trips (iSCSI: the TCP handshake, the login, READ
  CAPACITY; AoE: the config query; FCoE: FIP, the fabric and port logins, the name
  server's query, the SCSI probes: 9) plus the model's ``attach`` time (the lab's, under
  QEMU TCG: docs/calibration.md; FCoE's assumed the same as iSCSI's). Several URIs on
  one line are paths to one drive: the first that attaches is used (core/sanboot.c
  [ipxe-src]). A URI no target answers fails after iPXE's SAN command timeout
  (``SAN_COMMAND_TIMEOUT``, 15 s, core/sanboot.c:58 [ipxe-src]): an iSCSI host with no
  such target, or an AoE shelf.slot or an FCoE WWN not in the server's L2 domain (AoE
  and FCoE are Ethernet: they are not routed).
* **the boot loader's reads** (``sanboot``): ``loader`` bytes, one command at a time
  (iPXE's SAN drive waits for each, core/sanboot.c:598-634), each at most the
  protocol's command size (iSCSI 256 KiB, AoE 1 KiB, FCoE none: the loader's own
  request), counted in its frames (:func:`netbootsim.protocols.san.wire_bytes`): a
  lock-step flow whose bound is one request per round trip plus the target's time per
  request and the client's (the firmware profile's ``san_read_time + bytes /
  san_read_rate``).
* **the OS's reads** after the hand-over (:meth:`San.os_reads`, called by the stage once
  iPXE has handed over): ``os`` bytes at the OS's demand, ``os_iops`` requests of
  ``os_request`` bytes a second.

Both kinds of reads are flows of the flow engine through the network path from the
target and the target's own resources: its IOPS (``iops × os_request`` bytes a second,
what every read of every initiator shares) and its disks' bandwidth. Many servers
booting from one array share them, and a saturated array shows as the bottleneck.
A target down (a ``service-down`` fault) refuses the attach as a full one does. Down
during the reads, it is handled as the lab saw iPXE do it (docs/calibration.md, the SAN
section) and as open-iscsi does: the boot loader's reads stop (an iSCSI connection is
refused at once, an AoE or FCoE command times out after 15 s); with another path
hooked, iPXE
reopens the drive on it 5 s later and the reads go on there; without one it retries
every 5 s, for as long as the target is away (the lab's console stayed silent) and goes
on when it is back. The OS's reads find the failure after the initiator's ping times out
(15 s); with another path they go on there at once (dm-multipath), else the session must
be back within open-iscsi's replacement timeout (120 s) or the OS's I/O fails (FCoE: the
fabric's RSCN tells the OS at once, and its FC transport fails the I/O after its
``dev_loss_tmo``, 60 s: :func:`netbootsim.protocols.san.os_timers`). (A
failover takes no session of the other target: its ``sessions`` count the attaches.)
A target's ``sessions`` limit refuses logins past it: iPXE reopens the device 5 s later,
10 times, and fails the attach after the last (core/sanboot.c [ipxe-src]); a server
holds its session while it runs from the disk (an AoE OS, Linux's driver: it resends
after 0.2 s, on another path if it has one, and fails the device after 180 s,
:func:`netbootsim.protocols.san.os_timers`). Not modelled yet: multi-hop FCoE through
FCoE switches, and FCoE's attach and read times (assumed the iSCSI target's: not
measured here).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass

import simpy

from ..ipxe import errors
from ..ipxe.sanpath import SAN_PATHS, named_targets, parse_san_uri
from ..net import Flow, Resource
from ..protocols import TransferResult
from ..protocols.san import (
    NOT_ROUTED,
    SAN_COMMAND_TIMEOUT,
    SAN_DEFAULT_RETRIES,
    SAN_REOPEN_DELAY,
    loader_detect,
    os_timers,
    wire_bytes,
)

__all__ = ["SanBootSpec", "SanSpec", "San", "drive_reads", "SAN_COMMAND_TIMEOUT",
           "SAN_DEFAULT_RETRIES",
           "SAN_REOPEN_DELAY", "parse_san_uri",
           "ETIMEDOUT_SAN", "ENODEV_SAN", "EIO_SAN"]

#: "Connection timed out": the POSIX part of iPXE's number (its file part, core/sanboot.c's
#: or net/aoe.c's, is not in this simulator's table: the text is what is printed).
ETIMEDOUT_SAN = (errors.POSIX["ETIMEDOUT"] << 24) | errors.PLATFORM["ETIMEDOUT"]
#: "Input/output error": a login the target refused (RFC 7143 §11.13.5 status class 3,
#: target error [rfc7143]; same caveat).
EIO_SAN = (errors.POSIX["EIO"] << 24) | errors.PLATFORM["EIO"]
#: "No such device": ``sanboot`` of a drive nobody hooked (same caveat).
ENODEV_SAN = (errors.POSIX["ENODEV"] << 24) | errors.PLATFORM["ENODEV"]


@dataclass(frozen=True)
class SanBootSpec:
    """What a server reads (and writes) to boot from a target (the scenario's ``boot:``)."""

    loader: float
    loader_request: float
    os: float
    os_request: float
    os_iops: float
    os_read_share: float = 1.0
    #: ``(seconds into the OS's reads, requests a second)`` steps; () for a constant
    os_iops_curve: tuple[tuple[float, float], ...] = ()
    #: ``(bytes, share of requests)`` of the OS's request sizes; () for ``os_request``
    #: alone (which is then their mean)
    os_request_mix: tuple[tuple[float, float], ...] = ()


def os_wire_factor(kind: str, boot: SanBootSpec, max_request: float) -> float:
    """Wire bytes a data byte of the OS's requests (each command's headers counted).

    A request larger than the protocol's command takes several (whole commands: the
    factor of one). With a mix of sizes, the mean over its bytes.
    """
    mix = boot.os_request_mix or ((boot.os_request, 1.0),)
    data = sum(size * share for size, share in mix)
    wire = sum(size * share * wire_bytes(kind, min(size, max_request)) / min(size, max_request)
               for size, share in mix)
    return wire / data


@dataclass(frozen=True)
class SanSpec:
    """A SAN target of the run (:class:`netbootsim.scenario.schema.IscsiService`/``Aoe``)."""

    name: str
    kind: str  # "iscsi" | "aoe" | "fcoe"
    host: str
    latency: float
    attach: float
    attach_rtts: int
    max_request: int
    boot: SanBootSpec
    iops: float | None = None
    bandwidth: float | None = None
    iqn: str | None = None
    shelf: int = 0
    slot: int = 0
    sessions: int | None = None
    array: str | None = None
    wwn: str | None = None
    queue_depth: int | None = None


class San:
    """The run's SAN targets and their shared resources (one per world).

    Args:
        specs: the targets by name.
        topology: the run's topology (routes, L2 domains).
    """

    def __init__(self, specs: dict[str, SanSpec], topology):
        self.specs = dict(sorted(specs.items()))
        self.topology = topology
        #: each target's own resources, crossed by every read from it: its IOPS (as
        #: bytes a second at its boot's request size) and its disks' bandwidth
        self.resources: dict[str, list[Resource]] = {}
        for name, s in self.specs.items():
            # flows are counted in wire bytes (headers included) on every resource: the
            # target's own capacities, in data bytes, are scaled by its commands' headers
            wire = os_wire_factor(s.kind, s.boot, s.max_request)
            own = []
            if s.iops is not None:
                own.append(Resource(f"{name}:iops", s.iops * s.boot.os_request * wire))
            if s.bandwidth is not None:
                own.append(Resource(f"{name}:disk", s.bandwidth * wire))
            self.resources[name] = own
        for name, s in self.specs.items():  # targets one array backs: its resources
            if s.array is not None:
                self.resources[name] = self.resources[s.array]
        #: sessions held now, per target (a server's from its attach while it runs)
        self.held: dict[str, int] = dict.fromkeys(self.specs, 0)
        #: logins refused for want of a session, per target (the report's count)
        self.refused: dict[str, int] = dict.fromkeys(self.specs, 0)
        #: the most sessions held at once, per target
        self.peak: dict[str, int] = dict.fromkeys(self.specs, 0)

    def login(self, spec: SanSpec) -> bool:
        """Take one of ``spec``'s sessions: ``False`` (refused) when all are held."""
        if spec.sessions is not None and self.held[spec.name] >= spec.sessions:
            self.refused[spec.name] += 1
            return False
        self.held[spec.name] += 1
        self.peak[spec.name] = max(self.peak[spec.name], self.held[spec.name])
        return True

    def logout(self, spec: SanSpec) -> None:
        """Give one of ``spec``'s sessions back."""
        self.held[spec.name] -= 1

    def find(self, uri: str, server: str) -> tuple[SanSpec | None, str]:
        """The target ``uri`` reaches from ``server``, or ``None`` and why not.

        The path names its targets (:func:`netbootsim.ipxe.sanpath.named_targets`); an
        AoE or FCoE target must share an L2 domain with the server (not routed).
        """
        parsed = parse_san_uri(uri)
        if parsed is None:
            return None, f"{uri}: not a SAN root path ({', '.join(SAN_PATHS.values())})"
        named, why = named_targets(parsed, self.specs.items())
        if not named:
            return None, why
        kind = parsed[0]
        if kind not in NOT_ROUTED:
            return named[0][1], ""
        mine = set(self.topology.domains_of(server))
        near = [t for _, t in named if mine & set(self.topology.domains_of(t.host))]
        if not near:
            what = "AoE" if kind == "aoe" else "FCoE"
            return None, (f"no {what} target {uri.partition(':')[2]} answers: "
                          f"{named[0][0]} is in another L2 domain ({what} is not routed)")
        return near[0], ""

    def attach_time(self, spec: SanSpec, rtt: float) -> float:
        """The attach: its round trips and the model's time beyond them."""
        return spec.attach_rtts * rtt + spec.attach

    def read_through(self, env: simpy.Environment, engine, faults, paths: list, first: int,
                     nbytes: float, stage: str, profile, name: str, note
                     ) -> Generator[simpy.Event, object, tuple[TransferResult, int, float]]:
        """``nbytes`` read from a drive's ``paths``, from ``paths[first]``, through outages.

        ``paths``: ``(target, route)`` in the order they attach. One flow at a time, its
        size and bound in wire bytes (each command's header counted). ``stage``:
        ``"loader"`` (iPXE's reads) or ``"os"`` (the booted OS's), whose timers differ
        (the module docstring). ``note(phase, start, end, reason)`` records an outage or
        a failover.

        The OS's writes (its boot's ``os_read_share`` below 1: ``(1 - share) / share``
        bytes a byte read) are the same boot's requests as its reads, so they go with
        them: one stream of requests, ``os_iops`` a second, through the target's IOPS
        and disks, whose reads are ``share`` of it. A saturated array slows both alike
        (two flows of their own would let the writes, the smaller demand, take their
        whole rate under max-min sharing while the reads slow). The stream crosses the
        links from the target: a link that carries its reads carries its writes' bytes
        too here, where they go the other way: a link from a target is counted busier
        than it is by the writes' share, and is the bottleneck sooner (the line-rate
        bound counts the writes on the way back: :func:`drive_reads`).

        Returns the result (its bytes the reads'), the path the reads ended on and the
        wire bytes written; the result is ``failed`` when the OS's replacement timeout
        ran out.
        """
        start, left, wire_moved, i = env.now, float(nbytes), 0.0, first
        written = 0.0
        while left > 1e-9:
            spec, route = paths[i]
            if stage == "loader":
                request, bound = self.loader_bound(spec, route.rtt, profile)
                frame = min(request, spec.max_request)
                factor, share, schedule = wire_bytes(spec.kind, frame) / frame, 1.0, ()
            else:  # the demand from where it stands (after an outage, part of the way)
                bound, schedule = self.os_bound(spec, route.rtt, env.now - start)
                factor = os_wire_factor(spec.kind, spec.boot, spec.max_request)
                share = spec.boot.os_read_share
            factor /= share  # a read byte's stream: its writes' bytes with it
            win = faults.down(spec.name, env.now)
            if win is None:
                nxt = min((w.start for w in faults.service_down.get(spec.name, ())
                           if w.start > env.now), default=math.inf)
                flow = Flow(left * factor, [*route.path, *self.resources[spec.name]],
                            bound=bound * factor, name=name,
                            schedule=tuple((t, b * factor) for t, b in schedule))
                done = engine.start(flow)
                try:
                    if nxt == math.inf:
                        yield done
                    else:
                        yield done | env.timeout(nxt - env.now)
                except simpy.Interrupt:
                    engine.cancel(flow)  # the server went away (power cycle, timeout)
                    raise
                if done.triggered:
                    moved, left = left * factor, 0.0
                else:
                    moved = engine.cancel(flow)
                    left -= moved / factor
                wire_moved += moved * share
                written += moved * (1.0 - share)
                if not left:
                    break
                win = faults.down(spec.name, env.now)
                assert win is not None  # the outage that began now
            # the target is down: find out, then another path or wait for it
            t0 = env.now
            if stage == "loader":
                detect = loader_detect(spec.kind)
            else:
                detect, give_up = os_timers(spec.kind)
            other = next((j for j in range(len(paths)) if j != i
                          and faults.down(paths[j][0].name, t0 + detect) is None), None)
            if other is not None:
                o_spec, o_route = paths[other]
                wait = detect + (SAN_REOPEN_DELAY + self.attach_time(o_spec, o_route.rtt)
                                 if stage == "loader" else 0.0)
                yield env.timeout(wait)
                note(f"san-failover:{stage}", t0, env.now, f"{spec.name} down: to {o_spec.name}")
                i = other
                continue
            back = win.end
            if stage == "os" and back > t0 + detect + give_up:
                yield env.timeout(detect + give_up)
                why = (f"{spec.name} down, not back within the OS initiator's "
                       + {"fcoe": "dev_loss_tmo", "aoe": "aoe_deadsecs"}.get(
                           spec.kind, "replacement timeout") + f" ({give_up:g} s)")
                note(f"san-outage:{stage}", t0, env.now, why)
                return TransferResult(spec.kind, start, env.now, nbytes - left, wire_moved,
                                      "failed", why), i, written
            if back == math.inf:  # iPXE retries for ever; the console stays silent
                note(f"san-outage:{stage}", t0, t0, f"{spec.name} down for good: iPXE retries its "
                     f"reads every {SAN_REOPEN_DELAY:g} s for ever")
                yield env.event()
            if stage == "loader":  # the next of its retries 5 s apart after the return
                t = t0 + detect
                while t < back:
                    t += SAN_REOPEN_DELAY
                resume = t + self.attach_time(spec, route.rtt)
            else:
                resume = max(back, t0 + detect) + self.attach_time(spec, route.rtt)
            yield env.timeout(resume - env.now)
            note(f"san-outage:{stage}", t0, env.now, f"{spec.name} down until {back:g} s")
        return TransferResult(paths[i][0].kind, start, env.now, nbytes, wire_moved, "ok",
                              ""), i, written

    def loader_bound(self, spec: SanSpec, rtt: float, profile) -> tuple[float, float]:
        """``(request bytes, payload bytes/s)`` of the boot loader's reads: one at a time.

        Each takes a round trip, the target's time and the client's own
        (``profile.san_read_time + request / profile.san_read_rate``).
        """
        request = min(spec.boot.loader_request, spec.max_request)
        client = profile.san_read_time + request / profile.san_read_rate
        return request, request / (rtt + spec.latency + client)

    def os_bound(self, spec: SanSpec, rtt: float, elapsed: float = 0.0
                 ) -> tuple[float, tuple[tuple[float, float], ...]]:
        """The OS's read bound ``elapsed`` into its reads, and its later changes.

        ``(bound, ((seconds from now, bound), ...))`` in payload bytes a second. The OS's
        requests are its block layer's (``os_request``, their mean with a mix),
        ``os_iops`` a second — or its ``os_iops_curve``'s step in force —,
        ``os_read_share`` of them reads; its initiator sends each as commands of at most
        the protocol's size, several at once (AoE's 1 KiB frames too), so only their
        headers count against the request's size. With a ``queue_depth``, at most that
        many are in flight on the session, each a round trip and the target's time:
        ``queue_depth / (rtt + latency)`` requests a second at most.
        """
        boot = spec.boot
        cap = math.inf if spec.queue_depth is None else spec.queue_depth / (rtt + spec.latency)
        per = boot.os_read_share * boot.os_request  # read bytes a request
        now, later = boot.os_iops, []
        for after, iops in boot.os_iops_curve:
            if after <= elapsed:
                now = iops
            else:
                later.append((after - elapsed, min(iops, cap) * per))
        return min(now, cap) * per, tuple(later)


def drive_reads(m, paths: list, at: int, stage: str
                ) -> Generator[simpy.Event, object, tuple[TransferResult, int]]:
    """One stage's reads of server ``m`` from its drive, recorded and counted.

    ``stage``: ``"loader"`` (iPXE's, before the hand-over) or ``"os"``; the reads are
    :meth:`San.read_through`'s, recorded as ``san-read:<stage>`` (with any outage or
    failover on the way), their bytes counted on the server and on every resource
    they crossed. Returns the result and the path they ended on.
    """
    world = m.world
    san = world.san
    spec = paths[at][0]

    def note(phase: str, a: float, b: float, why: str) -> None:
        m.record(phase, a, b, protocol=spec.kind, reason=why)

    nbytes = spec.boot.loader if stage == "loader" else spec.boot.os
    res, at, written = yield from san.read_through(
        m.env, world.transport.engine, world.faults, paths, at, nbytes, stage, m.profile,
        f"{m.server}/san-{stage}", note)
    spec, route = paths[at]
    world._moved([*route.path, *san.resources[spec.name]], res.wire_bytes)
    m.record(f"san-read:{stage}", res.start, res.end, res.bytes, spec.kind, spec.name,
             res.outcome, res.reason)
    m.bytes += res.bytes
    if written > 0:  # the OS's writes with its reads: on the way back, and the target's
        world._moved([*(world._resource(ld) for ld in route.back),
                      *san.resources[spec.name]], written)
        data = written / os_wire_factor(spec.kind, spec.boot, spec.max_request)
        m.record(f"san-write:{stage}", res.start, res.end, data, spec.kind, spec.name,
                 res.outcome, res.reason)
    return res, at
