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

import simpy

from ..protocols import HttpPlan, TftpPlan, TransferResult
from .base import BaseEngine
from .flow import Flow, Resource

__all__ = ["TransferShape", "transfer"]


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
) -> Generator[simpy.Event, object, TransferResult]:
    """Run one transfer of ``plan`` in the flow engine (``yield from`` it in a process).

    Args:
        env: the simulation.
        engine: the flow engine that shares ``path``.
        path: the resources the data crosses, server to client.
        plan: a TFTP or HTTP plan of the law.
        name: the data flow's name.
        on_flow: ``on_flow(flow, active)``, told when the data flow starts and ends.

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
