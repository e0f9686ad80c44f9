"""Lifecycle events: what happens to a commissioned fleet later in the run.

A scenario's ``events`` (:class:`netbootsim.scenario.schema.LifeEvent`) become the
specs below; :func:`schedule` starts one SimPy process per event. Each server an event
touches gets a row (:class:`~netbootsim.records.EventRecord`, ``events.csv``), and the
phases of its boot are recorded under the event's stages (``<event>:<stage>``) in the
run's event log (``event-phases.csv``), so the fleet's commissioning (``servers.csv``,
``phases.csv``, the report's figures) stays what it was without them.

* :class:`Replace`: the node fails for good at ``at``. The standby server, a server of
  a ``standby`` group that was never powered on, takes the node's identity as a
  stateless-computing service profile moves it (Cisco UCS, HPE Virtual Connect: the
  MAC, the SMBIOS UUID and serial the provisioning API and DHCP see) together with the
  node's boot (its group's script, images, SAN root path) and stages; it is powered on
  at ``at`` and boots as the node. The time to restore service is its ready time less
  ``at``. A node replaced before fails in the server that carries its identity now
  (whose standby then takes it on). Its firmware is its own (its group's profile
  draws), and validation asks that it boot the same way as the node (``boot``: its
  NIC's firmware runs first).
* :class:`Reprovision`: at ``at`` each of its servers that is ready then (not still
  booting, failed or down) reboots into the event's group: the same hardware and
  identity, another boot and other stages (a web server's nightly HPC image). A
  server replaced earlier is reprovisioned in its standby (the orchestrator knows the
  machine by its identity, which the standby carries). A server busy or down at ``at``
  is skipped, with the reason in its row.
* :class:`Demand`: a curve of servers wanted from a standby pool; each step powers on
  the pool's next servers (in the fleet's order) at its instant, passing over one that
  failed while powered off (a ``server-fail`` fault: its row is ``skipped``). A demand
  that falls powers nothing off (the servers stay up; the curve is a floor).

A boot an event starts goes through the group's orchestrator when it has one (its step
worker, then its power command, as a later stage's start does, :mod:`.power`), else the
server powers on at once. The work time of an event stage is its constant, or its
distribution drawn from the stream ``event/<event name>`` (one draw per server and
stage, in the order the servers start).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import simpy

from ..dist import Dist
from ..records import EventRecord
from .lifecycle import rerun, stop
from .machine import Machine
from .spec import Group

__all__ = ["Replace", "Reprovision", "Demand", "LifeEvent", "schedule", "event_group",
           "unfinished_rows"]


@dataclass(frozen=True)
class Replace:
    """``node`` fails at ``at``; ``standby`` takes its identity and boots as it."""

    name: str
    at: float
    node: str
    standby: str


@dataclass(frozen=True)
class Reprovision:
    """At ``at``, ``servers`` (those ready then) reboot as ``group`` (another boot)."""

    name: str
    at: float
    servers: tuple[str, ...]
    group: Group


@dataclass(frozen=True)
class Demand:
    """Servers of the standby ``pool`` wanted over time: ``(at, servers)`` steps."""

    name: str
    pool: tuple[str, ...]
    curve: tuple[tuple[float, int], ...]


LifeEvent = Replace | Reprovision | Demand


def event_group(group: Group, event: str, world) -> Group:
    """``group`` with its stages named ``<event>:<stage>`` (records, stage caps).

    The names join ``world.event_stages``, so their records go to the event log. A
    group already an event's (a reprovisioned node replaced) keeps its own stage names
    after the new event's.
    """
    stages = tuple(replace(st, name=f"{event}:{st.name.partition(':')[2]}"
                           if st.name in world.event_stages else f"{event}:{st.name}")
                   for st in group.stages)
    world.event_stages.update(st.name for st in stages)
    return replace(group, stages=stages)


def _works(m: Machine, group: Group, event: str) -> tuple[float, ...]:
    """The machine's work time in each of the event group's stages.

    A distribution is drawn from the event's one generator (``world.event_rngs``, the
    stream ``event/<name>``), a draw per server and stage in the order the servers start.
    """
    out = []
    rngs = m.world.event_rngs
    for st in group.stages:
        w = st.work
        if isinstance(w, Dist):
            rng = rngs.get(event)
            if rng is None:
                rng = rngs[event] = m.world.streams.rng("event", event)
            out.append(float(w.sample(rng, 1)[0]))
        else:
            out.append(float(w))
    return tuple(out)


def schedule(env: simpy.Environment, events: Sequence[LifeEvent],
             machines: dict[str, Machine], rows: list[EventRecord]) -> None:
    """Start the events' processes; each server they touch appends its row to ``rows``.

    A row is appended when its server's part ends (ready, failed, skipped) — or, for one
    still booting when the run stops, by :func:`unfinished_rows` then.
    """
    for ev in events:
        if isinstance(ev, Replace):
            env.process(_replace(env, ev, machines, rows))
        elif isinstance(ev, Reprovision):
            env.process(_reprovision(env, ev, machines, rows))
        else:
            env.process(_demand(env, ev, machines, rows))


class _Boot:
    """One server's boot for an event, and its row once it ends."""

    __slots__ = ("event", "kind", "m", "role", "identity", "asked", "before")

    def __init__(self, event: str, kind: str, m: Machine, role: str, identity: str,
                 asked: float):
        self.event, self.kind, self.m, self.role = event, kind, m, role
        self.identity, self.asked = identity, asked
        self.before = m.bytes  # the machine's bytes before this boot

    def end(self, ready: float, outcome: str, reason: str) -> EventRecord:
        """Its row: the bytes are what the machine moved since the boot began."""
        return EventRecord(self.event, self.kind, self.m.server, self.identity, self.role,
                           self.asked, ready, outcome, reason, self.m.bytes - self.before)


