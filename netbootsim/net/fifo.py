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
    """The flows of one FIFO port, grouped by ``(w, τ)``, with their demand.

    ``full`` is the port's load with its buffer full, ``Σ w / (τ + B / C)``, kept as flows
    come and go: the drop-tail test (``full ≥ C``) costs nothing per update, and under
    drop-tail each flow's ceiling ``w / (τ + B / C)`` is its own, so an update sets the
    ceilings of the flows that joined or stepped since the last one (``fresh``) and no
    other.
    """

    __slots__ = ("buffer", "groups", "of", "demand", "full", "cap", "qb", "mode", "capped",
                 "fresh")

    def __init__(self, buffer: float) -> None:
        self.buffer = buffer
        #: (w, τ) -> its flows: the flow itself while it is the only one (with servers
        #: that differ, most are: a dict each was a tenth of a storm's FIFO memory),
        #: else a dict of them in the order they joined (:func:`_members`)
        self.groups: dict[tuple[float, float], Flow | dict[Flow, None]] = {}
        #: flow -> its key (w, τ), its demand min(own, C) and its load w / (τ + qb)
        self.of: dict[Flow, tuple[tuple[float, float], float, float]] = {}
        self.demand = 0.0  # Σ min(own bound, capacity)
        self.full = 0.0  # Σ w / (τ + qb): the load if the queue sat at its buffer
        self.cap = math.nan  # the capacity ``qb`` and ``full`` were computed for
        self.qb = math.inf  # the queue delay of a full buffer, B / C
        self.mode = _OFF  # the rule in force since the last update
        self.capped: dict[Flow, None] = {}  # flows with a ceiling at this port
        self.fresh: dict[Flow, None] = {}  # joined or stepped since the last update

    def load_at(self, flow_key: tuple[float, float]) -> float:
        w, t = flow_key
        return w / (t + self.qb) if self.qb != math.inf else 0.0

    def rebase(self, capacity: float) -> None:
        """Recompute the full-buffer loads for ``capacity`` (a new port, a new capacity)."""
        self.cap = capacity
        self.qb = self.buffer / capacity
        full = 0.0
        for f, (key, demand, _) in self.of.items():
            x = self.load_at(key)
            self.of[f] = (key, demand, x)
            full += x
        self.full = full
        if self.mode != _OFF:
            self.mode = _STALE  # every ceiling here is to be set anew


#: the rule at a port: max-min; drop-tail; no loss; (ceilings set for an old capacity)
_OFF, _DROP, _NO_LOSS, _STALE = 0, 1, 2, -1


def _members(group: Flow | dict[Flow, None]) -> tuple[Flow] | dict[Flow, None]:
    """A group's flows, in the order they joined (:attr:`_Port.groups`)."""
    return group if isinstance(group, dict) else (group,)


