"""FifoReader: a one-reader FIFO queue whose completion times are known at arrival.

It replaces a capacity-1 FifoResource held for a fixed time (the DHCP server's reader)
and must give the same completion times, bit for bit, and the same socket occupancy.
"""

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from netbootsim.services.slots import FifoReader, FifoResource, at


def done_times_reader(arrivals, service):
    env = simpy.Environment()
    reader = FifoReader(env)
    log = []

    def packet(i, a):
        yield env.timeout(a)
        waiting = reader.waiting()
        yield reader.take(service)
        log.append((i, env.now, waiting))

    for i, a in enumerate(arrivals):
        env.process(packet(i, a))
    env.run()
    return sorted(log)


def done_times_resource(arrivals, service):
    env = simpy.Environment()
    cpu = FifoResource(env, capacity=1)
    log = []

    def packet(i, a):
        yield env.timeout(a)
        waiting = len(cpu.queue)
        with cpu.request() as req:
            yield req
            yield env.timeout(service)
        log.append((i, env.now, waiting))

    for i, a in enumerate(arrivals):
        env.process(packet(i, a))
    env.run()
    return sorted(log)


def test_hand_computed_queue():
    # service 1 ms; packets at 0, 0, 0.5 ms and 5 ms. Read starts: 0, 1, 2, 5 ms, so
    # done at 1, 2, 3 and 6 ms; waiting when each arrives: 0 (idle), 0 (the first is
    # being read, nothing queued), 1 (the second waits), 0 (idle again).
    log = done_times_reader([0.0, 0.0, 0.0005, 0.005], 0.001)
    assert [(i, w) for i, _, w in log] == [(0, 0), (1, 0), (2, 1), (3, 0)]
    assert [t for _, t, _ in log] == pytest.approx([0.001, 0.002, 0.003, 0.006], abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 0.01, allow_nan=False), min_size=1, max_size=30),
       st.floats(1e-6, 0.003, allow_nan=False))
def test_same_completions_as_a_held_resource(arrivals, service):
    # arrivals that coincide are served in arrival (event) order by both; every
    # completion is the same float, and each packet found the same number waiting
    # unless it arrived at the very instant a read began (a tie SimPy orders by events)
    a = done_times_reader(arrivals, service)
    b = done_times_resource(arrivals, service)
    assert [(i, t) for i, t, _ in a] == [(i, t) for i, t, _ in b]
    starts = {t - service for _, t, _ in b}
    for (i, _, wa), (_, _, wb) in zip(a, b, strict=True):
        if arrivals[i] not in starts:
            assert wa == wb


def test_at_is_exact_where_a_timeout_rounds():
    # now + (t - now) rounds to the float after t here (found by a random search: about
    # one pair in a hundred does this); at() fires at t itself
    env = simpy.Environment()
    seen = []
    now, t = 0.02684255601783457, 0.24051165120498316

    def proc():
        yield env.timeout(now)
        assert env.now + (t - env.now) == 0.2405116512049832 != t  # (what it avoids)
        yield at(env, t)
        seen.append(env.now == t)

    env.process(proc())
    env.run()
    assert seen == [True]
    with pytest.raises(ValueError, match="before now"):
        env2 = simpy.Environment(initial_time=1.0)
        at(env2, 0.5)
