"""One transfer in the flow engine: a law's plan driven as a delay, a flow, a delay.

The laws of :mod:`netbootsim.protocols` say how long a transfer takes alone on its
path; the flow engine says how it fares beside the others. :func:`transfer` drives
every protocol the same way, in three stretches:

1. **before the data**, a plain ``env.timeout``: TFTP's RRQ → OACK handshake (with its
   retries, expected or drawn), HTTP's connect, request and server time. A plan that
   cannot succeed (a TFTP timeout drawn, block numbers that would wrap) fails here,
   having moved nothing;
2. **the data**, one :class:`~.flow.Flow` on the path, started with
   :meth:`~.base.BaseEngine.start` and waited for; the engine gives it
   ``min(bound, fair share)`` and changes its bound on the plan's schedule.
   ``on_flow(flow, active)`` hears it start and end (a fleet tells the engine's
   corrections, :mod:`.lockstep` and :mod:`.fifo`, which flows cross a port); a process
   interrupted meanwhile (a power cycle, a stage timeout) cancels its flow;
3. **after the data**, another ``env.timeout`` where the protocol has one: HTTP's last
   byte travelling to the client. TFTP has none, its last ACK ends the data phase.

A transfer given a :class:`Guard` (a run with links or services that go down) is told
when one under its flow goes down: the flow is cancelled, and the guard says what follows
(:class:`Detour`): the data moves again later, on the same path or another, from the
bytes not yet moved and with a new bound; or the transfer fails (the protocols' timers,
:mod:`netbootsim.protocols.recovery`).

What differs by protocol is data, a :class:`TransferShape` read off the plan:

- TFTP (:class:`~netbootsim.protocols.TftpPlan`): the flow is bounded by the steady
  lock-step ``rate`` and sized ``data_time × rate``, so that alone on its path it ends
  exactly when the law says (the size differs from the reported ``wire_bytes`` only by
  the partial last window);
- HTTP (:class:`~netbootsim.protocols.HttpPlan`): the flow carries the response's wire
  bytes from the slow-start bound along the plan's schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Protocol

import simpy

from ..protocols import HttpPlan, TftpPlan, TransferResult
from .base import BaseEngine
from .flow import Flow, Resource

__all__ = ["TransferShape", "transfer", "Detour", "Guard"]


@dataclass(frozen=True, slots=True)
class TransferShape:
    """A transfer as the flow engine runs it (times in seconds, sizes in bytes).

    Attributes:
        protocol: ``"tftp"``, ``"http"``: the result's protocol.
        before: delay before the data flow starts.
        size: the data flow's size (wire bytes).
        bound: the data flow's initial bound (wire bytes/s).
        schedule: the bound's changes ``((t, bound), ...)`` after the flow starts.
        after: delay after the flow ends; ``None``: none, not even a zero delay.
        payload: payload bytes the result reports delivered.
        wire_bytes: wire bytes the result reports.
        error: ``None``, or why the transfer fails after ``before``, moving nothing.
    """

    protocol: str
    before: float
    size: float
    bound: float
    schedule: tuple[tuple[float, float], ...]
    after: float | None
    payload: float
    wire_bytes: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Detour:
    """What a transfer whose path went down does next (:meth:`Guard.detour`).

    Attributes:
        resume: when its data moves again; ``None``: it fails at ``end``.
        path: the resources it moves on from ``resume``.
        bound: its flow's bound from then (wire bytes/s).
        schedule: the bound's changes ``((t, bound), ...)`` after ``resume``.
        on_flow: the hook told about the new flow (its path's corrections).
        end: when the failed transfer ends; ``None``: never (the client waits for ever,
            until something else ends the attempt).
        reason: why it failed.
    """

    resume: float | None
    path: Sequence[Resource] = ()
    bound: float = math.inf
    schedule: tuple[tuple[float, float], ...] = ()
    on_flow: Callable[[Flow, bool], None] | None = None
    end: float | None = None
    reason: str = ""


class Guard(Protocol):
    """Watches a transfer's flows for what they cross (links, services) going down."""

    def watch(self, flow: Flow) -> simpy.Event | None:
        """An event that fires when something ``flow`` crosses goes down (None: none will)."""

    def unwatch(self, flow: Flow) -> None:
        """``flow`` ended or was cancelled: stop watching it."""

    def detour(self, flow: Flow, cause: object, moved: float, rate: float) -> Detour:
        """What follows the cut of ``flow`` (``moved`` bytes of it done, at ``rate``)."""


def _tftp_shape(plan: TftpPlan) -> TransferShape:
    # bound the steady lock-step rate, sized to end alone when the law says
    size = plan.data_time * plan.rate if plan.rate != math.inf else 0.0
    return TransferShape("tftp", plan.handshake, size, plan.rate, (), None, plan.size,
                         plan.wire_bytes, plan.error)


def _http_shape(plan: HttpPlan) -> TransferShape:
    return TransferShape("http", plan.before_data, plan.wire_bytes, plan.bound, plan.schedule,
                         plan.after_data, plan.body, plan.wire_bytes)


#: A plan's type → its shape.
_SHAPES: dict[type, Callable[..., TransferShape]] = {TftpPlan: _tftp_shape, HttpPlan: _http_shape}


def transfer(
    env: simpy.Environment,
    engine: BaseEngine,
    path: Sequence[Resource],
    plan: TftpPlan | HttpPlan,
    name: str = "",
    on_flow: Callable[[Flow, bool], None] | None = None,
    guard: Guard | None = None,
) -> Generator[simpy.Event, object, TransferResult]:
    """Run one transfer of ``plan`` in the flow engine (``yield from`` it in a process).

    Args:
        env: the simulation.
        engine: the flow engine that shares ``path``.
        path: the resources the data crosses, server to client.
        plan: a TFTP or HTTP plan of the law.
        name: the data flow's name.
        on_flow: ``on_flow(flow, active)``, told when the data flow starts and ends.
        guard: told of links or services going down under the data flow; None: none
            will.

    Returns:
        The :class:`~netbootsim.protocols.TransferResult`, from the request to the last
        byte (or the failure).
    """
    shape = _SHAPES[type(plan)](plan)
    start = env.now
    yield env.timeout(shape.before)
    if shape.error is not None:
        return TransferResult(shape.protocol, start, env.now, 0.0, 0.0, "failed", shape.error)
    flow = Flow(shape.size, path, bound=shape.bound, schedule=shape.schedule, name=name)
    if guard is not None:
        failed = yield from _guarded(env, engine, flow, on_flow, guard)
        if failed is not None:
            return TransferResult(shape.protocol, start, env.now, 0.0, 0.0, "failed", failed)
        if shape.after is not None:
            yield env.timeout(shape.after)
        return TransferResult(shape.protocol, start, env.now, shape.payload, shape.wire_bytes,
                              "ok", "")
    try:
        done = engine.start(flow)
        if on_flow is not None:
            on_flow(flow, True)
        yield done
    except simpy.Interrupt:
        engine.cancel(flow)  # the client went away (power cycle, timeout): stop the flow
        raise
    finally:
        if on_flow is not None:
            on_flow(flow, False)
    if shape.after is not None:
        yield env.timeout(shape.after)
    return TransferResult(shape.protocol, start, env.now, shape.payload, shape.wire_bytes,
                          "ok", "")


def _guarded(env: simpy.Environment, engine: BaseEngine, flow: Flow,
             on_flow: Callable[[Flow, bool], None] | None, guard: Guard
             ) -> Generator[simpy.Event, object, str | None]:
    """Run ``flow`` to its end through the outages ``guard`` reports: None, or why not."""
    while True:
        cut = None
        try:
            done = engine.start(flow)
            if on_flow is not None:
                on_flow(flow, True)
            cut = guard.watch(flow)
            yield done if cut is None else env.any_of((done, cut))
            if done.triggered:
                return None
            rate = engine.rate_of(flow)
            moved = engine.cancel(flow)  # every packet in flight is lost
        except simpy.Interrupt:
            engine.cancel(flow)  # the client went away (power cycle, timeout)
            raise
        finally:
            if cut is not None:
                guard.unwatch(flow)
            if on_flow is not None:
                on_flow(flow, False)
        detour = guard.detour(flow, cut.value, moved, rate)
        if detour.resume is None:
            # the client waits out its timer, or for ever
            yield env.timeout(detour.end - env.now) if detour.end is not None else env.event()
            return detour.reason
        yield env.timeout(detour.resume - env.now)
        left = flow.size - moved
        if not left > 0:
            return None
        flow = Flow(left, detour.path, bound=detour.bound, schedule=detour.schedule,
                    name=flow.name)
        on_flow = detour.on_flow
