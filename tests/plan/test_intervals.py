"""netbootsim.plan.intervals: hand-computed t-intervals, bootstrap cases, invariants."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbootsim.plan.intervals import (
    Interval,
    bootstrap_interval,
    precise_enough,
    relative_half_width,
    t_interval,
)
from netbootsim.streams import Streams


def test_t_interval_two_values_cauchy_quantile():
    # [2, 4]: mean 3, s = √((1 + 1) / 1) = √2, s/√n = √2/√2 = 1. With n − 1 = 1 degree
    # of freedom Student's t is the Cauchy law, whose quantile is tan(π (p − ½)):
    # t(0.975, 1) = tan(0.475 π) = 12.7062047... So the interval is 3 ± tan(0.475 π).
    iv = t_interval([2.0, 4.0])
    t = math.tan(0.475 * math.pi)
    assert iv.mean == 3.0 and iv.n == 2
    assert iv.half_width == pytest.approx(t, rel=1e-12)
    assert (iv.lo, iv.hi) == pytest.approx((3 - t, 3 + t), rel=1e-12)
    assert t == pytest.approx(12.7062047, rel=1e-8)  # the tables' value


def test_t_interval_three_values_closed_form():
    # [1, 2, 3]: mean 2, s = √((1 + 0 + 1) / 2) = 1, s/√3. With 2 degrees of freedom the
    # t quantile is closed-form: t(p, 2) = (2p − 1) / √(2 p (1 − p)), so
    # t(0.975, 2) = 0.95 / √(2 · 0.975 · 0.025) = 0.95 / √0.04875 = 4.302652...
    # half-width = 4.302652 / √3 = 2.484138...
    iv = t_interval([1.0, 2.0, 3.0])
    t = 0.95 / math.sqrt(2 * 0.975 * 0.025)
    assert iv.half_width == pytest.approx(t / math.sqrt(3), rel=1e-12)
    assert iv.half_width == pytest.approx(2.484138, abs=1e-6)
    assert relative_half_width(iv) == pytest.approx(t / math.sqrt(3) / 2, rel=1e-12)


def test_t_interval_cut_to_the_possible_range():
    # fractions [1, 1, 0.5]: mean 5/6, s = √((1/36 + 1/36 + 1/9) / 2) = √(1/12) = 0.288675,
    # half-width t(0.975, 2) · s / √3 = 4.302653 · 0.288675 / 1.732051 = 0.717109: the
    # upper bound 5/6 + 0.717 > 1 is cut to 1, the lower one stays.
    iv = t_interval([1.0, 1.0, 0.5], within=(0.0, 1.0))
    assert iv.hi == 1.0
    assert iv.lo == pytest.approx(5 / 6 - 0.717109, abs=1e-6)


@pytest.mark.parametrize("values, expect", [
    ([], (math.nan, math.nan, math.nan)),
    ([5.0], (5.0, math.nan, math.nan)),            # one value: no spread to measure
    ([5.0, 5.0, 5.0], (5.0, 5.0, 5.0)),            # no spread seen: a point
    ([5.0, None, 6.0], (math.nan, math.nan, math.nan)),  # a replication with no makespan
])
def test_degenerate_samples(values, expect):
    for iv in (t_interval(values), bootstrap_interval(values, np.random.default_rng(1))):
        got = (iv.mean, iv.lo, iv.hi)
        assert all((math.isnan(a) and math.isnan(b)) or a == b
                   for a, b in zip(got, expect, strict=True))


def test_bootstrap_two_points():
    # [0, 1]: a resample's mean is 0, ½ or 1 with probabilities ¼, ½, ¼. The 2.5th and
    # 97.5th percentiles of 9,999 resampled means are then 0 and 1 (each end holds ~25 %
    # of the resamples, far more than 2.5 %: missing them has probability < 1e-100).
    iv = bootstrap_interval([0.0, 1.0], Streams(1).rng("test", "bootstrap"))
    assert (iv.mean, iv.lo, iv.hi) == (0.5, 0.0, 1.0)


def test_bootstrap_skewed_three_points():
    # [0, 0, 3]: a resample's mean is k (k = how many of the 3 draws are the 3), k ~
    # Binomial(3, 1/3): P(k = 0) = 8/27 = 29.6 %, P(k = 3) = 1/27 = 3.7 % > 2.5 %, so the
    # percentiles are 0 and 3 (the 3.7 % is ~7 standard errors of 9,999 draws from 2.5 %).
    # A t-interval would go below 0 instead: 1 ± 4.30 · √3 / √3 = [−3.30, 5.30].
    iv = bootstrap_interval([0.0, 0.0, 3.0], Streams(1).rng("test", "bootstrap"))
    assert (iv.lo, iv.hi) == (0.0, 3.0)
    t = t_interval([0.0, 0.0, 3.0])
    assert t.lo == pytest.approx(1 - 0.95 / math.sqrt(2 * 0.975 * 0.025), rel=1e-12)


def test_bootstrap_same_stream_same_interval():
    values = [412.0, 398.0, 431.0, 405.0, 420.0, 399.0]
    a = bootstrap_interval(values, Streams(7).rng("report", "bootstrap", "p99"))
    b = bootstrap_interval(values, Streams(7).rng("report", "bootstrap", "p99"))
    c = bootstrap_interval(values, Streams(8).rng("report", "bootstrap", "p99"))
    assert a == b
    assert a != c  # another seed resamples otherwise
    assert min(values) < a.lo < a.mean < a.hi < max(values)


def test_precise_enough_needs_the_minimum_and_the_target():
    # [99, 100, 101]: half-width 4.302653 · 1 / √3 = 2.484, i.e. 2.48 % of 100
    assert not precise_enough([99.0, 101.0], 0.5)              # fewer than 3
    assert not precise_enough([99.0, 100.0, 101.0], 0.0248)
    assert precise_enough([99.0, 100.0, 101.0], 0.0249)
    assert precise_enough([7.0, 7.0, 7.0], 0.001)             # no spread: exact
    assert not precise_enough([7.0, None, 7.0], 0.5)           # a missing makespan
    assert math.isnan(relative_half_width(Interval(0.0, -1.0, 1.0, 3)))


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(finite, min_size=2, max_size=30), finite,
       st.floats(min_value=0.01, max_value=100))
def test_t_interval_follows_a_change_of_unit(values, shift, scale):
    # the interval of a + b·x is a + b·(the interval of x), b > 0 (seconds to minutes,
    # a later time origin): the interval is about the values, not their unit
    a = t_interval(values)
    b = t_interval([shift + scale * v for v in values])
    assert a.lo <= a.mean <= a.hi
    tol = 1e-6 * (abs(shift) + scale * (max(map(abs, values)) + abs(a.half_width)) + 1)
    assert b.mean == pytest.approx(shift + scale * a.mean, abs=tol)
    assert b.half_width == pytest.approx(scale * a.half_width, abs=tol)
