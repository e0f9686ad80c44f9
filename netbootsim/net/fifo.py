"""Flows of different round trips at a FIFO port: the flow engine's sharing correction.

Max-min gives every flow crossing a saturated resource the same share. That is what a
host NIC serving its flows in turn does (fq_codel; the packet engine's
:class:`~netbootsim.net.packet.FairLink`), but not a switch port: a FIFO queue serves
bytes in arrival order, and a flow that keeps ``w`` bytes in flight over a base round
trip ``τ`` moves ``w / (τ + Q)`` through it, ``Q`` being the queue's delay. Flows with
short round trips get more (the validate-engines case ``rtt-mix-8-switch``: RTTs of
0.2 to 17.7 ms behind a 1 Gb/s switch port; max-min finished the fleet 11.5 % early).

The rule, at a port of capacity ``C`` and buffer ``B`` whose flows' own bounds add up
to more than ``C``:

* every flow is a window ``w_i`` over a base cycle ``τ_i``: a TCP flow's window is its
  own bound in force (window/RTT, slow start included: the engine reports each step)
  times its RTT; a lock-step flow (TFTP) has its blocks of one window in flight over
  its cycle alone, ``w_i / bound_i``;
* no loss: the queue delay ``Q*`` solves ``Σ w_i / (τ_i + Q*) = C`` (the sum falls as
  ``Q`` grows: Newton from 0 converges from below). If the queue it implies,
  ``Q* C``, fits in ``B``, each flow's ceiling is ``w_i / (τ_i + Q*)``;
* drop-tail: otherwise the queue sits at its buffer, ``Q = B / C``, the ceilings
  ``w_i / (τ_i + Q)`` add up to more than ``C``, and max-min trims the largest to a
  common rate: losses hit the flows with the most packets in the queue (short round
  trips), while a long-RTT flow, with few, keeps its whole window. Checked against
  the packet engine's NewReno senders at a 512 KiB drop-tail port (``rtt-mix-8-switch``):
  makespan -0.6 %, p50 -7.8 % (plain max-min: -11.5 % and -3.4 %; a common window for
  all, Mathis-like shares in ``1 / (τ + Q)``: +6.5 % and -10 %). The p50 stays outside
  3 %: which flows the losses hit is chance (see below).

Without loss the ceilings add up to ``C``, and max-min gives each flow its ceiling. Flows alike
(one ``(w, τ)``) get ``C / n`` either way, so such ports are left alone, as are ports
the flows' own bounds do not fill. Left out: flows held below their ceiling by another
resource still count their full ``w / (τ + Q)`` here;
which flow a loss hits, and its recovery (an RTO), is not modelled: the packet
engine's per-flow completions at a lossy port are not monotone in RTT.

Which ports are FIFO is the caller's business (:class:`~netbootsim.fleet.world.World`:
switch and router egress, and hosts' egress with ``run.host_queue: fifo``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import simpy

from .base import BaseEngine
from .flow import Flow, Resource

__all__ = ["FifoSharing", "fifo_shares"]

_NEWTON = 60  # Newton steps on a convex decreasing function: a handful suffice


def fifo_shares(capacity: float, buffer: float,
                groups: Sequence[tuple[float, float, int]]) -> tuple[float, list[float]]:
    """The FIFO rule for one port: its queue delay and each group's ceiling.

    Args:
        capacity: the port's rate (bytes/s).
        buffer: its buffer (bytes, may be ``inf``).
        groups: ``(w, τ, n)`` per group of alike flows: window (bytes), base cycle (s)
            and how many flows.

    Returns:
        ``(Q, ceilings)``: the queue delay (s) and the ceiling of one flow of each group
        (bytes/s). ``Q = 0`` and each ``w / τ`` if the flows do not fill the port; the
        ceilings add up to ``capacity`` without loss, to more with (max-min trims them).
    """
    def load(q: float) -> float:
        return sum(n * w / (t + q) for w, t, n in groups)

    q = 0.0
    if load(q) > capacity:
        for _ in range(_NEWTON):
            step = (load(q) - capacity) / sum(n * w / (t + q) ** 2 for w, t, n in groups)
            q += step
            if step <= 1e-12 * max(q, 1e-12):
                break
        q = min(q, buffer / capacity)
    return q, [w / (t + q) for w, t, _ in groups]


class _Port:
    """The flows of one FIFO port, grouped by ``(w, τ)``, with their demand."""

    __slots__ = ("buffer", "groups", "of", "demand", "capped")

    def __init__(self, buffer: float) -> None:
        self.buffer = buffer
        self.groups: dict[tuple[float, float], dict[Flow, None]] = {}
        self.of: dict[Flow, tuple[tuple[float, float], float]] = {}  # key, demand
        self.demand = 0.0  # Σ min(own bound, capacity)
        self.capped: set[Flow] = set()


class FifoSharing:
    """Keeps ceilings on the flows of FIFO ports in step with the rule above.

    Work per flow start, end or slow-start step is O(1) at a port whose flows are alike
    or do not fill it; otherwise one solve over the port's groups (not its flows) and a
    ceiling per flow whose share changed.

    Args:
        env: the simulation environment.
        engine: the flow engine whose ceilings it sets; its ``on_schedule`` hook is
            taken, so that a TCP flow's window follows its slow start.
    """

    def __init__(self, env: simpy.Environment, engine: BaseEngine) -> None:
        """Track nothing yet."""
        self.env = env
        self.engine = engine
        engine.on_schedule = self._stepped
        self.ports: dict[Resource, _Port] = {}
        #: flow -> (its FIFO ports, RTT or None for a lock-step flow, window bytes)
        self.flows: dict[Flow, tuple[tuple[Resource, ...], float | None, float]] = {}
        self.capped: dict[Flow, dict[Resource, float]] = {}  # flow -> port -> ceiling
        self.pending: set[Resource] = set()
        self.updates = 0  # port solves that set ceilings (a work measure)

    def flow(self, ports: Sequence[tuple[Resource, float]], flow: Flow, rtt: float | None,
             packet: float, active: bool) -> None:
        """A flow starts or ends on FIFO ``ports`` (each with its buffer in bytes).

        ``rtt`` None: a lock-step flow moving ``packet`` bytes per cycle (its cycle is
        ``packet`` over its bound). Else a window flow over ``rtt``: its window is its
        bound in force by its own law (slow start included) times ``rtt``.
        """
        for res, buffer in ports:
            if res not in self.ports:
                self.ports[res] = _Port(buffer)
        if active:
            self.flows[flow] = (tuple(r for r, _ in ports), rtt, packet)
            self._join(flow)
        elif self.flows.pop(flow, None) is not None:
            for res, _ in ports:
                self._leave(res, flow)
            self.capped.pop(flow, None)

    def _join(self, flow: Flow) -> None:
        ports, rtt, packet = self.flows[flow]
        own = flow._own
        window = packet if rtt is None else own * rtt
        key = (window, window / own)
        for res in ports:
            port = self.ports[res]
            demand = min(own, res.capacity)
            port.of[flow] = (key, demand)
            port.groups.setdefault(key, {})[flow] = None
            port.demand += demand
            self._touch(res)

    def _leave(self, res: Resource, flow: Flow) -> None:
        port = self.ports[res]
        entry = port.of.pop(flow, None)
        if entry is None:
            return
        key, demand = entry
        members = port.groups[key]
        del members[flow]
        if not members:
            del port.groups[key]
        port.demand = port.demand - demand if port.of else 0.0
        port.capped.discard(flow)
        self._touch(res)

    def _stepped(self, flow: Flow) -> None:
        """The engine moved ``flow`` to the next step of its schedule (slow start)."""
        if flow in self.flows:
            for res in self.flows[flow][0]:
                self._leave(res, flow)
            self._join(flow)

    def _touch(self, res: Resource) -> None:
        port = self.ports[res]
        if not port.capped and (len(port.groups) < 2
                                or port.demand <= res.capacity * (1 + 1e-9)):
            return  # max-min is the rule and nobody has a ceiling here: nothing to do
        if res not in self.pending:
            self.pending.add(res)  # once per instant, after its other changes
            self.env.timeout(0).callbacks.append(lambda _e, r=res: self._update(r))

    def _update(self, res: Resource) -> None:
        self.pending.discard(res)
        port = self.ports[res]
        cap = res.capacity
        if len(port.groups) < 2 or port.demand <= cap * (1 + 1e-9):
            for f in list(port.capped):  # alike flows, or room for all: max-min is the rule
                self._set(f, res, math.inf)
            port.capped.clear()
            return
        self.updates += 1
        keys = list(port.groups)
        _, rates = fifo_shares(cap, port.buffer,
                               [(w, t, len(port.groups[(w, t)])) for w, t in keys])
        for key, rate in zip(keys, rates, strict=True):
            for f in port.groups[key]:
                self._set(f, res, rate)
                port.capped.add(f)

    def _set(self, flow: Flow, port: Resource, ceiling: float) -> None:
        if math.isinf(ceiling):
            mine = self.capped.get(flow)
            if mine is None or mine.pop(port, None) is None:
                return
        else:
            mine = self.capped.setdefault(flow, {})
            mine[port] = ceiling
        new = min(mine.values(), default=math.inf)
        if flow.active and not math.isclose(new, flow.ceiling, rel_tol=1e-9):
            self.engine.set_ceiling(flow, new)