def _boot(env: simpy.Environment, boot: _Boot, group: Group, rows: list[EventRecord]
          ) -> Generator[simpy.Event, Any, None]:
    """Boot ``boot.m`` as ``group`` now; its row once it ends.

    While it runs it is in ``world.event_boots`` (by machine index), so a run that stops
    first still gives it a row (:func:`unfinished_rows`).
    """
    m = boot.m
    world = m.world
    world.event_boots[m.index] = boot
    works = _works(m, group, boot.event)
    ok, reason = yield from rerun(m, group, works)
    del world.event_boots[m.index]
    rows.append(boot.end(env.now if ok else math.nan, "ok" if ok else "failed", reason))


def unfinished_rows(world, rows: list[EventRecord], why: str) -> None:
    """Rows of the event boots still running when the run stopped (``unfinished``)."""
    for _index, boot in sorted(world.event_boots.items()):
        rows.append(boot.end(math.nan, "unfinished", why))
    world.event_boots.clear()


def _carrier(m: Machine) -> Machine:
    """The machine carrying ``m``'s identity now.

    ``m``, or the standby that replaced it (and so on, for a node replaced more than once).
    """
    while m.server in m.world.replacements:
        m = m.world.replacements[m.server]
    return m


def _replace(env: simpy.Environment, ev: Replace, machines: dict[str, Machine],
             rows: list[EventRecord]) -> Generator[simpy.Event, Any, None]:
    yield env.timeout(ev.at)
    node, standby = _carrier(machines[ev.node]), machines[ev.standby]
    why = f"failed at {env.now:g} s; replaced by {standby.server} ({ev.name})"
    if node.dead:
        why = f"already down ({node.dead}); replaced by {standby.server} ({ev.name})"
    standby.world.event_stages.add(f"{ev.name}:failure")
    stop(node, why, f"{ev.name}:failure")
    rows.append(EventRecord(ev.name, "replace", node.server, node.ident[0], "failed",
                            env.now, math.nan, "failed", why, 0.0))
    group = event_group(node.group, ev.name, node.world)
    standby.take_identity(node)
    node.world.replacements[node.server] = standby
    yield from _boot(env, _Boot(ev.name, "replace", standby, "standby", node.ident[0],
                                env.now), group, rows)


def _reprovision(env: simpy.Environment, ev: Reprovision, machines: dict[str, Machine],
                 rows: list[EventRecord]) -> Generator[simpy.Event, Any, None]:
    yield env.timeout(ev.at)
    group = None
    for server in ev.servers:
        m = _carrier(machines[server])
        busy = m.world.event_boots.get(m.index)
        why = ("down: " + m.dead if m.dead else
               f"busy with {busy.event}" if busy is not None else
               "" if m.up else
               f"failed ({m.reason})" if m.outcome == "failed" else
               "still booting" if m.outcome == "unfinished" and m.at != math.inf else
               "its last boot failed")
        if why:
            rows.append(EventRecord(ev.name, "reprovision", m.server, server,
                                    "reprovisioned", env.now, math.nan, "skipped",
                                    f"not ready at {env.now:g} s: {why}", 0.0))
            continue
        if group is None:
            group = event_group(ev.group, ev.name, m.world)
        env.process(_boot(env, _Boot(ev.name, "reprovision", m, "reprovisioned", server,
                                     env.now), group, rows))


def _demand(env: simpy.Environment, ev: Demand, machines: dict[str, Machine],
            rows: list[EventRecord]) -> Generator[simpy.Event, Any, None]:
    started = 0  # servers powered on
    nxt = 0  # the next of the pool to try (one down is passed over)
    group = None
    for at, wanted in ev.curve:
        if at > env.now:
            yield env.timeout(at - env.now)
        while started < wanted and nxt < len(ev.pool):
            m = machines[ev.pool[nxt]]
            nxt += 1
            if m.dead:  # a standby that failed while powered off: the next one
                rows.append(EventRecord(ev.name, "demand", m.server, m.server, "pool",
                                        env.now, math.nan, "skipped",
                                        f"not powered on: {m.dead}", 0.0))
                continue
            started += 1
            if group is None:  # the pool is one group's servers
                group = event_group(m.group, ev.name, m.world)
            env.process(_boot(env, _Boot(ev.name, "demand", m, "pool", m.server, env.now),
                              group, rows))
