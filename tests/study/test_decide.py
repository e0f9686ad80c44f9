"""The study's statistics and its bisection: hand-computed cases and invariants."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netbootsim.study.decide import (
    bisect_steps,
    bounds,
    design_verdict,
    fleet_percentile,
    pareto_front,
    verdict,
    wanted,
)
from netbootsim.study.spec import Constraint

P99 = Constraint("p99", "p99", "max", 30.0, None, "p99 ≤ 30s")
READY = Constraint("ready_fraction", "ready_fraction@60", "min", 0.99, 60.0, "")


def test_bounds_by_hand():
    # values 10, 12, 14: mean 12, s = 2 (deviations -2, 0, 2: (4 + 0 + 4) / 2 = 4),
    # one-sided 95 %: t(0.95, 2) = 2.919986, half = 5.839972 / 1.732051 = 3.371709
    b = bounds([10, 12, 14], 0.95)
    assert b.mean == 12 and b.sd == pytest.approx(2.0)
    assert b.hi == pytest.approx(12 + 3.371709, abs=1e-5)
    assert b.lo == pytest.approx(12 - 3.371709, abs=1e-5)


def test_bounds_degenerate():
    assert bounds([5, 5, 5], 0.95).hi == 5  # no spread seen
    b = bounds([5], 0.95)
    assert b.lo == -math.inf and b.hi == math.inf
    assert bounds([1, math.nan], 0.95).hi == math.inf  # a run without the metric


def test_verdicts():
    # upper bound 15.37 ≤ 30: met; limit 10 below the lower bound 8.63? no: open
    assert verdict(P99, bounds([10, 12, 14], 0.95)) == "met"
    assert verdict(Constraint("p99", "p99", "max", 13.0, None, ""),
                   bounds([10, 12, 14], 0.95)) == "open"
    assert verdict(Constraint("p99", "p99", "max", 8.0, None, ""),
                   bounds([10, 12, 14], 0.95)) == "missed"
    assert verdict(READY, bounds([1.0, 1.0, 1.0], 0.95)) == "met"
    assert verdict(READY, bounds([0.5, 0.6, 0.55], 0.95)) == "missed"
    values = {"p99": [10, 12, 14], "ready_fraction@60": [0.5, 0.6, 0.55]}
    assert design_verdict([P99, READY], values, 0.95) == "infeasible"
    assert design_verdict([P99], values, 0.95) == "feasible"


def test_wanted_replications_by_hand():
    # values 10, 12, 14 against a limit of 13: s = 2, gap |12 - 13| = 1,
    # n = (t(0.95, 2) · 2 / 1)² = (5.839972)² = 34.1 → 35, capped at the most (10)
    c = Constraint("p99", "p99", "max", 13.0, None, "")
    assert wanted([c], {"p99": [10, 12, 14]}, 0.95, 100) == 35
    assert wanted([c], {"p99": [10, 12, 14]}, 0.95, 10) == 10
    # decided already: one more than it has is all "wanted" says (the caller stops first)
    assert wanted([P99], {"p99": [10, 12, 14]}, 0.95, 10) == 4


def test_pareto_front_by_hand():
    # (cost, p99): A(1, 9) B(2, 5) C(3, 5) D(2, 7) E(4, 1) F(2, 5) G(nan, 0)
    # C is beaten by B (cheaper, as fast); D by B; F equals B: both kept; G has no cost
    pts = [(1, 9), (2, 5), (3, 5), (2, 7), (4, 1), (2, 5), (math.nan, 0)]
    assert pareto_front(pts) == [0, 1, 5, 4]


@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=30))
def test_pareto_front_is_exactly_the_undominated(points):
    front = set(pareto_front(points))

    def dominated(i):
        a, b = points[i]
        return any(c <= a and d <= b and (c, d) != (a, b) for c, d in points)

    assert front == {i for i in range(len(points)) if not dominated(i)}


def test_bisect_steps():
    # n values: n + 1 answers (the first feasible one, or none); each design halves them
    assert [bisect_steps(n) for n in (1, 2, 3, 7, 8, 10)] == [1, 2, 2, 3, 4, 4]


def test_fleet_percentile_by_hand():
    # 4 servers, one never ready: 50 % by the 2nd smallest time (⌈0.5 · 4⌉ = 2), 75 % by
    # the 3rd, 99 % never (⌈3.96⌉ = 4th: inf)
    t = [3.0, 1.0, math.inf, 2.0]
    assert fleet_percentile(t, 50) == 2.0
    assert fleet_percentile(t, 75) == 3.0
    assert fleet_percentile(t, 99) == math.inf
    assert fleet_percentile([5.0], 99) == 5.0


def test_bounds_with_a_level_never_reached():
    # one replication never reached its fleet p99: the mean over runs is infinite (a
    # level never reached with some chance), so a max constraint is missed at once
    b = bounds([20.0, math.inf, 25.0], 0.95)
    assert b.mean == math.inf and b.hi == math.inf and b.lo == 20.0
    assert verdict(Constraint("fleet_p99", "fleet_p99", "max", 30.0, None, ""), b) == "missed"
    assert verdict(Constraint("fleet_p99", "fleet_p99", "max", 10.0, None, ""), b) == "missed"
    assert verdict(Constraint("fleet_p99", "fleet_p99", "max", 30.0, None, ""),
                   bounds([math.inf] * 3, 0.95)) == "missed"
