"""Power-on policies, admission control and the orchestrator's power commands.

A group's :class:`~.spec.PowerPolicy` says when each of its servers is *asked* to power
on — the staggering operators do by hand, or a BMC/IPMI command rate:

=============  ===========================================================================
policy         request instant of the group's server ``i`` (its position in the group)
=============  ===========================================================================
all-at-once    ``at``
stagger        ``at + i × interval``
batches        ``at + ⌊i / batch⌋ × every`` (``batch`` servers every ``every`` seconds)
random         ``at + U_i``, ``U_i`` uniform in ``[0, window)``, draw ``i`` of the stream
               ``power_on/<group>`` (:mod:`netbootsim.streams`): adding a group changes
               no other group's instants
per-rack       ``at + k × interval`` for the servers of the group's ``k``-th rack (racks in
               the order the group meets them: PDU outlets switched rack after rack)
admission      ``at`` for all, then at most ``max_booting`` servers *booting* at once, per
               group or fleet-wide (``scope``), admitted first come first served (in the
               fleet's order). A server boots from its admission until it is **ready or
               has failed** (a failed server frees its place, as an operator moves on; a
               server still booting at the run's horizon keeps it).
standby        never by itself: a lifecycle event powers it on (a ``replace``'s standby, a
               ``demand``'s pool; :mod:`.events`)
=============  ===========================================================================

With no policy the group keeps its own schedule (``power_on_at``, ``per_second``,
``rack_interval``: :func:`netbootsim.fleet.power_on_times`).

When the group has an orchestrator (:mod:`netbootsim.services.orchestrator`), the
request goes out as a BMC power command through the orchestrator's power workers: the
server's power comes on only when the command does (its queue, then its latency), and
each stage start — the first stage's before the first power command, each later
stage's and each orchestrator retry's before the power cycle that starts it — first
takes a step worker. The records show it: ``admission`` (waiting for a place among the
booting), ``step`` (the orchestrator starting the stage), ``power`` (the power command,
from its request to the power coming on) and, as before, ``power-on``.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import numpy as np
import simpy

from ..dist import Dist
from ..services.orchestrator import CappedPool, Orchestrator
from ..streams import Streams
from .machine import Machine
from .results import FleetRun
from .spec import Group, OrchestratorSpec, PowerPolicy

__all__ = ["planned_instants", "PowerControl"]


def planned_instants(policy: PowerPolicy, group: str, racks: Sequence[str],
                     streams: Streams) -> list[float]:
    """The request instant of each server of a group under ``policy`` (s).

    Args:
        policy: the group's policy (``kind`` not ``None``).
        group: the group's name (names its random stream).
        racks: each server's rack, in the group's order.
        streams: the run's random streams.
    """
    n = len(racks)
    kind, at = policy.kind, policy.at
    if kind in ("all-at-once", "admission"):
        return [at] * n
    if kind == "stagger":
        return [at + i * policy.interval for i in range(n)]
    if kind == "batches":
        return [at + (i // policy.batch) * policy.every for i in range(n)]
    if kind == "random":
        rng = streams.rng("power_on", group)
        w = policy.window
        u = w.sample(rng, n) if isinstance(w, Dist) else rng.uniform(0.0, w, size=n)
        return [at + float(x) for x in np.asarray(u)]
    if kind == "per-rack":
        order: dict[str, int] = {}
        return [at + order.setdefault(r, len(order)) * policy.interval for r in racks]
    raise ValueError(f"power-on policy {kind!r}: not one of the known policies")


class PowerControl:
    """The run's orchestrators and admission caps, and the machines' power-on steps.

    Args:
        env: the SimPy environment.
        groups: the fleet's groups (those with a :class:`~.spec.PowerPolicy` use this).
        orchestrators: every orchestrator by name.
        run: the run's records: its ``caps`` get each capped pool (bottleneck
            attribution) and its ``orchestrators`` each orchestrator.
    """

    def __init__(self, env: simpy.Environment, groups: Sequence[Group],
                 orchestrators: dict[str, OrchestratorSpec], run: FleetRun):
        self.env = env
        self.orchestrators = {
            name: Orchestrator(env, name, power_workers=o.power_workers,
                               power_latency=o.power_latency, power_time=o.power_time,
                               step_workers=o.step_workers, step_time=o.step_time)
            for name, o in sorted(orchestrators.items())}
        self.pools: dict[str, CappedPool] = {}  # admission: "fleet" or the group's name
        self.held: dict[int, tuple[CappedPool, Any]] = {}  # machine index -> its place
        for g in groups:
            pol = g.power
            if pol is None:
                continue
            if pol.orchestrator is not None and pol.orchestrator not in self.orchestrators:
                raise ValueError(f"group {g.name!r}: unknown orchestrator "
                                 f"{pol.orchestrator!r}")
            if pol.kind == "admission":
                key = "fleet" if pol.scope == "fleet" else g.name
                pool = self.pools.get(key)
                if pool is None:
                    self.pools[key] = CappedPool(env, pol.max_booting)
                elif pool.cap != pol.max_booting:
                    raise ValueError(f"group {g.name!r}: fleet-wide admission of "
                                     f"{pol.max_booting} while another group's is {pool.cap}")
        for name, o in self.orchestrators.items():
            if o.power.cap is not None:
                run.caps[f"{name}:power-workers"] = (o.power, o.power.cap)
            if o.steps.cap is not None:
                run.caps[f"{name}:step-workers"] = (o.steps, o.steps.cap)
        for key, pool in self.pools.items():
            run.caps[f"admission:{key}"] = (pool, pool.cap)
        run.orchestrators = self.orchestrators

    @staticmethod
    def governs(group: Group) -> bool:
        """Whether the group's power-on goes through here (it has a policy)."""
        return group.power is not None

    def _orchestrator(self, m: Machine) -> Orchestrator | None:
        name = m.group.power.orchestrator if m.group.power is not None else None
        return self.orchestrators.get(name) if name is not None else None

    def power_on(self, m: Machine) -> Generator[simpy.Event, Any, None]:
        """The first power-on: the request instant, admission, step, power command."""
        env = m.env
        pol = m.group.power
        m.stage = m.group.stages[0].name
        yield env.timeout(m.at)
        asked = env.now
        if pol.kind == "admission":
            pool = self.pools["fleet" if pol.scope == "fleet" else m.group.name]
            req = yield from pool.acquire()
            self.held[m.index] = (pool, req)
            if env.now > asked:
                m.record("admission", asked, env.now,
                         reason=f"at most {pol.max_booting} booting at once "
                                f"({'fleet-wide' if pol.scope == 'fleet' else 'in the group'})")
        orch = self._orchestrator(m)
        if orch is not None:
            yield from self._step(m, orch)
            yield from self._command(m, orch)
        m.at = m.link_up = env.now
        m.record("power-on", env.now, env.now)

    def stage_start(self, m: Machine) -> Generator[simpy.Event, Any, None]:
        """A later stage, or an orchestrator retry: a step, then a power cycle."""
        orch = self._orchestrator(m)
        if orch is not None:
            yield from self._step(m, orch)
            yield from self._command(m, orch)

    def done(self, m: Machine) -> None:
        """The server is ready or has failed: it no longer counts as booting."""
        held = self.held.pop(m.index, None)
        if held is not None:
            pool, req = held
            pool.release(req)

    def _step(self, m: Machine, orch: Orchestrator) -> Generator[simpy.Event, Any, None]:
        t0 = self.env.now
        started = yield from orch.step()
        if self.env.now > t0:  # a step of no time, served at once, is not worth a row
            m.record("step", t0, self.env.now, endpoint=orch.name,
                     reason=_waited(started - t0, orch.steps.cap, "step"))

    def _command(self, m: Machine, orch: Orchestrator) -> Generator[simpy.Event, Any, None]:
        t0 = self.env.now
        started = yield from orch.command()
        m.record("power", t0, self.env.now, endpoint=orch.name,
                 reason=_waited(started - t0, orch.power.cap, "power"))


def _waited(seconds: float, cap: int | None, what: str) -> str:
    if seconds <= 0:
        return ""
    return f"waited {seconds:g} s for one of the orchestrator's {cap} {what} workers"
