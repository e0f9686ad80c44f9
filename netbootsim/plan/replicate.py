"""Replications: one scenario run N times with independent draws, and intervals over them.

``netbootsim run SCENARIO --replications N`` (or ``run.replications: N``) runs N
independent replications; ``--until-ci 2%`` (``run.until_ci``) runs them until the
half-width of the makespan's 95 % interval is within 2 % of its mean — at least
:data:`~netbootsim.scenario.schema.MIN_REPLICATIONS` (3), at most ``--max-replications``
(``run.max_replications``, default 100; whether the target was reached is reported).

**Seeds.** Replication ``r`` runs with the streams ``Streams(seed, r)``: every named
stream's seed sequence is ``SeedSequence(seed, spawn_key=(r, *name))``, i.e. a stream of
the ``r``-th child of ``SeedSequence(seed).spawn(n)`` (:mod:`netbootsim.streams`). So
replication ``r`` draws the same whatever ``N`` is (replication 3 of 4 is replication 3
of 8), and any one can be re-run alone. A single run (no flag, or N = 1) keeps
``Streams(seed)``, the streams without a replication key: a scenario's single run gives
what it always gave, and equals none of its replications.

**Processes.** Replications run in ``jobs`` processes (default ``os.cpu_count()``,
started with ``spawn``); what goes to a process is the scenario *file and its overrides*
(or the plain dict a script gave) and the replication's index, never a SimPy object: each
process loads, builds and runs its replication from scratch, exactly as ``--jobs 1``
does in-process. Results are gathered in replication order, so every output is
byte-identical whatever ``jobs`` is. ``--until-ci`` decides on completed prefixes in
replication order: it stops at the smallest ``n >= 3`` whose first ``n`` makespans are
precise enough, and drops any replication beyond ``n`` that was already under way, so
its outputs do not depend on ``jobs`` either.

**Outputs** (what :mod:`netbootsim.report` and other readers may rely on):

- ``servers.csv``, ``phases.csv`` and ``timeline.csv`` hold the rows of every
  replication, in replication order, with a ``replication`` column (0 … N − 1; 0 for a
  single run): the first column of ``servers.csv`` and ``timeline.csv``, after ``seed``
  in ``phases.csv``. A server's name repeats once per replication.
- ``summary.json``'s top-level numbers are **pooled over all servers of all
  replications** (:func:`pooled_summary`): ``servers``, ``completed``, ``failed`` and
  ``unfinished`` count server-runs (N × the fleet); ``makespan``, ``p50``, ``p95``,
  ``p99`` and ``mean`` are of every ready time, each measured from its own
  replication's first power-on (so ``makespan`` is the largest replication's);
  ``phases``, ``failures``, ``retries`` and ``ready_by_deadline`` /
  ``ready_fraction_by_deadline`` are pooled the same way;
  counters (``engine``, ``dhcp``, a service's orphans and dropped SYNs) are summed,
  ``max_*`` the largest; ``bottlenecks`` per resource average their seconds and
  fractions over the N replications (0 where a replication did not saturate it) and
  say in how many it saturated (``replications``); ``line_rate_bound`` averages its
  seconds and bytes, and ``makespan_over_bound`` is the replications' mean makespan
  over that mean bound (the two the report shows beside it). ``notes`` gains one
  sentence saying so.
- ``summary["replications"]`` (absent for a single run)::

      {"n": N, "jobs_independent": true, "confidence": 0.95,
       "method": {"seeds": ..., "metrics": {METRIC: "student-t" | "bootstrap-percentile"},
                  "student-t": ..., "bootstrap-percentile": {...}},
       "metrics": {METRIC: {"mean", "lo", "hi", "half_width", "values": [per replication]}},
       "until_ci": {"target", "reached", "cap", "relative_half_width"} or null}

  with METRIC one of ``makespan``, ``mean`` (mean ready time), ``p50``, ``p95``,
  ``p99``, ``completed`` (servers ready, of the fleet) and — when the scenario has
  ``run.deadline`` — ``ready_fraction_by_deadline``. The interval is of the metric's
  expected value over replications (:mod:`netbootsim.plan.intervals`): Student-t for
  the makespan, the mean, ``completed`` and the deadline fraction; a percentile bootstrap
  (seeded from the stream ``Streams(seed).rng("report", "bootstrap", METRIC)``) for the
  percentiles. A t-interval is cut to what its metric can be (the deadline fraction to
  [0, 1], ``completed`` to [0, the fleet]). A bound that cannot be given (fewer than 2
  values, a replication in which no server got ready) is ``null``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import memguard
from ..errors import InputError, Problem
from ..runtime import paused_gc, pool_worker_start
from ..scenario import Scenario, load_scenario
from ..scenario.schema import MAX_REPLICATIONS, MIN_REPLICATIONS
from ..streams import Streams
from ..units import UnitError, parse_percent
from . import intervals
from .costs import mean_costs
from .outdir import OutputDir
from .run import deadline_fields, execute, question_of, simulate
from .summary import _clean, known_outputs, write_outputs

__all__ = ["Plan", "plan_of", "Source", "Replica", "Replicated", "replicate", "combine",
           "pooled_summary", "replications_block", "output_names", "execute_replicated",
           "default_jobs",
           "T_METRICS", "BOOTSTRAP_METRICS", "SPAWN_SECONDS"]

#: Metrics whose interval is Student-t (means of many servers, counts, fractions).
T_METRICS = ("makespan", "mean", "completed", "ready_fraction_by_deadline")
#: Metrics whose interval is a percentile bootstrap (percentiles of ready time).
BOOTSTRAP_METRICS = ("p50", "p95", "p99")

#: ``on_replica(done, total, replica)``: replications gathered so far (in replication
#: order), of how many (``None`` while ``until_ci`` decides), and the last one.
OnReplica = Callable[[int, "int | None", "Replica"], None]


# -- what to run ----------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How many replications: ``n`` fixed, or until the makespan's interval is precise.

    Attributes:
        n: replications to run (1: a single run); the cap when ``until_ci`` is set.
        until_ci: the target relative half-width of the makespan's interval (``0.02``),
            or ``None``.
    """

    n: int = 1
    until_ci: float | None = None

    @property
    def replicated(self) -> bool:
        """Whether this is more than a single run."""
        return self.until_ci is not None or self.n > 1


