"""SimGrid 4.1 on the storm's flows: the same leaf-spine traffic, flow by flow.

Runs netbootsim's boot storm at N servers, exports every flow its flow engine carried,
and replays exactly those flows twice: in netbootsim's own flow engine alone, and in
SimGrid 4.1 (in a subprocess: one SimGrid ``Engine`` per process). Completion times are
compared flow by flow; the wall times of the three runs are taken in the same run.

Command (from the repository root)::

    python benchmarks/simgrid_storm.py --servers 2000 10000 [--sharded N ...]
        [--plain N ...] [--repeat R] [--out docs/performance.md] [--json]

**The storm.** ``scenarios/dc-boot-storm-2000.yaml`` with ``--set topology.racks=N/40
--set fleet[0].count=N --set fleet[0].server=http1 --set services.http1.workers=2N
--set services.dhcp1.model=isc-dhcpd``: N identical servers powered on at once, each
fetching a 12 MiB kernel and a 64 MiB initrd over HTTP from one nginx mirror (25 Gb/s)
across the leaf-spine (4 spines, 3:1 oversubscription). Its *storm wall* is
``Outcome.wall`` of :func:`netbootsim.plan.run.simulate`: the whole fleet's event loop
(DHCP, iPXE, HTTP services, the flow engine, the records).

**The export** (:class:`Recorder`, nothing in ``netbootsim/net/`` changed): the run's
engine is wrapped when the fleet's transport makes it (``make_engine`` as
``netbootsim.fleet.flow_transport`` sees it, replaced for the run), and each of its
public calls is recorded with the simulated time: ``start(flow)`` (size in wire bytes,
path as resource names with capacities, the flow's own bound, its ceiling and its rate
schedule, i.e. the TCP slow-start steps ``(t after start, bound)``), ``set_bound``
(lock-step corrections), ``set_ceiling`` (the FIFO-port rule's ceilings),
``cancel`` and ``set_capacity``; after the run, each flow's ``end``. A flow's bound in
force is ``min(own bound, ceiling)`` at every moment.

**The netbootsim replay** (:func:`replay_netbootsim`): a fresh SimPy environment and
``make_engine`` (no observer), one process walking the recorded calls in time order
and making them again at their exact times (flows with their own schedules, the
ceilings and bounds as recorded). Its wall is ``env.run()`` under ``relaxed_gc`` (as
``netbootsim.plan.bench.run_workload``): the same flow work SimGrid gets, without the
rest of the fleet. Its completion times equal the storm's (the engine is
deterministic; the calls are the same).

**SimGrid** (:func:`run_simgrid`): ``network/model:raw`` (max-min fair sharing, no
bandwidth or latency factors, no cross traffic). One SimGrid link per netbootsim
resource (same capacity in B/s, shared, latency 0: netbootsim's latencies are already
in each flow's start time and its RTT-derived bound, the flow itself is pure fluid).
Routes: SimGrid routes per pair of hosts, and a server's kernel and initrd from the
same mirror take different spines (ECMP per flow; 1,493 of 2,000 servers at N = 2,000),
so each flow is sent from a host of its own, in a Star zone whose route from that host
is the flow's own path (plus its bound link), to one sink host with an empty route.
Each flow's bound is a private link of its own (*bound link*) whose bandwidth is the
flow's bound in force; every change of it (a slow-start step at ``start + t``, a
ceiling, a ``set_bound``) is a ``Link.set_bandwidth`` at its time; a bound of ``inf``
is the largest capacity of the platform (never binding). One launcher actor walks the
same calls in time order: ``sleep_until(t)``, ``Comm.sendto_async(flow host, sink,
size)`` (size rounded to whole bytes), ``set_bandwidth``, ``Comm.cancel``; then waits
for all. Only ``Engine.run()`` is timed (building the platform is not). Completion
times are ``Comm.finish_time``.

``--sharded N``: the storm as ``netbootsim bench storm --servers N`` builds it
(:func:`netbootsim.plan.bench_storm.storm_scenario`: a mirror per 2,000 servers, the
DHCP time per packet scaled), where every server boots; with one mirror and ISC dhcpd
unscaled, DHCP gives up on some servers from about 10,000 on.

``--plain N``: the variant without any bound changes: every flow keeps one constant
bound (its own bound after its last slow-start step, no ceilings, no ``set_bound``),
replayed in both netbootsim's engine and SimGrid (a bound link that never changes:
``Comm.set_rate`` exists in 4.1 but asserts on host-to-host comms, which
``sendto_init`` leaves STARTING).

Installing SimGrid 4.1: see ``benchmarks/simgrid_one_link.py`` (``pybind11<3``,
``--no-build-isolation``).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

__all__ = ["STORM", "storm_overrides", "storm", "Recorder", "Export", "export_storm",
           "replay_netbootsim", "run_simgrid", "compare", "compare_storm"]

#: The storm the flows come from.
STORM = ROOT / "scenarios" / "dc-boot-storm-2000.yaml"

# the kinds of a recorded call after a flow's start
OWN, CEILING, CANCEL, CAPACITY = 0, 1, 2, 3


def storm_overrides(n: int) -> list[str]:
    """The ``--set`` texts that scale the storm to ``n`` servers (a multiple of 40)."""
    if n < 40 or n % 40:
        raise ValueError(f"servers must be a positive multiple of 40, got {n}")
    return [f"topology.racks={n // 40}", f"fleet[0].count={n}", "fleet[0].server=http1",
            f"services.http1.workers={2 * n}", "services.dhcp1.model=isc-dhcpd"]


@dataclass
class Export:
    """The flows one run's engine carried, as plain data.

    Attributes:
        resources: ``(name, capacity)`` per resource, in the order first seen.
        flows: per flow ``(name, start, size, path, own, ceiling, schedule)``: start
            time (s), size (wire bytes), path (indices into ``resources``), its own bound
            and its ceiling when it started (B/s, ``inf`` for none) and its schedule
            ``((t after start, own bound), ...)``.
        starts: per flow, the sequence number of its start among all calls.
        calls: ``(t, seq, kind, index, value)`` of the calls after starts, in call order:
            ``OWN`` (``set_bound``), ``CEILING`` (``set_ceiling``), ``CANCEL`` (flow
            index) and ``CAPACITY`` (resource index).
        ends: per flow its end (s), ``nan`` if it never ended.
        cancelled: per flow whether it was cancelled (its end is then the cancel's time).
    """

    resources: list[tuple[str, float]] = field(default_factory=list)
    flows: list[tuple] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    calls: list[tuple[float, int, int, int, float]] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    cancelled: list[bool] = field(default_factory=list)

    def plain(self) -> Export:
        """The same flows with one constant bound each (see ``--plain``): own bound after
        the last schedule step, no ceilings, no ``set_bound``; cancels kept."""
        flows = [(name, start, size, path, sched[-1][1] if sched else own, math.inf, ())
                 for name, start, size, path, own, _, sched in self.flows]
        calls = [c for c in self.calls if c[2] in (CANCEL, CAPACITY)]
        n = len(self.flows)
        return Export(list(self.resources), flows, list(self.starts), calls,
                      [math.nan] * n, list(self.cancelled))

    def timeline(self) -> list[tuple[float, int, int, int, float]]:
        """Every call, starts included (kind -1, value 0), in time then call order."""
        out = [(f[1], seq, -1, i, 0.0) for i, (f, seq) in enumerate(zip(self.flows, self.starts,
                                                                         strict=True))]
        out.extend(self.calls)
        out.sort(key=lambda c: (c[0], c[1]))
        return out


class Recorder:
    """Wraps one engine's public calls and records them (see the module docstring)."""

    def __init__(self) -> None:
        self.export = Export()
        self._res: dict[object, int] = {}
        self._flow: dict[object, int] = {}
        self._objs: list = []
        self._seq = 0

    def _resource(self, r) -> int:
        i = self._res.get(r)
        if i is None:
            i = self._res[r] = len(self.export.resources)
            self.export.resources.append((r.name, r.capacity))
        return i

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def attach(self, engine) -> None:
        """Replace ``engine``'s public calls by recording ones (instance attributes)."""
        env = engine.env
        ex = self.export
        start, set_bound, set_ceiling = engine.start, engine.set_bound, engine.set_ceiling
        cancel, set_capacity = engine.cancel, engine.set_capacity

        def rec_start(flow):
            # the own bound before the start (a ceiling set before it lowers flow.bound)
            own = getattr(flow, "_own", flow.bound)
            path = tuple(self._resource(r) for r in flow.path)
            self._flow[flow] = len(ex.flows)
            ex.flows.append((flow.name, env.now, flow.size, path, own, flow.ceiling,
                             tuple(flow.schedule)))
            ex.starts.append(self._next())
            ex.cancelled.append(False)
            self._objs.append(flow)
            return start(flow)

        def rec_set_bound(flow, bound):
            i = self._flow.get(flow)
            if i is not None and flow.active:
                ex.calls.append((env.now, self._next(), OWN, i, float(bound)))
            return set_bound(flow, bound)

        def rec_set_ceiling(flow, ceiling):
            i = self._flow.get(flow)
            if i is not None and flow.active:
                ex.calls.append((env.now, self._next(), CEILING, i, float(ceiling)))
            return set_ceiling(flow, ceiling)

        def rec_cancel(flow):
            i = self._flow.get(flow)
            if i is not None and flow.active:
                ex.calls.append((env.now, self._next(), CANCEL, i, 0.0))
                ex.cancelled[i] = True
            return cancel(flow)

        def rec_set_capacity(resource, capacity):
            ex.calls.append((env.now, self._next(), CAPACITY, self._resource(resource),
                             float(capacity)))
            return set_capacity(resource, capacity)

        engine.start, engine.set_bound, engine.set_ceiling = (rec_start, rec_set_bound,
                                                              rec_set_ceiling)
        engine.cancel, engine.set_capacity = rec_cancel, rec_set_capacity

    def finish(self) -> Export:
        """Read every flow's end; drop the references to the run's objects."""
        self.export.ends = [f.end if f.end == f.end else math.nan for f in self._objs]
        self._objs, self._flow, self._res = [], {}, {}
        return self.export


def storm(n: int, sharded: bool = False):
    """The validated storm at ``n`` servers (see the module docstring)."""
    from netbootsim.scenario import Scenario, load_scenario

    if sharded:
        from netbootsim.plan.bench_storm import storm_scenario

        return Scenario.from_dict(storm_scenario(n, False, STORM.parent),
                                  name="dc-boot-storm-sharded")
    return load_scenario(STORM, overrides=storm_overrides(n))


def export_storm(n: int, sharded: bool = False) -> tuple[Export, dict]:
    """Run the storm at ``n`` servers with its engine recorded.

    Returns the export and ``{"storm_wall_seconds", "ready", "servers", "makespan",
    "events", "solves"}`` of the run.
    """
    import netbootsim.fleet.flow_transport as ft
    from netbootsim.plan.run import simulate

    rec = Recorder()
    real = ft.make_engine

    def make_engine(env, **kw):
        engine = real(env, **kw)
        rec.attach(engine)
        return engine

    sc = storm(n, sharded)
    ft.make_engine = make_engine
    try:
        out = simulate(sc)
    finally:
        ft.make_engine = real
    info = {"servers": n, "storm_wall_seconds": out.wall,
            "ready": int((out.servers["outcome"] == "ok").sum()),
            "makespan": out.summary.get("makespan"),
            "events": out.run.events, "solves": out.run.solves}
    del out
    export = rec.finish()
    gc.collect()
    return export, info


def _delay_to(now: float, t: float) -> float:
    """A delay ``d`` with ``now + d == t`` where floats allow (else the nearest above)."""
    d = t - now
    if now + d < t:
        d = math.nextafter(d, math.inf)
    elif now + d > t and now + math.nextafter(d, -math.inf) >= t:
        d = math.nextafter(d, -math.inf)
    return max(d, 0.0)


def replay_netbootsim(export: Export, full_recompute: bool = False) -> dict:
    """The exported calls made again in a fresh netbootsim flow engine.

    Returns ``{"wall_seconds", "events", "solves", "ends"}`` (``ends`` per flow, ``nan``
    for a cancelled one).
    """
    import simpy

    from netbootsim.net import Flow, Resource, make_engine
    from netbootsim.runtime import relaxed_gc

    env = simpy.Environment()
    engine = make_engine(env, full_recompute=full_recompute)
    res = [Resource(name, cap) for name, cap in export.resources]
    flows = []
    for name, _, size, path, own, ceiling, sched in export.flows:
        f = Flow(size, [res[j] for j in path], own, sched, name=name)
        if ceiling != math.inf:
            engine.set_ceiling(f, ceiling)
        flows.append(f)
    timeline = export.timeline()

    def launcher():
        for t, _, kind, i, v in timeline:
            if t > env.now:
                yield env.timeout(_delay_to(env.now, t))
            if kind < 0:
                engine.start(flows[i])
            elif kind == OWN:
                engine.set_bound(flows[i], v)
            elif kind == CEILING:
                engine.set_ceiling(flows[i], v)
            elif kind == CANCEL:
                engine.cancel(flows[i])
            else:
                engine.set_capacity(res[i], v)

    env.process(launcher())
    with relaxed_gc():
        t0, c0 = time.perf_counter(), time.process_time()
        env.run()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    cancelled = export.cancelled
    ends = [math.nan if cancelled[i] else f.end for i, f in enumerate(flows)]
    return {"wall_seconds": wall, "cpu_seconds": cpu, "events": engine.events,
            "solves": engine.solves,
            "ends": ends}


# ---------------------------------------------------------------------------- SimGrid
def _simgrid_here(export: Export) -> dict:
    """Build and run the SimGrid replay in this process (once per process)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from simgrid_one_link import _import_simgrid

    sg = _import_simgrid()
    settings = ["network/model:raw"]
    e = sg.Engine(["simgrid_storm", *(f"--cfg={s}" for s in settings),
                   "--log=root.thresh:warning"])
    root = e.netzone_root
    zone = root.add_netzone_star("storm")
    links = [zone.add_link(name, cap).set_latency(0.0).seal()
             for name, cap in export.resources]
    top = max((cap for _, cap in export.resources), default=1.0)
    for _, _, _, _, v in export.calls:
        top = max(top, v) if v != math.inf else top
    sink = zone.add_host("sink", 1e9).seal()
    zone.add_route(None, sink, [], False)
    hosts, bound_links = [], []
    n = len(export.flows)
    own = [0.0] * n
    ceil = [math.inf] * n
    first = [0.0] * n  # a bound link's bandwidth set right after its comm starts
    highest = _highest_bounds(export, top)
    for i, (_, _, _, path, own_i, ceil_i, _) in enumerate(export.flows):
        h = zone.add_host(f"f{i}", 1e9).seal()
        own[i], ceil[i] = own_i, ceil_i
        # SimGrid fixes a comm's rate bound when it starts (the smallest bandwidth on its
        # route, CM02's comm_action_set_bounds): the bound link starts at the largest
        # bound the flow will have and is lowered right after the start
        b = min(own_i, ceil_i)
        first[i] = b if b != math.inf else top
        bl = zone.add_link(f"bound-{i}", highest[i]).set_latency(0.0).seal()
        bound_links.append(bl)
        route = [bl, *(links[j] for j in path)]
        zone.add_route(h, None, [sg.LinkInRoute(x) for x in route], False)
        hosts.append(h)
    zone.seal()
    root.seal()
    timeline = sorted(export.timeline() + _steps(export), key=lambda c: (c[0], c[1]))
    comms: list = [None] * n
    sizes = [int(round(f[2])) for f in export.flows]

    def launcher():
        pending = sg.ActivitySet()
        for t, _, kind, i, v in timeline:
            if t > sg.Engine.clock:
                sg.this_actor.sleep_until(t)
            if kind < 0:
                c = sg.Comm.sendto_async(hosts[i], sink, sizes[i])
                if first[i] < highest[i]:
                    bound_links[i].set_bandwidth(first[i])
                comms[i] = c
                pending.push(c)
            elif kind == CANCEL:
                if comms[i] is not None:
                    pending.erase(comms[i])
                    comms[i].cancel()
            elif kind == CAPACITY:
                links[i].set_bandwidth(v)
            else:
                if kind == OWN:
                    own[i] = v
                else:
                    ceil[i] = v
                b = min(own[i], ceil[i])
                bound_links[i].set_bandwidth(b if b != math.inf else top)
        pending.wait_all()

    sink.add_actor("launcher", launcher)
    t0, c0 = time.perf_counter(), time.process_time()
    e.run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0  # CPU: all its threads
    cancelled = export.cancelled
    ends = [math.nan if cancelled[i] or c is None else c.finish_time
            for i, c in enumerate(comms)]
    return {"wall_seconds": wall, "cpu_seconds": cpu, "ends": ends, "hosts": n + 1,
            "links": len(links) + len(bound_links),
            "bound_changes": sum(1 for c in timeline if c[2] in (OWN, CEILING)),
            "settings": (f"SimGrid {sg.simgrid_version}; {' '.join(settings)}; "
                         f"{len(links)} links (one per resource, latency 0)"
                         + f", {len(bound_links)} bound links"
                         + f"; a Star zone of {n} flow hosts and a sink")}


def _steps(export: Export) -> list[tuple[float, int, int, int, float]]:
    """The schedules' steps as ``OWN`` calls at ``start + t`` (as the engine times them);
    sequence 0: a step and a ``set_bound`` of one flow at one instant would be ambiguous,
    the storm has no ``set_bound``."""
    return [(f[1] + dt, 0, OWN, i, b) for i, f in enumerate(export.flows) for dt, b in f[6]]


def _highest_bounds(export: Export, top: float) -> list[float]:
    """Each flow's largest bound in force over its life (``top`` for ``inf``)."""
    own = [f[4] for f in export.flows]
    ceil = [f[5] for f in export.flows]
    high = [min(o, c) for o, c in zip(own, ceil, strict=True)]
    changes = _steps(export) + [c for c in export.calls if c[2] in (OWN, CEILING)]
    changes.sort(key=lambda c: (c[0], c[1]))
    for _, _, kind, i, v in changes:
        if kind == OWN:
            own[i] = v
        else:
            ceil[i] = v
        high[i] = max(high[i], min(own[i], ceil[i]))
    return [min(h, top) for h in high]


def run_simgrid(export: Export) -> dict:
    """Run the SimGrid replay of ``export`` in a fresh subprocess (see the docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flows.pickle"
        with path.open("wb") as fh:
            pickle.dump(vars(export), fh, protocol=pickle.HIGHEST_PROTOCOL)  # plain data
        cmd = [sys.executable, str(Path(__file__).resolve()), "--replay", str(path)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"SimGrid replay failed:\n{proc.stderr[-4000:]}")
        with (Path(tmp) / "flows.pickle.out").open("rb") as fh:
            return pickle.load(fh)


def compare(a: list[float], b: list[float]) -> tuple[float, int]:
    """Largest ``|a - b|`` over the flows that ended in both, and its flow (-1: none)."""
    worst, at = 0.0, -1
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x == x and y == y:
            d = abs(x - y)
            if d > worst:
                worst, at = d, i
    return worst, at


#: A replay whose wall took longer than this is not repeated (its noise is small beside it).
ONCE_ABOVE = 30.0


def _replays(export: Export, repeat: int) -> tuple[dict, dict]:
    """netbootsim's replay and SimGrid's, each the best wall of up to ``repeat`` runs
    (one only if the first took over ``ONCE_ABOVE`` seconds); ``"runs"`` in each."""
    def best(run) -> dict:
        out = None
        for k in range(repeat):
            r = run(export)
            if out is None or r["wall_seconds"] < out["wall_seconds"]:
                out = r
            out["runs"] = k + 1
            gc.collect()
            if r["wall_seconds"] > ONCE_ABOVE:
                break
        return out

    return best(replay_netbootsim), best(run_simgrid)


def compare_storm(n: int, sharded: bool = False, plain: bool = False,
                  repeat: int = 1) -> list[dict]:
    """The storm at ``n`` servers, its flows replayed in netbootsim and in SimGrid.

    Returns one row for the flows as run and, with ``plain``, one for the same flows
    with constant bounds (:meth:`Export.plain`). Replay walls: best of ``repeat``.
    """
    export, info = export_storm(n, sharded)
    base = dict(info, storm="sharded" if sharded else "one mirror",
                flows=len(export.flows), ended=sum(1 for t in export.ends if t == t),
                cancelled=sum(export.cancelled), repeat=repeat,
                calls={k: sum(1 for c in export.calls if c[2] == code)
                       for k, code in (("set_bound", OWN), ("set_ceiling", CEILING),
                                       ("cancel", CANCEL), ("set_capacity", CAPACITY))},
                schedule_steps=sum(len(f[6]) for f in export.flows))
    paths: dict[tuple[int, int], set] = {}
    for f in export.flows:
        paths.setdefault((f[3][0], f[3][-1]), set()).add(f[3])
    base["start_instants"] = len({f[1] for f in export.flows})
    base["pairs"] = len(paths)  # (first, last resource): a source and a client
    base["pairs_with_several_paths"] = sum(1 for p in paths.values() if len(p) > 1)
    rows = []
    for variant in ("as run", "plain") if plain else ("as run",):
        ex = export.plain() if variant == "plain" else export
        ours, sg = _replays(ex, repeat)
        diff, at = compare(sg["ends"], ours["ends"])
        row = dict(base, variant=variant,
                   netbootsim_wall_seconds=ours["wall_seconds"],
                   netbootsim_events=ours["events"], netbootsim_solves=ours["solves"],
                   simgrid_wall_seconds=sg["wall_seconds"], simgrid_settings=sg["settings"],
                   netbootsim_cpu_seconds=ours["cpu_seconds"],
                   simgrid_cpu_seconds=sg["cpu_seconds"],
                   cpu_ratio=sg["cpu_seconds"] / ours["cpu_seconds"],
                   netbootsim_runs=ours["runs"], simgrid_runs=sg["runs"],
                   bound_changes=sg["bound_changes"],
                   wall_ratio=sg["wall_seconds"] / ours["wall_seconds"],
                   max_abs_diff_seconds=diff,
                   max_abs_diff_flow=ex.flows[at][0] if at >= 0 else "",
                   compared=sum(1 for x, y in zip(sg["ends"], ours["ends"], strict=True)
                                if x == x and y == y))
        if variant == "as run":  # both replays against the storm itself
            row["replay_vs_storm_seconds"] = compare(ours["ends"], export.ends)[0]
            row["simgrid_vs_storm_seconds"] = compare(sg["ends"], export.ends)[0]
        rows.append(row)
        del ours, sg
        gc.collect()
    return rows


def _child(path: str) -> int:
    with open(path, "rb") as fh:
        export = Export(**pickle.load(fh))
    res = _simgrid_here(export)
    with open(path + ".out", "wb") as fh:
        pickle.dump(res, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return 0


BEGIN = "<!-- simgrid-storm: begin (generated by benchmarks/simgrid_storm.py) -->"
END = "<!-- simgrid-storm: end -->"


def _commit() -> str:
    """HEAD's short hash, and the package's files that differ from it in the tree."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=ROOT).stdout.rstrip("\n")

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = [line[3:] for line in git("status", "--porcelain", "--", "netbootsim")
                 .splitlines()]
    except (OSError, subprocess.CalledProcessError):
        return "`unknown`"
    return f"`{head}`" + (f" with uncommitted changes to {', '.join(dirty)}" if dirty else "")


def section(rows: list[dict], command: str, seconds: float, machine: str, tree: str) -> str:
    """The Markdown section of ``docs/performance.md`` for ``rows`` (``tree``: the code
    measured, :func:`_commit` when the run started and imported it)."""
    repeat = rows[0]["repeat"] if rows else 1
    lines = [
        BEGIN, "",
        f"`{command}` ({machine}; the tree at the start: commit {tree}; the whole run took "
        f"{seconds:.0f} s). Replay walls: best of {repeat}, or of one run where it took "
        f"over {ONCE_ABOVE:.0f} s (SimGrid's runs: "
        f"{', '.join(str(r['simgrid_runs']) for r in rows)}); the storm run once.", "",
        "| storm | servers | ready | flows | bound changes | engine events | storm wall "
        "| netbootsim replay wall (CPU) | SimGrid 4.1 wall (CPU) | SimGrid ÷ netbootsim "
        "wall (CPU) | max abs diff of completions |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]

    def times(wall: float, cpu: float, digits: int) -> str:
        return f"{wall:.{digits}f} s ({cpu:.{digits}f} s)"

    def ratio(x: float) -> str:
        return f"{x:.{1 if x < 10 else 0}f}×"

    for r in rows:
        plain = r["variant"] == "plain"
        lines.append(
            f"| {r['storm']}{', plain' if plain else ''} | {r['servers']:,} | {r['ready']:,} "
            f"| {r['flows']:,} | {r['bound_changes']:,} | {r['netbootsim_events']:,} "
            f"| {'(same)' if plain else format(r['storm_wall_seconds'], '.2f') + ' s'} "
            f"| {times(r['netbootsim_wall_seconds'], r['netbootsim_cpu_seconds'], 3)} "
            f"| {times(r['simgrid_wall_seconds'], r['simgrid_cpu_seconds'], 2)} "
            f"| **{ratio(r['wall_ratio'])}** ({ratio(r['cpu_ratio'])}) "
            f"| {r['max_abs_diff_seconds']:.1e} s |")
    as_run = [r for r in rows if r["variant"] == "as run"]
    def name(r: dict) -> str:
        return r["storm"].replace(" ", "-")

    hi = max(as_run, key=lambda r: r["cpu_ratio"], default=None)
    lo = min(as_run, key=lambda r: r["cpu_ratio"], default=None)
    pairs_ = [(r, p) for r in as_run for p in rows
              if p["variant"] == "plain" and (p["storm"], p["servers"]) == (r["storm"],
                                                                             r["servers"])]
    replay = max((r["replay_vs_storm_seconds"] for r in as_run), default=0.0)
    worst = max((r["simgrid_vs_storm_seconds"] for r in as_run), default=0.0)
    settings = rows[0]["simgrid_settings"].split(";")[:2] if rows else []
    multi = rows[0]["pairs_with_several_paths"] if rows else 0
    pairs = rows[0]["pairs"] if rows else 0
    lines += [
        "",
        "*Storms.* One mirror: `scenarios/dc-boot-storm-2000.yaml` with `--set "
        "topology.racks=N/40 --set fleet[0].count=N --set fleet[0].server=http1 --set "
        "services.http1.workers=2N --set services.dhcp1.model=isc-dhcpd`: N identical "
        "servers powered on at once fetch a 12 MiB kernel and a 64 MiB initrd over HTTP "
        "from one 25 Gb/s nginx mirror; ISC dhcpd's time per packet is not scaled, so "
        "from about 10,000 servers DHCP gives up on some (the *ready* column) and they "
        "carry no flows. Sharded: the storm as `netbootsim bench storm --servers N` "
        "builds it (`netbootsim/plan/bench_storm.py`: a mirror per 2,000 servers, the "
        "DHCP time per packet scaled by 2,000 / N), where every server boots. *Flows*: "
        "every flow the storm's flow engine carried (a kernel and an initrd per ready "
        "server); *bound changes*: slow-start steps (four a flow) and FIFO-port ceilings "
        "(`set_ceiling`) during the flows; *engine events*: the flow engine's wake-ups "
        "that did work.",
        "",
        "*Walls.* Storm: `Outcome.wall` of the whole fleet's event loop (DHCP, iPXE, "
        "HTTP, the engine, the records). netbootsim replay: the exported engine calls "
        "made again at their times in a fresh `make_engine`, `env.run()` only. SimGrid: "
        "`Engine.run()` only, on the same calls. The ratios divide SimGrid's time by the "
        "replay's: the same flows, bounds and bound changes in both. CPU: "
        "`time.process_time()` of the process over the same call (for SimGrid all its "
        "threads: its Python bindings run the maestro and each actor in threads of their "
        "own, taking turns). On this shared 2-core machine walls grow with whatever else "
        "runs: SimGrid's replay of the one-mirror 10,000-server flows took 294 s of wall "
        "in one run and 66 s (65.6 s of user time) in another, on 2026-12-04. CPU time "
        "counts only the time a process ran, so the CPU ratio is the steadier one across "
        "rows.",
        "",
        f"*Agreement.* The last column is the largest difference, over all flows, between "
        f"a flow's completion time in SimGrid and in the netbootsim replay. The replay "
        f"itself ends every flow when the storm did (largest difference {replay:.1e} s: "
        f"the export is complete), so against the storm's own completions SimGrid's "
        f"largest difference is {worst:.1e} s. Plain rows compare the two replays of the "
        f"same constant-bound flows.",
        "",
        f"*SimGrid's platform* ({';'.join(settings).strip()}): one link per netbootsim "
        "resource (link directions, same capacity in B/s, shared, latency 0: "
        "netbootsim's latencies are in each flow's start time and in its RTT-derived "
        "bound, the flow itself is pure fluid), `network/model:raw` (max-min, no "
        "bandwidth or latency factors, no cross traffic). SimGrid routes per pair of "
        "hosts, and ECMP sends a server's kernel and initrd from the same mirror over "
        f"different spines ({multi:,} of {pairs:,} servers in the first row), so each "
        "flow is sent from a host of "
        "its own, in a Star zone whose route from that host is the flow's path, to one "
        "sink with an empty route. Each flow's bound is a private link set to its bound "
        "in force (`min(own bound, ceiling)`) by `Link.set_bandwidth` at every change. "
        "SimGrid 4.1 fixes a comm's rate bound when it starts (the smallest bandwidth on "
        "its route, `comm_action_set_bounds` of its CM02 model): a link raised later "
        "does not let the comm go faster, so the bound link starts at the largest bound "
        "the flow will have and is lowered right after `Comm.sendto_async`. "
        "`Comm.set_rate` cannot be used: 4.1 refuses it on host-to-host comms "
        "(`sendto_init` leaves them STARTING, `set_rate` asks for INITED). One launcher "
        "actor walks the calls in time order (`sleep_until`, `sendto_async`, "
        "`set_bandwidth`), then waits for all.",
        "",
        "*Plain* (`--plain N`): the same flows with one constant bound each (their own "
        "bound after the last slow-start step, no ceilings) in both; SimGrid then makes no "
        "`set_bandwidth` call after the starts, so the difference to the row above is "
        "what the bound changes cost it."
        + "".join(f" At {r['servers']:,} servers ({r['storm']}), CPU time: SimGrid "
                  f"{r['simgrid_cpu_seconds']:.1f} s with them, {p['simgrid_cpu_seconds']:.1f}"
                  f" s without; netbootsim {r['netbootsim_cpu_seconds']:.2f} and "
                  f"{p['netbootsim_cpu_seconds']:.2f} s." for r, p in pairs_),
    ]
    if hi is not None and hi is not lo:
        lines += [
            "",
            f"*Why the ratio varies.* It is largest for the {name(hi)} storm at "
            f"{hi['servers']:,} servers ({ratio(hi['cpu_ratio'])} in CPU time: "
            f"{hi['flows']:,} flows "
            f"starting at {hi['start_instants']:,} distinct instants, "
            f"{hi['netbootsim_events']:,} engine events) and smallest for the {name(lo)} "
            f"storm at {lo['servers']:,} ({ratio(lo['cpu_ratio'])}: {lo['flows']:,} flows, "
            f"{lo['start_instants']:,} start instants, {lo['netbootsim_events']:,} "
            "events). Identical servers powered on together fetch in step: many flows start, "
            "step and end at one instant, which netbootsim solves once. Where the DHCP "
            "server answers the fleet over seconds (one mirror, its time per packet "
            "unscaled, from about 10,000 servers), the flows start apart, the instants "
            "where the sharing changes grow with the flows, and SimGrid's time grows "
            "faster than netbootsim's.",
        "", END, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: the comparison at each size, one after the other."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, nargs="*", default=[],
                    help="one-mirror storm sizes (multiples of 40)")
    ap.add_argument("--sharded", type=int, nargs="*", default=[],
                    help="sharded storm sizes (`netbootsim bench storm`: every server boots)")
    ap.add_argument("--plain", type=int, nargs="*", default=[],
                    help="one-mirror sizes also replayed with constant bounds in both")
    ap.add_argument("--repeat", type=int, default=1, help="replays per size (best wall)")
    ap.add_argument("--out", help="write the section into this Markdown file")
    ap.add_argument("--json", action="store_true", help="print one JSON object per row")
    ap.add_argument("--replay", help=argparse.SUPPRESS)  # the SimGrid child
    args = ap.parse_args(argv)
    if args.replay:
        return _child(args.replay)
    for n in [*args.servers, *args.sharded, *args.plain]:
        if n < 40 or n % 40:
            ap.error(f"{n} servers: not a positive multiple of 40")
    if not (args.servers or args.sharded or args.plain):
        ap.error("give --servers, --sharded or --plain sizes")
    if args.repeat < 1:
        ap.error("--repeat must be ≥ 1")
    cases = [(n, False, n in args.plain) for n in args.servers]
    cases += [(n, False, True) for n in args.plain if n not in args.servers]
    cases += [(n, True, False) for n in args.sharded]
    t0 = time.perf_counter()
    tree = _commit()  # the code this process imports and measures
    rows: list[dict] = []
    for n, sharded, plain in cases:
        for row in compare_storm(n, sharded, plain, args.repeat):
            rows.append(row)
            if args.json:
                print(json.dumps(row, sort_keys=True), flush=True)
            else:
                print(f"{row['storm']} {row['variant']} {n}: SimGrid "
                      f"{row['simgrid_wall_seconds']:.2f} s, netbootsim "
                      f"{row['netbootsim_wall_seconds']:.3f} s, max abs diff "
                      f"{row['max_abs_diff_seconds']:.1e} s", file=sys.stderr, flush=True)
    if args.out:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _measure import machine

        from netbootsim.plan.validate_engines import write_section

        command = "python benchmarks/simgrid_storm.py " + " ".join(
            a for a in (f"--servers {' '.join(map(str, args.servers))}" if args.servers else "",
                        f"--sharded {' '.join(map(str, args.sharded))}" if args.sharded else "",
                        f"--plain {' '.join(map(str, args.plain))}" if args.plain else "",
                        f"--repeat {args.repeat}", f"--out {args.out}") if a)
        text = section(rows, command, time.perf_counter() - t0, machine(), tree)
        write_section(Path(args.out), text, BEGIN, END,
                      heading="## SimGrid 4.1 on the storm's flows")
        if not args.json:
            print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
