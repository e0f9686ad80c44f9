"""What a fleet run produced, and the observer that attributes bottlenecks."""

from __future__ import annotations

import heapq
import math
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import simpy

from ..net import LATE, BaseEngine, Resource
from ..records import PhaseLog, ServerLog

__all__ = ["FleetRun", "Observer", "Timeline", "MAX_SAMPLES"]

#: Most utilisation samples a run keeps of one resource: past twice this many, its
#: samples are merged in pairs (:class:`Timeline`). The shipped scenarios keep at most
#: 192 of one resource in a replication.
MAX_SAMPLES = 2_000

#: A utilisation sample: ``(time, resource, utilisation, flows)``.
Sample = tuple[float, str, float, int]


class Timeline(list):
    """A run's utilisation samples, in the order taken, at most ``2 × limit`` per resource.

    Samples are thinned in time as they are taken (:class:`Observer`), but a fleet whose
    transfers come and go (a staggered power-on) closes and reopens the step plot at
    every lull, so a resource's samples could grow with the fleet. When a resource
    reaches ``2 × limit`` samples, its samples but the last two are merged in pairs:
    the pair's first time, the utilisation averaged over the pair's span (each sample
    holds until the resource's next one, so the time integral of utilisation — what
    ranks the busiest resources — is kept exactly), the larger flow count. It then has
    ``limit + 1``. Below the limit nothing changes. Only :meth:`append` counts: add
    samples through it.
    """

    def __init__(self, limit: int = MAX_SAMPLES):
        super().__init__()
        self.limit = limit
        self.counts: dict[str, int] = {}

    def append(self, sample: Sample) -> None:
        """Add a sample; merge the resource's samples in pairs when it has too many."""
        super().append(sample)
        name = sample[1]
        n = self.counts.get(name, 0) + 1
        self.counts[name] = n
        if n >= 2 * self.limit:
            self._halve(name)

    def _halve(self, name: str) -> None:
        at = [i for i, row in enumerate(self) if row[1] == name]
        merged: dict[int, Sample | None] = {}
        for k in range(0, len(at) - 2, 2):
            (t0, _, u0, n0), (t1, _, u1, n1) = self[at[k]], self[at[k + 1]]
            t2 = self[at[k + 2]][0]
            span = t2 - t0
            util = (u0 * (t1 - t0) + u1 * (t2 - t1)) / span if span > 0 else u1
            merged[at[k]] = (t0, name, util, max(n0, n1))
            merged[at[k + 1]] = None
        rows = [merged.get(i, row) for i, row in enumerate(self)]
        self[:] = [row for row in rows if row is not None]
        self.counts[name] = len(at) - len(merged) // 2