def _bad(where: str, message: str, origin: str = "command line") -> InputError:
    return InputError.single(origin, 0, where, message)


def _count(value: object, where: str, low: int, origin: str) -> int:
    """A whole number from ``low`` to :data:`MAX_REPLICATIONS` (an int, or its digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str) and value.strip().isdigit():
        n = int(value)
    else:
        raise _bad(where, f"{value!r} is not a whole number", origin)
    if not low <= n <= MAX_REPLICATIONS:
        raise _bad(where, f"{n}: must be from {low} to {MAX_REPLICATIONS:,}", origin)
    return n


def plan_of(run, *, replications: object = None, until_ci: object = None,
            max_replications: object = None,
            names: tuple[str, str, str] = ("--replications", "--until-ci",
                                           "--max-replications"),
            origin: str = "command line") -> Plan:
    """The plan from the scenario's ``run`` section and the command line's flags.

    A flag wins over the section: ``--replications`` drops the section's ``until_ci``,
    ``--until-ci`` its ``replications``. Flags may be text (``"8"``, ``"2%"``).

    Args:
        run: the scenario's validated ``run`` section.
        replications: ``--replications`` (``None``: not given).
        until_ci: ``--until-ci`` (text such as ``"2%"``, or a fraction in (0, 1)).
        max_replications: ``--max-replications``.
        names: how the flags are named in messages (the API names its keywords).
        origin: where they were given, for messages.

    Raises:
        InputError: a flag out of range or malformed (``command line: FLAG: ...``), both
            ``--replications`` and ``--until-ci``, or ``--max-replications`` without an
            ``until_ci``.
    """
    if replications is not None and until_ci is not None:
        raise _bad(names[0], f"give {names[0]} or {names[1]}, not both", origin)
    if replications is not None:
        return Plan(_count(replications, names[0], 1, origin), None) \
            if max_replications is None else _no_cap(names, origin)
    target = run.until_ci
    if until_ci is not None:
        if isinstance(until_ci, float) and 0 < until_ci < 1:
            target = until_ci
        else:
            try:
                target = parse_percent(until_ci)
            except UnitError as e:
                raise _bad(names[1], str(e), origin) from None
    elif run.until_ci is None:
        if max_replications is not None:
            _no_cap(names, origin)
        return Plan(run.replications, None)
    cap = run.max_replications if max_replications is None else \
        _count(max_replications, names[2], MIN_REPLICATIONS, origin)
    return Plan(cap, target)


def _no_cap(names: tuple[str, str, str], origin: str) -> Plan:
    raise _bad(names[2], f"caps {names[1]} (or run.until_ci); without it give "
                         f"{names[0]} alone", origin)


def default_jobs() -> int:
    """Processes by default: the machine's cores (``os.cpu_count()``)."""
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Source:
    """What a worker process needs to run a replication: plain, picklable data.

    Attributes:
        scenario: the scenario file's path, or the scenario as a plain dict (YAML form).
        overrides: ``--set`` texts.
        name: the run's name (``None``: the scenario's).
        question: the question the summary states.
        max_memory: the memory limit of one replication's process, bytes (``None``:
            what the process may use).
    """

    scenario: str | Mapping[str, Any]
    overrides: tuple[str, ...] = ()
    name: str | None = None
    question: str = ""
    max_memory: float | None = None

    def load(self) -> Scenario:
        """The validated scenario (its warnings were said by the caller).

        Loaded once per process: the replications a process runs share the validated
        scenario (each builds its own fleet from it).
        """
        global _LOADED
        if _LOADED is not None and _LOADED[0] == self:
            return _LOADED[1]
        if isinstance(self.scenario, Mapping):
            sc = Scenario.from_dict(self.scenario, name=self.name, overrides=self.overrides)
        else:
            sc = load_scenario(self.scenario, overrides=self.overrides, name=self.name,
                               max_memory=self.max_memory)
        _LOADED = (self, sc)
        return sc


