"""Resources and flows: the nouns the flow engine works on.

A :class:`Resource` is anything with a capacity in bytes per second that flows
share: one direction of a link, a host's NIC, a service's CPU or disk budget.
A :class:`Flow` is one transfer of ``size`` bytes over a path of resources with
its own rate bound (a TCP window over the RTT, a TFTP lock-step rate, ...).
Neither knows about SimPy; the engine in :mod:`netbootsim.net.engine` moves them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["Resource", "Flow"]


class Resource:
    """A shared capacity (bytes/s): a link direction, a NIC, a CPU or disk budget.

    Args:
        name: unique, human-readable name (used in reports and for ordering).
        capacity: bytes per second, > 0.
    """

    __slots__ = ("name", "capacity", "flows", "demand", "keyed", "__weakref__")

    def __init__(self, name: str, capacity: float):
        if not capacity > 0:
            raise ValueError(f"resource {name!r}: capacity must be > 0, got {capacity!r}")
        self.name = name
        self.capacity = float(capacity)
        #: Active flows crossing this resource, in the order they started (maintained by
        #: the incremental engine, as are the two below).
        self.flows: dict[Flow, None] = {}
        #: Σ min(allowance, capacity) of those flows: what they could take at most (a flow's
        #: allowance is at or above its rate and at most its bound, see the engine).
        self.demand = 0.0
        #: Whether it can hold flows back (two or more flows that could fill it); one
        #: that cannot is left out of the engine's classes and solves.
        self.keyed = False

    def __repr__(self) -> str:
        return f"Resource({self.name!r}, {self.capacity:g})"


class Flow:
    """One transfer on a path of resources.

    Args:
        size: bytes to move (as counted on the resources, i.e. on the wire).
        path: the resources the flow crosses, each at most once.
        bound: the flow's own rate bound in bytes/s (``inf`` for none).
        schedule: optional bound changes ``((t, bound), ...)`` at times ``t`` seconds
            after the flow starts, in increasing ``t`` (e.g. TCP slow-start rounds).
        name: label for records and debugging.

    After the engine finishes it, ``start`` and ``end`` hold the simulated times.
    ``done`` is the event :meth:`~netbootsim.net.base.BaseEngine.start` returned while
    the flow runs (or after it was cancelled: an event that never fires), ``None`` once
    it finished.
    """

    __slots__ = (
        "size",
        "path",
        "bound",
        "schedule",
        "name",
        "start",
        "end",
        "done",
        "rate",
        "active",
        "ceiling",
        # engine-private state
        "_own",
        "_cls",
        "_grp",
        "_finish",
        "_remaining",
        "_sched_pos",
        "_seq",
        "_eff",
        "_low",
        "_order",
        "_loose",
        "_dem",
    )

    def __init__(
        self,
        size: float,
        path: Sequence[Resource],
        bound: float = math.inf,
        schedule: Sequence[tuple[float, float]] = (),
        name: str = "",
    ):
        if size < 0 or not math.isfinite(size):
            raise ValueError(f"flow {name!r}: size must be finite and ≥ 0, got {size!r}")
        if not bound > 0:
            raise ValueError(f"flow {name!r}: bound must be > 0, got {bound!r}")
        if len(set(map(id, path))) != len(path):
            raise ValueError(f"flow {name!r}: a resource appears twice in the path")
        self.size = float(size)
        self.path = tuple(path)
        self.bound = float(bound)  # in force: min(own bound, ceiling)
        self._own = self.bound  # the flow's own bound (its law, its schedule, set_bound)
        #: A cap set from outside the flow's law (a FIFO port's sharing rule), ``inf`` if none.
        self.ceiling = math.inf
        self.schedule = tuple(schedule)
        self.name = name
        self.start = math.nan
        self.end = math.nan
        self.done = None
        self.rate = 0.0
        self.active = False
        self._cls = None
        self._grp = None
        self._finish = 0.0
        self._remaining = self.size
        self._sched_pos = 0
        self._seq = 0
        self._eff = math.inf  # its effective bound when it joined its class
        self._low = 0  # its entry in a free class's heap of bounds
        self._order = 0  # the engine's count of starts when it started
        self._loose: list[Resource] = []  # its resources that cannot hold it back
        self._dem = 0.0  # what it counts for in its resources' demand (≥ its rate once solved)

    def __repr__(self) -> str:
        return f"Flow({self.name!r}, size={self.size:g}, bound={self.bound:g})"
