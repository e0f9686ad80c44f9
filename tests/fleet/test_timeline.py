"""Utilisation samples bounded per resource (fleet/results.Timeline)."""

import math

from hypothesis import given
from hypothesis import strategies as st

from netbootsim.fleet.results import MAX_SAMPLES, FleetRun, Timeline


def area(rows, name, end):
    """Time integral of a resource's utilisation, each sample held until its next one."""
    mine = [(t, u) for t, r, u, _ in rows if r == name]
    return sum(u * ((mine[i + 1][0] if i + 1 < len(mine) else end) - t)
               for i, (t, u) in enumerate(mine))


def test_a_resource_past_twice_the_limit_is_merged_in_pairs():
    # limit 3: resource a's sixth sample (2 × 3) merges its first four in pairs, keeps the
    # last two. a: t = 0..5, u = 0.1..0.6, flows 0..5; b interleaved at 0.5, 2.5, 4.5.
    # (0, 1) -> at 0: (0.1 × 1 + 0.2 × 1) / 2 = 0.15, flows max(0, 1) = 1
    # (2, 3) -> at 2: (0.3 × 1 + 0.4 × 1) / 2 = 0.35, flows 3; then 4 and 5 as they were
    t = Timeline(limit=3)
    for i in range(6):
        t.append((float(i), "a", 0.1 * (i + 1), i))
        if i % 2 == 0:
            t.append((i + 0.5, "b", 1.0, 1))
    assert [(r[0], r[1], round(r[2], 12), r[3]) for r in t] == [
        (0.0, "a", 0.15, 1), (0.5, "b", 1.0, 1), (2.0, "a", 0.35, 3), (2.5, "b", 1.0, 1),
        (4.0, "a", 0.5, 4), (4.5, "b", 1.0, 1), (5.0, "a", 0.6, 5)]
    assert t.counts == {"a": 4, "b": 3}
    # a's area up to t = 6: 0.1 + 0.2 + 0.3 + 0.4 + 0.5 + 0.6 = 2.1 before and after
    assert math.isclose(area(t, "a", 6.0), 2.1)


def test_below_the_limit_nothing_changes():
    t = Timeline()
    rows = [(i * 0.01, f"link{i % 8}", (i % 5) / 4, i % 3) for i in range(8 * (MAX_SAMPLES - 1))]
    for row in rows:
        t.append(row)
    assert list(t) == rows
    assert isinstance(FleetRun().timeline, Timeline)


@given(st.lists(st.tuples(st.floats(0, 10), st.sampled_from("abc"), st.floats(0, 1),
                          st.integers(0, 9)), max_size=200), st.integers(2, 6))
def test_bounded_and_the_area_is_kept(samples, limit):
    # invariants: at most 2 × limit samples of a resource at any time, still in time
    # order, the time integral of each resource's utilisation kept (to rounding)
    samples.sort(key=lambda s: s[0])
    t = Timeline(limit=limit)
    for s in samples:
        t.append(s)
        assert all(n < 2 * limit for n in t.counts.values())
    assert [r[0] for r in t] == sorted(r[0] for r in t)
    end = 10.0
    for name in "abc":
        assert math.isclose(area(t, name, end), area(samples, name, end), abs_tol=1e-9)
        assert t.counts.get(name, 0) == sum(1 for r in t if r[1] == name)


def test_a_sample_shows_every_flow_that_started_at_its_instant():
    # Two flows start at t = 0 on a 100 B/s link, each bound at 20 B/s: each fits in the
    # slack (no solve), and the engine tells the observer after each start. The sample
    # at t = 0 is taken at the end of the instant: 40 B/s, 0.4 of the link, 2 flows (a
    # sample taken at the first call showed 0.2 and 1 flow). Then both end at t = 5
    # (100 B at 20 B/s): the step plot closes at 0.
    import simpy

    from netbootsim.fleet.results import Observer
    from netbootsim.net import Flow, Resource, make_engine

    env = simpy.Environment()
    run = FleetRun()
    eng = make_engine(env, on_solve=Observer(run, 0.005, env))
    link = Resource("link", 100.0)

    def start():
        yield eng.start(Flow(100.0, [link], bound=20.0))

    env.process(start())
    env.process(start())
    env.run()
    assert list(run.timeline) == [(0.0, "link", 0.4, 2), (5.0, "link", 0.0, 0)]


def _observed(full_recompute: bool, sample_every: float):
    """Two links: a at 50 B/s for 2 s (100 B), b at 10 B/s for 10 s (100 B); bounds only.

    Returns the timeline of the run with the flow observer (either engine).
    """
    import simpy

    from netbootsim.fleet.results import Observer
    from netbootsim.net import Flow, Resource, make_engine

    env = simpy.Environment()
    run = FleetRun()
    eng = make_engine(env, full_recompute=full_recompute,
                      on_solve=Observer(run, sample_every, env))
    a, b = Resource("a", 100.0), Resource("b", 100.0)

    def start(link, bound):
        yield eng.start(Flow(100.0, [link], bound=bound))

    env.process(start(a, 50.0))
    env.process(start(b, 10.0))
    env.run()
    return list(run.timeline)