#: The scenario this process last loaded, with its source (:meth:`Source.load`).
_LOADED: tuple[Source, Scenario] | None = None


@dataclass
class Replica:
    """One replication's results (frames with their ``replication`` column).

    Attributes:
        replication: its index ``r`` (streams ``Streams(seed, r)``).
        summary: its own ``summary.json`` dict.
        servers, phases, timeline: its frames.
        wall: wall-clock seconds of its simulation.
        events: its engine's events (packet hops on the packet engine).
    """

    replication: int
    summary: dict
    servers: pd.DataFrame
    phases: pd.DataFrame
    timeline: pd.DataFrame
    wall: float
    events: int


@dataclass(frozen=True)
class _Failed:
    """An input error in a worker, carried back as data (InputError does not pickle)."""

    kind: type
    problems: list[Problem]


def run_replica(source: Source, replication: int) -> Replica | _Failed:
    """Load, build and run replication ``replication`` of ``source`` (in any process)."""
    try:
        sc = source.load()
        out = simulate(sc, name=source.name, question=source.question,
                       replication=replication,
                       watch=memguard.Watch(source.max_memory, str(sc.origin.file)))
    except InputError as e:
        return _Failed(type(e), list(e.problems))
    return Replica(replication, out.summary, out.servers, out.phases, out.timeline, out.wall,
                   out.run.packets or out.run.events)


def _value(r: Replica | _Failed) -> Replica:
    if isinstance(r, _Failed):
        raise r.kind(r.problems)
    return r


def _makespans(reps: Sequence[Replica]) -> list[float]:
    return [math.nan if r.summary.get("makespan") is None else float(r.summary["makespan"])
            for r in reps]


