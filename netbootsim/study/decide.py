"""Deciding a design from its replications, and which designs are worth keeping: pure.

**Is a constraint met, with confidence c?** A design's replications are i.i.d. (their
seeds are spawned from the scenario's seed, :mod:`netbootsim.plan.replicate`), so a
metric's values over them are a sample of the metric's distribution over runs, and
``mean ± t(c, n − 1) · s / √n`` are one-sided confidence bounds on its *expected value*
(Student-t, ``s`` the sample standard deviation). A ``max`` constraint (p99 ≤ 30 min)
is **met** when the upper bound is within the limit, **missed** when the lower bound is
beyond it, and otherwise **open**: more replications are needed. A ``min`` constraint
(ready fraction ≥ 0.99) the other way round. A design is *feasible* when every
constraint is met, *infeasible* as soon as one is missed, open otherwise; a design
still open after the most replications allowed counts as not feasible (said so).

The statement is about the mean over runs ("the expected p99 is at most 30 min, with
95 % confidence"), not about every run: a single power-on event can still exceed it.
Deciding after each added replication tests the same hypothesis several times, which
makes the real error rate higher than 1 − c (no alpha spending here; the report says so).

:func:`wanted` says how many replications an open design should get next, from the
sample so far: the ``n`` at which the current half-width would decide it, so that a
design far from its limit is not run one replication at a time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .spec import Constraint

__all__ = ["Bounds", "bounds", "verdict", "design_verdict", "wanted", "pareto_front",
           "bisect_steps", "fleet_percentile"]


@dataclass(frozen=True)
class Bounds:
    """A metric's sample mean and its one-sided bounds at the study's confidence."""

    mean: float
    lo: float
    hi: float
    sd: float
    n: int


def _tq(confidence: float, df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(confidence, df))


def bounds(values: Sequence[float], confidence: float) -> Bounds:
    """One-sided ``confidence`` bounds of the expected value of ``values``.

    A missing value (NaN: a run where no server got ready has no p99) makes both bounds
    infinite (nothing is known). An infinite value (a fleet percentile a run never
    reached) makes the mean and the upper bound infinite and the lower bound the
    smallest value seen. Fewer than two values give no spread.
    """
    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if n and not np.isnan(x).any() and np.isinf(x).any():
        # a level never reached in some runs (a fleet percentile): the mean is infinite;
        # the smallest value bounds it below (crudely); all never: known to be infinite
        finite = x[np.isfinite(x)]
        low = float(finite.min()) if finite.size else math.inf
        return Bounds(math.inf, low, math.inf, math.nan, n)
    if n == 0 or not np.isfinite(x).all():
        return Bounds(math.inf if n else math.nan, -math.inf, math.inf, math.nan, n)
    mean = float(x.mean())
    if n < 2:
        return Bounds(mean, -math.inf, math.inf, math.nan, n)
    sd = float(x.std(ddof=1))
    if sd == 0.0:
        return Bounds(mean, mean, mean, 0.0, n)
    half = _tq(confidence, n - 1) * sd / math.sqrt(n)
    return Bounds(mean, mean - half, mean + half, sd, n)


def verdict(c: Constraint, b: Bounds) -> str:
    """``"met"``, ``"missed"`` or ``"open"`` for one constraint.

    A ``max`` constraint whose values include an infinite one (a fleet percentile some
    run never reached) is missed: the mean over runs is then infinite.
    """
    if c.sense == "max" and b.mean == math.inf and b.n:
        return "missed"
    if c.sense == "max":
        if b.hi <= c.limit:
            return "met"
        if b.lo > c.limit:
            return "missed"
        return "open"
    if b.lo >= c.limit:
        return "met"
    if b.hi < c.limit:
        return "missed"
    return "open"


def design_verdict(constraints: Sequence[Constraint], values: dict[str, Sequence[float]],
                   confidence: float) -> str:
    """``"feasible"``, ``"infeasible"`` or ``"open"`` from every constraint's verdict."""
    vs = [verdict(c, bounds(values[c.key], confidence)) for c in constraints]
    if "missed" in vs:
        return "infeasible"
    if all(v == "met" for v in vs):
        return "feasible"
    return "open"


def margin(c: Constraint, b: Bounds) -> float:
    """How far the bound that decides ``c`` is inside its limit (negative: outside)."""
    return c.limit - b.hi if c.sense == "max" else b.lo - c.limit


def wanted(constraints: Sequence[Constraint], values: dict[str, Sequence[float]],
           confidence: float, most: int) -> int:
    """Replications an open design should have next (more than it has, at most ``most``).

    For each open constraint, the ``n`` at which the half-width ``t · s / √n`` (with
    today's ``s`` and t at today's degrees of freedom) would fit between the mean and
    the limit; the largest of them, at least one more than now.
    """
    n = len(next(iter(values.values()))) if values else 0
    need = n + 1
    for c in constraints:
        b = bounds(values[c.key], confidence)
        if verdict(c, b) != "open" or not math.isfinite(b.sd) or b.sd == 0:
            continue
        gap = abs(b.mean - c.limit)
        if gap == 0:
            return most
        est = (_tq(confidence, max(n - 1, 1)) * b.sd / gap) ** 2
        need = max(need, math.ceil(est))
    return min(need, most)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates (both coordinates minimised).

    A point is dominated by one at least as good in both coordinates and better in one.
    Equal points are all kept. A point with a NaN coordinate is never on the front.
    Returned in ascending order of the first coordinate, then the second, then index.
    """
    order = sorted((i for i, (a, b) in enumerate(points)
                    if not (math.isnan(a) or math.isnan(b))),
                   key=lambda i: (points[i][0], points[i][1], i))
    front: list[int] = []
    best = math.inf
    last: tuple[float, float] | None = None
    for i in order:
        a, b = points[i]
        if b < best or (last is not None and (a, b) == last):
            front.append(i)
            best = min(best, b)
            last = (a, b)
    return front


def bisect_steps(n: int) -> int:
    """Designs bisection evaluates at most over ``n`` ordered values: ⌈log2(n + 1)⌉.

    The search looks for the first feasible value among ``n``, which may be none of them:
    ``n + 1`` answers, each evaluation halving them.
    """
    return math.ceil(math.log2(n + 1)) if n > 0 else 0


def fleet_percentile(times: Sequence[float], q: float) -> float:
    """The time by which ``q`` % of the fleet was ready: its ⌈q/100 · n⌉-th smallest time.

    ``times`` has one entry per server, ``inf`` for one never ready; so the answer is
    ``inf`` when fewer than ``q`` % got ready (the inverted-CDF percentile: no
    interpolation, a time some server really reached).
    """
    x = np.sort(np.asarray(times, dtype=float))
    if x.size == 0:
        return math.nan
    return float(x[max(0, math.ceil(q / 100 * x.size) - 1)])
