"""What the two flow engines share: the public API, bounds and schedules, the wake-ups.

``engine.start(flow)`` returns a SimPy event that fires when the flow's last byte
arrives. An engine wakes only when a flow starts, ends or its bound (or a resource's
capacity) changes — never per packet or per block. All changes made at one simulated
instant are solved once, after every other event of that instant (a low-priority
wake-up), so a power-on of 2,000 servers at t = 0 costs one solve.

:class:`BaseEngine` owns that part: checking and recording a flow's start and end, the
bound in force (a flow's own bound, its schedule, a ceiling set from outside), the
timer heap of schedule steps and completions, and the solve requested once per
instant. How rates are kept is the subclass's: the incremental
:class:`~netbootsim.net.engine.FlowEngine` and the full-recompute
:class:`~netbootsim.net.reference.ReferenceEngine`, which give the same completion
times (tests check it). :func:`netbootsim.net.make_engine` picks one.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import simpy
from simpy.events import NORMAL, Event

from .flow import Flow, Resource

__all__ = ["BaseEngine", "LATE"]

#: Priority of the solve: after every ordinary event of the same instant (an observer
#: that samples the end of an instant schedules at it too).
LATE = NORMAL + 1
_LATE = LATE
_DONE_TOL_TIME = 1e-9  # a flow within 1 ns of its last byte is done (float slack, not a model)
_DONE_TOL_REL = 1e-12  # relative float slack on byte counts (sizes, virtual clocks)


class _Capacity:
    """Mapping view ``resource -> capacity`` for the list solver, without a dict."""

    __slots__ = ()

    def __getitem__(self, r: Resource) -> float:
        return r.capacity


_CAP = _Capacity()


class _Wake:
    """An engine's own wake-up in SimPy's queue (a solve, a timer).

    It has what SimPy 4's ``Environment.step`` reads of an event (its callbacks, its
    ``_ok``) and no more. A :class:`simpy.Event` with a closure for each timer cost
    ~600 B and an ``Event.__init__``. ``at``: the instant a timer's wake-up is for
    (``nan`` for a solve's).
    """

    __slots__ = ("callbacks", "_ok", "at")

    def __init__(self, callbacks: tuple, at: float) -> None:
        self.callbacks = callbacks
        self._ok = True
        self.at = at


class BaseEngine:
    """Max-min fair flow engine driven by a SimPy environment: what both modes share.

    A subclass keeps the rates by implementing ``_add``, ``_remove``, ``_rebound``,
    ``_recapacity`` and ``_solve`` (and ``_wake``, ``_complete_group`` where it needs
    them), and reports them through :meth:`rate_of`, :meth:`bottlenecks` and
    :meth:`flow_rates`.

    Args:
        env: the SimPy environment.
        on_solve: optional observer called as ``on_solve(now, engine)`` whenever rates
            change: after every solve, and after a start or an end that needed none
            (utilisation and bottleneck collectors hook in here and read
            :meth:`resource_loads`).

    Attributes:
        events: engine wake-ups that did work (solves and completion/bound timers).
        solves: number of solver calls.
        entries_solved: total entries passed to the solver (a work measure).
        moves: flows moved between rate groups (a work measure; 0 in the reference).
        on_schedule: called as ``on_schedule(flow)`` when a flow takes the next step of
            its schedule (its own bound changed), before the step is applied.
    """

    def __init__(self, env: simpy.Environment, *, on_solve: Callable | None = None):
        self.env = env
        self._solve_cbs = (self._on_solve,)  # (what a wake-up calls: made once)
        self._timer_cbs = (self._on_wake,)
        self.on_solve = on_solve
        self.on_schedule: Callable[[Flow], None] | None = None
        self.events = 0
        self.solves = 0
        self.entries_solved = 0
        self.moves = 0
        self._seq = 0
        self._n_active = 0  # flows started and neither finished nor cancelled
        self._started = 0  # flows started so far: each flow's ``_order``
        self._heap: list[tuple[float, int, int, object, int]] = []  # (t, seq, kind, obj, ver)
        self._dirty = False
        self._timer_at = math.inf  # the instant the engine is to wake at next
        #: the instants with a timer's wake-up in SimPy's queue (one each): an earlier
        #: timer armed later does not take them out, and a wake-up whose instant is
        #: armed again does the work then instead of a second one being queued (a storm
        #: with variance armed 11 a server, 4.4 of them superseded before they fired)
        self._waking: set[float] = set()

    # ------------------------------------------------------------------ public API
    def start(self, flow: Flow) -> Event:
        """Start ``flow`` now; return the event that fires (value: the flow) when it ends."""
        env = self.env
        now = env.now
        if flow.active:
            raise ValueError(f"flow {flow.name!r} is already running")
        flow.done = done = Event(env)
        flow.start = now
        flow.active = True
        flow._remaining = flow.size
        flow._sched_pos = 0
        self._started += 1
        flow._order = self._started
        self._n_active += 1
        if flow.size <= 0.0:
            self._finish(flow, now)
            return done
        solve = self._add(flow, now)
        if flow.schedule:
            self._push_schedule(flow)
        if solve:
            self._request_solve()
        elif self.on_solve is not None:
            self.on_solve(now, self)  # fitted in the slack: no other rate changed
        return done

    def set_bound(self, flow: Flow, bound: float) -> None:
        """Change a running flow's own rate bound (bytes/s, > 0) from now on.

        The bound in force is the smaller of this and the flow's ceiling.
        """
        if not bound > 0:
            raise ValueError(f"flow {flow.name!r}: bound must be > 0, got {bound!r}")
        flow._own = float(bound)
        self._enforce(flow, min(flow._own, flow.ceiling))

    def set_ceiling(self, flow: Flow, ceiling: float) -> None:
        """Cap a flow's rate at ``ceiling`` (bytes/s, > 0; ``inf`` lifts the cap) from now on.

        The cap sits above the flow's own bound and its schedule: the bound in force is
        always the smaller of the two (:class:`~netbootsim.net.fifo.FifoSharing` sets it).
        """
        if not ceiling > 0:
            raise ValueError(f"flow {flow.name!r}: ceiling must be > 0, got {ceiling!r}")
        flow.ceiling = float(ceiling)
        bound = min(flow._own, flow.ceiling)
        if bound != flow.bound:
            self._enforce(flow, bound)

    def _enforce(self, flow: Flow, bound: float) -> None:
        if not flow.active:
            flow.bound = float(bound)
            return
        if self._rebound(flow, float(bound), self.env.now):
            self._request_solve()

    def set_capacity(self, resource: Resource, capacity: float) -> None:
        """Change a resource's capacity (bytes/s, > 0) from now on (a fault, a repair)."""
        if not capacity > 0:
            raise ValueError(f"resource {resource.name!r}: capacity must be > 0")
        self._recapacity(resource, float(capacity), self.env.now)
        self._request_solve()

    def cancel(self, flow: Flow) -> float:
        """Stop a running flow now and return the bytes it moved.

        For a transfer whose client went away (a power cycle, a stage timeout, a link
        that stayed down past the client's give-up). Its ``done`` event never fires;
        the rates of the flows it leaves are re-solved.
        """
        if not flow.active:
            return flow.size - flow._remaining
        now = self.env.now
        self._remove(flow, now)
        moved = flow.size - max(flow._remaining, 0.0)
        self._n_active -= 1
        flow.end = now
        flow.active = False
        flow.rate = 0.0
        self._request_solve()
        return moved

    @property
    def solve_pending(self) -> bool:
        """Whether a solve is scheduled for this instant (rates may still change)."""
        return self._dirty

    @property
    def active_flows(self) -> int:
        """Number of flows currently moving bytes (a counter: O(1), observers call it)."""
        return self._n_active

    def rate_of(self, flow: Flow) -> float:
        """Current rate of a running flow (bytes/s), as of the last solve."""
        raise NotImplementedError

    def bottlenecks(self) -> list[tuple[Resource, float, int]]:
        """Saturated resources that hold flows back, as of the last solve.

        Returns ``(resource, fair share per flow, flows limited there)`` for each, by
        name.
        """
        raise NotImplementedError

    def flow_rates(self) -> list[tuple[Flow, float]]:
        """Every running flow with its current rate (bytes/s), as of the last solve."""
        raise NotImplementedError

    def resource_loads(self, busy_only: bool = False) -> dict[Resource, float]:
        """Current load of every resource carrying flows (bytes/s), as of the last solve.

        ``busy_only`` lets an engine leave out resources it knows to be under half full
        (:meth:`netbootsim.net.engine.FlowEngine.resource_loads`); this one lists all.
        """
        load: dict[Resource, float] = {}
        for f, rate in self.flow_rates():
            for r in f.path:
                load[r] = load.get(r, 0.0) + rate
        return load

    def load_of(self, resource: Resource) -> float:
        """Current load of one resource (bytes/s), as of the last solve."""
        return math.fsum(rate for f, rate in self.flow_rates() if resource in f.path)

    def flow_counts(self, resources: list[Resource]) -> list[int]:
        """How many running flows cross each of ``resources``."""
        counts = dict.fromkeys(resources, 0)
        for f, _ in self.flow_rates():
            for r in f.path:
                if r in counts:
                    counts[r] += 1
        return [counts[r] for r in resources]

    # ------------------------------------------------------- what a subclass keeps
    def _add(self, flow: Flow, now: float) -> bool:
        """Take in a started flow; return whether the rates need a solve."""
        raise NotImplementedError

    def _remove(self, flow: Flow, now: float) -> None:
        """Let go of a cancelled flow, leaving its bytes left in ``flow._remaining``."""
        raise NotImplementedError

    def _rebound(self, flow: Flow, bound: float, now: float) -> bool:
        """Put a running flow's new bound in force; return whether it needs a solve."""
        raise NotImplementedError

    def _recapacity(self, resource: Resource, capacity: float, now: float) -> None:
        """Give a resource its new capacity (a solve follows)."""
        raise NotImplementedError

    def _solve(self, now: float) -> None:
        """Re-solve the rates and re-arm the completions they imply."""
        raise NotImplementedError

    def _wake(self, now: float) -> bool:
        """A timer's work before the heap's (finishing flows due now); whether it did any."""
        return False

    def _complete_group(self, grp, version: int, now: float) -> bool:
        """Handle a completion entry (kind 0) of the heap; whether it needs a solve."""
        raise NotImplementedError

    def _finish_due(self, now: float) -> bool:
        """End the flows a wake-up found done; whether a solve is needed (a hook)."""
        return False

    # --------------------------------------------------------------- event plumbing
    def _call(self, delay: float, callbacks: tuple, priority: int,
              at: float = math.nan) -> None:
        self.env.schedule(_Wake(callbacks, at), priority, delay)  # type: ignore[arg-type]

    def _request_solve(self) -> None:
        if not self._dirty:
            self._dirty = True
            self._call(0.0, self._solve_cbs, _LATE)

    def _arm(self, t: float) -> None:
        """Make sure the engine wakes at ``t`` (an earlier wake-up re-arms itself)."""
        if t >= self._timer_at or t == math.inf:
            return
        self._timer_at = t
        if t not in self._waking:  # else the wake-up queued for ``t`` will do
            self._waking.add(t)
            self._call(max(t - self.env.now, 0.0), self._timer_cbs, NORMAL, t)

    def _push_schedule(self, flow: Flow) -> None:
        t = flow.start + flow.schedule[flow._sched_pos][0]
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, 1, flow, flow._sched_pos))
        self._arm(t)

    def _finish(self, flow: Flow, now: float) -> None:
        self._n_active -= 1
        flow.end = now
        flow.active = False
        flow.rate = 0.0
        flow._remaining = 0.0
        # the event holds the flow as its value: dropping the flow's hold on the event
        # leaves no reference cycle, so a finished flow is freed at once (a cycle that
        # outlived a young sweep was kept to the end: 34,000 flows at 20,000 servers)
        done, flow.done = flow.done, None
        done.succeed(flow)

    # ------------------------------------------------------------------- wake-ups
    def _on_wake(self, wake: _Wake) -> None:
        self._waking.discard(wake.at)
        self._on_timer(wake.at)

    def _on_timer(self, at: float) -> None:
        if at != self._timer_at:
            return  # superseded by an earlier wake-up (which armed the next one)
        self._timer_at = math.inf
        now = self.env.now
        worked = self._wake(now)
        heap = self._heap
        # completions within the 1 ns tolerance are due too: the flows found done at one
        # wake-up end together, in start order, as the reference finds them
        soon = now + _DONE_TOL_TIME
        while heap and (heap[0][0] <= now or (heap[0][2] == 0 and heap[0][0] <= soon)):
            _, _, kind, obj, version = heapq.heappop(heap)
            if kind == 0:
                worked |= self._complete_group(obj, version, now)
            else:
                worked |= self._apply_schedule(obj, version, now)
        worked |= self._finish_due(now)
        if worked:
            self.events += 1
            self._request_solve()
        elif not self._dirty:
            self._arm(self._next_time())

    def _apply_schedule(self, flow: Flow, pos: int, now: float) -> bool:
        if not flow.active or pos != flow._sched_pos:
            return False
        _, own = flow.schedule[pos]
        flow._own = own
        flow._sched_pos = pos + 1
        if flow._sched_pos < len(flow.schedule):
            self._push_schedule(flow)
        if self.on_schedule is not None:
            self.on_schedule(flow)  # may set the flow's ceiling (FIFO ports)
        bound = min(own, flow.ceiling)
        if bound == flow.bound:
            return False  # held at its ceiling: the step changes nothing in force
        return self._rebound(flow, bound, now)

    def _on_solve(self, _ev: Event) -> None:
        self._dirty = False
        self.events += 1
        self.solves += 1
        now = self.env.now
        self._solve(now)
        if self.on_solve is not None:
            self.on_solve(now, self)
        self._arm(self._next_time())

    def _next_time(self) -> float:
        """When the next live entry of the heap is due (``inf`` if none)."""
        heap = self._heap
        while heap:
            _, _, kind, obj, version = heap[0]
            stale = (version != obj.version) if kind == 0 else (
                not obj.active or version != obj._sched_pos)
            if not stale:
                break
            heapq.heappop(heap)
        return heap[0][0] if heap else math.inf


def _later(now: float) -> float:
    """The first instant the clock can tell from ``now``: a wake-up there makes progress.

    A flow whose last bytes take less than half the clock's resolution at ``now``
    (``now + remaining / rate == now``) yet more than the 1 ns completion tolerance
    (possible once the resolution is coarser than 2 ns: from 2**24 s ≈ 194 days on)
    would otherwise be woken at ``now`` for ever. One step later it is done: its bytes
    over the step exceed what was left.
    """
    return math.nextafter(now, math.inf)
