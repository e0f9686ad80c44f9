"""The provisioning orchestrator as a resource: BMC power commands and stage starts.

An orchestrator (OpenStack Ironic's conductor, MAAS's region and rack agents) sends
every server's power command (IPMI, Redfish) to its BMC and starts every lifecycle
stage (a deploy, a commissioning). Each goes through a pool of workers with a cap
(:class:`CappedPool`), so in a storm the power-on instants themselves queue behind the
orchestrator, before any packet reaches the network:

* a **power command** takes a power worker, the server's power comes on
  ``power_latency`` after the command started, and the worker stays busy until
  ``power_time`` after it started (the driver confirms the new state first);
* a **stage start** (a deploy step) takes a step worker for ``step_time``.

The values of each named model, with their sources, are in
:data:`netbootsim.services.registry.ORCHESTRATOR`.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from .slots import _track_full

__all__ = ["CappedPool", "Orchestrator"]


class CappedPool:
    """A pool of ``cap`` workers served first come, first served (``None``: no cap).

    Args:
        env: the SimPy environment.
        cap: workers; ``None``: every request is served at once.

    Attributes:
        served: requests served so far.
        max_queued: most requests waiting at once.
        full: ``[start, end]`` of each stretch during which requests waited for a worker
            (every worker taken and more wanted: the pool was the limit; end ``inf``:
            still), for bottleneck attribution as the TFTP slots' and HTTP workers' are.
    """

    def __init__(self, env: simpy.Environment, cap: int | None):
        self.env = env
        self.cap = cap
        self.resource = simpy.Resource(env, capacity=cap) if cap is not None else None
        self.served = 0
        self.max_queued = 0
        self.full: list[list[float]] = []

    def _request(self):
        """Count a request and queue it (``None``: no cap, nothing to queue)."""
        self.served += 1
        if self.resource is None:
            return None
        req = self.resource.request()
        self._account()
        return req

    def acquire(self) -> Generator[simpy.Event, object, simpy.Resource | None]:
        """Wait for a worker; the request to hand back to :meth:`release` (``None``: no cap)."""
        req = self._request()
        if req is not None and not req.triggered:
            yield req
        return req

    def release(self, req) -> None:
        """A worker is free again (the next waiting request takes it at once)."""
        if req is not None:
            # SimPy hands the worker to the next request when the release is processed
            # (later in this instant): count the queue then
            self.resource.release(req).callbacks.append(lambda _e: self._account())

    def hold(self, duration: float) -> Generator[simpy.Event, object, None]:
        """Take a worker for ``duration`` seconds (waiting for one first), then free it.

        Interrupted while waiting, the request leaves the queue; while holding, the
        worker is freed.
        """
        req = self._request()
        if req is None:
            yield self.env.timeout(duration)
            return
        try:
            if not req.triggered:
                yield req
            yield self.env.timeout(duration)
        finally:
            if req.triggered:  # granted: free the worker
                self.release(req)
            else:  # still queued (interrupted): leave the queue
                req.cancel()
                self._account()

    def release_after(self, req, delay: float) -> None:
        """Free the worker ``delay`` seconds from now, without a process of its own."""
        if req is None:
            return
        if delay <= 0:
            self.release(req)
        else:
            self.env.timeout(delay).callbacks.append(lambda _e: self.release(req))

    def _account(self) -> None:
        waiting = len(self.resource.queue)
        self.max_queued = max(self.max_queued, waiting)
        _track_full(self.full, waiting > 0, self.env.now)


class Orchestrator:
    """One orchestrator: its power-command workers and its stage-start workers.

    Args:
        env: the SimPy environment.
        name: its service name (records, bottlenecks).
        power_workers, power_latency, power_time, step_workers, step_time: as
            :class:`netbootsim.services.registry.OrchestratorModel` has them.
    """

    def __init__(self, env: simpy.Environment, name: str, *, power_workers: int | None,
                 power_latency: float, power_time: float, step_workers: int | None,
                 step_time: float):
        if power_time < power_latency:
            raise ValueError(f"{name}: power_time {power_time:g} s is shorter than "
                             f"power_latency {power_latency:g} s")
        self.env = env
        self.name = name
        self.power = CappedPool(env, power_workers)
        self.steps = CappedPool(env, step_workers)
        self.power_latency = power_latency
        self.power_time = power_time
        self.step_time = step_time

    def command(self) -> Generator[simpy.Event, object, float]:
        """One power command, up to the server's power coming on: when it got a worker.

        The worker stays busy ``power_time - power_latency`` longer, on its own.
        """
        req = yield from self.power.acquire()
        started = self.env.now
        if self.power_latency > 0:
            yield self.env.timeout(self.power_latency)
        self.power.release_after(req, self.power_time - self.power_latency)
        return started

    def step(self) -> Generator[simpy.Event, object, float]:
        """One stage start (a deploy step): when it got a worker; it returns once done."""
        req = yield from self.steps.acquire()
        started = self.env.now
        if self.step_time > 0:
            yield self.env.timeout(self.step_time)
        self.steps.release(req)
        return started
