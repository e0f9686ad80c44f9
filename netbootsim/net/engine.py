"""The flow engine: moves flows over resources at max-min fair rates, in SimPy time.

The incremental engine, the default. Its API, its bounds and schedules and its
wake-ups are :class:`~netbootsim.net.base.BaseEngine`'s (a start, an end or a bound
change at one instant costs one solve, after every other event of that instant); the
full-recompute :class:`~netbootsim.net.reference.ReferenceEngine` gives the same
completion times (tests check it). Two levels of grouping keep the work per event
independent of the number of flows:

- *classes* — flows that are interchangeable for max-min fairness (same shared
  resources, same effective bound) are one solver entry with a count. A resource
  crossed by a single flow (a server's own access link) is folded into that flow's
  bound, so it does not split classes. The solver sees classes, not flows.
- *rate groups* — after a solve, every class is either at its bound (rate = the
  bound) or limited by a saturated resource (rate = that resource's fair level).
  Flows whose rate is set by the same thing — the same bound value, or the same
  bottleneck resource — share one *virtual clock* ``V`` (bytes delivered per member
  since the group began, as in processor sharing and fair queueing). A flow joining
  with ``b`` bytes to go finishes when ``V`` reaches ``V_join + b``; members sit in a
  heap by that value. A change of a bottleneck's fair share is O(1) for all its
  flows; a completion costs O(log n) plus one solve over classes. Flows move between
  groups only when their class's limiter changes.

Large solves (many classes) use the vectorised solver, small ones the list one.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import numpy as np
import simpy

from .base import _CAP, _DONE_TOL_REL, _DONE_TOL_TIME, BaseEngine, _later
from .flow import Flow, Resource
from .solver import maxmin, maxmin_arrays

__all__ = ["FlowEngine"]

_VECTOR_FROM = 48  # classes from which the NumPy solver beats the list solver (measured)


class _Group:
    """Flows whose rate is set by the same thing: one bound value or one bottleneck."""

    __slots__ = ("key", "rate", "v", "t", "heap", "version", "n")

    def __init__(self, key: tuple, rate: float, now: float):
        self.key = key
        self.rate = rate
        self.v = 0.0  # virtual clock: bytes per member since the group was made
        self.t = now  # time at which ``v`` was last brought up to date
        self.heap: list[tuple[float, int, Flow]] = []
        self.version = 0
        self.n = 0

    def sync(self, now: float) -> float:
        """Advance the virtual clock to ``now`` (rate unchanged) and return it."""
        if now != self.t:
            self.v += self.rate * (now - self.t)
            self.t = now
        return self.v


class _Class:
    """Interchangeable flows: same shared resources, same effective bound."""

    __slots__ = ("key", "resources", "bound", "members", "group", "slot", "limiter")

    def __init__(self, key: tuple, slot: int):
        self.key = key
        self.resources, self.bound = key
        self.members: dict[Flow, None] = {}
        self.group: _Group | None = None
        self.slot = slot
        self.limiter: Resource | None = None


class FlowEngine(BaseEngine):
    """Max-min fair flow engine driven by a SimPy environment: the incremental one.

    Args:
        env: the SimPy environment.
        on_solve: optional observer called as ``on_solve(now, engine)`` whenever rates
            change (see :class:`~netbootsim.net.base.BaseEngine`).
        vector_from: number of classes from which the NumPy solver is used (tests set 0
            or a huge value to force one solver).
    """

    def __init__(
        self,
        env: simpy.Environment,
        *,
        on_solve: Callable | None = None,
        vector_from: int = _VECTOR_FROM,
    ):
        super().__init__(env, on_solve=on_solve)
        self._vector_from = vector_from
        self._classes: dict[tuple, _Class] = {}
        self._groups: dict[tuple, _Group] = {}
        self._res_index: dict[Resource, int] = {}
        self._res_list: list[Resource | None] = [None]  # index 0: dummy, infinite capacity
        self._slots: list[_Class | None] = []
        self._free_slots: list[int] = []
        self._slot_n = np.zeros(64)
        self._slot_bound = np.zeros(64)
        self._slot_res = np.zeros((64, 1), dtype=np.int64)
        self._slot_lim = np.full(64, -2, dtype=np.int64)
        self._caps = np.full(8, math.inf)  # capacity by resource index (index 0: dummy)
        self._load = np.zeros(8)  # load by resource index, as of the last solve
        self._empty_classes: dict[_Class, None] = {}
        self._empty_groups: dict[_Group, None] = {}

    # ------------------------------------------------------------------ public API
    def rate_of(self, flow: Flow) -> float:
        """Current rate of a running flow (bytes/s), as of the last solve."""
        grp = flow._cls.group if flow._cls is not None else None
        return grp.rate if grp is not None else 0.0

    def bottlenecks(self) -> list[tuple[Resource, float, int]]:
        """Saturated resources that hold flows back, as of the last solve.

        Returns ``(resource, fair share per flow, flows limited there)`` for each, by
        name.
        """
        out = [(g.key[1], g.rate, g.n) for g in self._groups.values()
               if g.key[0] == "r" and g.n]
        return sorted(out, key=lambda x: x[0].name)

    def flow_rates(self) -> list[tuple[Flow, float]]:
        """Every running flow with its current rate (bytes/s), as of the last solve."""
        return [(f, self.rate_of(f)) for c in self._classes.values() for f in c.members]

    # ------------------------------------------------------------------ the hooks
    def _add(self, flow: Flow, now: float) -> bool:
        rekeys = False
        for r in flow.path:
            fl = r.flows
            fl.add(flow)
            if len(fl) == 2:  # r stops being private to the other flow
                rekeys = True
                for other in fl:
                    if other is not flow:
                        self._rekey(other, now)
        if not rekeys and self._join_at_bound(flow, now):
            return False  # fits in the slack: no other rate changes, no solve
        self._join_class(flow, now)
        return True

    def _remove(self, flow: Flow, now: float) -> None:
        if flow._cls is not None:
            self._leave_class(flow, now)  # its group's clock gives the bytes left
        self._leave_resources(flow, now)

    def _rebound(self, flow: Flow, bound: float, now: float) -> bool:
        flow.bound = bound
        if self._rebound_in_place(flow, now):
            return False  # nothing else changes: no solve needed
        self._rekey(flow, now)
        return True

    def _recapacity(self, resource: Resource, capacity: float, now: float) -> None:
        resource.capacity = capacity
        i = self._res_index.get(resource)
        if i is not None:
            self._caps[i] = resource.capacity
        if len(resource.flows) == 1:
            (only,) = resource.flows
            self._rekey(only, now)

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

    def _res_idx(self, r: Resource) -> int:
        i = self._res_index.get(r)
        if i is None:
            i = self._res_index[r] = len(self._res_list)
            self._res_list.append(r)
            if i >= self._caps.shape[0]:
                grow = self._caps.shape[0]
                self._caps = np.concatenate([self._caps, np.full(grow, math.inf)])
                self._load = np.concatenate([self._load, np.zeros(grow)])
            self._caps[i] = r.capacity
        return i

    def _new_class(self, key: tuple) -> _Class:
        if self._free_slots:
            slot = self._free_slots.pop()
        else:
            slot = len(self._slots)
            self._slots.append(None)
            if slot >= self._slot_n.shape[0]:
                grow = self._slot_n.shape[0]
                self._slot_n = np.concatenate([self._slot_n, np.zeros(grow)])
                self._slot_bound = np.concatenate([self._slot_bound, np.zeros(grow)])
                self._slot_res = np.concatenate(
                    [self._slot_res, np.zeros((grow, self._slot_res.shape[1]), np.int64)])
                self._slot_lim = np.concatenate([self._slot_lim, np.full(grow, -2, np.int64)])
        cls = _Class(key, slot)
        self._slots[slot] = cls
        resources = key[0]
        width = self._slot_res.shape[1]
        if len(resources) > width:
            pad = np.zeros((self._slot_res.shape[0], len(resources) - width), np.int64)
            self._slot_res = np.concatenate([self._slot_res, pad], axis=1)
        row = self._slot_res[slot]
        row[:] = 0
        for j, r in enumerate(resources):
            row[j] = self._res_idx(r)
        self._slot_bound[slot] = key[1]
        self._slot_lim[slot] = -2  # no limiter yet: assigned at the next solve
        self._classes[key] = cls
        return cls

    def _join_class(self, flow: Flow, now: float) -> None:
        key = self._key(flow)
        cls = self._classes.get(key)
        if cls is None:
            cls = self._new_class(key)
        cls.members[flow] = None
        self._empty_classes.pop(cls, None)
        self._slot_n[cls.slot] += 1
        flow._cls = cls
        if cls.group is not None:
            self._join_group(flow, cls.group, now)

    def _leave_class(self, flow: Flow, now: float) -> None:
        cls = flow._cls
        if flow._grp is not None:
            self._leave_group(flow, now)
        del cls.members[flow]
        self._slot_n[cls.slot] -= 1
        if not cls.members:
            self._empty_classes[cls] = None
        flow._cls = None

    def _leave_resources(self, flow: Flow, now: float) -> None:
        for r in flow.path:
            fl = r.flows
            fl.discard(flow)
            if len(fl) == 1:  # r becomes private to the one flow left
                for other in fl:
                    self._rekey(other, now)

    def _rekey(self, flow: Flow, now: float) -> None:
        if flow._cls is None:
            return
        self._leave_class(flow, now)
        self._join_class(flow, now)

    def _slack(self, r: Resource, rate: float) -> bool:
        """Whether ``r`` can take ``rate`` more and stay unsaturated (as of the last solve)."""
        i = self._res_index.get(r)
        load = self._load[i] if i is not None and i < self._load.shape[0] else 0.0
        return load + rate <= r.capacity * (1.0 - 1e-9)

    def _join_at_bound(self, flow: Flow, now: float) -> bool:
        """Start a flow without a solve when it cannot change any other rate.

        If every shared resource on its path has room for the flow's effective bound,
        the old allocation plus this flow at its bound is feasible and still max-min
        optimal (saturated resources are untouched). The flow joins the rate group of
        its bound directly. Falls back (returns False) in every other case.
        """
        if self._dirty:
            return False
        key = self._key(flow)
        shared, eff = key
        if eff == math.inf or not all(self._slack(r, eff) for r in shared):
            return False
        cls = self._classes.get(key)
        grp_key = ("b", eff)
        if cls is not None and (cls.group is None or cls.group.key != grp_key):
            return False
        if cls is None:
            cls = self._new_class(key)
            cls.group = self._group(grp_key, eff, now)
            self._slot_lim[cls.slot] = -1
        cls.members[flow] = None
        self._empty_classes.pop(cls, None)
        self._slot_n[cls.slot] += 1
        flow._cls = cls
        self._join_group(flow, cls.group, now)
        for r in shared:
            self._load[self._res_idx(r)] += eff
        return True

    def _quiet_departure(self, finished: list[Flow]) -> bool:
        """Whether flows finishing together can leave without a solve.

        True when each was at its bound and every resource they leave either empties,
        or keeps two or more flows and was not saturated: the capacity they free is
        slack nobody was waiting for. (A resource left with exactly one flow becomes
        private to it, which changes that flow's class: a solve is needed.)
        """
        if self._dirty:
            return False
        drop: dict[Resource, int] = {}
        for f in finished:
            if f._grp is None or f._grp.key[0] != "b":
                return False
            for r in f.path:
                drop[r] = drop.get(r, 0) + 1
        for r, d in drop.items():
            left = len(r.flows) - d
            if left == 1 or (left >= 2 and not self._slack(r, 0.0)):
                return False
        return True

    def _rebound_in_place(self, flow: Flow, now: float) -> bool:
        """Apply a new bound without a solve when it cannot change any rate.

        A flow held below its bound by a saturated resource keeps the same rate and
        the same bottleneck if its new (effective) bound is still at or above that
        rate: the old allocation stays feasible and max-min optimal. Then the flow
        only changes class (the key holds the bound); it stays in its rate group.
        """
        cls = flow._cls
        grp = cls.group if cls is not None else None
        if grp is None or grp.key[0] != "r" or self._dirty:
            return False
        key = self._key(flow)
        if key[1] < grp.rate:
            return False
        target = self._classes.get(key)
        if target is not None and target.group is not grp:
            return False
        self._leave_class(flow, now)
        if target is None:
            target = self._new_class(key)
            target.group = grp
            target.limiter = cls.limiter
            self._slot_lim[target.slot] = self._slot_lim[cls.slot]
        target.members[flow] = None
        self._empty_classes.pop(target, None)
        self._slot_n[target.slot] += 1
        flow._cls = target
        self._join_group(flow, grp, now)
        return True

    def _group(self, key: tuple, rate: float, now: float) -> _Group:
        grp = self._groups.get(key)
        if grp is None:
            grp = self._groups[key] = _Group(key, rate, now)
        return grp

    def _join_group(self, flow: Flow, grp: _Group, now: float) -> None:
        finish = grp.sync(now) + flow._remaining
        self._seq += 1
        flow._seq = self._seq
        flow._grp = grp
        flow._finish = finish
        grp.n += 1
        self._empty_groups.pop(grp, None)
        heapq.heappush(grp.heap, (finish, self._seq, flow))
        if grp.heap[0][2] is flow:  # new earliest finisher: re-arm the group
            self._push_completion(grp, now)

    def _leave_group(self, flow: Flow, now: float) -> None:
        grp = flow._grp
        flow._remaining = max(flow._finish - grp.sync(now), 0.0)
        flow._grp = None
        grp.n -= 1  # its heap entry is now dead (lazy deletion)
        if grp.n == 0:
            grp.heap.clear()
            grp.version += 1  # empty groups are dropped at the next solve
            self._empty_groups[grp] = None

    # ---------------------------------------------------------------- completions
    def _push_completion(self, grp: _Group, now: float) -> None:
        grp.version += 1
        heap = grp.heap
        while heap:
            _, seq, flow = heap[0]
            if flow._grp is grp and flow._seq == seq:
                break
            heapq.heappop(heap)
        if not heap or grp.rate <= 0.0:
            return
        if grp.rate == math.inf:
            t = now
        else:
            v = grp.sync(now)
            t = now + max(heap[0][0] - v, 0.0) / grp.rate
            if t <= now and heap[0][0] > v + grp.rate * _DONE_TOL_TIME + _DONE_TOL_REL * abs(v):
                t = _later(now)  # not done, but too close to ``now`` for the clock to tell
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, 0, grp, grp.version))
        if not self._dirty:
            self._arm(t)

    def _complete_group(self, grp: _Group, version: int, now: float) -> bool:
        if version != grp.version:
            return False
        v = grp.sync(now)
        limit = v + grp.rate * _DONE_TOL_TIME + _DONE_TOL_REL * abs(v)
        heap = grp.heap
        finished = []
        while heap:
            finish, seq, flow = heap[0]
            if flow._grp is not grp or flow._seq != seq:
                heapq.heappop(heap)  # left the group earlier (lazy deletion)
                continue
            if finish > limit:
                break
            heapq.heappop(heap)
            finished.append(flow)
        if not finished:
            # Float slack put the wake-up a hair early: look again later.
            self._push_completion(grp, now)
            return False
        quiet = self._quiet_departure(finished)
        if quiet:
            for flow in finished:  # the loads they leave behind; nobody else changes rate
                for r in flow._cls.resources:
                    self._load[self._res_index[r]] -= grp.rate
        for flow in finished:
            self._leave_class(flow, now)
        if grp.n:
            self._push_completion(grp, now)
        for flow in finished:
            self._leave_resources(flow, now)
            self._finish(flow, now)
        if quiet:
            self.events += 1
            if self.on_solve is not None:
                self.on_solve(now, self)
        return not quiet

    # --------------------------------------------------------------------- solving
    def _solve(self, now: float) -> None:
        for cls in self._empty_classes:
            if self._classes.get(cls.key) is cls:
                del self._classes[cls.key]
                self._slots[cls.slot] = None
                self._slot_n[cls.slot] = 0
                self._free_slots.append(cls.slot)
        self._empty_classes.clear()
        for grp in self._empty_groups:
            if self._groups.get(grp.key) is grp:
                del self._groups[grp.key]
        self._empty_groups.clear()
        n = len(self._classes)
        self.entries_solved += n
        if n == 0:
            return
        # new limiter per class -> (class, group key, group rate)
        if n < self._vector_from:
            classes = list(self._classes.values())
            sol = maxmin([len(c.members) for c in classes], [c.bound for c in classes],
                         [c.resources for c in classes], _CAP)
            changed = []
            levels: dict[Resource, float] = {}
            self._load[:] = 0.0
            for r, x in sol.load.items():
                self._load[self._res_idx(r)] = x
            for cls, rate, lim in zip(classes, sol.rates, sol.limiter, strict=True):
                if lim is not None:
                    levels[lim] = rate
                if cls.group is None or cls.limiter is not lim:
                    changed.append((cls, lim))
                    self._slot_lim[cls.slot] = -1 if lim is None else self._res_idx(lim)
        else:
            slots = np.flatnonzero(self._slot_n > 0.5)
            rates, lim_idx, level_of = maxmin_arrays(
                self._slot_n[slots], self._slot_bound[slots], self._slot_res[slots],
                self._caps[: len(self._res_list)])
            rows = self._slot_res[slots]
            self._load[: len(self._res_list)] = np.bincount(
                rows.ravel(), weights=np.repeat(self._slot_n[slots] * rates, rows.shape[1]),
                minlength=len(self._res_list))
            self._load[0] = 0.0
            diff = np.flatnonzero(lim_idx != self._slot_lim[slots])
            self._slot_lim[slots] = lim_idx
            res_list = self._res_list
            changed = [(self._slots[int(slots[i])],
                        res_list[int(lim_idx[i])] if lim_idx[i] >= 0 else None) for i in diff]
            levels = None
        # re-rate the bottleneck groups (bound groups never change rate)
        for key, grp in list(self._groups.items()):
            if key[0] != "r":
                continue
            r = key[1]
            new = levels.get(r) if levels is not None else _level(level_of, self._res_index, r)
            if new is not None and new != grp.rate:
                grp.sync(now)
                grp.rate = new
                self._push_completion(grp, now)
        # move the classes whose limiter changed
        for cls, lim in changed:
            cls.limiter = lim
            if lim is None:
                key, rate = ("b", cls.bound), cls.bound
            else:
                key = ("r", lim)
                rate = levels[lim] if levels is not None else _level(
                    level_of, self._res_index, lim)
            grp = self._group(key, rate, now)
            if cls.group is grp:
                continue
            cls.group = grp
            for flow in cls.members:
                if flow._grp is not None:
                    self._leave_group(flow, now)
                self._join_group(flow, grp, now)
                self.moves += 1


def _level(level_of: np.ndarray, index: dict[Resource, int], r: Resource) -> float | None:
    i = index.get(r)
    if i is None or i >= level_of.shape[0]:
        return None
    x = level_of[i]
    return None if math.isnan(x) else float(x)
