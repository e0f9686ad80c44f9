"""The flow engine: moves flows over resources at max-min fair rates, in SimPy time.

``engine.start(flow)`` returns a SimPy event that fires when the flow's last byte
arrives. The engine wakes only when a flow starts, ends or its bound (or a
resource's capacity) changes — never per packet or per block. All changes made at
one simulated instant are solved once, after every other event of that instant
(a low-priority wake-up), so a power-on of 2,000 servers at t = 0 costs one solve.

Two modes give the same completion times (tests check it):

* **incremental** (default). Flows that are interchangeable for max-min fairness —
  same shared resources, same effective bound — form one *class*, solved as one
  entry with a count. A resource crossed by a single flow (a server's own access
  link) is folded into that flow's bound, so it does not split classes. Each class
  keeps a *virtual clock* ``V`` (bytes received per member since the class began,
  as in processor sharing and fair queueing): a member joining with ``b`` bytes to
  go finishes when ``V`` reaches ``V_join + b``; members sit in a heap by that
  finish value. A rate change is then O(1) per class, and a completion costs
  O(log n) plus one solve over classes — not O(number of flows).
* **full_recompute** (reference). Every flow is its own entry; on every event the
  bytes of every flow are advanced and everything is re-solved. Quadratic, obvious.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import simpy
from simpy.events import NORMAL, Event

from .flow import Flow, Resource
from .solver import maxmin

__all__ = ["FlowEngine"]

_LATE = NORMAL + 1  # priority of the solve: after every ordinary event of the same instant
_DONE_TOL_TIME = 1e-9  # a flow within 1 ns of its last byte is done (float slack, not a model)
_DONE_TOL_BYTES = 1e-6


class _Capacity:
    """Mapping view ``resource -> capacity`` for the solver, without building a dict."""

    __slots__ = ()

    def __getitem__(self, r: Resource) -> float:
        return r.capacity


_CAP = _Capacity()


class _Class:
    """Interchangeable flows: same shared resources, same effective bound."""

    __slots__ = ("key", "resources", "bound", "n", "rate", "v", "t", "heap", "version", "limiter")

    def __init__(self, key: tuple, now: float):
        self.key = key
        self.resources, self.bound = key
        self.n = 0
        self.rate = 0.0
        self.v = 0.0  # virtual clock: bytes per member since the class was made
        self.t = now  # time at which ``v`` was last brought up to date
        self.heap: list[tuple[float, int, Flow]] = []
        self.version = 0
        self.limiter = None

    def sync(self, now: float) -> float:
        """Advance the virtual clock to ``now`` (rate unchanged) and return it."""
        if now != self.t:
            self.v += self.rate * (now - self.t)
            self.t = now
        return self.v


class FlowEngine:
    """Max-min fair flow engine driven by a SimPy environment.

    Args:
        env: the SimPy environment.
        full_recompute: use the reference mode that re-solves every flow on every event.
        on_solve: optional observer called as ``on_solve(now, flows_or_classes, solution)``
            after every solve (utilisation and bottleneck collectors hook in here).

    Attributes:
        events: engine wake-ups (solves + completion/bound timers that did work).
        solves: number of solver calls.
        entries_solved: total entries passed to the solver (a work measure).
    """

    def __init__(
        self,
        env: simpy.Environment,
        *,
        full_recompute: bool = False,
        on_solve: Callable | None = None,
    ):
        self.env = env
        self.full_recompute = full_recompute
        self.on_solve = on_solve
        self.events = 0
        self.solves = 0
        self.entries_solved = 0
        self._seq = 0
        self._heap: list[tuple[float, int, int, object, int]] = []  # (t, seq, kind, obj, version)
        self._dirty = False
        self._timer_at = math.inf
        self._token = 0
        # incremental state
        self._classes: dict[tuple, _Class] = {}
        self._touched: dict[_Class, None] = {}
        # full-recompute state
        self._active: dict[Flow, None] = {}
        self._t_advanced = env.now
        self._full_next = math.inf

    # ------------------------------------------------------------------ public API
    def start(self, flow: Flow) -> Event:
        """Start ``flow`` now; return the event that fires (value: the flow) when it ends."""
        env = self.env
        now = env.now
        if flow.active:
            raise ValueError(f"flow {flow.name!r} is already running")
        flow.done = Event(env)
        flow.start = now
        flow.active = True
        flow._remaining = flow.size
        flow._sched_pos = 0
        if flow.size <= 0.0:
            self._finish(flow, now)
            return flow.done
        if self.full_recompute:
            self._advance(now)
            self._active[flow] = None
        else:
            for r in flow.path:
                fl = r.flows
                fl.add(flow)
                if len(fl) == 2:  # r stops being private to the other flow
                    for other in fl:
                        if other is not flow:
                            self._rekey(other, now)
            self._insert(flow, now)
        if flow.schedule:
            self._push_schedule(flow, now)
        self._request_solve()
        return flow.done

    def set_bound(self, flow: Flow, bound: float) -> None:
        """Change a running flow's rate bound (bytes/s, > 0) from now on."""
        if not bound > 0:
            raise ValueError(f"flow {flow.name!r}: bound must be > 0, got {bound!r}")
        if not flow.active:
            flow.bound = float(bound)
            return
        now = self.env.now
        if self.full_recompute:
            self._advance(now)
            flow.bound = float(bound)
        else:
            flow.bound = float(bound)
            self._rekey(flow, now)
        self._request_solve()

    def set_capacity(self, resource: Resource, capacity: float) -> None:
        """Change a resource's capacity (bytes/s, > 0) from now on (a fault, a repair)."""
        if not capacity > 0:
            raise ValueError(f"resource {resource.name!r}: capacity must be > 0")
        now = self.env.now
        if self.full_recompute:
            self._advance(now)
        resource.capacity = float(capacity)
        if not self.full_recompute and len(resource.flows) == 1:
            (only,) = resource.flows
            self._rekey(only, now)
        self._request_solve()

    @property
    def active_flows(self) -> int:
        """Number of flows currently moving bytes."""
        if self.full_recompute:
            return len(self._active)
        return sum(c.n for c in self._classes.values())

    # ------------------------------------------------------------ class bookkeeping
    def _key(self, flow: Flow) -> tuple:
        eff = flow.bound
        shared = []
        for r in flow.path:
            if len(r.flows) >= 2:
                shared.append(r)
            elif r.capacity < eff:
                eff = r.capacity
        return (tuple(shared), eff)

    def _insert(self, flow: Flow, now: float) -> None:
        key = self._key(flow)
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = _Class(key, now)
        finish = cls.sync(now) + flow._remaining
        self._seq += 1
        flow._seq = self._seq
        flow._cls = cls
        flow._finish = finish
        cls.n += 1
        heapq.heappush(cls.heap, (finish, self._seq, flow))
        self._touched[cls] = None

    def _remove(self, flow: Flow, now: float) -> None:
        cls = flow._cls
        flow._remaining = max(flow._finish - cls.sync(now), 0.0)
        flow._cls = None
        cls.n -= 1
        self._touched[cls] = None

    def _rekey(self, flow: Flow, now: float) -> None:
        if flow._cls is None:
            return
        self._remove(flow, now)
        self._insert(flow, now)

    # --------------------------------------------------------------- event plumbing
    def _call(self, delay: float, fn: Callable[[Event], None], priority: int) -> None:
        ev = Event(self.env)
        ev._ok = True
        ev._value = None
        ev.callbacks.append(fn)
        self.env.schedule(ev, priority, delay)

    def _request_solve(self) -> None:
        if not self._dirty:
            self._dirty = True
            self._call(0.0, self._on_solve, _LATE)

    def _arm(self, t: float) -> None:
        """Make sure the engine wakes at ``t`` (an earlier wake-up re-arms itself)."""
        if t >= self._timer_at or t == math.inf:
            return
        now = self.env.now
        self._timer_at = t
        self._token += 1
        token = self._token
        self._call(max(t - now, 0.0), lambda ev: self._on_timer(token), NORMAL)

    def _push_schedule(self, flow: Flow, now: float) -> None:
        t_rel, _ = flow.schedule[flow._sched_pos]
        self._seq += 1
        heapq.heappush(self._heap, (flow.start + t_rel, self._seq, 1, flow, flow._sched_pos))
        self._arm(flow.start + t_rel)

    def _finish(self, flow: Flow, now: float) -> None:
        flow.end = now
        flow.active = False
        flow.rate = 0.0
        flow._remaining = 0.0
        flow.done.succeed(flow)

    # ------------------------------------------------------------------- wake-ups
    def _on_timer(self, token: int) -> None:
        if token != self._token:
            return  # superseded by an earlier wake-up
        self._timer_at = math.inf
        now = self.env.now
        worked = False
        if self.full_recompute:
            self._advance(now)
            done = [f for f in self._active if f._remaining <= f.rate * _DONE_TOL_TIME
                    + _DONE_TOL_BYTES]
            for f in done:
                del self._active[f]
                self._finish(f, now)
            worked = bool(done)
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, kind, obj, version = heapq.heappop(heap)
            if kind == 0:
                worked |= self._complete_class(obj, version, now)
            else:
                worked |= self._apply_schedule(obj, version, now)
        if worked:
            self.events += 1
            self._request_solve()
        elif not self._dirty:
            self._arm(self._next_time())

    def _complete_class(self, cls: _Class, version: int, now: float) -> bool:
        if version != cls.version:
            return False
        v = cls.sync(now)
        limit = v + cls.rate * _DONE_TOL_TIME + _DONE_TOL_BYTES
        heap = cls.heap
        finished = []
        while heap:
            finish, seq, flow = heap[0]
            if flow._cls is not cls or flow._seq != seq:
                heapq.heappop(heap)  # left the class earlier (lazy deletion)
                continue
            if finish > limit:
                break
            heapq.heappop(heap)
            flow._cls = None
            cls.n -= 1
            finished.append(flow)
        if not finished:
            # Float slack put the wake-up a hair early: look again later.
            self._push_completion(cls, now)
            return False
        self._touched[cls] = None
        for flow in finished:
            for r in flow.path:
                fl = r.flows
                fl.discard(flow)
                if len(fl) == 1:  # r becomes private to the one flow left
                    for other in fl:
                        self._rekey(other, now)
            self._finish(flow, now)
        return True

    def _apply_schedule(self, flow: Flow, pos: int, now: float) -> bool:
        if not flow.active or pos != flow._sched_pos:
            return False
        _, bound = flow.schedule[pos]
        if self.full_recompute:
            self._advance(now)
            flow.bound = bound
        else:
            flow.bound = bound
            self._rekey(flow, now)
        flow._sched_pos = pos + 1
        if flow._sched_pos < len(flow.schedule):
            self._push_schedule(flow, now)
        return True

    def _on_solve(self, _ev: Event) -> None:
        self._dirty = False
        self.events += 1
        self.solves += 1
        now = self.env.now
        if self.full_recompute:
            self._solve_full(now)
        else:
            self._solve_classes(now)
        self._arm(self._next_time())

    # --------------------------------------------------------------------- solving
    def _solve_classes(self, now: float) -> None:
        classes = []
        for key, cls in list(self._classes.items()):
            if cls.n:
                classes.append(cls)
            else:
                del self._classes[key]
                self._touched.pop(cls, None)
        self.entries_solved += len(classes)
        sol = maxmin(
            [c.n for c in classes], [c.bound for c in classes], [c.resources for c in classes], _CAP
        )
        touched = self._touched
        for cls, rate, lim in zip(classes, sol.rates, sol.limiter, strict=True):
            cls.limiter = lim
            if rate != cls.rate:
                cls.sync(now)
                cls.rate = rate
            elif cls not in touched:
                continue
            self._push_completion(cls, now)
        touched.clear()
        if self.on_solve is not None:
            self.on_solve(now, classes, sol)

    def _push_completion(self, cls: _Class, now: float) -> None:
        cls.version += 1
        heap = cls.heap
        while heap:
            finish, seq, flow = heap[0]
            if flow._cls is cls and flow._seq == seq:
                break
            heapq.heappop(heap)
        if not heap or cls.rate <= 0.0:
            return
        v = cls.sync(now)
        t = now + max(heap[0][0] - v, 0.0) / cls.rate if cls.rate != math.inf else now
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, 0, cls, cls.version))

    def _advance(self, now: float) -> None:
        dt = now - self._t_advanced
        if dt > 0.0:
            for f in self._active:
                f._remaining -= f.rate * dt
        self._t_advanced = now

    def _solve_full(self, now: float) -> None:
        self._advance(now)
        flows = list(self._active)
        self.entries_solved += len(flows)
        sol = maxmin([1] * len(flows), [f.bound for f in flows], [f.path for f in flows], _CAP)
        nxt = math.inf
        for f, rate in zip(flows, sol.rates, strict=True):
            f.rate = rate
            if rate > 0.0:
                t = now + max(f._remaining, 0.0) / rate if rate != math.inf else now
                if t < nxt:
                    nxt = t
        self._full_next = nxt
        if self.on_solve is not None:
            self.on_solve(now, flows, sol)

    def _next_time(self) -> float:
        heap = self._heap
        while heap:
            _, _, kind, obj, version = heap[0]
            stale = (version != obj.version) if kind == 0 else (
                not obj.active or version != obj._sched_pos)
            if not stale:
                break
            heapq.heappop(heap)
        t = heap[0][0] if heap else math.inf
        if self.full_recompute and self._active:
            t = min(t, self._full_next)
        return t