def _enough(plan: Plan, reps: Sequence[Replica]) -> bool:
    if plan.until_ci is None:
        return len(reps) >= plan.n
    return len(reps) >= plan.n or intervals.precise_enough(
        _makespans(reps), plan.until_ci, minimum=MIN_REPLICATIONS)


#: Seconds a replication's process takes before it can run one: a new Python importing
#: the package (1.1-1.5 s on the 2-core machine of docs/performance.md, "Replications").
SPAWN_SECONDS = 1.5


def replicate(source: Source, plan: Plan, *, jobs: int | None = None,
              on_replica: OnReplica | None = None, worker_memory: float | None = None,
              check_first: Callable[[Replica], None] | None = None
              ) -> tuple[list[Replica], int]:
    """Run the plan's replications, in replication order: ``(replicas, processes used)``.

    ``jobs`` 1 runs them here, one after the other. With more, they run here too until
    the last one's wall time says that sharing the replications left among ``jobs``
    processes would save more than a process takes to start (:data:`SPAWN_SECONDS`);
    the rest then run in ``jobs`` ``spawn`` processes. Replications of milliseconds
    never start a process (the first one of a process, slower as it imports what it
    needs, decides nothing alone). The replicas are the same either way.
    ``worker_memory``: each process's memory limit (default ``source.max_memory``, which
    this process keeps). ``check_first`` sees the first replication before any other runs
    (and may raise: the memory its frames would take N times over).
    """
    jobs = max(1, min(jobs or default_jobs(), plan.n))
    total = None if plan.until_ci is not None else plan.n
    reps: list[Replica] = []

    def gathered(r: Replica) -> None:
        if not reps and check_first is not None:
            check_first(r)
        reps.append(r)
        if on_replica is not None:
            on_replica(len(reps), total, r)

    while jobs > 1 and not _enough(plan, reps):
        t = time.perf_counter()
        gathered(_value(run_replica(source, len(reps))))
        one, done = time.perf_counter() - t, len(reps)
        # replications left: known, or (until_ci) guessed as many again as done so far
        left = plan.n - done if plan.until_ci is None else \
            min(plan.n - done, max(MIN_REPLICATIONS - done, done))
        share = min(jobs, left)
        if not _enough(plan, reps) and share >= 2 and \
                left * one * (1 - 1 / share) > SPAWN_SECONDS:
            jobs = share
            break
    else:
        while not _enough(plan, reps):
            gathered(_value(run_replica(source, len(reps))))
        return reps, 1
    if worker_memory is not None:
        source = dataclasses.replace(source, max_memory=worker_memory)
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_start,
                               initargs=(os.getpid(),))
    pending: dict[int, Future] = {}
    try:
        nxt = len(reps)
        while not _enough(plan, reps):
            while nxt < plan.n and len(pending) < jobs:
                pending[nxt] = pool.submit(run_replica, source, nxt)
                nxt += 1
            try:
                got = pending.pop(len(reps)).result()
            except BrokenProcessPool:
                raise _bad("--jobs", "a replication's process ended abruptly (killed, or "
                                     "out of memory); nothing was written. Try fewer "
                                     "--jobs") from None
            gathered(_value(got))
    finally:
        # replications beyond the prefix that decided (or all, on Ctrl-C or an error) are
        # dropped: their processes are stopped rather than waited for
        for fut in pending.values():
            fut.cancel()
        if any(not f.done() for f in pending.values()):
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
    return reps, jobs


def _worker_start(parent: int) -> None:
    """A replication's process: Ctrl-C is the parent's, and it ends if the parent dies."""
    pool_worker_start(parent)


# -- pooling --------------------------------------------------------------------------


def _num(x: object) -> float:
    return math.nan if x is None else float(x)


