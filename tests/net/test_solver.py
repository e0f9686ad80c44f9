"""The pure max-min solver: textbook cases by hand, and its defining properties."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbootsim.net.solver import maxmin


def test_equal_share_of_one_link():
    # 3 unbounded flows on a 30 B/s link: 30 / 3 = 10 each.
    sol = maxmin([1, 1, 1], [math.inf] * 3, [["L"]] * 3, {"L": 30.0})
    assert sol.rates == [10.0, 10.0, 10.0]
    assert sol.saturated == {"L"}
    assert sol.limiter == ["L", "L", "L"]


def test_bounded_flow_leaves_capacity_to_others():
    # bound 5 < 30/3, so flow 0 takes 5 and the others split 25: 12.5 each.
    sol = maxmin([1, 1, 1], [5.0, math.inf, math.inf], [["L"]] * 3, {"L": 30.0})
    assert sol.rates == [5.0, 12.5, 12.5]
    assert sol.limiter[0] is None


def test_two_bottlenecks_textbook():
    # A on L1 (10), B on L1+L2, C on L2 (20). L1 saturates first at 10/2 = 5 (A, B);
    # then C alone on L2 gets 20 - 5 = 15.
    sol = maxmin(
        [1, 1, 1], [math.inf] * 3, [["L1"], ["L1", "L2"], ["L2"]], {"L1": 10.0, "L2": 20.0}
    )
    assert sol.rates == [5.0, 5.0, 15.0]
    assert sol.limiter == ["L1", "L1", "L2"]
    assert sol.saturated == {"L1", "L2"}


def test_parking_lot():
    # 3 links of capacity 1 in a row; one long flow over all, one short flow per link:
    # every link has 2 flows, each gets 1/2.
    paths = [["a", "b", "c"], ["a"], ["b"], ["c"]]
    sol = maxmin([1] * 4, [math.inf] * 4, paths, {"a": 1.0, "b": 1.0, "c": 1.0})
    assert sol.rates == [0.5] * 4


def test_counts_are_multiplicities():
    # entry 0 holds 3 identical flows, entry 1 one flow: 4 flows on 40 B/s -> 10 each.
    sol = maxmin([3, 1], [math.inf, math.inf], [["L"], ["L"]], {"L": 40.0})
    assert sol.rates == [10.0, 10.0]
    assert sol.load["L"] == pytest.approx(40.0)


def test_unsaturated_bounds_only():
    # bounds 3 and 4 on a 100 B/s link: both at their bound, link not saturated.
    sol = maxmin([1, 1], [3.0, 4.0], [["L"], ["L"]], {"L": 100.0})
    assert sol.rates == [3.0, 4.0]
    assert sol.saturated == set()


def test_unconstrained_entry_is_infinite():
    sol = maxmin([1], [math.inf], [[]], {})
    assert sol.rates == [math.inf]


def test_many_equal_bounds_freeze_in_one_round():
    # 1000 flows bounded at 1 on a 2000 B/s link: one batch round, then done.
    sol = maxmin([1] * 1000, [1.0] * 1000, [["L"]] * 1000, {"L": 2000.0})
    assert sol.rounds == 1
    assert set(sol.rates) == {1.0}


# ----------------------------------------------------------------- properties
@st.composite
def systems(draw):
    nres = draw(st.integers(1, 6))
    caps = {f"r{i}": draw(st.floats(0.5, 100.0)) for i in range(nres)}
    n = draw(st.integers(1, 8))
    counts, bounds, paths = [], [], []
    for _ in range(n):
        counts.append(draw(st.integers(1, 3)))
        bounds.append(draw(st.one_of(st.just(math.inf), st.floats(0.1, 120.0))))
        paths.append(draw(st.lists(st.sampled_from(sorted(caps)), unique=True, max_size=nres)))
    return counts, bounds, paths, caps


@settings(max_examples=300, deadline=None)
@given(systems())
def test_maxmin_is_feasible_and_optimal(system):
    counts, bounds, paths, caps = system
    sol = maxmin(counts, bounds, paths, caps)
    load = {r: 0.0 for r in caps}
    for c, rate, path in zip(counts, sol.rates, paths, strict=True):
        for r in path:
            load[r] += c * rate
    for r, x in load.items():
        assert x <= caps[r] * (1 + 1e-9)  # no resource over capacity
    for k, rate in enumerate(sol.rates):
        assert rate <= bounds[k] * (1 + 1e-12)  # no flow over its bound
        if not paths[k] and bounds[k] == math.inf:
            assert rate == math.inf
            continue
        at_bound = rate >= bounds[k] * (1 - 1e-9)
        # or limited by a saturated resource on which nobody gets more
        limited = any(
            load[r] >= caps[r] * (1 - 1e-9)
            and all(sol.rates[j] <= rate * (1 + 1e-9) for j in range(len(paths)) if r in paths[j])
            for r in paths[k]
        )
        assert at_bound or limited, (k, rate)


@settings(max_examples=200, deadline=None)
@given(systems())
def test_counts_equal_split_entries(system):
    counts, bounds, paths, caps = system
    grouped = maxmin(counts, bounds, paths, caps)
    flat_bounds, flat_paths, owner = [], [], []
    for k, c in enumerate(counts):
        for _ in range(c):
            flat_bounds.append(bounds[k])
            flat_paths.append(paths[k])
            owner.append(k)
    flat = maxmin([1] * len(owner), flat_bounds, flat_paths, caps)
    for j, k in enumerate(owner):
        assert flat.rates[j] == pytest.approx(grouped.rates[k], rel=1e-9)


@settings(max_examples=300, deadline=None)
@given(systems())
def test_vectorised_solver_matches_list_solver(system):
    import numpy as np

    from netbootsim.net.solver import maxmin_arrays

    counts, bounds, paths, caps = system
    names = sorted(caps)
    index = {r: i + 1 for i, r in enumerate(names)}  # 0 is the infinite dummy
    width = max(1, max(len(p) for p in paths))
    res = np.zeros((len(paths), width), dtype=np.int64)
    for k, p in enumerate(paths):
        res[k, : len(p)] = [index[r] for r in p]
    capacity = np.array([math.inf] + [caps[r] for r in names])
    rates, limiter, _ = maxmin_arrays(np.array(counts), np.array(bounds), res, capacity)
    ref = maxmin(counts, bounds, paths, caps)
    for k, rate in enumerate(ref.rates):
        assert rates[k] == pytest.approx(rate, rel=1e-9)
        assert (limiter[k] == -1) == (ref.limiter[k] is None)
