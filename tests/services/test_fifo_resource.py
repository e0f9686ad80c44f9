"""FifoResource: SimPy's Resource with a deque of waiting requests, granting the same."""

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from netbootsim.services.slots import FifoResource


def grants(kind, cap, jobs):
    """(time, job) of every grant, and every release, on a resource of ``kind``."""
    env = simpy.Environment()
    res = kind(env, capacity=cap)
    log = []

    def job(i, at, hold, patience):
        yield env.timeout(at)
        with res.request() as req:
            got = yield req | env.timeout(patience)  # a request may give up (cancel)
            if req not in got:
                log.append((env.now, i, "gave up"))
                return
            log.append((env.now, i, "granted"))
            yield env.timeout(hold)
        log.append((env.now, i, "released"))

    for i, (at, hold, patience) in enumerate(jobs):
        env.process(job(i, at, hold, patience))
    env.run()
    return log


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3), st.lists(st.tuples(st.integers(0, 5), st.integers(0, 4),
                                             st.integers(0, 8)), max_size=25))
def test_same_grants_as_simpy_resource(cap, jobs):
    assert grants(FifoResource, cap, jobs) == grants(simpy.Resource, cap, jobs)


def test_a_long_queue_is_served_in_order():
    # 1 slot, 5 jobs at t = 0 holding 1 s each: granted at 0, 1, 2, 3, 4 in arrival order
    log = grants(FifoResource, 1, [(0, 1, 99)] * 5)
    assert [(t, i) for t, i, what in log if what == "granted"] == [(k, k) for k in range(5)]