@dataclass
class FleetRun:
    """Everything a run produced, before it is written anywhere.

    Attributes:
        records: one per phase attempt, in the order they ended, by column
            (:class:`~netbootsim.records.PhaseLog`; ``phases.csv``).
        servers: one :class:`~netbootsim.records.ServerRecord` per server, in the
            fleet's order, by column (:class:`~netbootsim.records.ServerLog`;
            ``servers.csv``).
        wire_bytes: bytes each resource had to carry (for the line-rate bound).
        capacity: capacity of each such resource (bytes/s).
        saturated: seconds each resource spent limiting flows.
        max_flows: most flows a resource limited at once.
        first_last: first and last time each resource limited flows.
        spans: the stretches ``[start, end]`` in which each resource limited flows (the
            summary's share of the makespan window is cut from them).
        timeline: ``(time, resource, utilisation, flows)`` samples of busy resources,
            at most ``2 ×`` :data:`MAX_SAMPLES` per resource (:class:`Timeline`).
        events, solves, entries_solved: engine work counters (flow classes summed over
            the solves).
        steps: SimPy events processed.
        packets: packet engine: packets accepted by links, one per hop (broadcast copies
            included).
        slots, workers, dhcp, apis: the services' state objects, by name.
        broadcasts: DHCP broadcast packets per L2 domain.
        broadcast_frames: packet engine: broadcast copies (DHCP and ARP) delivered to
            members of each L2 domain.
        caps: other capped pools by label (an orchestrator's workers, an admission
            cap): ``(pool, cap)``, each pool with its ``full`` stretches
            (:class:`netbootsim.services.orchestrator.CappedPool`).
        orchestrators: the orchestrators' state objects, by name.
        dns: the run's :class:`~netbootsim.fleet.dns.Dns` (queries answered, a
            resolver's forwarded queries and cache hits), or None.
        event_records: the phases of lifecycle events' boots (``event-phases.csv``).
        lifecycle: one :class:`~netbootsim.records.EventRecord` per server an event
            touched, by event (in the scenario's order), then time asked
            (``events.csv``).
        commission: with lifecycle events, the counters as they stood when the last of
            the fleet's servers had finished its commissioning — ``wire_bytes``,
            ``saturated``, ``max_flows``, ``first_last``, ``spans``, ``broadcasts`` and
            ``broadcast_frames`` under those names, each DHCP server's ``(packets,
            leases, exhausted)`` as ``dhcp``, and its instant as ``end`` — so the
            line-rate bound, the bottlenecks, the DHCP counts and the costs are the
            commissioning's (the timeline is cut there too); ``None`` without events.
    """

    records: PhaseLog = field(default_factory=PhaseLog)
    servers: ServerLog = field(default_factory=ServerLog)
    wire_bytes: dict[str, float] = field(default_factory=dict)
    capacity: dict[str, float] = field(default_factory=dict)
    saturated: dict[str, float] = field(default_factory=dict)
    max_flows: dict[str, int] = field(default_factory=dict)
    first_last: dict[str, list[float]] = field(default_factory=dict)
    spans: dict[str, list[list[float]]] = field(default_factory=dict)
    timeline: Timeline = field(default_factory=Timeline)
    events: int = 0
    solves: int = 0
    entries_solved: int = 0
    steps: int = 0
    packets: int = 0
    slots: dict = field(default_factory=dict)
    workers: dict = field(default_factory=dict)
    dhcp: dict = field(default_factory=dict)
    broadcasts: Counter = field(default_factory=Counter)
    broadcast_frames: Counter = field(default_factory=Counter)
    apis: dict = field(default_factory=dict)
    consoles: dict = field(default_factory=dict)
    caps: dict = field(default_factory=dict)
    orchestrators: dict = field(default_factory=dict)
    dns: Any = None
    san: Any = None
    event_records: PhaseLog = field(default_factory=PhaseLog)
    lifecycle: list = field(default_factory=list)
    commission: dict | None = None

    def close_commissioning(self, now: float) -> None:
        """The fleet's commissioning is over at ``now``: keep its counters (``commission``)."""
        self.commission = {"end": now, "wire_bytes": dict(self.wire_bytes),
                           "saturated": dict(self.saturated),
                           "max_flows": dict(self.max_flows),
                           "first_last": {k: list(v) for k, v in self.first_last.items()},
                           "spans": {k: [list(x) for x in v] for k, v in self.spans.items()},
                           "broadcasts": dict(self.broadcasts),
                           "broadcast_frames": dict(self.broadcast_frames),
                           "dhcp": self.dhcp_counts()}

    def dhcp_counts(self) -> dict[str, tuple[int, int, int]]:
        """Each DHCP server's ``(packets, leases, exhausted)`` as they stand now."""
        return {name: (srv.packets, sum(map(len, srv.leases.values())), srv.exhausted)
                for name, srv in self.dhcp.items()}

    def settle(self) -> None:
        """After the event loop: make the run's small survivors anew, so its memory can go.

        Python's allocator returns a 1 MiB arena to the system only when nothing in it
        is alive. A run's booting servers fill hundreds of arenas and are freed when it
        ends, but a few objects made during the run outlive it (a resource's byte total,
        a record column's code), one here and one there, and keep nearly every arena:
        the summary and outputs were then allocated on top of the loop's peak (20,000
        servers: 581 MiB at the loop's end, 637 MiB after summarising). Copying those
        survivors after the loop lets the freed arenas go (docs/performance.md).
        """
        for totals in (self.wire_bytes, self.capacity, self.saturated):
            fresh = array("d", totals.values()).tolist()  # new float objects, same values
            totals.update(zip(list(totals), fresh, strict=True))
        for key, pair in self.first_last.items():
            self.first_last[key] = array("d", pair).tolist()
        for key, spans in self.spans.items():
            self.spans[key] = [array("d", x).tolist() for x in spans]
        self.records.settle()


