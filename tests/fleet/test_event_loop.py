"""The fleet's event loop (``simulate._steps``) against SimPy's own ``Environment.step``."""

from __future__ import annotations

import importlib
import math

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

sim = importlib.import_module("netbootsim.fleet.simulate")  # (the package's `simulate` is
# the function)


def _model(env: simpy.Environment, delays: list[tuple[int, int]], trace: list) -> None:
    """Processes that wait, wake each other and share a resource: ties on purpose."""
    res = simpy.Resource(env, capacity=1)
    shared = env.event()

    def worker(k: int, a: int, b: int):
        yield env.timeout(a)  # integer delays: many events at one instant
        trace.append(("woke", k, env.now))
        with res.request() as req:
            yield req
            trace.append(("got", k, env.now))
            yield env.timeout(b)
        if not shared.triggered:
            shared.succeed(k)
        got = yield shared | env.timeout(b)
        trace.append(("done", k, env.now, [repr(v) for v in got.values()]))

    for k, (a, b) in enumerate(delays):
        env.process(worker(k, a, b))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=8),
       st.integers(1, 5), st.sampled_from([2.0, 4.5, math.inf]))
def test_steps_process_the_events_in_simpys_order(delays, limit, until):
    # the same model stepped by SimPy and by _steps (in chunks of `limit`, up to `until`)
    # leaves the same trace, clock and queue: the loop is SimPy's step written out
    ref_env, ref = simpy.Environment(), []
    _model(ref_env, delays, ref)
    while ref_env.peek() < until:
        ref_env.step()
    env, got = simpy.Environment(), []
    _model(env, delays, got)
    done = limit
    while done == limit:
        done = sim._steps(env, until, limit)
    assert got == ref
    assert env.now == ref_env.now
    assert [(t, p) for t, p, _, _ in sorted(env._queue, key=lambda e: e[:3])] == \
        [(t, p) for t, p, _, _ in sorted(ref_env._queue, key=lambda e: e[:3])]


def test_a_failed_event_nobody_handles_is_raised_as_simpy_raises_it():
    env = simpy.Environment()

    def broken():
        yield env.timeout(1)
        raise ValueError("boom")

    env.process(broken())
    with pytest.raises(ValueError, match="boom") as info:
        sim._steps(env, math.inf, 100)
    assert isinstance(info.value.__cause__, ValueError)  # a copy, its cause the original
    assert env.now == 1


def test_another_environment_is_stepped_by_its_own_step():
    class Counting(simpy.Environment):
        steps = 0

        def step(self):
            Counting.steps += 1
            super().step()

    env = Counting()
    env.timeout(1)
    env.timeout(2)
    env.timeout(5)
    assert sim._steps(env, 3.0, 10) == 2 and Counting.steps == 2 and env.now == 2