def _pool_phases(phases: pd.DataFrame) -> dict:
    """Per phase over every replication's successful attempts (as :func:`summarize`)."""
    out = {}
    if not len(phases):
        return out
    ok = phases[phases["outcome"] == "ok"]
    for phase, frame in ok.groupby("phase", sort=True):
        sec = frame["seconds"].to_numpy()
        out[phase] = {"mean": float(sec.mean()), "p95": float(np.percentile(sec, 95)),
                      "total": float(sec.sum()), "count": int(sec.size)}
    return out


def _sum_counters(dicts: list[dict]) -> dict:
    """Counters summed key by key, nested dicts alike.

    ``max_*`` keys keep the largest; text is kept from the first that has it.
    """
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            if isinstance(v, dict):
                out[k] = _sum_counters([out.get(k, {}), v]) if k in out else _sum_counters([v])
            elif isinstance(v, bool) or not isinstance(v, (int, float)):
                out.setdefault(k, v)
            elif k not in out:
                out[k] = v
            elif str(k).startswith("max_"):
                out[k] = max(out[k], v)
            else:
                out[k] = out[k] + v
    return out


def _pool_bottlenecks(per: list[list[dict]]) -> list[dict]:
    """Bottlenecks per resource over the replications.

    Seconds and fractions are averaged over all replications (0 where one did not
    saturate it), ``max_flows`` is the largest, ``first``/``last`` the span over all,
    ``replications`` how many saturated it.
    """
    n = len(per)
    seen: dict[str, list[dict]] = {}
    for items in per:
        for b in items:
            seen.setdefault(str(b["resource"]), []).append(b)
    out = []
    for items in seen.values():
        b = dict(items[0])
        for k, v in items[0].items():
            if k in ("resource",) or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            vals = [_num(i.get(k)) for i in items]
            if k == "max_flows":
                b[k] = max(vals)
            elif k == "first":
                b[k] = min(vals)
            elif k == "last":
                b[k] = max(vals)
            else:  # seconds, fractions: the mean over all N (0 where not saturated)
                finite = [x for x in vals if math.isfinite(x)]
                b[k] = sum(finite) / n if finite else math.nan
        b["replications"] = len(items)
        out.append(b)
    out.sort(key=lambda b: (-_num(b.get("saturated_seconds")), str(b["resource"])))
    return out


def _pooled_ready(servers: pd.DataFrame) -> np.ndarray:
    """Ready times of every ready server-run, from its replication's first power-on."""
    if not len(servers):
        return np.empty(0)
    t0 = servers.groupby("replication")["power_on"].transform("min")
    ok = servers["outcome"] == "ok"
    return (servers.loc[ok, "ready"] - t0[ok]).to_numpy(dtype=float)


