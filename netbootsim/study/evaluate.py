"""Spending a study's runs: replications decided by confidence, in deterministic waves.

:class:`Evaluator` answers "is this design feasible, and what does it cost?" for a list
of designs at a time. It runs the designs' replications in *waves*: every design gets
the study's minimum, then each design still open (:func:`~netbootsim.study.decide.wanted`)
the replications its spread says it needs, up to the maximum. Which runs a wave holds
depends only on the results of earlier waves, never on which run finished first, so a
study's runs — and its results — are the same on any pool with any number of workers.

Runs already in the ledger (a study stopped and started again) are taken from it and
counted against the budget exactly as when they were first run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..errors import InputError, Problem
from .decide import bounds, design_verdict, wanted
from .ledger import Ledger
from .runner import Task
from .spec import Design, Study

__all__ = ["Evaluator", "Result", "BudgetSpent"]


class BudgetSpent(Exception):
    """The study's budget of runs is used up."""


@dataclass
class Result:
    """What is known of one design.

    Attributes:
        design: the design.
        runs: its runs' metrics, in replication order.
        status: ``feasible``, ``infeasible``, ``open`` (still undecided at the most
            replications, or when the budget ran out).
    """

    design: Design
    runs: list[dict] = field(default_factory=list)
    status: str = "open"
    price: float = 0.0

    def values(self, key: str) -> list[float]:
        """The metric ``key`` of every run (``cost``: with the study's own prices)."""
        extra = self.price if key == "cost" else 0.0
        return [math.nan if r.get(key) is None else float(r[key]) + extra for r in self.runs]

    def mean(self, key: str) -> float:
        """The metric's mean over the runs (NaN when it has none)."""
        return bounds(self.values(key), 0.95).mean if self.runs else math.nan


