"""Distributions (netbootsim.dist) and named streams (netbootsim.streams).

Samples are checked against their stated parameters at a fixed seed, with tolerances
of several standard errors of 200,000 draws; analytic means are derived by hand in the
comments.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbootsim.dist import (
    Z95,
    Constant,
    DistError,
    Empirical,
    LogNormal,
    Mix,
    Normal,
    Triangular,
    Uniform,
    parse_value,
)
from netbootsim.streams import Streams

N = 200_000


def _draw(d, seed=7):
    return d.sample(np.random.default_rng(seed), N)


def test_lognormal_has_the_stated_median_and_p95():
    # sigma = ln(150/90) / z95 = 0.510826 / 1.644854 = 0.310560;
    # mean = 90 * exp(sigma^2 / 2) = 90 * exp(0.048224) = 94.446 s
    d = parse_value({"dist": "lognormal", "median": "90s", "p95": "150s"}, "time")
    assert isinstance(d, LogNormal)
    assert d.sigma == pytest.approx(math.log(150 / 90) / Z95)
    assert d.mean() == pytest.approx(94.446, abs=1e-3)
    x = _draw(d)
    assert np.median(x) == pytest.approx(90, rel=0.005)
    assert np.quantile(x, 0.95) == pytest.approx(150, rel=0.01)
    assert x.mean() == pytest.approx(d.mean(), rel=0.005)


def test_normal_is_truncated_at_zero_with_the_truncated_mean():
    # mean 1 s, sd 1 s: a = -1; phi(-1) = 0.241971, 1 - Phi(-1) = 0.841345;
    # E[X | X > 0] = 1 + 0.241971 / 0.841345 = 1.287600 s
    d = parse_value({"dist": "normal", "mean": "1s", "sd": "1s"}, "time")
    assert isinstance(d, Normal)
    assert d.mean() == pytest.approx(1.287600, abs=1e-6)
    x = _draw(d)
    assert x.min() >= 0.0
    assert x.mean() == pytest.approx(1.2876, rel=0.005)
    assert "truncated at 0" in d.describe()


def test_uniform_and_triangular_means_and_bounds():
    u = parse_value({"dist": "uniform", "low": "2s", "high": "4s"}, "time")
    x = _draw(u)
    assert isinstance(u, Uniform) and u.mean() == 3.0
    assert 2.0 <= x.min() and x.max() <= 4.0
    assert x.mean() == pytest.approx(3.0, abs=0.01)  # sd 2/sqrt(12)/sqrt(N) = 0.0013
    t = parse_value({"dist": "triangular", "low": "1s", "mode": "2s", "high": "6s"}, "time")
    assert isinstance(t, Triangular) and t.mean() == pytest.approx(3.0)  # (1+2+6)/3
    y = _draw(t)
    assert 1.0 <= y.min() and y.max() <= 6.0 and y.mean() == pytest.approx(3.0, abs=0.01)


def test_mix_draws_each_part_by_its_weight():
    # 70 % at 1 ms, 30 % uniform 10-20 ms: mean = 0.7 * 1 + 0.3 * 15 = 5.2 ms
    d = parse_value({"dist": "mix", "of": [
        {"weight": 0.7, "value": "1ms"},
        {"weight": 0.3, "dist": "uniform", "low": "10ms", "high": "20ms"}]}, "time")
    assert isinstance(d, Mix) and d.mean() == pytest.approx(5.2e-3)
    x = _draw(d)
    assert np.mean(x == 1e-3) == pytest.approx(0.7, abs=0.005)  # sd 0.001
    assert x.mean() == pytest.approx(5.2e-3, rel=0.01)


def test_empirical_resamples_the_users_values(tmp_path):
    f = tmp_path / "post.csv"
    f.write_text("model,seconds\nr640,92\nr640,95s\nsm,3min\n")
    d = parse_value({"dist": "empirical", "file": "post.csv", "column": "seconds"}, "time",
                    base=tmp_path)
    assert isinstance(d, Empirical) and d.values == (92.0, 95.0, 180.0)
    x = _draw(d)
    assert set(np.unique(x)) == {92.0, 95.0, 180.0}
    assert x.mean() == pytest.approx((92 + 95 + 180) / 3, rel=0.005)


def test_constant_and_plain_quantities():
    assert parse_value("250us", "time") == 250e-6
    c = parse_value({"dist": "constant", "value": "2s"}, "time")
    assert isinstance(c, Constant) and c.constant and list(_draw(c)[:3]) == [2.0] * 3
    r = parse_value({"dist": "uniform", "low": "1Gbps", "high": "2Gbps"}, "rate")
    assert r.mean() == pytest.approx(1.5e9 / 8)


@pytest.mark.parametrize("raw, sub, text", [
    ({"dist": "lognormal", "median": "90s", "p95": "60s"}, ("p95",), "above the median"),
    ({"dist": "lognormal", "median": "90s", "p95": "90s"}, ("p95",), "above the median"),
    ({"dist": "lognormal", "median": "0s", "p95": "1s"}, ("median",), "> 0"),
    ({"dist": "uniform", "low": "-1s", "high": "2s"}, ("low",), ""),
    ({"dist": "uniform", "low": "3s", "high": "2s"}, ("high",), "below low"),
    ({"dist": "normal", "mean": "1s", "sd": "-1s"}, ("sd",), ""),
    ({"dist": "normal", "mean": "0s", "sd": "1s"}, ("mean",), "> 0"),
    ({"dist": "triangular", "low": "1s", "mode": "9s", "high": "6s"}, ("mode",), "outside"),
    ({"dist": "mix", "of": [{"weight": 0.7, "value": "1s"}, {"weight": 0.2, "value": "2s"}]},
     ("of",), "sum to 0.9"),
    ({"dist": "mix", "of": [{"weight": -1, "value": "1s"}]}, ("of", 0, "weight"), "> 0"),
    ({"dist": "mix", "of": []}, ("of",), "non-empty"),
    ({"dist": "gamma", "k": 1}, ("dist",), "unknown distribution"),
    ({"dist": "uniform", "low": "1s"}, (), "missing high"),
    ({"dist": "uniform", "low": "1s", "high": "2s", "mode": "1s"}, ("mode",), "unknown field"),
    ({"dist": "uniform", "low": 1, "high": "2s"}, ("low",), "no unit"),
    ({"median": "1s"}, (), "needs 'dist:'"),
])
def test_unphysical_distributions_name_the_part_that_is_wrong(raw, sub, text):
    with pytest.raises(DistError) as e:
        parse_value(raw, "time")
    assert e.value.sub == sub
    assert text in e.value.msg


@pytest.mark.parametrize("content, text", [
    ("", "no values"),
    ("seconds\n", "no values"),
    ("seconds\n12\nabc\n", "row 3"),
    ("seconds\n12\n-3\n", "row 3"),
    ("a,b\n1,2\n", "name one"),
])
def test_empty_or_malformed_empirical_files(tmp_path, content, text):
    (tmp_path / "m.csv").write_text(content)
    with pytest.raises(DistError) as e:
        parse_value({"dist": "empirical", "file": "m.csv"}, "time", base=tmp_path)
    assert e.value.sub == ("file",) or e.value.sub == ("column",)
    assert text in e.value.msg


def test_missing_empirical_file(tmp_path):
    with pytest.raises(DistError, match="cannot read"):
        parse_value({"dist": "empirical", "file": "none.csv"}, "time", base=tmp_path)


@settings(max_examples=60, deadline=None)
@given(low=st.floats(0, 1e3), width=st.floats(0, 1e3), seed=st.integers(0, 2**32 - 1))
def test_draws_stay_in_the_support_and_are_never_negative(low, width, seed):
    u = Uniform("time", low, low + width)
    t = Triangular("time", low, low + width / 3, low + width)
    n = Normal("time", low + 1e-3, width + 1e-3)
    rng = np.random.default_rng(seed)
    for d in (u, t):
        x = d.sample(rng, 64)
        assert (x >= low).all() and (x <= low + width).all()
    assert (n.sample(rng, 64) >= 0).all()


def test_streams_are_named_and_independent_of_each_other():
    s = Streams(42)
    a = s.rng("group", "compute", "rom_start").random(4)
    # the same name, the same draws, whatever else was asked for in between
    s.rng("group", "storage", "rom_start").random(100)
    assert (s.rng("group", "compute", "rom_start").random(4) == a).all()
    assert not (s.rng("group", "storage", "rom_start").random(4) == a).any()
    # replication r is SeedSequence(seed).spawn(n)[r]'s stream, whatever n
    r3 = Streams(42, 3).rng("x").random(2)
    assert (Streams(42).replica(3).rng("x").random(2) == r3).all()
    assert not (Streams(42, 2).rng("x").random(2) == r3).any()
    assert not (Streams(43).rng("group", "compute", "rom_start").random(4) == a).any()
