"""FifoReader: a one-reader FIFO queue without request and release events.

It replaces a capacity-1 FifoResource held for a fixed time (the DHCP server's reader)
and must give the same completion times, bit for bit, and the same socket occupancy.
"""

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from netbootsim.services.slots import FifoReader, FifoResource


def done_times_reader(arrivals, service):
    env = simpy.Environment()
    reader = FifoReader(env, service)
    log = []

    def packet(i, a):
        yield env.timeout(a)
        waiting = reader.waiting()
        yield reader.take()
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
def test_same_completions_and_queue_as_a_held_resource(arrivals, service):
    # arrivals that coincide are served in arrival (event) order by both; every
    # completion is the same float, and each packet found as many waiting
    assert done_times_reader(arrivals, service) == done_times_resource(arrivals, service)