def pooled_summary(reps: Sequence[Replica], servers: pd.DataFrame,
                   phases: pd.DataFrame) -> dict:
    """The top-level summary of a replicated run.

    The module's docstring says what is pooled how; ``servers`` and ``phases`` are the
    pooled frames.
    """
    first = reps[0].summary
    s = copy.deepcopy(first)
    done = _pooled_ready(servers)
    pct = (lambda q: float(np.percentile(done, q))) if done.size else (lambda q: math.nan)
    n_servers = int(len(servers))
    s.update({
        "servers": n_servers,
        "completed": int((servers["outcome"] == "ok").sum()),
        "failed": int((servers["outcome"] == "failed").sum()),
        "unfinished": int((servers["outcome"] == "unfinished").sum()),
        "makespan": float(done.max()) if done.size else math.nan,
        "p50": pct(50), "p95": pct(95), "p99": pct(99),
        "mean": float(done.mean()) if done.size else math.nan,
        "phases": _pool_phases(phases),
        "failures": _sum_counters([r.summary.get("failures") or {} for r in reps]),
        "recovered": _sum_counters([r.summary.get("recovered") or {} for r in reps]),
        "retries": {"servers_retried": sum(int(r.summary["retries"]["servers_retried"])
                                           for r in reps),
                    "max_attempt": max(int(r.summary["retries"]["max_attempt"]) for r in reps)},
        "bottlenecks": _pool_bottlenecks([r.summary.get("bottlenecks") or [] for r in reps]),
        "engine": _sum_counters([r.summary.get("engine") or {} for r in reps]),
        "dhcp": _sum_counters([r.summary.get("dhcp") or {} for r in reps]),
        "services": _sum_counters([r.summary.get("services") or {} for r in reps]),
    })
    s["failures"] = dict(sorted(s["failures"].items()))
    s["recovered"] = dict(sorted(s["recovered"].items()))
    if "costs" in first:  # per design: each replication's quantities, averaged
        s["costs"] = mean_costs([r.summary["costs"] for r in reps])
    bounds = [r.summary.get("line_rate_bound") or {} for r in reps]
    bound = dict(bounds[0])
    for k in ("seconds", "bytes"):
        if k in bound:
            bound[k] = float(np.mean([_num(b.get(k)) for b in bounds]))
    if "not_ready" in bound:
        bound["not_ready"] = s["servers"] - s["completed"]
    s["line_rate_bound"] = bound
    secs = _num(bound.get("seconds"))
    # the replications' mean makespan over their mean bound: the two numbers the report
    # shows beside it (the pooled makespan, the slowest replication's, is not shown)
    span = float(np.mean(_makespans(reps)))
    s["makespan_over_bound"] = span / secs if secs and math.isfinite(secs) else math.nan
    if first.get("deadline") is not None:
        s.update(deadline_fields(servers, float(first["deadline"])))
    n = len(reps)
    s["notes"] = list(first.get("notes") or []) + [
        f"Replications: {n} independent runs of the scenario (replication r draws from "
        f"the streams of seed {first.get('seed')}, replication key r); the numbers pool the "
        f"{n_servers:,} server-runs of all {n}, each timed from its replication's first "
        "power-on; engine, DHCP and service counters are summed over the replications, "
        "bottleneck times and the line-rate bound averaged; makespan ÷ bound is the "
        "replications' mean makespan over their mean bound."]
    return s


def _metric_values(reps: Sequence[Replica]) -> dict[str, list[float]]:
    vals = {k: [_num(r.summary.get(k)) for r in reps]
            for k in ("makespan", "mean", "p50", "p95", "p99")}
    vals["completed"] = [float(r.summary["completed"]) for r in reps]
    if reps[0].summary.get("deadline") is not None:
        vals["ready_fraction_by_deadline"] = [_num(r.summary["ready_fraction_by_deadline"])
                                              for r in reps]
    return vals


def replications_block(reps: Sequence[Replica], seed: int, plan: Plan) -> dict:
    """``summary["replications"]`` (the module's docstring has its form)."""
    metrics, how = {}, {}
    # what a metric can be: its t-interval is cut to it
    ranges = {"ready_fraction_by_deadline": (0.0, 1.0),
              "completed": (0.0, float(len(reps[0].servers)))}
    for name, values in _metric_values(reps).items():
        if name in BOOTSTRAP_METRICS:
            iv = intervals.bootstrap_interval(values, Streams(seed).rng("report", "bootstrap",
                                                                        name))
            how[name] = "bootstrap-percentile"
        else:
            iv = intervals.t_interval(values, within=ranges.get(name, (-math.inf, math.inf)))
            how[name] = "student-t"
        metrics[name] = {"mean": iv.mean, "lo": iv.lo, "hi": iv.hi,
                         "half_width": iv.half_width, "values": values}
    until = None
    if plan.until_ci is not None:
        rel = intervals.relative_half_width(intervals.t_interval(_makespans(reps)))
        until = {"target": plan.until_ci, "cap": plan.n, "relative_half_width": rel,
                 "reached": bool(len(reps) >= MIN_REPLICATIONS and math.isfinite(rel)
                                 and rel <= plan.until_ci)}
    return {
        "n": len(reps),
        "jobs_independent": True,
        "confidence": intervals.CONFIDENCE,
        "method": {
            "seeds": f"replication r draws from Streams({seed}, r): each named stream's "
                     f"SeedSequence({seed}, spawn_key=(r, *name)), a stream of the r-th "
                     f"child of SeedSequence({seed}).spawn(n)",
            "metrics": how,
            "student-t": "mean ± t(0.975, n − 1) · s / √n over the per-replication values, "
                         "cut to what the metric can be (a fraction to [0, 1])",
            "bootstrap-percentile": {
                "statistic": "mean of the per-replication values",
                "interval": "2.5th and 97.5th percentiles of the resampled means",
                "resamples": intervals.RESAMPLES,
                "stream": "Streams(seed).rng('report', 'bootstrap', METRIC)"},
        },
        "metrics": metrics,
        "until_ci": until,
    }