class FifoSharing:
    """Keeps ceilings on the flows of FIFO ports in step with the rule above.

    Work per flow start, end or slow-start step is O(1) at a port whose flows do not fill
    it or that drops (the buffer full: each flow's ceiling is its own, the flows that
    changed get theirs); a port without loss whose flows are not alike costs one solve
    over its groups (not its flows) and a ceiling per flow, since its queue delay moves
    every share. A port switching between these rules sets or lifts every ceiling once.

    Alike flows at a port that drops get their ceilings too: with every flow held at the
    port they are above the fair share ``C / n`` (the drop-tail test is ``n w / (τ + B/C)
    ≥ C``) and change nothing, and a flow held elsewhere leaves the others no more than
    their windows allow. (Until issue 14 such a port was left alone, so one newcomer in
    slow start — a second group — put the ceiling on every flow and its last step lifted
    it again: O(flows) per newcomer.)

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
        #: ports crossed by one flow and kept without a :class:`_Port`: port -> that flow.
        #: A flow alone cannot fill its port (its demand is min(own bound, capacity)), so
        #: max-min is the rule there and no ceiling is set; the port is made when a second
        #: flow comes, and dropped when its last flow leaves (a storm's every server link).
        self.lone: dict[Resource, Flow] = {}
        #: flow -> (its FIFO ports with their buffers, RTT or None for a lock-step flow,
        #: window bytes, its own bound when it last joined)
        self.flows: dict[Flow, tuple[Sequence[tuple[Resource, float]], float | None, float,
                                     float]] = {}
        #: flow -> its ceilings: ``(port, ceiling)`` while it has one (most flows), else
        #: a dict port -> ceiling
        self.capped: dict[Flow, tuple[Resource, float] | dict[Resource, float]] = {}
        self.pending: dict[Resource, None] = {}
        self.updates = 0  # port updates that set ceilings (a work measure)
        self.ceilings_set = 0  # ceilings handed to the engine (a work measure)

    def flow(self, ports: Sequence[tuple[Resource, float]], flow: Flow, rtt: float | None,
             packet: float, active: bool) -> None:
        """A flow starts or ends on FIFO ``ports`` (each with its buffer in bytes).

        ``rtt`` None: a lock-step flow moving ``packet`` bytes per cycle (its cycle is
        ``packet`` over its bound). Else a window flow over ``rtt``: its window is its
        bound in force by its own law (slow start included) times ``rtt``.
        """
        if active:
            self.flows[flow] = (ports, rtt, packet, flow._own)
            self._join(flow)
        elif self.flows.pop(flow, None) is not None:
            for res, _ in ports:
                if self.lone.get(res) is flow:
                    del self.lone[res]
                    continue
                self._leave(res, flow)
                port = self.ports[res]
                port.capped.pop(flow, None)
                port.fresh.pop(flow, None)
                if not port.of and port.mode == _OFF and res not in self.pending:
                    del self.ports[res]  # nothing kept: made anew if a flow comes
            self.capped.pop(flow, None)

    def _join(self, flow: Flow) -> None:
        ports, _, _, _ = self.flows[flow]
        for res, buffer in ports:
            port = self.ports.get(res)
            if port is None:
                other = self.lone.get(res)
                if other is None or other is flow:
                    self.lone[res] = flow  # alone there: nothing to keep
                    continue
                del self.lone[res]  # a second flow: the port is kept from now on
                port = self.ports[res] = _Port(buffer)
                self._join_port(other, res, port)
            self._join_port(flow, res, port)

    def _key(self, flow: Flow) -> tuple[float, float]:
        """``(w, τ)``: the flow's window and base cycle by its own bound when it joined."""
        _, rtt, packet, own = self.flows[flow]
        window = packet if rtt is None else own * rtt
        return window, window / own

    def _join_port(self, flow: Flow, res: Resource, port: _Port, own: float | None = None,
                   key: tuple[float, float] | None = None) -> None:
        if own is None:
            own = self.flows[flow][3]
            key = self._key(flow)
        if port.cap != res.capacity:
            port.rebase(res.capacity)
        demand = min(own, res.capacity)
        load = port.load_at(key)
        port.of[flow] = (key, demand, load)
        group = port.groups.get(key)
        if group is None:
            port.groups[key] = flow
        elif isinstance(group, dict):
            group[flow] = None
        else:
            port.groups[key] = {group: None, flow: None}
        port.demand += demand
        port.full += load
        if port.mode == _DROP and port.cap == res.capacity and \
                res not in self.pending and self._mode(res, port) == _DROP:
            # still dropping: its own ceiling now, before the engine applies its
            # bound (a slow-start step), and nobody else's changes
            self._set(flow, res, key[0] / (key[1] + port.qb))
            port.capped[flow] = None
        else:
            port.fresh[flow] = None
            self._touch(res)

    def _leave(self, res: Resource, flow: Flow, touch: bool = True) -> None:
        port = self.ports[res]
        entry = port.of.pop(flow, None)
        if entry is None:
            return
        self._ungroup(port, flow, entry)
        if touch:
            self._touch(res)

    @staticmethod
    def _ungroup(port: _Port, flow: Flow,
                 entry: tuple[tuple[float, float], float, float]) -> None:
        """Take ``flow`` (its entry already popped from ``port.of``) out of its group."""
        key, demand, load = entry
        group = port.groups[key]
        if not isinstance(group, dict):
            del port.groups[key]  # (its only flow)
        else:
            del group[flow]
            if len(group) == 1:
                (port.groups[key],) = group  # alone again: the flow itself
        if port.of:
            port.demand -= demand
            port.full -= load
        else:  # empty: exact zeros, no float residue carried into the next busy spell
            port.demand = port.full = 0.0

    def _stepped(self, flow: Flow) -> None:
        """The engine moved ``flow`` to the next step of its schedule (slow start).

        At each of its kept ports the flow leaves (its ceiling stays until the new one)
        and joins again with its new window, port by port: what leaving every port and
        then joining them does (a port's rule reads that port only), without the
        lookups of each (a storm's servers take 4 steps a flow, each flow 3 ports).
        """
        entry = self.flows.get(flow)
        if entry is None:
            return
        ports, rtt, packet, _ = entry
        own = flow._own
        self.flows[flow] = (ports, rtt, packet, own)
        window = packet if rtt is None else own * rtt
        key = (window, window / own)
        kept = self.ports
        for res, _ in ports:
            port = kept.get(res)
            if port is None:
                continue  # alone there (or gone): nothing kept, as :meth:`_join` finds
            old = port.of.pop(flow, None)
            if old is not None:
                self._ungroup(port, flow, old)
            self._join_port(flow, res, port, own, key)

    def _mode(self, res: Resource, port: _Port) -> int:
        """The rule at ``port`` now: max-min (off), drop-tail or no loss."""
        cap = res.capacity
        if port.demand <= cap * (1 + 1e-9):
            return _OFF  # room for all: max-min is the rule
        full = port.full
        if abs(full - cap) <= 1e-6 * cap:  # too close to tell from a running sum
            groups = [(w, t, len(_members(m))) for (w, t), m in port.groups.items()]
            q, _ = fifo_shares(cap, port.buffer, groups)
            drop = q >= port.qb
        else:
            drop = full > cap
        if drop:
            return _DROP
        return _OFF if len(port.groups) < 2 else _NO_LOSS  # alike flows: max-min is the rule

    def _touch(self, res: Resource) -> None:
        if res in self.pending:
            return
        port = self.ports[res]
        if port.cap == res.capacity and port.mode != _NO_LOSS:
            mode = self._mode(res, port)
            if mode == port.mode and (mode == _OFF or not port.fresh):
                port.fresh.clear()
                return  # the rule and every ceiling in force stay as they are
        self.pending[res] = None  # once per instant, after its other changes
        self.env.timeout(0).callbacks.append(lambda _e, r=res: self._update(r))

    def _update(self, res: Resource) -> None:
        del self.pending[res]
        port = self.ports[res]
        if port.cap != res.capacity:
            port.rebase(res.capacity)
        mode = self._mode(res, port)
        if mode == _OFF:
            for f in port.capped:
                self._set(f, res, math.inf)
            port.capped.clear()
            port.fresh.clear()
            port.mode = _OFF
            return
        self.updates += 1
        if mode == _DROP:
            qb = port.qb
            for f in (port.fresh if port.mode == _DROP else port.of):
                w, t = port.of[f][0]
                self._set(f, res, w / (t + qb))
                port.capped[f] = None
        else:
            keys = list(port.groups)
            members = [_members(port.groups[key]) for key in keys]
            _, rates = fifo_shares(res.capacity, port.buffer,
                                   [(w, t, len(m)) for (w, t), m in zip(keys, members,
                                                                          strict=True)])
            for group, rate in zip(members, rates, strict=True):
                for f in group:
                    self._set(f, res, rate)
                    port.capped[f] = None
        port.fresh.clear()
        port.mode = mode

    def _set(self, flow: Flow, port: Resource, ceiling: float) -> None:
        mine = self.capped.get(flow)
        if math.isinf(ceiling):  # lifted
            if mine is None:
                return
            if type(mine) is tuple:
                if mine[0] is not port:
                    return
                del self.capped[flow]
                new = math.inf
            else:
                if mine.pop(port, None) is None:
                    return
                new = min(mine.values(), default=math.inf)
        elif mine is None or (type(mine) is tuple and mine[0] is port):
            self.capped[flow] = (port, ceiling)
            new = ceiling
        else:
            if type(mine) is tuple:
                mine = self.capped[flow] = {mine[0]: mine[1]}
            mine[port] = ceiling
            new = min(mine.values())
        if flow.active and not math.isclose(new, flow.ceiling, rel_tol=1e-9):
            self.ceilings_set += 1
            self.engine.set_ceiling(flow, new)
