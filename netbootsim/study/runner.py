"""Where a study's runs execute: this process, a local process pool, or a Dask cluster.

A *run* is one replication of one design: the base scenario with the design's overrides,
simulated with the streams ``Streams(seed, replication)`` (replication ``r`` of every
design draws the same per-server values where the designs do not change them: common
random numbers, so two designs are compared on the same fleet). :func:`run_one` does a
run anywhere and returns only its metrics (a few numbers), never its records.

Every pool runs the same function on the same plain arguments, and the study collects
the answers by (design, replication), not by the order they arrive, so its results do
not depend on the pool, the number of workers or their speed.

- :class:`InProcess`: one at a time, here (``--jobs 1``).
- :class:`LocalPool`: ``concurrent.futures.ProcessPoolExecutor`` with ``spawn`` (the
  default, ``--jobs N``: the machine's cores).
- :class:`DaskPool`: a Dask ``distributed`` cluster: ``--dask tcp://HOST:PORT`` (a
  scheduler started with ``dask scheduler``, workers with ``dask worker HOST:PORT``),
  or ``--dask local`` (a ``distributed.LocalCluster`` of ``--jobs`` single-threaded
  worker processes on this machine). Workers need netbootsim installed and the
  scenario's files at the same paths as here (a shared file system, or the same
  checkout at the same place).
"""

from __future__ import annotations

import fnmatch
import math
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as futures_completed
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, Problem
from ..runtime import pool_worker_start
from .decide import fleet_percentile

#: The whole-fleet percentiles every run reports (``fleet_p50`` ...).
FLEET_QUANTILES = (50, 95, 99)

__all__ = ["Task", "run_one", "FLEET_QUANTILES", "InProcess", "LocalPool", "DaskPool", "make_pool"]


@dataclass(frozen=True)
class Task:
    """One run to do: plain data a worker process can receive.

    Attributes:
        scenario: the base scenario's absolute path.
        overrides: the design's ``--set`` texts (the study's own first).
        replication: which replication (its streams ``Streams(seed, replication)``).
        deadlines: the deadlines (s from the first power-on) of the ready fractions
            wanted.
        out: also write the run's outputs there (a sweep's point), as ``netbootsim
            run`` does; ``None``: nothing is written.
        only: with ``out``, just these files (``None``: every output).
        groups: fleet-group patterns (``fnmatch``) whose servers' own fleet percentiles
            and ready fractions are wanted too (``fleet_p99[servers-*]``...).
    """

    scenario: str
    overrides: tuple[str, ...]
    replication: int
    deadlines: tuple[float, ...] = ()
    out: str | None = None
    only: frozenset[str] | None = None
    groups: tuple[str, ...] = ()


def run_one(task: Task) -> dict:
    """Simulate one run; its metrics (plain numbers, NaN where one does not exist).

    Returns ``{"seed", "servers", "completed", "failed", "makespan", "p50", "p95",
    "p99", "mean", "ready_fraction", "failed_fraction", "cost",
    "ready_fraction@D"...}``: the times as in ``summary.json`` (seconds from the first
    power-on); ``ready_fraction`` is of the whole fleet, ``ready_fraction@D`` of those
    ready within ``D`` s of the first power-on; ``cost`` the total of the scenario's
    ``costs:`` (0 when it prices nothing).

    An input error (a design the checks let through but the scenario refuses) comes back
    as ``{"error": [problem texts]}``: exceptions do not always cross a process
    boundary intact.
    """
    from ..plan.replicate import Source
    from ..plan.run import execute, simulate

    try:
        sc = Source(task.scenario, tuple(task.overrides)).load()
        if task.out is not None:
            out = execute(task.scenario, task.overrides, task.out, only=task.only,
                          scenario=sc, replication=task.replication)
        else:
            out = simulate(sc, replication=task.replication)
    except InputError as e:
        return {"error": [str(p) for p in e.problems]}
    s, servers = out.summary, out.servers
    n = int(s["servers"])

    def num(x) -> float:
        return math.nan if x is None else float(x)

    res = {"seed": int(s["seed"]), "servers": n, "completed": int(s["completed"]),
           "failed": int(s["failed"]), "unfinished": int(s["unfinished"]),
           **{k: num(s.get(k)) for k in ("makespan", "p50", "p95", "p99", "mean")},
           "ready_fraction": s["completed"] / n if n else math.nan,
           "failed_fraction": s["failed"] / n if n else math.nan,
           "cost": float(s["costs"]["total"]) if s.get("costs") else 0.0}
    t0 = float(servers["power_on"].min()) if len(servers) else 0.0
    # a server never ready counted as never: the time by which a share of the fleet was
    # ready is the smallest that share reached (inf: never reached)
    times = np.where((servers["outcome"] == "ok").to_numpy(),
                     (servers["ready"] - t0).to_numpy(dtype=float), np.inf)
    names = servers["group"].to_numpy(dtype=str)
    for suffix, sel in [("", np.ones(len(times), dtype=bool)),
                        *((f"[{g}]", np.array([fnmatch.fnmatchcase(x, g) for x in names],
                                              dtype=bool)) for g in task.groups)]:
        t = times[sel]
        for q in FLEET_QUANTILES:
            res[f"fleet_p{q}{suffix}"] = fleet_percentile(t, q)
        if suffix:
            res[f"ready_fraction{suffix}"] = float(np.isfinite(t).mean()) if t.size else math.nan
        for d in task.deadlines:
            res[f"ready_fraction@{d:g}{suffix}"] = float((t <= d).mean()) if t.size else math.nan
    return res


