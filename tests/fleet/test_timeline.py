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
