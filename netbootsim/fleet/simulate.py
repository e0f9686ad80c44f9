"""``simulate``: boot a fleet in a fresh world and return what happened."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence

import simpy

from ..clock import DEFAULT_HORIZON, TIME_LIMIT
from ..ipxe.settings import forget_shared
from ..runtime import paused_gc
from ..streams import Streams
from ..topology import Topology
from .balance import LbSpec
from .events import LifeEvent, schedule, unfinished_rows
from .lifecycle import lifecycle, server_fails
from .machine import Machine
from .power import PowerControl, planned_instants
from .results import FleetRun
from .san import SanSpec
from .spec import DhcpSpec, DnsSpec, FaultWindows, Group, OrchestratorSpec, Service
from .variation import GroupDraws
from .world import World

__all__ = ["simulate", "power_on_times", "WATCH_EVERY"]

#: SimPy steps between two calls of ``simulate(watch=...)``. A step of the 2,000-server
#: storm (``scenarios/dc-boot-storm-2000.yaml``: 156,020 steps, 1.1 s of simulation)
#: costs about 7 us with the engine's work, so 50,000 steps are about a third of a
#: second: a watcher (a memory guard) reacts within that, and one call per 50,000
#: steps is lost in the noise (the storm: 3 calls; wall time unchanged within noise).
WATCH_EVERY = 50_000


def power_on_times(topology: Topology, group: Group, servers: Sequence[str]) -> list[float]:
    """Power-on time of each server of ``group``: all at once, N per second, rack by rack."""
    racks: dict[str, int] = {}
    out = []
    for i, s in enumerate(servers):
        t = group.power_on_at
        if math.isfinite(group.per_second):
            t += i / group.per_second
        if group.rack_interval:
            rack = topology.graph.nodes[s].get("rack") or ""
            t += racks.setdefault(rack, len(racks)) * group.rack_interval
        out.append(t)
    return out


def simulate(
    topology: Topology,
    groups: Sequence[Group],
    members: Sequence[tuple[str, str]],
    *,
    name: str,
    seed: int,
    streams: Streams | None = None,
    full_recompute: bool = False,
    engine: str = "flow",
    buffer: float | None = None,
    host_queue: str = "fair",
    until: float | None = None,
    sample_every: float = 0.005,
    services: dict[str, Service] | None = None,
    dhcp: Sequence[DhcpSpec] | None = None,
    images: dict[str, float] | None = None,
    scripts: dict[str, str] | None = None,
    faults: FaultWindows | None = None,
    provisioners: dict | None = None,
    orchestrators: dict[str, OrchestratorSpec] | None = None,
    dns: dict[str, DnsSpec] | None = None,
    lbs: dict[str, LbSpec] | None = None,
    san: dict[str, SanSpec] | None = None,
    events: Sequence[LifeEvent] = (),
    trace: Sequence[str] = (),
    progress=None,
    watch: Callable[[float], None] | None = None,
) -> FleetRun:
    """Boot a fleet and return what happened.

    Args:
        topology: the network.
        groups: fleet groups.
        members: ``(server, group name)`` in power-on order within each group.
        name: run name for the records.
        seed: the run's seed (recorded with every phase).
        streams: the run's named random streams (default ``Streams(seed)``: a single
            run; a replication passes its own, :meth:`Streams.replica`).
        full_recompute: use the flow engine's reference mode.
        engine: ``"flow"`` or ``"packet"`` (see :class:`.world.World`).
        buffer: the packet engine's switch-port buffer, bytes (``None``: its default).
        host_queue: the packet engine's host egress, ``fair`` or ``fifo``.
        until: the run's horizon (s): the simulation stops when nothing is left to
            happen, or before the first event past ``until``; servers still booting
            then are ``unfinished`` (their reason names ``run.until``). ``None``: the
            default horizon, 7 days (:data:`netbootsim.clock.DEFAULT_HORIZON`), a guard
            against runs that never end rather than a model of anything. At most
            2**22 s (:data:`netbootsim.clock.TIME_LIMIT`).
        sample_every: utilisation samples are at least ``sample_every × now`` (and 1 ms)
            apart: about 200 per decade of simulated time by default.
        services: every boot service by name (default: the groups' services).
        dhcp: every DHCP service (default: the groups' DHCP services).
        images: image sizes by name (default: the groups' images).
        scripts: bodies of the images that are iPXE scripts, by name.
        faults: fault windows on links, services and images.
        provisioners: each provisioning API's inventory and templates, by name.
        orchestrators: every orchestrator by name (the groups' power policies name
            theirs; :mod:`.power`).
        dns: the DNS servers by name (:mod:`.dns`): URIs may then name hosts.
        lbs: the load balancers (302 redirectors) by name (:mod:`.balance`).
        san: the SAN targets by name (:mod:`.san`): ``sanboot``/``sanhook`` reach them.
        events: lifecycle events (:mod:`.events`): replacements, reprovisions, demand.
            The servers of ``standby`` groups wait for them, powered off, and are not
            in ``FleetRun.servers``; the events' rows are ``FleetRun.lifecycle``.
        trace: servers whose iPXE console is kept (``FleetRun.consoles``).
        progress: called as ``progress(done, total, now)`` each time a server finishes,
            and every :data:`WATCH_EVERY` SimPy steps (a third of a second or so), so a
            run whose servers all finish at its end still shows simulated time passing.
        watch: called as ``watch(now)`` every :data:`WATCH_EVERY` SimPy steps; it may
            raise to stop the run (the exception propagates). ``None`` costs nothing.

    Raises:
        ValueError: ``until`` is negative or past :data:`~netbootsim.clock.TIME_LIMIT`.
    """
    until = DEFAULT_HORIZON if until is None else float(until)
    if not 0.0 <= until <= TIME_LIMIT:
        raise ValueError(f"until = {until!r} s: give a horizon between 0 and 2**22 s "
                         f"({TIME_LIMIT:.0f} s), where the clock resolves 1 ns")
    if services is None:
        services = {g.service.name: g.service for g in groups}
    if dhcp is None:
        dhcp = list({g.dhcp.name: g.dhcp for g in groups if g.dhcp is not None}.values())
    if images is None:
        images = {n: s for g in groups for n, s in g.images}
    world = World(topology, dict(services), dhcp, dict(images), dict(scripts or {}),
                  name=name, seed=seed,
                  streams=Streams(seed) if streams is None else streams,
                  full_recompute=full_recompute, engine=engine,
                  host_queue=host_queue,
                  **({} if buffer is None else {"buffer": buffer}),
                  sample_every=sample_every, faults=faults, provisioners=provisioners,
                  dns=dns, lbs=lbs, san=san)
    world.trace = set(trace)
    env = world.env
    by_name = {g.name: g for g in groups}
    per_group: dict[str, list[str]] = {}
    for server, gname in members:
        per_group.setdefault(gname, []).append(server)
    standby = {g.name for g in groups if g.power is not None and g.power.kind == "standby"}
    times = {gname: [math.inf] * len(servers) if gname in standby else
             power_on_times(topology, by_name[gname], servers)
             if by_name[gname].power is None or by_name[gname].power.kind is None else
             planned_instants(by_name[gname].power, gname,
                              [topology.graph.nodes[s].get("rack") or "" for s in servers],
                              world.streams)
             for gname, servers in per_group.items()}
    if any(g.power is not None for g in groups):
        world.power = PowerControl(env, groups, dict(orchestrators or {}), world.run)
    draws = {gname: GroupDraws(by_name[gname], world.streams, len(servers))
             for gname, servers in per_group.items()}
    machines = []
    index: dict[str, int] = {}
    done = [0]
    fleet = sum(1 for _server, gname in members if gname not in standby)

    def finished(_event: simpy.Event) -> None:  # a server's lifecycle has returned
        done[0] += 1
        if events and done[0] == fleet:  # the commissioning is over: its counters
            world.run.close_commissioning(env.now)
        if progress is not None:
            progress(done[0], fleet, env.now)

    for n, (server, gname) in enumerate(members):
        i = index.get(gname, 0)
        index[gname] = i + 1
        m = Machine(world, by_name[gname], server, n, times[gname][i], draws[gname], i)
        machines.append(m)
        if gname not in standby:
            env.process(lifecycle(m)).callbacks.append(finished)  # no wrapper frame
    if events:
        schedule(env, events, {m.server: m for m in machines}, world.run.lifecycle)

    def fail(hit: list[Machine]) -> Callable[[simpy.Event], None]:
        def now(_event: simpy.Event) -> None:
            for m in hit:
                server_fails(m)
        return now

    for target, at in sorted(world.faults.server_fail.items()):  # server-fail faults
        env.timeout(at).callbacks.append(
            fail([m for m in machines if target in (m.server, m.group.name)]))

    def tick(now: float) -> None:  # every WATCH_EVERY steps: the guard, then the progress
        if watch is not None:
            watch(now)
        if progress is not None:  # simulated time moves on while no server finishes
            progress(done[0], fleet, now)

    with paused_gc() as tidy:
        cut, steps = _run(env, until, None if watch is None and progress is None else tick,
                          tidy)
    run = world.run
    run.steps = steps
    if events:
        unfinished_rows(world, run.lifecycle,
                        _horizon_reason(0.0, until) if cut else
                        "waiting when nothing was left to happen")
        order = {ev.name: k for k, ev in enumerate(events)}
        at = {m.server: m.index for m in machines}
        run.lifecycle.sort(key=lambda r: (order[r.event], r.asked, at[r.server]))
        if run.commission is None:  # the commissioning never ended
            run.close_commissioning(env.now)
        end = run.commission["end"]  # the timeline is the commissioning's
        run.timeline[:] = [row for row in run.timeline if row[0] <= end]
    if run.timeline:  # close the step plot: everything idle once the last phase is done
        ends = run.records.column("end")
        t_end = float(ends.max()) if len(ends) else env.now
        for res in sorted({row[1] for row in run.timeline}):
            run.timeline.append((t_end, res, 0.0, 0))
    for m in machines:
        if m.at == math.inf:
            continue  # a standby server (never powered on): not of the commissioning
        reason = None
        if cut and m.outcome == "unfinished":
            reason = _horizon_reason(m.at, until) + (f"; last error: {m.last_error}"
                                                     if m.last_error else "")
        run.servers.append(m.outcome_record(reason))
    world.transport.tally(run)
    run.consoles = {m.server: m.console_lines for m in machines if m.server in world.trace}
    run.settle()  # the loop's memory can go back before the summary is made
    topology.forget_routes()
    forget_shared()
    return run


def _run(env: simpy.Environment, until: float, watch: Callable[[float], None] | None,
         tidy: Callable[[], None] = lambda: None) -> tuple[bool, int]:
    """Step ``env`` up to the horizon ``until``: (whether events were left, events done).

    Every :data:`WATCH_EVERY` steps it calls ``tidy()`` (the collector's young sweep,
    :func:`netbootsim.runtime.paused_gc`), then ``watch(now)`` if given.

    Unlike ``env.run(until=until)``, a run that ends by itself leaves ``env.now`` at
    its last event (not at the horizon), so runs that end before the horizon keep
    every number they had without one. A run cut at the horizon is brought to it by
    ``env.run(until=until)``, as before.
    """
    steps = 0
    while True:
        done = _steps(env, until, WATCH_EVERY)
        steps += done
        if done < WATCH_EVERY:
            break
        tidy()
        if watch is not None:
            watch(env.now)
    if env.peek() == math.inf:
        return False, steps
    if env.now < until:
        env.run(until=until)
    return True, steps


def _steps(env: simpy.Environment, until: float, limit: int) -> int:
    """Process up to ``limit`` events due before ``until``; return how many were done.

    What ``env.step()`` does, written out for SimPy 4's :class:`~simpy.Environment`
    (its queue of ``(time, priority, id, event)`` and an event's ``callbacks`` and
    ``_ok``), without a call to ``peek`` and ``step`` per event: a plain SimPy model's
    520,000 events in 0.90-0.94 of the time (~0.1 s of a 10,000-server storm's
    545,000, docs/performance.md). Another environment takes its own ``step``.
    """
    if type(env) is not simpy.Environment:
        peek, step = env.peek, env.step
        for k in range(limit):
            if peek() >= until:
                return k
            step()
        return limit
    queue = env._queue
    pop = heapq.heappop
    for k in range(limit):
        if not queue or queue[0][0] >= until:
            return k
        env._now, _, _, event = pop(queue)
        callbacks, event.callbacks = event.callbacks, None
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            # a failed event nobody handled: raised as SimPy's own step raises it
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
    return limit


def _horizon_reason(at: float, until: float) -> str:
    where = f"run.until = {until:g} s" + (", the default: 7 days"
                                          if until == DEFAULT_HORIZON else "")
    if at >= until:
        return f"not powered on by the run's horizon ({where}; power-on at {at:g} s)"
    return f"still booting at the run's horizon ({where})"