class Evaluator:
    """Runs designs' replications until each is decided (or capped), recording each run.

    Args:
        study: the study.
        ledger: the study's ledger (loaded).
        pool: where runs execute (:mod:`netbootsim.study.runner`).
        progress: called after every run as ``progress(evaluator)``.
    """

    def __init__(self, study: Study, ledger: Ledger, pool, progress: Callable | None = None):
        self.study = study
        self.ledger = ledger
        self.pool = pool
        self.progress = progress
        self.results: dict[int, Result] = {}
        self.spent = 0  # runs charged to the budget (recorded earlier ones included)
        self.free = 0  # runs not charged (sensitivity)
        self.horizon = 0  # runs charged once the wave under way is done
        #: every (design, replication) used, in wave order (a Morris point may recur)
        self.order: list[tuple[Design, int]] = []
        self.exhausted = False
        self.deadlines = tuple(sorted({c.by for c in study.constraints if c.by is not None}))
        self.groups = tuple(sorted({c.group for c in study.constraints if c.group}))
        #: what a recorded run must hold to be reused: every constraint's value
        self.needed = tuple(sorted({c.key for c in study.constraints}))

    def needs(self, r: Result) -> int:
        """Replications design ``r`` should have by the end of the next wave."""
        s = self.study
        n = len(r.runs)
        if n < s.min_reps:
            return s.min_reps
        if not s.constraints:
            r.status = "feasible"  # nothing to meet
            return n
        r.status = design_verdict(s.constraints, {c.key: r.values(c.key)
                                                  for c in s.constraints}, s.confidence)
        if r.status != "open" or n >= s.max_reps:
            return n
        return wanted(s.constraints, {c.key: r.values(c.key) for c in s.constraints},
                      s.confidence, s.max_reps)

    def evaluate(self, designs: Sequence[Design], *, reps: int | None = None) -> list[Result]:
        """Decide ``designs`` (each once: a design seen before is not run again).

        ``reps``: exactly this many replications each, no decision and no charge to the
        budget (sensitivity runs: their number is fixed by their own design).

        Raises:
            BudgetSpent: the budget ran out before every design was decided (the runs
                done are kept; the designs left are open).
        """
        todo = list({d.index: self.results.setdefault(
            d.index, Result(d, price=self.study.price(d))) for d in designs}.values())
        while True:
            wave: list[tuple[Result, int]] = []
            for r in todo:
                target = reps if reps is not None else self.needs(r)
                wave += [(r, k) for k in range(len(r.runs), target)]
            if not wave:
                break
            room = self.study.budget - self.spent if reps is None else len(wave)
            if room <= 0:
                self.exhausted = True
                raise BudgetSpent
            cut = len(wave) > room
            self._run_wave(wave[:room], charge=reps is None)
            if reps is None:  # the wave's verdicts now, for the progress shown
                for r in todo:
                    if len(r.runs) >= self.study.min_reps:
                        self.needs(r)
            if self.progress is not None:
                self.progress(self)
            if cut:
                self.exhausted = True
                raise BudgetSpent
            if reps is not None:
                break
        if reps is None:
            for r in todo:
                self.needs(r)  # the final verdict
        return todo

    def _task(self, d: Design, k: int) -> Task:
        return Task(str(self.study.scenario), d.overrides, k, self.deadlines,
                    groups=self.groups)

    @property
    def done(self) -> int:
        """Runs used so far, charged or not."""
        return self.spent + self.free

    def _run_wave(self, wave: list[tuple[Result, int]], charge: bool = True) -> None:
        """Run (or take from the ledger) every ``(design, replication)`` of ``wave``."""
        got: dict[int, dict] = {}
        fresh: list[int] = []
        first: dict[tuple[tuple[str, ...], int], int] = {}  # the same run twice: once
        same: dict[int, int] = {}
        for i, (r, k) in enumerate(wave):
            key = (r.design.overrides, k)
            if key in first:
                same[i] = first[key]
                continue
            first[key] = i
            row = self.ledger.get(*key)
            if row is not None and all(f"ready_fraction@{d:g}" in row["metrics"]
                                       for d in self.deadlines) and \
                    all(m in row["metrics"] for m in self.needed):
                got[i] = row["metrics"]
            else:
                fresh.append(i)
        self.horizon = self.done + len(wave)
        if charge:
            self.spent += len(got)
        else:
            self.free += len(got)
        tasks = [self._task(wave[i][0].design, wave[i][1]) for i in fresh]
        for j, metrics in self.pool.results(tasks):
            i = fresh[j]
            r, k = wave[i]
            if "error" in metrics:
                raise InputError([Problem(str(self.study.path), 0, "variables",
                                          f"design {r.design.key!r}: {metrics['error'][0]}")])
            row = self.ledger.add({"design": r.design.key, "index": r.design.index,
                                   "values": list(r.design.labels), "replication": k,
                                   "seed": metrics["seed"],
                                   "overrides": list(r.design.overrides), "metrics": metrics})
            got[i] = row["metrics"]
            if charge:
                self.spent += 1
            else:
                self.free += 1
            if self.progress is not None:
                self.progress(self)
        for i, j in same.items():
            got[i] = got[j]
        if charge:
            self.spent += len(same)
        else:
            self.free += len(same)
        for i, (r, k) in enumerate(wave):
            assert len(r.runs) == k, "a wave adds each design's next replications in order"
            r.runs.append(got[i])
            self.order.append((r.design, k))

    def ledger_order(self) -> list[tuple[tuple[str, ...], int, dict]]:
        """The runs used, each once, as :meth:`Ledger.rewrite` takes them.

        A run shared by several designs (a Morris point drawn twice) is labelled by the
        first of them.
        """
        out, seen = [], set()
        for d, k in self.order:
            if (d.overrides, k) not in seen:
                seen.add((d.overrides, k))
                out.append((d.overrides, k, {"design": d.key, "index": d.index,
                                             "values": list(d.labels)}))
        return out

    def best(self, objective: str, tie: str | None = None) -> Result | None:
        """The feasible design with the smallest mean objective so far.

        Ties (equal means: designs of one price) go to the smaller mean of ``tie`` (a
        time), then to the earlier design in grid order.
        """
        feasible = [r for r in self.results.values() if r.status == "feasible"
                    and r.design.index < self.study.grid_size]
        if not feasible:
            return None
        return min(feasible, key=lambda r: (r.mean(objective),
                                            r.mean(tie) if tie else 0.0, r.design.index))
