"""Bisection on a monotone variable: the smallest feasible value in the predicted runs."""

import math
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st
from study_fakes import ROOT, FormulaPool

from netbootsim.study.decide import bisect_steps
from netbootsim.study.evaluate import Evaluator
from netbootsim.study.ledger import Ledger
from netbootsim.study.search import run_search
from netbootsim.study.spec import load_study


def _study(tmp_path, values, monotone="decreasing", limit="30s"):
    f = tmp_path / "s.yaml"
    f.write_text(textwrap.dedent(f"""\
        scenario: {ROOT / 'scenarios' / 'quickstart.yaml'}
        variables:
          workers:
            field: services.http1.workers
            values: {values}
            monotone: {monotone}
        objective: {{minimize: cost}}
        constraints: [{{metric: p99, max: {limit}}}]
        replications: {{min: 3, max: 5}}
        """))
    return load_study(f)


def test_bisection_by_hand(tmp_path):
    # 10 values 1..10, p99 = 100 / value s, limit 30 s: feasible from value 4 (25 s) on,
    # i.e. position 3. Binary search over positions [0, 10]: mid 5 (value 6) feasible →
    # [0, 5]; mid 2 (value 3, 33.3 s) not → [3, 5]; mid 4 (value 5) feasible → [3, 4];
    # mid 3 (value 4) feasible → [3, 3]. 4 designs, 3 replications each (no spread:
    # decided at the minimum) = 12 runs; ⌈log2(11)⌉ = 4 predicted.
    study = _study(tmp_path, list(range(1, 11)))
    pool = FormulaPool(lambda v, r: 100 / v)
    ev = Evaluator(study, Ledger(tmp_path), pool)
    method = run_search(study, ev)
    assert method["answer"] == "4"
    assert method["probes"] == ["6", "3", "5", "4"]
    assert ev.spent == 12 == len(pool.calls)
    assert len(method["probes"]) == bisect_steps(10)


def test_increasing_variable_finds_the_largest(tmp_path):
    # p99 = 10 · value, limit 30 s: feasible up to value 3 (largest feasible: 3)
    study = _study(tmp_path, [1, 2, 3, 4, 5, 6, 7], monotone="increasing")
    ev = Evaluator(study, Ledger(tmp_path), FormulaPool(lambda v, r: 10 * v))
    assert run_search(study, ev)["answer"] == "3"


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), data=st.data())
def test_bisection_finds_the_threshold(tmp_path_factory, n, data):
    k = data.draw(st.integers(0, n))  # the first feasible position; n: none is
    tmp = tmp_path_factory.mktemp("b")
    study = _study(tmp, list(range(1, n + 1)))
    # values at positions ≥ k give 10 s, below 50 s; spread ±1 s by replication
    pool = FormulaPool(lambda v, r: (10.0 if v - 1 >= k else 50.0) + (r % 3 - 1))
    ev = Evaluator(study, Ledger(tmp), pool)
    method = run_search(study, ev)
    assert method["answer"] == (str(k + 1) if k < n else None)
    assert len(method["probes"]) <= bisect_steps(n)
    assert len(method["probes"]) >= math.floor(math.log2(n + 1))