def test_a_resource_that_goes_idle_while_others_run_is_closed():
    # Hand derivation. a: 100 B at 50 B/s ends at t = 2, utilisation 0.5 until then;
    # b: 100 B at 10 B/s ends at t = 10, utilisation 0.1. With sample_every = 0.1 the
    # samples are thinned to max(1 ms, 0.1 × t) after each: t = 0, then the end of a at
    # t = 2 (a change, past the 1 ms interval), then b's end closes the plot at t = 10.
    # At t = 2 a carries nothing: its row must say 0 there (before the fix a had no row
    # after t = 0, so its line held 0.5 until t = 10: 4 B·s of area instead of 1).
    for full in (False, True):
        rows = _observed(full, 0.1)
        assert rows == [(0.0, "a", 0.5, 1), (0.0, "b", 0.1, 1), (2.0, "b", 0.1, 1),
                        (2.0, "a", 0.0, 0), (10.0, "b", 0.0, 0)], full
        assert math.isclose(area(rows, "a", 10.0), 0.5 * 2.0)


def test_the_packet_sampler_closes_a_link_that_goes_idle_while_others_run():
    # Two links' byte counters: a sends 50 B/s until t = 2, b 10 B/s until t = 10
    # (capacity 100 B/s). With sample_every = 1 the sampler's intervals double from 1 ms:
    # [1.024, 2.048] still sees a move (0.976 s × 50 B/s), [2.048, 4.096] sees none. So
    # a's row at t0 = 2.048 must say 0 while b runs on (before the fix a had no row after
    # 1.024 and its line held its last utilisation until b's end).
    import simpy

    from netbootsim.fleet.results import PacketSampler

    class Counter:
        def __init__(self, rate, until):
            self.capacity, self.rate, self.until = 100.0, rate, until

        @property
        def bytes(self):
            return self.rate * min(env.now, self.until)

        def backlog(self):
            return 0.0

    env = simpy.Environment()
    run = FleetRun()
    links = {"a": Counter(50.0, 2.0), "b": Counter(10.0, 10.0)}
    sampler = PacketSampler(run, env, links, sample_every=1.0)

    def traffic():
        sampler.started(["a"])
        sampler.started(["b"])
        yield env.timeout(2.0)
        sampler.ended(["a"])
        yield env.timeout(8.0)
        sampler.ended(["b"])

    env.process(traffic())
    env.run(until=20.0)
    a = [(t, u) for t, r, u, _ in run.timeline if r == "a"]
    assert a[-2][1] > 0.0 and a[-1] == (2.048, 0.0)
    b_last = max(t for t, r, u, _ in run.timeline if r == "b" and u > 0.0)
    assert b_last > 2.048  # b was still sampled busy after a's row said 0


def test_the_observer_keeps_each_saturated_stretch():
    # Two 100 B flows share a 100 B/s link with no bound: 50 B/s each, the link full from
    # t = 0 to t = 2; a third starts alone at t = 5 (bound 20 B/s, 100 B: until t = 10),
    # the link not full. saturated: 2 s in the one stretch [0, 2].
    import simpy

    from netbootsim.fleet.results import Observer
    from netbootsim.net import Flow, Resource, make_engine

    env = simpy.Environment()
    run = FleetRun()
    eng = make_engine(env, on_solve=Observer(run, 0.005, env))
    link = Resource("link", 100.0)

    def start(at, bound):
        yield env.timeout(at)
        yield eng.start(Flow(100.0, [link], bound=bound))

    env.process(start(0.0, math.inf))
    env.process(start(0.0, math.inf))
    env.process(start(5.0, 20.0))
    env.run()
    assert run.spans == {"link": [[0.0, 2.0]]}
    assert run.saturated == {"link": 2.0}


def test_a_resource_that_leaves_the_busiest_eight_is_closed_when_it_goes_idle():
    # Hand derivation. z: 100 B at 10 B/s from t = 0 (utilisation 0.1, ends at t = 10);
    # links a..h: 1000 B at 50 B/s each from t = 1 (0.5, end at t = 21). At t = 1 the
    # eight at 0.5 fill the busiest eight: z leaves them with one row (0.1, 1 flow). At
    # t = 10 its flow ends while the eight run on: a 0 row for z then (before, its line
    # held 0.1 until t = 21).
    import simpy

    from netbootsim.fleet.results import Observer
    from netbootsim.net import Flow, Resource, make_engine

    env = simpy.Environment()
    run = FleetRun()
    eng = make_engine(env, on_solve=Observer(run, 0.01, env))

    def start(link, at, size, bound):
        yield env.timeout(at)
        yield eng.start(Flow(size, [link], bound=bound))

    env.process(start(Resource("z", 100.0), 0.0, 100.0, 10.0))
    for name in "abcdefgh":
        env.process(start(Resource(name, 100.0), 1.0, 1000.0, 50.0))
    env.run()
    z = [(t, u, n) for t, r, u, n in run.timeline if r == "z"]
    assert z == [(0.0, 0.1, 1), (1.0, 0.1, 1), (10.0, 0.0, 0)]
    assert [(t, u) for t, r, u, _ in run.timeline if r == "a"][-1] == (21.0, 0.0)