#: Running flows up to which utilisation samples keep their full rate (:class:`Observer`);
#: the shipped scenarios stay within it, so their timelines are what they were.
SAMPLE_FLOWS = 2000


class Observer:
    """Bottleneck attribution and utilisation samples, fed by the engine after solves.

    Samples are thinned (at most one per ``max(1 ms, sample_every × now × s)``, where
    ``s`` = max(1, sqrt(running flows / :data:`SAMPLE_FLOWS`)): each sample sweeps every
    running flow, so above 2,000 of them samples get rarer as the sweeps get longer,
    and a 100,000-server storm's sampling costs about 7× a 2,000-server one's, not
    50×). Above 2,000 running flows a sample also leaves out the resources that are
    neither keyed nor at least half full by demand
    (:meth:`~netbootsim.net.engine.FlowEngine.resource_loads` ``busy_only``): it lists
    the busiest of the rest, so at that scale a sample may list fewer than eight. A
    resource that leaves the eight gets one row with its load then (a figure holds a
    line's last sample), and a 0 row at the first sample after its last flow ends. A
    change that falls inside the thinning interval is not lost: the observer wakes
    itself at the interval's end (``env``) and samples the state then, which holds until
    the next change — without it, a storm whose flows all start within one interval and
    then run in one rate group (no solve for a minute) showed the first flow's load
    only. With ``env``, a sample is taken at the end of its instant (an event of the
    solve's priority, after the solve if one is pending): the engine calls the observer
    in mid-instant too (a flow that starts in the slack needs no solve), and a sample
    taken then showed the first of the flows starting at that instant without the
    others, a state that never lasted.
    """

    def __init__(self, run: FleetRun, sample_every: float,
                 env: simpy.Environment | None = None):
        self.run = run
        self.sample_every = sample_every  # relative: next sample after max(1 ms, this × now)
        self.env = env
        self.prev_t = 0.0
        self.prev: list[tuple[Resource, float, int]] = []
        self.next_sample = 0.0
        #: the busiest at the last sample with a load, by name (a line holds its last
        #: sample: one that leaves them gets a row with its load then)
        self.shown: dict[str, Resource] = {}
        #: resources that left the busiest still loaded: a 0 row when their flows end
        self.held: dict[str, Resource] = {}
        self.pending = False  # a wake-up at next_sample is scheduled
        self.deferred = False  # a sample at the end of this instant is scheduled
        self.engine: BaseEngine | None = None

    def __call__(self, now: float, engine: BaseEngine) -> None:
        """Account the interval since the last call; sample loads now and then."""
        run = self.run
        t = self.prev_t
        for r, _, _ in self.prev:
            run.saturated[r.name] = run.saturated.get(r.name, 0.0) + (now - t)
            run.first_last[r.name][1] = now
            _extend(run.spans, r.name, t, now)
        current = engine.bottlenecks()
        for r, _, n in current:
            if r.name not in run.first_last:
                run.first_last[r.name] = [now, now]
            run.max_flows[r.name] = max(run.max_flows.get(r.name, 0), n)
        self.prev, self.prev_t = current, now
        if (self.shown or self.held) and not engine.active_flows:
            # everything went idle: close the step plot now, not at the next sample (a
            # long quiet phase, e.g. the OS phase's work time, would hold the last value)
            for name in sorted({*self.shown, *self.held}):
                run.timeline.append((now, name, 0.0, 0))
            self.shown.clear()
            self.held.clear()
            return
        if now >= self.next_sample:
            self._sample_at_end(now, engine)
        elif self.env is not None and not self.pending and engine.active_flows:
            self.pending = True
            self.engine = engine
            self.env.timeout(self.next_sample - now).callbacks.append(self._wake)

    def _wake(self, _event) -> None:
        self.pending = False
        engine = self.engine
        if engine is not None and engine.active_flows and self.env.now >= self.next_sample:
            self._sample_at_end(self.env.now, engine)

    def _sample_at_end(self, now: float, engine: BaseEngine) -> None:
        """Sample at the end of this instant (now, without an environment)."""
        if self.env is None:
            self._sample(now, engine)
        elif not self.deferred:
            self.deferred = True
            self.engine = engine
            self._late()

    def _late(self) -> None:
        ev = simpy.Event(self.env)
        ev._ok, ev._value = True, None
        ev.callbacks.append(self._deferred)
        self.env.schedule(ev, LATE)

    def _deferred(self, _event) -> None:
        engine = self.engine
        assert engine is not None
        if engine.solve_pending:  # requested after this event: sample after its solve
            self._late()
            return
        self.deferred = False
        if engine.active_flows and self.env.now >= self.next_sample:
            self._sample(self.env.now, engine)

    def _sample(self, now: float, engine: BaseEngine) -> None:
        """Record the busiest resources' loads now."""
        run = self.run
        # above SAMPLE_FLOWS, the resources under half full are left out (at that scale
        # the eight busiest are the full ones; a full sweep cost 6.7 ms per sample, 11 %
        # of the 10,000-server storm with variance on)
        busy_only = engine.active_flows > SAMPLE_FLOWS
        loads = engine.resource_loads(busy_only=busy_only)
        if not loads and not self.shown and not self.held:
            return
        # Thinning: about 1 / sample_every samples per decade of simulated time, so a
        # long storm costs a bounded number of O(flows) load sweeps; fewer with more flows.
        spread = max(1.0, math.sqrt(engine.active_flows / SAMPLE_FLOWS))
        self.next_sample = now + max(1e-3, self.sample_every * now * spread)
        busiest = heapq.nsmallest(8, [(-load / r.capacity, r.name, r)
                                      for r, load in loads.items()])
        rows = [(name, min(-util, 1.0), r) for util, name, r in busiest]
        listed = {name for name, _, _ in rows}
        held = self.held
        # a resource that leaves the busiest: one row, its load now (0 when it carries
        # nothing), else its line would hold its last load (a mirror's link drawn full
        # for 20 s after its last transfer, while others ran); one still loaded is
        # watched (flow counts only) and gets a 0 row when its last flow ends
        for name, r in sorted(self.shown.items()):
            if name not in listed:
                load = loads.get(r)
                if load is None:  # carries nothing, or left out of a busy-only sweep
                    load = engine.load_of(r) if busy_only else 0.0
                rows.append((name, min(load / r.capacity, 1.0), r))
        watched = [(name, r) for name, r in sorted(held.items()) if name not in listed]
        # one count of the flows for all of them (a packet engine's sweeps every flow)
        counts = engine.flow_counts([r for _, _, r in rows] + [r for _, r in watched])
        counts, watched_counts = counts[:len(rows)], counts[len(rows):]
        for (name, r), n in zip(watched, watched_counts, strict=True):
            if not n:  # a 0 row only for one that carries nothing now
                rows.append((name, 0.0, r))
                counts.append(0)
        shown = self.shown = {}
        for (name, util, r), n in zip(rows, counts, strict=True):
            run.timeline.append((now, name, util, n))
            if name in listed:
                held.pop(name, None)
                if util > 0.0:
                    shown[name] = r
            elif util > 0.0:
                held[name] = r  # left the busiest, still loaded: its line holds this
            else:
                held.pop(name, None)


