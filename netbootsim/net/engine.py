"""The flow engine: moves flows over resources at max-min fair rates, in SimPy time.

The incremental engine, the default. Its API, its bounds and schedules and its
wake-ups are :class:`~netbootsim.net.base.BaseEngine`'s (a start, an end or a bound
change at one instant costs one solve, after every other event of that instant); the
full-recompute :class:`~netbootsim.net.reference.ReferenceEngine` gives the same
completion times (tests check it). Two levels of grouping keep the work per event
independent of the number of flows:

- *classes* — flows that are interchangeable for max-min fairness are one solver entry
  with a count. Only *keyed* resources count: those whose flows could fill them
  together (``Σ min(allowance, capacity) > capacity`` over two or more flows, see
  below). Any other — a server's own access link, a spine-to-ToR port carrying a rack's
  few flows, a leaf's uplink whose flows a boot server's link holds far below its
  capacity — holds nobody back: its capacity is folded into its flows' bounds and it is
  left out of the keys and the solves. A resource that turns keyed rekeys its flows and
  forces a solve. One keyed keeps no demand; it stays keyed until a solve finds its load
  at or under half its capacity (or fewer than two flows cross it), and then leaves the
  keys at the next solve that takes place anyway (kept in the keys, it is solved for:
  always exact; so a start or an end that changes nothing else needs no solve for it).
  A class is
  either *bounded*: flows with the same shared resources and the same effective bound, or
  *free*: flows with the same shared resources held below their bounds by one of them,
  whatever their bounds. A free class enters the solver with no bound; the bounds it
  ignores are checked after the solve (a heap of its members' bounds): if the level it
  got is above a member's bound, that member leaves for a bounded class and the solve
  is repeated. The allocation found with bounds that do not bind relaxed, and that
  respects them, is the max-min allocation (it is unique), so this is exact; it keeps
  flows whose bounds differ (per-server TCP delays, client rates, FIFO ceilings) in one
  entry per path while a resource holds them back, instead of one entry per flow.
  After a solve, a bounded class held by a resource joins the free class of its
  resources (or becomes it).
- *allowances* — what a flow counts for in the demand of its resources not keyed: at
  most its bound and at least its rate. A flow at its bound counts its bound; one held
  back by a resource counts its rate group's allowance, 1.2 × the group's level when it
  was set, set anew (for the group's members that cross resources not keyed) when the
  level rises above it or falls under 1 / 1.6 of it. Counted at their bounds (TCP
  windows at line rate), a boot storm's flows "could fill" every port of the fabric and
  split the classes by every spine-to-ToR port they cross; counted at their allowance
  only the ports near their load are keyed. (SimGrid's selective update [simgrid],
  ``lmm_update_modified_set`` in its maxmin solver, re-solves every constraint
  reachable from the one an event touches through the flows crossing them: on a
  leaf-spine, every port a boot server's flows cross, since they all cross its link.)
  A flow starts counting 0 and takes its allowance when it joins a rate group. After a
  solve that gives a group a level above its allowance, the allowance rises and a port
  that could now fill enters the keys: its flows are rekeyed and the solve is repeated
  (keys only grow in that loop, so it ends). The allocation found with the ports that
  cannot fill left out is feasible for them (their load is at most their demand), hence
  it is the max-min allocation: the same relaxation argument as for free classes.
- *rate groups* — after a solve, every class is either at its bound (rate = the
  bound) or limited by a saturated resource (rate = that resource's fair level).
  Flows whose rate is set by the same thing — the same bound value, or the same
  bottleneck resource — share one *virtual clock* ``V`` (bytes delivered per member
  since the group began, as in processor sharing and fair queueing). A flow joining
  with ``b`` bytes to go finishes when ``V`` reaches ``V_join + b``; members sit in a
  heap by that value. A change of a bottleneck's fair share is O(1) for all its
  flows; a completion costs O(log n) plus one solve over classes. Flows move between
  groups only when their class's limiter changes; a new bound that stays above a held
  flow's rate moves nothing and needs no solve, nor does a new bound of a flow at its
  bound whose keyed resources have room for it (a slow-start step on a path no
  saturated port holds back): it joins the group of its new bound.

Large solves (many classes) use the vectorised solver, small ones the list one. A
vectorised solve takes only the components (classes linked by the keyed resources they
share) whose inputs changed since the last one (:meth:`FlowEngine._touched`): max-min
fairness splits over them, so the others keep their rates. Sites whose flows meet only
on links with room (a central mirror's) are solved one at a time.
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
#: :meth:`FlowEngine.resource_loads` with ``busy_only``: a resource not keyed is
#: listed when its demand (which bounds its load) is at least this share of its capacity.
BUSY = 0.5

#: A resource is keyed (can hold flows back) when its flows' demand is above this share of
#: its capacity: a margin far above the float slack of the running sum.
_KEYED = 1.0 - 1e-9
#: ... and stops being keyed when a solve finds its load at or below this share of its
#: capacity (or it has fewer than two flows): its flows' demand is then at most 1.6 × 0.5
#: = 80 % of it (allowances are at most 1.6 × the rates), so it does not turn keyed again
#: at once, and a resource whose load hovers about its capacity keeps its flows' classes.
_UNKEYED = 0.5
#: A bottleneck group's allowance (what its flows count for in their resources' demand) is
#: set to this multiple of its rate when the rate rises above it, or falls under 1 / 1.6
#: of it: a margin so that the small moves of a level at each event change no demand
#: (measured on ``bench flows``: 1.5 and 4 kept a leaf's uplinks at 45 % load keyed, 8.8
#: classes per solve at 100,000 flows against 3.4 with these).
_ALLOW = 1.2
_ALLOW_LOW = 1.6


class _Group:
    """Flows whose rate is set by the same thing: one bound value or one bottleneck."""

    __slots__ = ("key", "rate", "v", "t", "heap", "version", "n", "allow", "loose")

    def __init__(self, key: tuple, rate: float, now: float):
        self.key = key
        self.rate = rate
        #: bottleneck group: at or above its rate, what each member counts for in the demand
        #: of its resources (at most its bound); a bound group: its rate
        self.allow = rate * _ALLOW if key[0] == "r" else rate
        #: its members that cross resources not keyed (whose demand their allowance is in)
        self.loose: dict[Flow, None] = {}
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

    def done_by(self, now: float) -> float:
        """The virtual clock at ``now`` plus the done tolerance.

        A member whose finish mark is at or below it is done: 1 ns at the group's rate
        (``_DONE_TOL_TIME``) and a float slack relative to the clock (``_DONE_TOL_REL``).
        """
        v = self.sync(now)
        return v + self.rate * _DONE_TOL_TIME + _DONE_TOL_REL * abs(v)


class _Class:
    """Interchangeable flows: same shared resources, same bound or held back whatever it is.

    A bounded class (key ``(resources, bound)``) has one effective bound; a free class
    (key ``(resources, None)``) holds flows a resource keeps below their bounds.
    """

    __slots__ = ("key", "resources", "bound", "members", "group", "slot", "limiter", "lows")

    def __init__(self, key: tuple, slot: int):
        self.key = key
        self.resources, bound = key
        self.bound = math.inf if bound is None else bound
        self.members: dict[Flow, None] = {}
        self.group: _Group | None = None
        self.slot = slot
        self.limiter: Resource | None = None
        #: free class: heap of its members' bounds, (bound, entry number, flow); lazy
        self.lows: list[tuple[float, int, Flow]] | None = None if bound is not None else []


class FlowEngine(BaseEngine):
    """Max-min fair flow engine driven by a SimPy environment: the incremental one.

    Args:
        env: the SimPy environment.
        on_solve: optional observer called as ``on_solve(now, engine)`` whenever rates
            change (see :class:`~netbootsim.net.base.BaseEngine`).
        vector_from: number of classes from which the NumPy solver is used (tests set 0
            or a huge value to force one solver).

    Attributes (work measures, beside :class:`~netbootsim.net.base.BaseEngine`'s):
        resolves: solves repeated because a free class's level passed a member's bound.
        pulled: flows taken out of a free class for that (into a bounded class).
        merged: flows moved from a bounded class into a free one (a class turned free
            in place moves none).
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
        #: the bottleneck groups (key ``("r", resource)``) by resource, in ``_groups``' order
        self._rgroups: dict[Resource, _Group] = {}
        self._res_index: dict[Resource, int] = {}
        self._res_list: list[Resource | None] = [None]  # index 0: dummy, infinite capacity
        self._slots: list[_Class | None] = []
        self._free_slots: list[int] = []
        self._slot_n = np.zeros(64)
        self._slot_bound = np.zeros(64)
        self._slot_res = np.zeros((64, 1), dtype=np.int64)
        self._slot_lim = np.full(64, -2, dtype=np.int64)
        self._slot_minb = np.full(64, math.inf)  # free class: at most its least bound
        self._slot_free = np.zeros(64, dtype=bool)  # a free class
        self._caps = np.full(8, math.inf)  # capacity by resource index (index 0: dummy)
        #: the inputs of the last vector solve (None: none, or a list solve since)
        self._seen: tuple[np.ndarray, ...] | None = None
        #: the inputs of the last list solve: class -> (count, bound, least member bound)
        #: of every class it left (None: none, or a vector solve since)
        self._listed: dict[_Class, tuple[float, float, float]] | None = None
        self._recapped: dict[Resource, None] = {}  # capacities changed since (list solves)
        self._load = np.zeros(8)  # load by resource index, as of the last solve
        self._res_keyed = np.zeros(8, dtype=bool)  # keyed, by resource index
        #: resources not keyed (or not when last noted) whose demand is ≥ BUSY of capacity
        self._busy: dict[Resource, None] = {}
        self._empty_classes: dict[_Class, None] = {}
        self._empty_groups: dict[_Group, None] = {}
        self.resolves = 0
        self.pulled = 0
        self.merged = 0
        self._done: list[Flow] = []  # found done by this wake-up, to end in start order
        self._done_groups: list[_Group] = []  # the groups they were found in
        self._solving = False  # inside a solve (which may move flows between groups)
        self._flips: list[Resource] = []  # resources that may change sides, to look at
        self._unkeys: dict[Resource, None] = {}  # to leave the keys at the next solve
        self.rekeyed = 0  # solves repeated because an allowance turned a resource keyed
        self.reallowed = 0  # allowances set anew for a whole rate group (a work measure)

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
        out = [(r, g.rate, g.n) for r, g in self._rgroups.items() if g.n]
        return sorted(out, key=lambda x: x[0].name)

    def flow_rates(self) -> list[tuple[Flow, float]]:
        """Every running flow with its current rate (bytes/s), as of the last solve."""
        return [(f, self.rate_of(f)) for c in self._classes.values() for f in c.members]

    def resource_loads(self, busy_only: bool = False) -> dict[Resource, float]:
        """Current load of every resource carrying flows (bytes/s), as of the last solve.

        By class on its keyed resources, by flow on the others (a flow's own links).

        Args:
            busy_only: only the keyed resources and the others whose demand is at least
                :data:`BUSY` of their capacity (a resource left out carries less than
                that: its load is at most its demand). Costs O(classes + such
                resources' flows) instead of O(running flows x path length).
        """
        load: dict[Resource, float] = {}
        get = load.get
        for cls in self._classes.values():
            members = cls.members
            if not members:
                continue
            rate = cls.group.rate if cls.group is not None else 0.0
            x = len(members) * rate
            for r in cls.resources:
                load[r] = get(r, 0.0) + x
            if busy_only:
                continue
            for f in members:
                for r in f._loose:
                    load[r] = get(r, 0.0) + rate
        if busy_only:
            for r in self._busy:
                if not r.keyed and r.flows:
                    load[r] = self.load_of(r)
        return load

    def load_of(self, resource: Resource) -> float:
        """Current load of one resource (bytes/s), as of the last solve: O(its flows)."""
        rate_of = self.rate_of
        return math.fsum(rate_of(f) for f in resource.flows)

    def flow_counts(self, resources: list[Resource]) -> list[int]:
        """How many running flows cross each of ``resources``."""
        return [len(r.flows) for r in resources]

    # ------------------------------------------------------------------ the hooks
    def _add(self, flow: Flow, now: float) -> bool:
        flow._dem = 0.0  # nothing until it joins a rate group (a solve checks it then)
        for r in flow.path:
            r.flows[flow] = None
            if not r.keyed:
                self._adjust(r, 0.0, now)  # (one more flow: it may turn keyed)
        if not self._apply_flips(now) and self._join_at_bound(flow, now):
            # fits in the slack: no other rate changes, no solve (unless its demand
            # turned a resource keyed)
            return self._apply_flips(now)
        self._join_class(flow, now)
        self._apply_flips(now)
        return True

    def _remove(self, flow: Flow, now: float) -> None:
        if flow._grp is not None and flow._seq == 0:
            self._done.remove(flow)  # found done at this instant, cancelled before its end
        if flow._cls is not None:
            self._leave_class(flow, now)  # its group's clock gives the bytes left
        self._leave_resources(flow, now)
        self._apply_flips(now)

    def _rebound(self, flow: Flow, bound: float, now: float) -> bool:
        flow.bound = bound
        if flow._grp is not None:
            self._set_dem(flow, _allowance(flow, flow._grp), now)
        if not self._apply_flips(now):
            cls = flow._cls
            if cls is not None and cls.lows is not None:
                # in a free class: its new bound is noted, it stays; a solve is needed only
                # if the bound is under its rate (the solve then takes it out)
                _, flow._eff = self._key(flow)
                self._low_push(cls, flow)
                grp = cls.group
                return grp is None or grp.key[0] != "r" or flow._eff < grp.rate
            if self._rebound_held(flow):
                return False  # nothing else changes: no solve needed
            if self._rebound_at_bound(flow, now):
                if self._apply_flips(now):
                    return True  # at its new bound it may fill a port: solve
                if self.on_solve is not None:
                    self.on_solve(now, self)  # its rate changed, nobody else's
                return False
        self._rekey(flow, now)
        self._apply_flips(now)
        return True

    def _recapacity(self, resource: Resource, capacity: float, now: float) -> None:
        resource.capacity = capacity
        self._recapped[resource] = None
        i = self._res_index.get(resource)
        if i is not None:
            self._caps[i] = resource.capacity
        if resource.keyed:
            return  # solved for (the solve that follows may find it can leave the keys)
        resource.demand = 0.0
        for f in resource.flows:
            resource.demand += min(f._dem, capacity)
        self._adjust(resource, 0.0, now)
        if not self._apply_flips(now):
            for f in list(resource.flows):  # its capacity is folded into their bounds
                self._rekey(f, now)
            self._apply_flips(now)

    def _adjust(self, r: Resource, delta: float, now: float) -> bool:
        """Add ``delta`` to the demand of ``r`` (not keyed); note it if it may turn keyed.

        A resource whose flows could not fill it together (``Σ min(allowance, capacity) ≤
        capacity``, or a single flow) can hold nobody back: it is left out of the
        classes' keys (its capacity folded into its flows' bounds, which it cannot
        lower unless it is private) and out of the solves. One that may turn keyed is put
        in ``_flips``; :meth:`_apply_flips` decides and rekeys its flows (not here: the
        caller may be moving flows, and a batch of them may take it across and back).
        A keyed resource's demand is not kept: it leaves the keys when a solve finds its
        load low (or fewer than two flows cross it), see :meth:`_solve`. Returns whether
        it was put there.
        """
        n = len(r.flows)
        demand = r.demand = r.demand + delta if n else 0.0
        if demand >= r.capacity * BUSY:
            self._busy[r] = None
        elif r in self._busy:
            del self._busy[r]
        if n < 2 or demand <= r.capacity * _KEYED:
            return False
        self._flips.append(r)
        return True

    def _apply_flips(self, now: float) -> bool:
        """Key the resources noted by :meth:`_adjust` that are still across; rekey flows.

        Only turning keyed is done at once (a resource that could fill must be solved
        for); one that could leave the keys does so at the next solve that takes place
        anyway (:meth:`_solve`): kept in the keys it is solved for, which is always
        exact, and a start or an end that changes nothing else needs no solve for it.
        Rekeying may note more (a flow joining a rate group takes its allowance); since
        only keying is done here, it ends. Returns whether any resource turned keyed.
        """
        flips = self._flips
        changed = False
        while flips:
            r = flips.pop()
            if r.keyed or len(r.flows) < 2 or r.demand <= r.capacity * _KEYED:
                continue
            self._set_keyed(r, True)
            changed = True
            for f in list(r.flows):
                self._rekey(f, now)
        return changed

    def _set_keyed(self, r: Resource, keyed: bool) -> None:
        r.keyed = keyed
        r.demand = 0.0  # kept only while not keyed
        i = self._res_idx(r)  # (first: it may grow the array)
        self._res_keyed[i] = keyed

    def _set_dem(self, flow: Flow, dem: float, now: float) -> None:
        """Make ``flow`` count for ``dem`` in its resources' demand."""
        old = flow._dem
        if dem == old:
            return
        flow._dem = dem
        for r in flow._loose:  # (the keyed ones keep no demand)
            if r.keyed:
                continue  # (turned keyed, the flow is about to be rekeyed)
            cap = r.capacity
            delta = (dem if dem < cap else cap) - (old if old < cap else cap)
            if delta:
                self._adjust(r, delta, now)

    # ------------------------------------------------------------ class bookkeeping
    def _key(self, flow: Flow) -> tuple:
        """``(keyed resources, effective bound)`` of ``flow``; notes its other resources."""
        eff = flow.bound
        shared = []
        loose = []
        for r in flow.path:
            if r.keyed:
                shared.append(r)
            else:
                loose.append(r)
                if r.capacity < eff:
                    eff = r.capacity
        flow._loose = loose  # (a resource changing sides rekeys its flows: kept current)
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
                self._res_keyed = np.concatenate([self._res_keyed, np.zeros(grow, bool)])
            self._caps[i] = r.capacity
            self._res_keyed[i] = r.keyed
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
                self._slot_minb = np.concatenate([self._slot_minb, np.full(grow, math.inf)])
                self._slot_free = np.concatenate([self._slot_free, np.zeros(grow, bool)])
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
        self._slot_bound[slot] = cls.bound
        self._slot_lim[slot] = -2  # no limiter yet: assigned at the next solve
        self._slot_minb[slot] = math.inf
        self._slot_free[slot] = cls.lows is not None
        self._classes[key] = cls
        return cls

    def _join_class(self, flow: Flow, now: float) -> None:
        key = self._key(flow)
        shared, eff = key
        flow._eff = eff
        cls = None
        if shared:  # held back by its resources with room under its bound: the free class
            free = self._classes.get((shared, None))
            if (free is not None and free.group is not None and free.group.key[0] == "r"
                    and eff >= free.group.rate):
                cls = free
        if cls is None:
            cls = self._classes.get(key)
            if cls is None:
                cls = self._new_class(key)
        cls.members[flow] = None
        self._empty_classes.pop(cls, None)
        self._slot_n[cls.slot] += 1
        flow._cls = cls
        if cls.lows is not None:
            self._low_push(cls, flow)
        if cls.group is not None:
            self._join_group(flow, cls.group, now)

    def _move_class(self, flow: Flow, target: _Class) -> None:
        """Move ``flow`` to ``target``, a class of its rate group: its clock is untouched."""
        cls = flow._cls
        del cls.members[flow]
        self._slot_n[cls.slot] -= 1
        if not cls.members:
            self._empty_classes[cls] = None
        target.members[flow] = None
        self._empty_classes.pop(target, None)
        self._slot_n[target.slot] += 1
        flow._cls = target
        if target.lows is not None:
            self._low_push(target, flow)

    def _low_push(self, cls: _Class, flow: Flow) -> None:
        """Record ``flow``'s effective bound in the free class ``cls``'s heap."""
        if flow._eff == math.inf:
            flow._low = 0  # no bound to pass (an entry it had is dead now)
            return
        self._seq += 1
        flow._low = self._seq
        lows = cls.lows
        heapq.heappush(lows, (flow._eff, self._seq, flow))
        if flow._eff < self._slot_minb[cls.slot]:
            self._slot_minb[cls.slot] = flow._eff
        if len(lows) > 2 * len(cls.members) + 32:  # drop the dead entries
            cls.lows = [e for e in lows if e[2]._cls is cls and e[2]._low == e[1]]
            heapq.heapify(cls.lows)

    def _low_min(self, cls: _Class) -> float:
        """The least effective bound of the free class ``cls``'s members (``inf``: none)."""
        lows = cls.lows
        while lows:
            _, seq, flow = lows[0]
            if flow._cls is cls and flow._low == seq:
                return lows[0][0]
            heapq.heappop(lows)
        return math.inf

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
        """Take ``flow`` off its resources (one keyed left with one flow: out at the next solve)."""
        for r in flow.path:
            if r.flows.pop(flow, 0) is None:
                if not r.keyed:
                    self._adjust(r, -min(flow._dem, r.capacity), now)
                elif len(r.flows) < 2:
                    self._unkeys[r] = None

    def _rekey(self, flow: Flow, now: float) -> None:
        if flow._cls is None:
            return
        grp = flow._grp
        if grp is not None and not self._solving:
            if flow._seq == 0:
                return  # already found done at this instant: it ends at the wake-up
            if flow._finish <= grp.done_by(now):
                # done at this instant, but its group's wake-up (queued for now, ahead of
                # the solve) has not ended it yet: it stays where it is and ends at that
                # wake-up with the flows found done there, in start order, as the
                # reference ends them; rekeyed into a new group it would end after them
                flow._seq = 0  # (its entry in the group's heap is dead)
                self._done.append(flow)
                if grp not in self._done_groups:
                    self._done_groups.append(grp)
                self._arm(now)
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
        flow._eff = eff
        cls = self._classes.get(key)
        grp_key = ("b", eff)
        if cls is not None and (cls.group is None or cls.group.key != grp_key):
            return False
        self._enter_bound_class(flow, cls, key, grp_key, eff, now)
        for r in shared:
            self._load[self._res_idx(r)] += eff
        return True

    def _quiet_departure(self, finished: list[Flow]) -> bool:
        """Whether flows finishing together can leave without a solve.

        True when each was at its bound and no keyed resource they leave was saturated:
        the capacity they free is slack nobody was waiting for. (A departure cannot make
        a resource keyed; one it leaves able to go out of the keys does so at the next
        solve, see :meth:`_apply_flips`.)
        """
        if self._dirty:
            return False
        for f in finished:
            if f._grp is None or f._grp.key[0] != "b":
                return False
        for f in finished:
            for r in f.path:
                if r.keyed and not self._slack(r, 0.0):
                    return False
        return True

    def _rebound_held(self, flow: Flow) -> bool:
        """Apply a new bound without a solve when it cannot change any rate.

        A flow held below its bound by a saturated resource keeps the same rate and
        the same bottleneck if its new (effective) bound is still at or above that
        rate: the old allocation stays feasible and max-min optimal. The flow stays in
        its rate group and moves from its bounded class to the free class of its
        resources. (A flow of a free class never changes class for a new bound.)
        """
        cls = flow._cls
        grp = cls.group if cls is not None else None
        if grp is None or grp.key[0] != "r" or self._dirty:
            return False
        shared, eff = self._key(flow)
        if eff < grp.rate:
            return False
        free = self._classes.get((shared, None))
        if free is None:
            free = self._new_class((shared, None))
            free.group = grp
            free.limiter = cls.limiter
            self._slot_lim[free.slot] = self._slot_lim[cls.slot]
        elif free.group is not grp:
            return False
        flow._eff = eff
        self._move_class(flow, free)
        return True

    def _rebound_at_bound(self, flow: Flow, now: float) -> bool:
        """Apply a new bound without a solve to a flow at its bound whose ports have room.

        A flow at its (effective) bound that moves to its new one changes no other rate
        if every keyed resource on its path has room for the increase (or, for a
        decrease, was not saturated: nobody was waiting for what it frees). It joins the
        rate group of its new bound directly, as a start does in :meth:`_join_at_bound`
        (a TCP flow's slow-start steps on a path no saturated port holds back). The
        caller checks the ports not keyed it may now fill. Falls back (returns False)
        in every other case.
        """
        grp = flow._grp
        if grp is None or grp.key[0] != "b" or self._dirty:
            return False
        shared, eff = self._key(flow)
        old = grp.rate
        if eff == math.inf:
            return False
        delta = eff - old
        room = delta if delta > 0.0 else 0.0
        for r in shared:
            if not self._slack(r, room):
                return False
        key = (shared, eff)
        cls = self._classes.get(key)
        grp_key = ("b", eff)
        if cls is not None and (cls.group is None or cls.group.key != grp_key):
            return False
        flow._eff = eff
        if cls is flow._cls:
            return True  # the same effective bound (a port's capacity caps it)
        self._leave_class(flow, now)  # its bytes so far, at the old bound
        self._enter_bound_class(flow, cls, key, grp_key, eff, now)
        for r in shared:
            self._load[self._res_idx(r)] += delta
        return True

    def _enter_bound_class(self, flow: Flow, cls: _Class | None, key: tuple,
                           grp_key: tuple, eff: float, now: float) -> None:
        """Put ``flow`` in the class of its bound ``cls`` (made, with its group, if None)."""
        if cls is None:
            cls = self._new_class(key)
            cls.group = self._group(grp_key, eff, now)
            self._slot_lim[cls.slot] = -1
        cls.members[flow] = None
        self._empty_classes.pop(cls, None)
        self._slot_n[cls.slot] += 1
        flow._cls = cls
        self._join_group(flow, cls.group, now)

    def _group(self, key: tuple, rate: float, now: float) -> _Group:
        grp = self._groups.get(key)
        if grp is None:
            grp = self._groups[key] = _Group(key, rate, now)
            if key[0] == "r":
                self._rgroups[key[1]] = grp
        return grp

    def _join_group(self, flow: Flow, grp: _Group, now: float) -> None:
        finish = grp.sync(now) + flow._remaining
        self._seq += 1
        flow._seq = self._seq
        flow._grp = grp
        flow._finish = finish
        grp.n += 1
        if flow._loose:
            grp.loose[flow] = None
            a = grp.allow
            self._set_dem(flow, flow.bound if flow.bound < a else a, now)
        self._empty_groups.pop(grp, None)
        heapq.heappush(grp.heap, (finish, self._seq, flow))
        if grp.heap[0][2] is flow:  # new earliest finisher: re-arm the group
            self._push_completion(grp, now)

    def _leave_group(self, flow: Flow, now: float) -> None:
        grp = flow._grp
        flow._remaining = max(flow._finish - grp.sync(now), 0.0)
        flow._grp = None
        grp.n -= 1  # its heap entry is now dead (lazy deletion)
        if grp.loose:
            grp.loose.pop(flow, None)
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
            if t <= now and heap[0][0] > grp.done_by(now):
                t = _later(now)  # not done, but too close to ``now`` for the clock to tell
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, 0, grp, grp.version))
        if not self._dirty:
            self._arm(t)

    def _complete_group(self, grp: _Group, version: int, now: float) -> bool:
        """Take the flows of ``grp`` that are done; they leave in :meth:`_finish_due`."""
        if version != grp.version:
            return False
        limit = grp.done_by(now)
        heap = grp.heap
        found = False
        while heap:
            finish, seq, flow = heap[0]
            if flow._grp is not grp or flow._seq != seq:
                heapq.heappop(heap)  # left the group earlier (lazy deletion)
                continue
            if finish > limit:
                break
            heapq.heappop(heap)
            flow._seq = 0  # found done: a rekey before it ends leaves it here (_rekey)
            self._done.append(flow)
            found = True
        if found:
            self._done_groups.append(grp)
        else:
            # Float slack put the wake-up a hair early: look again later.
            self._push_completion(grp, now)
        return False

    def _finish_due(self, now: float) -> bool:
        """End the flows this wake-up found done, together, in the order they started.

        Every group due now gives up its done flows first, and only then do they leave
        (a departure may rekey other flows, which must not take a flow that is done out
        of its group first). They end in start order, as the reference engine ends the
        flows it finds done: which of two servers whose transfers end at the same
        instant the simulation hears of first — who takes the next TFTP slot — is not an
        artefact of moves between classes and groups. Returns whether a solve is needed.
        """
        done = self._done
        if not done:
            return False
        self._done = []
        groups, self._done_groups = self._done_groups, []
        quiet = self._quiet_departure(done)
        if quiet:
            for flow in done:  # the loads they leave behind; nobody else changes rate
                rate = flow._grp.rate
                for r in flow._cls.resources:
                    self._load[self._res_index[r]] -= rate
        for flow in done:
            self._leave_class(flow, now)
        for grp in groups:
            if grp.n:
                self._push_completion(grp, now)
        for flow in done:
            self._leave_resources(flow, now)
        rekeys = self._apply_flips(now)
        if len(done) > 1:
            done.sort(key=_started_order)
        for flow in done:
            self._finish(flow, now)
        if quiet and not rekeys:  # (rekeys: float slack of the demand's running sum)
            self.events += 1
            if self.on_solve is not None:
                self.on_solve(now, self)
            return False
        return True

    # --------------------------------------------------------------------- solving
    def _drop_empties(self) -> None:
        for cls in self._empty_classes:
            if self._classes.get(cls.key) is cls:
                del self._classes[cls.key]
                self._slots[cls.slot] = None
                self._slot_n[cls.slot] = 0
                self._slot_minb[cls.slot] = math.inf
                self._free_slots.append(cls.slot)
        self._empty_classes.clear()

    def _solve(self, now: float) -> None:
        self._solving = True
        try:
            self._solve_all(now)
        finally:
            self._solving = False

    def _solve_all(self, now: float) -> None:
        if self._unkeys:  # resources that can no longer fill: out of the keys now
            unkeys, self._unkeys = self._unkeys, {}
            load = self._load
            for r in unkeys:
                if r.keyed and (len(r.flows) < 2 or load[self._res_idx(r)]
                                <= r.capacity * _UNKEYED):  # (flows may have come since)
                    self._set_keyed(r, False)
                    flows = list(r.flows)
                    for f in flows:
                        self._rekey(f, now)
                    demand = 0.0
                    cap = r.capacity
                    for f in flows:  # (rekeyed, each has taken its allowance)
                        demand += f._dem if f._dem < cap else cap
                    r.demand = demand
                    if demand >= cap * BUSY:
                        self._busy[r] = None
                    elif r in self._busy:
                        del self._busy[r]
                    if len(flows) >= 2 and demand > cap * _KEYED:
                        self._flips.append(r)
            self._apply_flips(now)
        while True:
            self._solve_once(now)
            if not self._apply_flips(now):
                break
            # an allowance made a resource able to fill: its flows changed classes (keys
            # only grow in this loop: it ends)
            self.rekeyed += 1

    def _solve_once(self, now: float) -> None:
        if self._empty_classes:
            self._drop_empties()
        if self._empty_groups:
            for grp in self._empty_groups:
                if self._groups.get(grp.key) is grp:
                    del self._groups[grp.key]
                    if grp.key[0] == "r":
                        del self._rgroups[grp.key[1]]
            self._empty_groups.clear()
        while True:
            n = len(self._classes)
            if n == 0:
                return
            if n < self._vector_from:
                self._seen = None  # (the vector solves' record of what they solved)
                classes, comp = self._listed_touched()
                self.entries_solved += len(classes)
                if not classes and not comp:
                    return  # nothing changed since the last solve
                sol = maxmin([len(c.members) for c in classes], [c.bound for c in classes],
                             [c.resources for c in classes], _CAP, saturated=False)
                minb = self._slot_minb  # (a free class with no finite bound has no lows)
                over = [(c, rate) for c, rate in zip(classes, sol.rates, strict=True)
                        if c.lows and rate > minb[c.slot]]
            else:
                slots, comp = self._touched(np.flatnonzero(self._slot_n > 0.5))
                self.entries_solved += slots.size
                if not slots.size:  # nothing changed since the last solve
                    return
                rates, lim_idx, level_of = maxmin_arrays(
                    self._slot_n[slots], self._slot_bound[slots], self._slot_res[slots],
                    self._caps[: len(self._res_list)])
                over = [(self._slots[int(slots[i])], float(rates[i]))
                        for i in np.flatnonzero(rates > self._slot_minb[slots])]
            if not over or not self._pull(over, now):
                break
            self.resolves += 1  # a free class went above a member's bound: solve again
            self._drop_empties()
        # new limiter per class -> (class, group key, group rate)
        if n < self._vector_from:
            changed = []
            levels: dict[Resource, float] = {}
            for r in comp:  # (a resource whose classes all left carries nothing now)
                i = self._res_idx(r)  # (first: it may grow the array)
                self._load[i] = 0.0
            for r, x in sol.load.items():
                self._load[self._res_idx(r)] = x
                if x <= r.capacity * _UNKEYED:
                    self._unkeys[r] = None  # its flows could not fill it: out next solve
            held = []
            for cls, rate, lim in zip(classes, sol.rates, sol.limiter, strict=True):
                if lim is not None:
                    levels[lim] = rate
                    if cls.lows is None and cls.resources:
                        held.append(cls)
                if cls.group is None or cls.limiter is not lim:
                    changed.append((cls, lim))
                    self._slot_lim[cls.slot] = -1 if lim is None else self._res_idx(lim)
        else:
            rows = self._slot_res[slots]
            n_res = len(self._res_list)
            load = np.bincount(
                rows.ravel(), weights=np.repeat(self._slot_n[slots] * rates, rows.shape[1]),
                minlength=n_res)
            self._load[:n_res][comp] = load[comp]  # (the other components' stand)
            self._load[0] = 0.0
            low = np.flatnonzero(comp & self._res_keyed[:n_res] & (
                self._load[:n_res] <= self._caps[:n_res] * _UNKEYED))
            for i in low:  # their flows could not fill them: out at the next solve
                self._unkeys[self._res_list[int(i)]] = None
            diff = np.flatnonzero(lim_idx != self._slot_lim[slots])
            self._slot_lim[slots] = lim_idx
            res_list = self._res_list
            changed = [(self._slots[int(slots[i])],
                        res_list[int(lim_idx[i])] if lim_idx[i] >= 0 else None) for i in diff]
            levels = None
            held = [self._slots[int(slots[i])]
                    for i in np.flatnonzero((lim_idx >= 0) & ~self._slot_free[slots])]
        # re-rate the bottleneck groups (bound groups never change rate)
        for r, grp in list(self._rgroups.items()):
            new = levels.get(r) if levels is not None else _level(level_of, self._res_index, r)
            if new is not None and new != grp.rate:
                grp.sync(now)
                grp.rate = new
                self._push_completion(grp, now)
                if new > grp.allow or new * _ALLOW_LOW < grp.allow:
                    self._reallow(grp, new * _ALLOW, now)
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
        # bounded classes held back by a resource: into the free class of their resources
        for cls in held:
            if cls.lows is None and cls.resources and cls.members:
                self._free(cls)
        if levels is None:
            self._seen_now()
            self._listed = None
        else:
            self._listed_now(classes)

    def _touched(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The live slots a vector solve must take, and its resources (a mask).

        Max-min fairness splits over the connected components of classes and the keyed
        resources they share: a component whose inputs (its classes' counts, bounds,
        least member bounds and resources, its resources' capacities) are as at the
        last vector solve keeps its rates. The rest is what changed since, grown to
        whole components. (Flows of independent bottlenecks that also cross resources
        with room, such as a central mirror's link, share no keyed resource: an event
        at one site does not re-solve the others.)
        """
        n_res = len(self._res_list)
        seen = self._seen
        size = self._slot_n.shape[0]
        if seen is None or seen[0].shape[0] != size or seen[2].shape != self._slot_res.shape \
                or seen[4].shape[0] != self._caps.shape[0]:
            return slots, np.ones(n_res, dtype=bool)
        n0, b0, r0, m0, c0 = seen
        dirty = (self._slot_n != n0) | (self._slot_bound != b0) | (self._slot_minb != m0) \
            | (self._slot_res != r0).any(axis=1)
        comp = np.zeros(n_res, dtype=bool)
        comp[self._slot_res[dirty].ravel()] = True
        comp[r0[dirty].ravel()] = True  # what the changed slots held before
        comp[:n_res] |= self._caps[:n_res] != c0[:n_res]
        comp[0] = False  # (the dummy resource joins nobody)
        rows = self._slot_res[slots]
        take = dirty[slots]  # (a changed class with no keyed resource is its own component)
        while True:
            grown = comp[rows].any(axis=1) & ~take
            if not grown.any():
                break
            take |= grown
            comp[rows[grown].ravel()] = True
            comp[0] = False
        return slots[take], comp

    def _listed_touched(self) -> tuple[list[_Class], dict[Resource, None]]:
        """The classes a list solve must take, and the resources whose loads it sets.

        As :meth:`_touched` for the vector solver, in plain Python for a few classes:
        the classes whose count, bound or least member bound differ from the last list
        solve's, the resources of classes gone since and of capacities changed since,
        grown to whole components (classes linked by the keyed resources they share).
        The classes are taken in the order of ``_classes``, as a solve of all takes
        them. (A 10,000-server storm of five mirrors, each its own bottleneck, solved
        5.8 classes a solve taking all, 1.45 taking these.)
        """
        classes = list(self._classes.values())
        listed = self._listed
        recapped, self._recapped = self._recapped, {}
        if listed is None:
            comp = {r: None for c in classes for r in c.resources}
            comp.update(recapped)
            return classes, comp
        minb = self._slot_minb.item
        comp: dict[Resource, None] = recapped
        take = [False] * len(classes)
        known = 0
        get = listed.get
        for k, cls in enumerate(classes):
            was = get(cls)
            if was is not None:
                known += 1
                if was[0] == len(cls.members) and was[1] == cls.bound \
                        and was[2] == minb(cls.slot):
                    continue
            take[k] = True
            for r in cls.resources:
                comp[r] = None
        if known != len(listed):
            for cls in listed:
                if self._classes.get(cls.key) is not cls:  # gone: its resources have room
                    for r in cls.resources:
                        comp[r] = None
        grown = bool(comp)
        while grown:
            grown = False
            for k, cls in enumerate(classes):
                if not take[k]:
                    for r in cls.resources:
                        if r in comp:
                            take[k] = grown = True
                            for r2 in cls.resources:
                                comp[r2] = None
                            break
        return [cls for k, cls in enumerate(classes) if take[k]], comp

    def _listed_now(self, solved: list[_Class]) -> None:
        """Record the inputs of the list solve just made (:meth:`_listed_touched`)."""
        listed = self._listed
        if listed is None or len(solved) == len(self._classes):
            listed = self._listed = {}
        else:
            for cls in [c for c in listed if self._classes.get(c.key) is not c]:
                del listed[cls]
        minb = self._slot_minb.item
        for cls in solved:
            if self._classes.get(cls.key) is cls:
                listed[cls] = (len(cls.members), cls.bound, minb(cls.slot))

    def _seen_now(self) -> None:
        """Record the inputs of the vector solve just made (:meth:`_touched`)."""
        self._seen = (self._slot_n.copy(), self._slot_bound.copy(), self._slot_res.copy(),
                      self._slot_minb.copy(), self._caps.copy())

    def _reallow(self, grp: _Group, allow: float, now: float) -> None:
        """Give a bottleneck group a new allowance: its members' demands follow."""
        grp.allow = allow
        self.reallowed += 1
        for flow in list(grp.loose):
            self._set_dem(flow, flow.bound if flow.bound < allow else allow, now)

    def _pull(self, over: list[tuple[_Class, float]], now: float) -> bool:
        """Take out of each free class the members whose bound its new level passed.

        ``over``: free classes whose level may be above a member's bound, with that
        level. Returns whether any member was taken out (the solve is to be repeated).
        """
        pulled = False
        for cls, rate in over:
            low = self._low_min(cls)
            lows = cls.lows
            while low < rate:
                _, _, flow = heapq.heappop(lows)
                if flow._grp is not None:
                    self._leave_group(flow, now)  # its bytes so far, at the old rate
                self._leave_class(flow, now)
                key = (cls.resources, flow._eff)
                target = self._classes.get(key)
                if target is None:
                    target = self._new_class(key)
                target.members[flow] = None
                self._empty_classes.pop(target, None)
                self._slot_n[target.slot] += 1
                flow._cls = target
                if target.group is not None:
                    self._join_group(flow, target.group, now)
                self.pulled += 1
                pulled = True
                low = self._low_min(cls)
            self._slot_minb[cls.slot] = low
        return pulled

    def _free(self, cls: _Class) -> None:
        """A bounded class held back by a resource joins the free class of its resources."""
        key = (cls.resources, None)
        free = self._classes.get(key)
        if free is None:  # it becomes the free class: nobody moves
            del self._classes[cls.key]
            cls.key = key
            cls.bound = math.inf
            cls.lows = []
            self._slot_bound[cls.slot] = math.inf
            self._slot_free[cls.slot] = True
            self._classes[key] = cls
            for flow in cls.members:
                self._low_push(cls, flow)
            return
        if free.group is not cls.group:
            return  # not held at the same level (float ties): stays bounded
        for flow in list(cls.members):
            self._move_class(flow, free)
            self.merged += 1


def _allowance(flow: Flow, grp: _Group) -> float:
    """What ``flow`` counts for in its resources' demand as a member of ``grp``."""
    a = grp.allow
    return flow.bound if flow.bound < a else a


def _started_order(flow: Flow) -> int:
    return flow._order


def _level(level_of: np.ndarray, index: dict[Resource, int], r: Resource) -> float | None:
    i = index.get(r)
    if i is None or i >= level_of.shape[0]:
        return None
    x = level_of[i]
    return None if math.isnan(x) else float(x)