@dataclass
class Replicated:
    """What a replicated run gave.

    Attributes:
        summary: the pooled ``summary.json`` dict with its ``replications`` block.
        servers, phases, timeline: every replication's rows, ``replication`` column.
        replicas: each replication's own results.
        plan: the plan that ran.
        jobs: the processes used.
        wall: wall-clock seconds of the simulations, summed.
        target: the output directory, when one was written.
    """

    summary: dict
    servers: pd.DataFrame
    phases: pd.DataFrame
    timeline: pd.DataFrame
    replicas: list[Replica] = field(default_factory=list)
    plan: Plan = Plan()
    jobs: int = 1
    wall: float = 0.0
    target: Path | None = None


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    full = [f for f in frames if len(f)]
    return pd.concat(full, ignore_index=True) if full else frames[0].iloc[0:0].copy()


def combine(reps: Sequence[Replica], seed: int, plan: Plan, *, jobs: int = 1) -> Replicated:
    """Pool the replications' frames and summaries (in replication order)."""
    servers = _concat([r.servers for r in reps])
    phases = _concat([r.phases for r in reps])
    timeline = _concat([r.timeline for r in reps])
    summary = pooled_summary(reps, servers, phases)
    summary["replications"] = replications_block(reps, seed, plan)
    return Replicated(_clean(summary), servers, phases, timeline, list(reps), plan, jobs,
                      sum(r.wall for r in reps))


#: What keeping a replication's frames costs this process, in multiples of their own size:
#: each replication's frames, their concatenation, and what writing the outputs and the
#: report makes of it (ipxe-dynamic-api, 10 replications of 320 servers: 83 MB above a
#: single run's peak for 2,880 more server-runs, 29 KB each, frames of 9.3 KB a
#: server-run; docs/limits.md).
FRAMES_FACTOR = 3.2


def _frames_too_large(first: Replica, n: int, max_memory: float | None) -> str | None:
    """Why ``n`` replications' frames would not fit this process, or ``None``."""
    size = float(sum(f.memory_usage(deep=True).sum()
                     for f in (first.servers, first.phases, first.timeline)))
    need = memguard.rss() + (n - 1) * size * FRAMES_FACTOR
    limit, where = (max_memory, "--max-memory") if max_memory is not None \
        else memguard.available()
    if need <= limit:
        return None
    return (f"{n:,} replications would keep frames of an estimated {memguard.describe(need)} "
            f"({memguard.describe(size)} a replication, measured on the first, × "
            f"{FRAMES_FACTOR:g} while pooled and written), more than the "
            f"{memguard.describe(limit)} of {where}; nothing was written. Run fewer "
            "replications, or give --max-memory to raise the limit")


