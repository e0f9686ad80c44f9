"""Confidence intervals over replications: pure statistics, no simulation.

A replicated run (:mod:`netbootsim.plan.replicate`) gives one value of each metric per
replication (its makespan, its p99 of ready time, ...). The replications are
independent and identically distributed (their seeds are spawned from the run seed), so
each metric's values are an i.i.d. sample, and its interval is an interval for the
*expected value of the metric over replications* (the mean makespan of this scenario,
the mean p99 of a run of it):

- **Student-t** (:func:`t_interval`): ``mean ± t(1 − α/2, n − 1) · s / √n``, ``s`` the
  sample standard deviation (``ddof=1``). Exact for normal values, and good for means
  of many servers' times (the central limit theorem) — the makespan, the mean ready
  time, the number completed, the fraction ready by a deadline.
- **Percentile bootstrap** (:func:`bootstrap_interval`): the ``α/2`` and ``1 − α/2``
  quantiles of the means of ``resamples`` resamples (with replacement) of the values
  (:func:`scipy.stats.bootstrap`, ``method="percentile"``). It assumes no shape, for the
  tail percentiles (p95, p99 of ready time), whose per-replication values are skewed
  and can pile up on a few levels. Its interval need not be symmetric;
  ``half_width`` is then half its length.

Every interval degrades plainly: fewer than two values, or a value that is missing (a
replication in which no server got ready has no makespan), gives NaN bounds (``null`` in
``summary.json``); values that are all equal give ``lo == hi == mean`` (no spread seen).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CONFIDENCE", "RESAMPLES", "Interval", "t_interval", "bootstrap_interval",
           "relative_half_width", "precise_enough"]

#: The confidence of every interval netbootsim reports.
CONFIDENCE = 0.95
#: Bootstrap resamples (SciPy's default): the Monte-Carlo error of a 2.5 % quantile of
#: 9,999 resamples is about √(0.025 · 0.975 / 9999) ≈ 0.16 % in probability.
RESAMPLES = 9999


@dataclass(frozen=True)
class Interval:
    """A mean and its confidence interval ``[lo, hi]`` (NaN when there is none).

    Attributes:
        mean: the sample mean of the values.
        lo, hi: the interval's bounds.
        n: how many values.
    """

    mean: float
    lo: float
    hi: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's length (``(hi − lo) / 2``)."""
        return (self.hi - self.lo) / 2


def _values(values: Sequence[float]) -> np.ndarray:
    return np.asarray([math.nan if v is None else float(v) for v in values], dtype=float)


def _degenerate(x: np.ndarray) -> Interval | None:
    """The interval when no statistics are needed (or possible), else ``None``."""
    n = int(x.size)
    if n == 0 or not np.isfinite(x).all():
        return Interval(math.nan, math.nan, math.nan, n)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n)
    if (x == x[0]).all():
        return Interval(mean, mean, mean, n)
    return None


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE,
               within: tuple[float, float] = (-math.inf, math.inf)) -> Interval:
    """The Student-t interval of the mean of ``values``.

    ``mean ± t(1 − α/2, n − 1) · s / √n`` with ``α = 1 − confidence`` and ``s`` the
    sample standard deviation (``n − 1`` in its denominator), cut to ``within``, the
    values the quantity can take (a fraction's ``(0, 1)``: the normal approximation
    would otherwise put a bound past 100 %).
    """
    from scipy import stats

    x = _values(values)
    if (done := _degenerate(x)) is not None:
        return done
    n = x.size
    mean = float(x.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, max(mean - half, within[0]), min(mean + half, within[1]), n)


def bootstrap_interval(values: Sequence[float], rng: np.random.Generator,
                       confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> Interval:
    """The percentile-bootstrap interval of the mean of ``values``.

    ``rng`` draws the resamples (a named stream: the same seed gives the same interval).
    """
    from scipy import stats

    x = _values(values)
    if (done := _degenerate(x)) is not None:
        return done
    # SciPy >= 1.15 names the generator ``rng``; older releases ``random_state``
    key = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"
    res = stats.bootstrap((x,), np.mean, n_resamples=resamples, confidence_level=confidence,
                          method="percentile", vectorized=True, **{key: rng})
    ci = res.confidence_interval
    return Interval(float(x.mean()), float(ci.low), float(ci.high), int(x.size))


def relative_half_width(iv: Interval) -> float:
    """``half_width / |mean|`` (NaN when either is missing or the mean is 0)."""
    if not (math.isfinite(iv.half_width) and math.isfinite(iv.mean)) or iv.mean == 0:
        return math.nan
    return iv.half_width / abs(iv.mean)


def precise_enough(values: Sequence[float], target: float, *, minimum: int = 3,
                   confidence: float = CONFIDENCE) -> bool:
    """Whether the t-interval of ``values`` is within ``target`` of its mean.

    At least ``minimum`` values; ``target`` a fraction (``0.02`` for 2 %). A sample with
    a missing value, or a mean of 0, is never precise enough.
    """
    if len(values) < minimum:
        return False
    rel = relative_half_width(t_interval(values, confidence))
    return math.isfinite(rel) and rel <= target