def _extend(spans: dict[str, list[list[float]]], name: str, start: float, end: float) -> None:
    """Note that ``name`` limited flows from ``start`` to ``end`` (joined to its last stretch)."""
    mine = spans.get(name)
    if mine is None:
        spans[name] = [[start, end]]
    elif mine[-1][1] == start:
        mine[-1][1] = end
    else:
        mine.append([start, end])


class PacketSampler:
    """Utilisation samples and bottleneck attribution for the packet engine.

    The packet engine has no solver to report rates; this sampler reads the links' byte
    counters instead. While transfers run it wakes every ``max(1 ms, sample_every ×
    now)`` (the flow observer's thinning), records the eight busiest links' utilisation
    (a link that leaves them: once more, then 0 once idle) over the interval just ended
    (bytes serialised — accepted less still queued — ÷ capacity × interval, at most 1)
    at the interval's start, and counts a link saturated for the interval when it was at least
    :data:`SATURATED` busy; ``max_flows`` is the most transfers crossing it at a sample.
    With no transfer running it sleeps until the next one starts, so it never keeps a
    finished simulation alive.
    """

    #: Share of an interval a link must be busy to count as the bottleneck then.
    SATURATED = 0.95

    def __init__(self, run: FleetRun, env: simpy.Environment, links: dict,
                 sample_every: float = 0.005):
        self.run = run
        self.env = env
        self.links = links  # name -> PacketLink (the network's, filled as used)
        self.sample_every = sample_every
        self.active = 0
        self.crossing: Counter = Counter()  # link name -> transfers crossing it now
        self.wake: simpy.Event | None = None
        self.shown: set[str] = set()
        self.held: set[str] = set()  # left the busiest still loaded (see :class:`Observer`)
        env.process(self._loop())

    def started(self, names) -> None:
        """A transfer over the links ``names`` starts."""
        self.active += 1
        self.crossing.update(names)
        if self.wake is not None and not self.wake.triggered:
            self.wake.succeed()

    def ended(self, names) -> None:
        """That transfer ended (or was cut short)."""
        self.active -= 1
        self.crossing.subtract(names)

    def _loop(self):
        env, run = self.env, self.run
        seen: dict[str, float] = {}
        t0 = env.now
        while True:
            if not self.active:
                for name in sorted(self.shown | self.held):  # close the step plot
                    run.timeline.append((env.now, name, 0.0, 0))
                self.shown.clear()
                self.held.clear()
                self.wake = env.event()
                yield self.wake
                self.wake = None
                t0 = env.now
                seen = {n: link.bytes - link.backlog() for n, link in self.links.items()}
                continue
            yield env.timeout(max(1e-3, self.sample_every * env.now))
            dt = env.now - t0
            loads = []
            for name, link in self.links.items():
                out = link.bytes - link.backlog()  # bytes the transmitter has sent by now
                moved = out - seen.get(name, 0.0)
                seen[name] = out
                if moved > 0:
                    loads.append((min(moved / (link.capacity * dt), 1.0), name))
            loads.sort(key=lambda x: (-x[0], x[1]))
            for util, name in loads:
                if util < self.SATURATED:
                    break
                run.saturated[name] = run.saturated.get(name, 0.0) + dt
                fl = run.first_last.setdefault(name, [t0, env.now])
                fl[1] = env.now
                _extend(run.spans, name, t0, env.now)
                run.max_flows[name] = max(run.max_flows.get(name, 0), self.crossing[name])
            rows = loads[:8]
            listed = {name for _, name in rows}
            # a link that leaves the busiest: one row, its load then (0 once idle); one
            # still loaded gets a 0 row once no transfer crosses it (as :class:`Observer`)
            util_of = {name: util for util, name in loads}
            rows += [(util_of.get(name, 0.0), name) for name in sorted(self.shown - listed)]
            rows += [(util_of.get(name, 0.0), name) for name in sorted(self.held - listed)
                     if not self.crossing[name]]  # (its bytes until the last ended: then 0)
            self.shown = set()
            for util, name in rows:
                run.timeline.append((t0, name, util, self.crossing[name]))
                if name in listed:
                    self.held.discard(name)
                    if util > 0.0:
                        self.shown.add(name)
                elif util > 0.0:
                    self.held.add(name)
                else:
                    self.held.discard(name)
            t0 = env.now
