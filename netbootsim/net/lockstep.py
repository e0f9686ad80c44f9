"""Lock-step flows behind window flows at a host's NIC: the flow engine's correction.

Max-min sharing gives a lock-step flow (TFTP: one block, then wait for its ACK) its fair
share of a saturated link as if it could use it all the time. At a host NIC that serves
its flows in turn (the packet engine's :class:`~netbootsim.net.packet.FairLink`, like
Linux's fq_codel scheduling), a window flow (TCP) always has packets queued, but a
lock-step flow has at most one: each block, arriving while others wait, waits one round
of the queue — a packet of every backlogged flow — on top of its own round trip. That
wait, not the fair share, sets its rate (the packet engine showed TFTP 36 % slower than
max-min beside 16 TCP flows: validate-engines case ``mixed-16+16``).

The round ``w`` at a link of capacity ``C`` with ``n_w`` window flows (packets of
``s_w`` bytes) and lock-step flows ``j`` (blocks of ``s_j`` bytes, alone a cycle of
``T_j = s_j / b_j`` at their bound ``b_j``) is the fixed point

    w = n_w s_w / C + Σ_j (s_j / C) · w / (T_j + w)

(a lock-step flow is in the queue for the share ``w / (T_j + w)`` of its cycle), and
each lock-step flow's bound becomes ``s_j / (T_j + w)``. Without window flows the
round is 0: lock-step flows alone are never all queued at once, and max-min is what the
packet engine gives (cases ``tftp-share-*``). Only host egress links (where boot
services send from) are corrected; a switch port is a FIFO with other behaviour.
"""

from __future__ import annotations

import simpy

from .base import BaseEngine
from .flow import Flow, Resource

__all__ = ["LockstepQueueing"]

_ITER = 50  # fixed-point iterations (a contraction: converges in a few)


class LockstepQueueing:
    """Keeps lock-step flows' bounds in step with the window flows sharing their host NIC.

    Args:
        env: the simulation environment.
        engine: the flow engine whose bounds it sets.
    """

    def __init__(self, env: simpy.Environment, engine: BaseEngine) -> None:
        """Track nothing yet."""
        self.env = env
        self.engine = engine
        self.window: dict[Resource, dict[Flow, float]] = {}  # link -> flow -> packet bytes
        self.lockstep: dict[Resource, dict[Flow, tuple[float, float]]] = {}  # (bound, block)
        self.pending: set[Resource] = set()
        self.adjusted: set[Resource] = set()  # links whose lock-step bounds are lowered

    def window_flow(self, link: Resource, flow: Flow, packet: float, active: bool) -> None:
        """A window (TCP) flow starts or ends on the host egress ``link``."""
        flows = self.window.setdefault(link, {})
        if active:
            flows[flow] = packet
        else:
            flows.pop(flow, None)
        self._changed(link)

    def lockstep_flow(self, link: Resource, flow: Flow, block: float, active: bool) -> None:
        """A lock-step flow (bound ``flow.bound`` alone) starts or ends on ``link``."""
        flows = self.lockstep.setdefault(link, {})
        if active:
            flows[flow] = (flow.bound, block)
        else:
            flows.pop(flow, None)
        self._changed(link)

    def _changed(self, link: Resource) -> None:
        if link in self.pending or not self.lockstep.get(link):
            return  # no lock-step flow here: nothing to correct (a lock-step start comes here)
        self.pending.add(link)  # once per instant, after this instant's other changes
        self.env.timeout(0).callbacks.append(lambda _e, r=link: self._update(r))

    def _update(self, link: Resource) -> None:
        self.pending.discard(link)
        locks = self.lockstep.get(link, {})
        windows = self.window.get(link, {})
        if not locks or (not windows and link not in self.adjusted):
            return  # nothing to correct (O(1): TFTP-only storms start thousands of flows)
        n = len(windows) + len(locks)
        fair = link.capacity / n
        # window flows that can be backlogged here (a flow held below the fair share by
        # its own window or another link keeps no queue here), and only on a saturated link
        backlogged = [p for f, p in windows.items() if f.bound >= fair]
        demand = (sum(min(f.bound, link.capacity) for f in windows)
                  + sum(bound for bound, _ in locks.values()))
        w = 0.0
        if demand > link.capacity:
            w = self.round(link.capacity, backlogged,
                           [(block / bound, block) for bound, block in locks.values()])
        for flow, (bound, block) in locks.items():
            new = block / (block / bound + w) if w > 0 else bound
            if flow.active and abs(new - flow.bound) > 1e-9 * bound:
                self.engine.set_bound(flow, new)
        if w > 0:
            self.adjusted.add(link)
        else:
            self.adjusted.discard(link)

    @staticmethod
    def round(capacity: float, window_packets: list[float],
              lockstep: list[tuple[float, float]]) -> float:
        """The queue round ``w`` (s): window packets, and lock-step ``(T_j, s_j)``."""
        base = sum(window_packets) / capacity
        if base <= 0:
            return 0.0
        w = base
        for _ in range(_ITER):
            nxt = base + sum(s / capacity * w / (t + w) for t, s in lockstep)
            if abs(nxt - w) <= 1e-12 * max(w, 1e-12):
                return nxt
            w = nxt
        return w
