"""The max-min fair rate solver: pure, no SimPy, no domain knowledge.

Given entries (each a group of ``count`` identical flows with one rate bound and
one path of resources) and resource capacities, :func:`maxmin` returns the
max-min fair rate of each entry: the unique allocation in which no resource is
over capacity, no flow exceeds its bound, and every flow is either at its bound
or crosses a saturated resource on which no other flow gets more than it does.

Algorithm: progressive filling ("water filling"). All unfrozen flows rise
together; the level at which the next resource saturates is
``min_r remaining(r) / unfrozen(r)``. Every unfrozen entry whose bound is at or
below that level can be frozen at its bound at once, because freezing a flow
below the share of a resource only raises that resource's share. When no bound
is below the level, the entries crossing the resource(s) at the level freeze
there. Each round therefore freezes a whole bottleneck or a whole batch of
bounds, so the number of rounds is the number of distinct bottleneck levels,
not the number of flows. Cost: ``O(sum of path lengths + rounds × resources)``.

Grouping identical flows into one entry with a count is what lets the flow engine
solve thousands of flows as a handful of entries; with every count equal to 1 the
same function is the plain per-flow solver used by the full-recompute mode.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Solution", "maxmin", "maxmin_arrays", "REL_TOL"]

#: Relative tolerance for "two resources saturate at the same level" and
#: "a resource is saturated" (floating-point slack, not a model parameter).
REL_TOL = 1e-12


@dataclass(slots=True)
class Solution:
    """Result of :func:`maxmin`.

    Attributes:
        rates: rate of each flow of each entry (bytes/s); ``inf`` for an entry with no
            bound and no resource.
        limiter: per entry, ``None`` if the entry is at its own bound, else the key of
            the saturated resource that limits it.
        load: per resource key, the total rate through it (sum of count × rate).
        saturated: keys of the resources whose load reaches capacity (``None`` when
            the caller asked not to have them: ``maxmin(..., saturated=False)``).
        rounds: number of filling rounds the solve took (a cost measure).
    """

    rates: list[float]
    limiter: list[Hashable | None]
    load: dict[Hashable, float]
    saturated: set[Hashable] | None
    rounds: int


def maxmin(
    counts: Sequence[int],
    bounds: Sequence[float],
    paths: Sequence[Sequence[Hashable]],
    capacity: Mapping[Hashable, float],
    *,
    saturated: bool = True,
) -> Solution:
    """Max-min fair rates for groups of identical flows.

    Args:
        counts: number of identical flows in each entry (≥ 1).
        bounds: rate bound of each flow of the entry (bytes/s, may be ``inf``).
        paths: resources each flow of the entry crosses (each at most once).
        capacity: capacity of every resource named in ``paths`` (bytes/s, > 0).
        saturated: whether to list the saturated resources (the flow engine, which
            reads limiters and loads only, passes ``False``).

    Returns:
        A :class:`Solution`; ``rates[k]`` is the rate of *one* flow of entry ``k``.
    """
    n = len(counts)
    if n == 1:  # one entry (the common one-bottleneck storm): no filling needed
        return _single(counts[0], bounds[0], paths[0], capacity, saturated)
    rates = [0.0] * n
    limiter: list[Hashable | None] = [None] * n
    users: dict[Hashable, list[int]] = {}
    for k in range(n):
        for r in paths[k]:
            lst = users.get(r)
            if lst is None:
                users[r] = [k]
            else:
                lst.append(k)
    remaining = {r: float(capacity[r]) for r in users}
    unfrozen = {}
    for r, ks in users.items():
        u = 0
        for k in ks:
            u += counts[k]
        unfrozen[r] = u
    frozen = [False] * n
    order = sorted(range(n), key=bounds.__getitem__)
    pos = 0
    left = n
    rounds = 0

    def freeze(k: int, rate: float, why: Hashable | None) -> None:
        frozen[k] = True
        rates[k] = rate
        limiter[k] = why
        c = counts[k]
        used = c * rate
        for r in paths[k]:
            remaining[r] -= used
            u = unfrozen[r] - c
            if u:
                unfrozen[r] = u
            else:
                del unfrozen[r]

    while left:
        rounds += 1
        level = math.inf
        for r, u in unfrozen.items():
            share = remaining[r] / u
            if share < level:
                level = share
        if level < 0.0:
            level = 0.0
        # Batch: every entry whose bound is at or below the next saturation level.
        batch = False
        while pos < n:
            k = order[pos]
            if frozen[k]:
                pos += 1
                continue
            b = bounds[k]
            if b > level:
                break
            freeze(k, b, None)
            left -= 1
            pos += 1
            batch = True
        if batch or not left:
            continue
        if level == math.inf:
            # Entries with no bound and no resource: unconstrained.
            for k in range(n):
                if not frozen[k]:
                    freeze(k, math.inf, None)
                    left -= 1
            break
        cut = level * (1.0 + REL_TOL)
        tight = [r for r, u in unfrozen.items() if remaining[r] / u <= cut]
        for r in tight:
            for k in users[r]:
                if not frozen[k]:
                    freeze(k, level, r)
                    left -= 1
    load = {r: float(capacity[r]) - remaining[r] for r in users}
    full = ({r for r, x in load.items() if x >= float(capacity[r]) * (1.0 - 1e-9)}
            if saturated else None)
    return Solution(rates, limiter, load, full, rounds)


def _single(count: int, bound: float, path: Sequence[Hashable],
            capacity: Mapping[Hashable, float], saturated: bool = True) -> Solution:
    """:func:`maxmin` for one entry: the smaller of its bound and its tightest share."""
    rate, lim = bound, None
    for r in path:
        share = float(capacity[r]) / count
        if share < rate:
            rate, lim = share, r
    load = {r: count * rate for r in path}
    full = ({r for r in path if load[r] >= float(capacity[r]) * (1.0 - 1e-9)}
            if saturated else None)
    if lim is not None:
        # as progressive filling would: the first of equally tight resources limits
        for r in path:
            if float(capacity[r]) / count <= rate * (1.0 + REL_TOL):
                lim = r
                break
    return Solution([rate], [lim], load, full, 1)


def maxmin_arrays(
    counts: np.ndarray,
    bounds: np.ndarray,
    res: np.ndarray,
    capacity: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised :func:`maxmin` over arrays, for many entries.

    Same algorithm and result as :func:`maxmin` (up to floating-point summation
    order), written with NumPy so that a solve over a thousand entries costs tens
    of microseconds instead of a millisecond.

    Args:
        counts: ``(C,)`` flows per entry.
        bounds: ``(C,)`` per-flow bound (may be ``inf``).
        res: ``(C, P)`` resource indices of each entry's path, padded with index 0,
            which must be a dummy resource of infinite capacity.
        capacity: ``(R,)`` capacities; ``capacity[0]`` is ``inf``.

    Returns:
        ``(rates, limiter, level)``: per-entry rate; per-entry limiting resource index
        (``-1`` = at its own bound); per-resource level at which it saturated
        (``nan`` if it did not limit anyone).
    """
    n_entries, width = res.shape
    n_res = capacity.shape[0]
    cnt = counts.astype(np.float64)
    remaining = capacity.astype(np.float64)
    unfrozen = np.bincount(res.ravel(), weights=np.repeat(cnt, width), minlength=n_res)
    rates = np.zeros(n_entries)
    limiter = np.full(n_entries, -1, dtype=np.int64)
    level_of = np.full(n_res, np.nan)
    frozen = np.zeros(n_entries, dtype=bool)
    order = np.argsort(bounds, kind="stable")
    sorted_bounds = bounds[order]
    pos = 0
    left = n_entries

    def freeze(ks: np.ndarray, rate: np.ndarray | float) -> None:
        frozen[ks] = True
        rates[ks] = rate
        sub = res[ks].ravel()
        c = cnt[ks]
        np.subtract(remaining, np.bincount(sub, weights=np.repeat(c * rate, width),
                                           minlength=n_res), out=remaining)
        np.subtract(unfrozen, np.bincount(sub, weights=np.repeat(c, width), minlength=n_res),
                    out=unfrozen)

    with np.errstate(divide="ignore", invalid="ignore"):
        while left:
            active = unfrozen > 0.5
            share = np.where(active, remaining / np.where(active, unfrozen, 1.0), math.inf)
            level = max(float(share.min()), 0.0)
            hi = int(np.searchsorted(sorted_bounds, level, side="right"))
            if hi > pos:
                ks = order[pos:hi]
                pos = hi
                ks = ks[~frozen[ks]]
                if ks.size:
                    freeze(ks, bounds[ks])
                    left -= ks.size
                    continue
            if level == math.inf:
                ks = np.flatnonzero(~frozen)
                freeze(ks, math.inf)
                break
            tight = share <= level * (1.0 + REL_TOL)
            hit = tight[res]  # (C, P): which path slots are tight
            ks = np.flatnonzero(hit.any(axis=1) & ~frozen)
            first = hit[ks].argmax(axis=1)
            limiter[ks] = res[ks, first]
            level_of[tight] = level
            freeze(ks, level)
            left -= ks.size
    return rates, limiter, level_of
