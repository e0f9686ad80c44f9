"""The reference flow engine: every flow re-solved on every event (full recompute).

Every flow is its own solver entry; on every event the bytes of every flow are
advanced and everything is re-solved. Quadratic, obvious: the incremental
:class:`~netbootsim.net.engine.FlowEngine` is checked against it (tests run both and
expect the same completion times and records; ``run.full_recompute: true`` picks it for
a scenario). What the two share — the API, bounds and schedules, the wake-ups — is
:class:`~netbootsim.net.base.BaseEngine`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy

from .base import _CAP, _DONE_TOL_REL, _DONE_TOL_TIME, BaseEngine, _later
from .flow import Flow, Resource
from .solver import maxmin

__all__ = ["ReferenceEngine"]


class ReferenceEngine(BaseEngine):
    """Max-min fair flow engine that re-solves every flow on every event.

    Args:
        env: the SimPy environment.
        on_solve: optional observer called as ``on_solve(now, engine)`` after every
            solve (see :class:`~netbootsim.net.base.BaseEngine`).
    """

    def __init__(self, env: simpy.Environment, *, on_solve: Callable | None = None):
        super().__init__(env, on_solve=on_solve)
        self._active: dict[Flow, None] = {}
        self._t_advanced = env.now
        self._next = math.inf  # earliest end of a flow, as of the last solve
        self._bottlenecks: list[tuple[Resource, float, int]] = []

    def rate_of(self, flow: Flow) -> float:
        """Current rate of a running flow (bytes/s), as of the last solve."""
        return flow.rate

    def bottlenecks(self) -> list[tuple[Resource, float, int]]:
        """Saturated resources that hold flows back, as of the last solve.

        Returns ``(resource, fair share per flow, flows limited there)`` for each, by
        name.
        """
        return list(self._bottlenecks)

    def flow_rates(self) -> list[tuple[Flow, float]]:
        """Every running flow with its current rate (bytes/s), as of the last solve."""
        return [(f, f.rate) for f in self._active]

    # ------------------------------------------------------------------ the hooks
    def _add(self, flow: Flow, now: float) -> bool:
        self._advance(now)
        self._active[flow] = None
        return True

    def _remove(self, flow: Flow, now: float) -> None:
        self._advance(now)
        del self._active[flow]

    def _rebound(self, flow: Flow, bound: float, now: float) -> bool:
        self._advance(now)
        flow.bound = bound
        return True

    def _recapacity(self, resource: Resource, capacity: float, now: float) -> None:
        self._advance(now)
        resource.capacity = capacity

    def _wake(self, now: float) -> bool:
        self._advance(now)
        done = [f for f in self._active
                if f._remaining <= f.rate * _DONE_TOL_TIME + _DONE_TOL_REL * f.size]
        for f in done:
            del self._active[f]
            self._finish(f, now)
        if not done and self._next <= now:  # woke a hair early: look again later
            self._next = min((_next_end(now, f) for f in self._active), default=math.inf)
        return bool(done)

    def _solve(self, now: float) -> None:
        self._advance(now)
        flows = list(self._active)
        self.entries_solved += len(flows)
        sol = maxmin([1] * len(flows), [f.bound for f in flows], [f.path for f in flows], _CAP)
        nxt = math.inf
        held: dict[Resource, list] = {}
        for f, rate, lim in zip(flows, sol.rates, sol.limiter, strict=True):
            f.rate = rate
            if lim is not None:
                entry = held.setdefault(lim, [lim, rate, 0])
                entry[2] += 1
            if rate > 0.0:
                t = _next_end(now, f)
                if t < nxt:
                    nxt = t
        self._next = nxt
        self._bottlenecks = sorted((tuple(v) for v in held.values()), key=lambda x: x[0].name)

    def _next_time(self) -> float:
        t = super()._next_time()
        if self._active:
            t = min(t, self._next)
        return t

    def _advance(self, now: float) -> None:
        dt = now - self._t_advanced
        if dt > 0.0:
            for f in self._active:
                f._remaining -= f.rate * dt
        self._t_advanced = now


def _next_end(now: float, f: Flow) -> float:
    """When a flow ends at its current rate: after ``now`` unless done already."""
    rate = f.rate
    if rate == math.inf:
        return now
    if rate <= 0.0:
        return math.inf
    t = now + max(f._remaining, 0.0) / rate
    if t <= now and f._remaining > rate * _DONE_TOL_TIME + _DONE_TOL_REL * f.size:
        t = _later(now)
    return t