class InProcess:
    """Runs here, one after another, in the order given."""

    workers = 1
    name = "this process"

    def results(self, tasks: Sequence[Task]) -> Iterator[tuple[int, dict]]:
        """``(index in tasks, metrics)`` as each run finishes."""
        for i, t in enumerate(tasks):
            yield i, run_one(t)

    def close(self) -> None:
        """Nothing to release."""


class LocalPool:
    """A process pool on this machine (``spawn``: nothing of this process is shared)."""

    def __init__(self, jobs: int):
        self.workers = jobs
        self.name = f"{jobs} local processes"
        self._pool = ProcessPoolExecutor(max_workers=jobs,
                                         mp_context=multiprocessing.get_context("spawn"),
                                         initializer=pool_worker_start,
                                         initargs=(os.getpid(),))

    def results(self, tasks: Sequence[Task]) -> Iterator[tuple[int, dict]]:
        """``(index in tasks, metrics)`` as each run finishes, in any order."""
        futures = {self._pool.submit(run_one, t): i for i, t in enumerate(tasks)}
        self._busy = True
        try:
            for f in futures_completed(futures):
                yield futures[f], f.result()
            self._busy = False
        finally:
            for f in futures:
                f.cancel()

    _busy = False

    def close(self) -> None:
        """Stop the workers.

        When runs are under way (the study stops on an error or Ctrl-C) they are
        abandoned (not recorded) and their workers terminated first; either way the pool
        is then shut down and joined, so nothing of it outlives the study.
        """
        if self._busy:
            for proc in list((getattr(self._pool, "_processes", None) or {}).values()):
                if proc.is_alive():
                    proc.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskPool:
    """A Dask ``distributed`` cluster: a scheduler's address, or ``local``."""

    def __init__(self, address: str, jobs: int):
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - a dependency of the package
            raise InputError.single("command line", 0, "--dask",
                                    "the 'distributed' package is not installed") from None
        self._cluster = None
        try:
            if address == "local":
                self._cluster = LocalCluster(n_workers=jobs, threads_per_worker=1,
                                             processes=True, dashboard_address=None)
                self._client = Client(self._cluster)
            else:
                self._client = Client(address, timeout="20s")
        except (OSError, TimeoutError, ValueError) as e:
            if self._cluster is not None:
                self._cluster.close()
            raise InputError([Problem("command line", 0, "--dask",
                                      f"{address}: cannot reach the scheduler ({e})")]) from None
        info = self._client.scheduler_info()
        self.workers = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()) or 1
        self.name = ("a local Dask cluster" if address == "local" else f"Dask at {address}") + \
            f" ({self.workers} worker threads)"

    def results(self, tasks: Sequence[Task]) -> Iterator[tuple[int, dict]]:
        """``(index in tasks, metrics)`` as each run finishes, in any order."""
        from distributed import as_completed

        futures = [self._client.submit(run_one, t, pure=False) for t in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for f in as_completed(futures):
                yield index[f.key], f.result()
        finally:
            for f in futures:
                f.cancel()

    def close(self) -> None:
        """Disconnect (and stop a local cluster)."""
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_pool(jobs: int | None, dask: str | None):
    """The pool the command line asks for (``--jobs``, ``--dask``)."""
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if dask:
        return DaskPool(dask, jobs)
    if jobs <= 1:
        return InProcess()
    return LocalPool(jobs)