def _jobs_for(sc: Scenario, plan: Plan, jobs: int | None,
              max_memory: float | None) -> tuple[int, float | None]:
    """Processes to start and each one's memory limit.

    The limit (``--max-memory``, else what this process may use) is shared by this
    process, which keeps every replication's frames, and the ``jobs`` processes: each
    gets ``limit / (jobs + 1)``, and no more processes start than fit the run's estimate
    (:func:`netbootsim.memguard.estimate`) in that share.
    """
    jobs = max(1, min(jobs or default_jobs(), plan.n))
    if jobs == 1:
        return 1, max_memory
    limit = max_memory if max_memory is not None else memguard.available()[0]
    need = memguard.estimate(sum(g.count for g in sc.fleet), sc.run.engine)
    jobs = max(1, min(jobs, int(limit // need) - 1))
    return jobs, (limit / (jobs + 1) if jobs > 1 else max_memory)


def simulate_replicated(source: Source, sc: Scenario, plan: Plan, *, jobs: int | None = None,
                        on_replica: OnReplica | None = None) -> Replicated:
    """Run the plan's replications of a loaded scenario; pool them; write nothing."""
    jobs, each = _jobs_for(sc, plan, jobs, source.max_memory)

    def fits(first: Replica) -> None:
        if (why := _frames_too_large(first, plan.n, source.max_memory)) is not None:
            raise memguard.MemoryLimit([Problem(str(sc.origin.file), 0, "", why)])

    reps, used = replicate(source, plan, jobs=jobs, on_replica=on_replica, worker_memory=each,
                           check_first=fits)
    return combine(reps, sc.run.seed, plan, jobs=used)


def output_names(sc: Scenario, plan: Plan, records: str = "auto",
                 only: frozenset[str] | None = None) -> set[str]:
    """What a run of ``sc`` as ``plan`` writes beyond the fixed names, known before it runs.

    :func:`~netbootsim.plan.summary.known_outputs` of its server rows (the fleet times
    the replications it runs at least) and, for a single run, its lifecycle events (a
    replicated run writes no events' files).
    """
    least = 1 if not plan.replicated else (
        plan.n if plan.until_ci is None else min(plan.n, MIN_REPLICATIONS))
    return known_outputs(records, sum(g.count for g in sc.fleet) * least,
                         bool(sc.events) and not plan.replicated, only)


def execute_replicated(path: str, overrides: Sequence[str] = (), out: str | None = None, *,
                       name: str | None = None, force: bool = False, strict: bool = False,
                       max_memory: float | None = None, replications: object = None,
                       until_ci: object = None, max_replications: object = None,
                       jobs: int | None = None, only: frozenset[str] | None = None,
                       progress=None, say: Callable[[str], None] | None = None,
                       on_replica: OnReplica | None = None, records: str = "auto"):
    """Load a scenario file, run it as planned (replicated or not), write its outputs.

    The plan is :func:`plan_of` the scenario's ``run`` section and the flags; a single
    run goes to :func:`netbootsim.plan.run.execute` (``progress`` is its progress
    callback) and returns its :class:`~netbootsim.plan.run.Outcome`; a replicated one
    returns :class:`Replicated`, its files written whole into the output directory.
    ``records``: how servers and phases are written (``--format``,
    :func:`~netbootsim.plan.summary.record_formats`; replications' rows counted).

    Raises:
        InputError: the scenario, a flag, the output directory or the memory does not do.
    """
    with paused_gc():  # a large fleet's load makes ~10^6 lasting objects, no garbage
        sc = load_scenario(path, overrides=overrides, name=name, strict=strict,
                           max_memory=max_memory)
    plan = plan_of(sc.run, replications=replications, until_ci=until_ci,
                   max_replications=max_replications)
    if not plan.replicated:
        return execute(path, overrides, out, name=name, force=force, strict=strict,
                       max_memory=max_memory, only=only, progress=progress, say=say,
                       records=records, scenario=sc)
    for w in sc.warnings if say is not None else ():
        say(str(w))
    target = Path(out or sc.run.out or Path("results") / sc.name)
    source = Source(str(path), tuple(overrides), name, question_of(str(path)), max_memory)
    with OutputDir(target, "run", force=force, flag="--out" if out else "run.out",
                   names=output_names(sc, plan, records, only)) as od:
        res = simulate_replicated(source, sc, plan, jobs=jobs, on_replica=on_replica)
        tmp = od.staging()
        try:
            write_outputs(tmp, res.summary, res.servers, res.phases, res.timeline, only=only,
                          records=records)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        res.target = od.publish(tmp)
    return res
