"""The flow engine's FIFO-port rule (netbootsim.net.fifo): hand-derived cases."""

from __future__ import annotations

import math

import pytest
import simpy

from netbootsim.net import Flow, FlowEngine, Resource
from netbootsim.net.fifo import FifoSharing, fifo_shares

# Two window flows, w = 100,000 bytes each, base RTTs 10 ms and 30 ms, port C = 5 MB/s.
# No loss: 1e5/(0.01+Q) + 1e5/(0.03+Q) = 5e6  <=>  0.04 + 2Q = 50 (0.01+Q)(0.03+Q)
#   <=> 50 Q^2 = 0.025  <=>  Q = sqrt(0.0005) = 0.0223607 s (a queue of 111,803 bytes);
# rates 1e5/0.0323607 = 3,090,170 and 1e5/0.0523607 = 1,909,830 bytes/s (sum 5e6).
W, C = 100_000.0, 5e6
Q = math.sqrt(0.0005)


def test_no_loss_queue_delay_and_shares_by_hand():
    q, rates = fifo_shares(C, math.inf, [(W, 0.01, 1), (W, 0.03, 1)])
    assert q == pytest.approx(Q, rel=1e-9)
    assert rates == pytest.approx([W / (0.01 + Q), W / (0.03 + Q)], rel=1e-9)
    assert sum(rates) == pytest.approx(C, rel=1e-9)


def test_a_port_with_room_has_no_queue():
    # 1e5/0.05 + 1e5/0.1 = 3e6 < 5e6: each flow at its own w/τ
    assert fifo_shares(C, math.inf, [(W, 0.05, 1), (W, 0.1, 1)]) == (0.0, [2e6, 1e6])


def test_a_full_buffer_caps_the_queue_delay():
    # buffer 50,000 bytes < the 111,803 the flows would queue: Q = 50,000 / 5e6 = 10 ms,
    # ceilings 1e5/0.02 = 5e6 and 1e5/0.04 = 2.5e6 (more than C together)
    q, rates = fifo_shares(C, 50_000.0, [(W, 0.01, 1), (W, 0.03, 1)])
    assert q == pytest.approx(0.01) and rates == pytest.approx([5e6, 2.5e6])


def _run(buffer: float):
    env = simpy.Environment()
    engine = FlowEngine(env)
    fifo = FifoSharing(env, engine)
    port = Resource("sw->c", C)
    flows = [Flow(1e9, [port], bound=W / rtt, name=f"rtt{rtt}") for rtt in (0.01, 0.03)]
    for f, rtt in zip(flows, (0.01, 0.03), strict=True):
        engine.start(f)
        fifo.flow([(port, buffer)], f, rtt, 1500.0, True)
    env.run(until=0.001)
    return engine, fifo, flows


def test_engine_gives_each_flow_its_fifo_share():
    engine, fifo, flows = _run(math.inf)
    assert [engine.rate_of(f) for f in flows] == pytest.approx(
        [W / (0.01 + Q), W / (0.03 + Q)], rel=1e-9)
    assert fifo.updates == 1


def test_engine_under_drops_trims_the_fast_flow_to_an_equal_share():
    # Q = 10 ms: ceilings 5e6 and 2.5e6; max-min on 5e6 gives 2.5e6 each
    engine, _, flows = _run(50_000.0)
    assert [engine.rate_of(f) for f in flows] == pytest.approx([2.5e6, 2.5e6], rel=1e-9)


def test_ceiling_lifts_when_a_flow_leaves():
    engine, fifo, flows = _run(math.inf)
    engine.cancel(flows[1])
    fifo.flow([(flows[0].path[0], math.inf)], flows[1], 0.03, 1500.0, False)
    engine.env.run(until=0.002)
    assert flows[0].ceiling == math.inf and engine.rate_of(flows[0]) == pytest.approx(C)


def test_a_schedule_step_updates_the_window():
    # the 10 ms flow starts in slow start at 2e6 (a 20,000-byte window) and steps to 1e7
    # (100,000 bytes) at 5 ms. Before the step: 2e4/(0.01+Q) + 1e5/(0.03+Q) = 5e6
    #   <=> 500 Q^2 + 8 Q - 0.01 = 0  <=>  Q = (sqrt(84) - 8) / 1000 = 0.00116515 s;
    # after it, the hand case above
    env = simpy.Environment()
    engine = FlowEngine(env)
    fifo = FifoSharing(env, engine)
    port = Resource("sw->c", C)
    fast = Flow(1e9, [port], bound=2e6, schedule=((0.005, 1e7),), name="fast")
    slow = Flow(1e9, [port], bound=W / 0.03, name="slow")
    for f, rtt in ((fast, 0.01), (slow, 0.03)):
        engine.start(f)
        fifo.flow([(port, math.inf)], f, rtt, 1500.0, True)
    env.run(until=0.001)
    q0, early = fifo_shares(C, math.inf, [(2e4, 0.01, 1), (W, 0.03, 1)])
    assert q0 == pytest.approx((math.sqrt(84) - 8) / 1000, rel=1e-9)
    assert [engine.rate_of(fast), engine.rate_of(slow)] == pytest.approx(early, rel=1e-9)
    env.run(until=0.006)
    assert [engine.rate_of(fast), engine.rate_of(slow)] == pytest.approx(
        [W / (0.01 + Q), W / (0.03 + Q)], rel=1e-9)
