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


def test_a_step_into_the_others_window_lifts_its_ceiling():
    # Both flows over 10 ms; "fast" starts in slow start at 2e6 (w = 20,000 bytes) and
    # steps to 1e7 (w = 100,000, the other's window) at 5 ms. Before the step, no loss:
    # 2e4/(0.01+Q) + 1e5/(0.01+Q) = 5e6  <=>  0.01 + Q = 1.2e5/5e6 = 0.024: ceilings
    # 2e4/0.024 = 833,333.3 and 1e5/0.024 = 4,166,666.7. After it the flows are alike, the
    # rule lifts both ceilings and max-min gives 2.5e6 each. (Until issue 14 the stepped
    # flow kept its old ceiling: 833,333 against 4,166,667.)
    env = simpy.Environment()
    engine = FlowEngine(env)
    fifo = FifoSharing(env, engine)
    port = Resource("sw->c", C)
    fast = Flow(1e9, [port], bound=2e6, schedule=((0.005, 1e7),), name="fast")
    other = Flow(1e9, [port], bound=1e7, name="other")
    for f in (fast, other):
        engine.start(f)
        fifo.flow([(port, math.inf)], f, 0.01, 1500.0, True)
    env.run(until=0.001)
    assert [engine.rate_of(fast), engine.rate_of(other)] == pytest.approx(
        [2e4 / 0.024, 1e5 / 0.024], rel=1e-9)
    env.run(until=0.006)
    assert fast.ceiling == other.ceiling == math.inf
    assert [engine.rate_of(fast), engine.rate_of(other)] == pytest.approx([2.5e6, 2.5e6])


def test_alike_flows_at_a_dropping_port_keep_their_window_ceiling():
    # Four alike flows (w = 1e5 bytes over 10 ms: own bound 1e7) at a port of 5e6 with a
    # 250,000-byte buffer: a full buffer is Q = 0.05 s, and 4 × 1e5/0.06 = 6.67e6 > C, so
    # the port drops and each flow's ceiling is 1e5/0.06 = 1,666,667. Two of them are held
    # at 1e5 by their own links: the other two could share 5e6 - 2e5 = 4.8e6 (2.4e6 each)
    # under max-min, but a window of 1e5 over 60 ms moves no more than 1,666,667.
    env = simpy.Environment()
    engine = FlowEngine(env)
    fifo = FifoSharing(env, engine)
    port = Resource("sw->c", C)
    flows = [Flow(1e9, [port] + ([Resource(f"slow{i}", 1e5)] if i < 2 else []), bound=1e7,
                  name=f"f{i}") for i in range(4)]
    for f in flows:
        engine.start(f)
        fifo.flow([(port, 250_000.0)], f, 0.01, 1500.0, True)
    env.run(until=0.001)
    assert [f.ceiling for f in flows] == pytest.approx([1e5 / 0.06] * 4, rel=1e-12)
    assert [engine.rate_of(f) for f in flows] == pytest.approx(
        [1e5, 1e5, 1e5 / 0.06, 1e5 / 0.06], rel=1e-9)


def test_newcomers_at_a_dropping_port_cost_their_own_ceilings_only():
    # Work, not time: 200 alike flows fill a dropping port (Q = 512 KiB / 1.25e9 B/s =
    # 0.42 ms, each ceiling 1e6/(0.01 + Q) = 96 MB/s, above C/200); then 50 newcomers start
    # 50 ms apart, each in slow start (3 steps of its window, the last to the others'), so
    # each one makes two window groups at the port until its slow start ends. Under
    # drop-tail a flow's ceiling is its own w/(τ + Q): each start and step sets one
    # ceiling, 200 + 50 × 4 in all. (Until issue 14 an alike port had no ceilings: every
    # newcomer put one on all 200+ flows and its last step lifted them again, 22,600
    # ceilings in this run, each a class move in the engine.)
    env = simpy.Environment()
    engine = FlowEngine(env)
    fifo = FifoSharing(env, engine)
    port = Resource("sw->c", 1.25e9)
    buffer = 512 * 1024.0

    def start(bound, schedule=()):
        f = Flow(1e12, [port], bound=bound, schedule=schedule)
        engine.start(f)
        fifo.flow([(port, buffer)], f, 0.01, 1500.0, True)

    for _ in range(200):
        start(1e8)

    def newcomers():
        for _ in range(50):
            yield env.timeout(0.05)
            start(1e6, ((0.01, 2e6), (0.02, 4e6), (0.03, 1e8)))

    env.process(newcomers())
    env.run(until=2.6)
    assert fifo.ceilings_set == 200 + 50 * 4
    assert fifo.updates == 1  # the first; then each ceiling is set as its flow changes
    # one solve per start and step, each over the free class of the port and the one
    # newcomer in slow start; no flow of the 200 moves after the first solve
    assert engine.solves == 1 + 50 * 4
    assert engine.entries_solved <= 2 * engine.solves
    assert engine.moves <= 200 + 50 * 4
