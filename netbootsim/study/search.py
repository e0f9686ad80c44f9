"""Which designs a study evaluates: the whole grid, a bisection, or an optimiser.

- **grid**: every design, for grids the budget covers (``search: auto`` picks it when
  ``designs × min replications ≤ budget``).
- **bisect**: one variable declared ``monotone`` (``decreasing``: a larger value never
  makes a constraint's metric worse, as more mirrors or more TFTP slots; ``increasing``:
  never better, as more servers). Over its ``n`` values, feasibility then switches at
  most once, and a binary search finds the smallest feasible value (the largest, for
  ``increasing``) in at most ⌈log2(n + 1)⌉ designs
  (:func:`~netbootsim.study.decide.bisect_steps`). A design left open at the most
  replications counts as infeasible here: the answer errs towards more. Where the runs
  contradict the declared order (an evaluated design infeasible beyond a feasible one)
  the study reports it.
- **optuna**: several variables over a grid too large to run whole: Optuna's TPE
  sampler [optuna] with the study's seed, constrained by the SLOs
  (``constraints_func``: each constraint's deciding bound minus its limit, feasible at
  ≤ 0), minimising the objective's mean. It proposes ``budget.batch`` designs at a time
  and is told their values in the order it proposed them, so it proposes the same
  designs whatever pool runs them. A design it proposes again costs no run. It stops at
  the budget, when the whole grid has been seen, or after three batches with nothing new.
"""

from __future__ import annotations

import itertools
import math

from .decide import bounds
from .evaluate import BudgetSpent, Evaluator, Result
from .spec import Design, Study

__all__ = ["run_search", "STALL"]

#: Optimiser batches in a row proposing only designs already evaluated before it stops.
STALL = 3


def run_search(study: Study, ev: Evaluator) -> dict:
    """Evaluate designs by the study's method; what the method did (for the summary)."""
    if study.search == "bisect":
        return _bisect(study, ev)  # keeps the searches done when the budget runs out
    try:
        if study.search == "grid":
            ev.evaluate(study.grid())
            return {"method": "grid"}
        return _optuna(study, ev)
    except BudgetSpent:
        return {"method": study.search, "budget_spent": True}


def _bisect(study: Study, ev: Evaluator) -> dict:
    """Bisect the monotone variable once for each combination of the others."""
    mono = next(i for i, v in enumerate(study.variables) if v.monotone)
    v = study.variables[mono]
    n = len(v.labels)
    # positions in the order feasibility grows: ascending values for "decreasing"
    order = list(range(n)) if v.monotone == "decreasing" else list(range(n - 1, -1, -1))
    others = [range(len(w.labels)) if k != mono else [0]
              for k, w in enumerate(study.variables)]
    searches = []
    spent = False
    for rest in itertools.product(*others):
        lo, hi = 0, n  # the first feasible position is in [lo, hi]; hi == n: none is
        probes = []
        while lo < hi and not spent:
            mid = (lo + hi) // 2
            d = study.design(rest[:mono] + (order[mid],) + rest[mono + 1:])
            probes.append(d.labels[mono])
            try:
                (r,) = ev.evaluate([d])
            except BudgetSpent:
                spent = True
                break
            if r.status == "feasible":
                hi = mid
            else:
                lo = mid + 1
        fixed = {w.name: w.labels[c] for k, (w, c) in enumerate(zip(study.variables, rest,
                                                                       strict=True))
                 if k != mono}
        done = lo >= hi  # finished (not cut short by the budget)
        answer = None
        if done and lo < n:
            answer = study.design(rest[:mono] + (order[lo],) + rest[mono + 1:]).key
        searches.append({"fixed": fixed, "probes": probes, "finished": done,
                         "answer": v.labels[order[lo]] if done and lo < n else None,
                         "design": answer})
    out = {"method": "bisect", "variable": v.name, "searches": searches,
           "contradictions": _contradictions(study, ev, mono)}
    if spent:
        out["budget_spent"] = True
    if len(searches) == 1:  # one variable: its answer and probes at the top
        out.update(probes=searches[0]["probes"], answer=searches[0]["answer"])
    return out


def _contradictions(study: Study, ev: Evaluator, mono: int) -> list[str]:
    """Pairs of evaluated designs whose verdicts break the declared monotone order."""
    v = study.variables[mono]
    sign = 1 if v.monotone == "decreasing" else -1
    groups: dict[tuple, list[tuple[int, str, str]]] = {}
    for r in ev.results.values():
        if r.design.index >= study.grid_size:
            continue
        c = r.design.choice
        groups.setdefault(c[:mono] + c[mono + 1:], []).append(
            (sign * c[mono], r.status, r.design.key))
    out = []
    for seen in groups.values():
        seen.sort()
        for i, (_, sa, ka) in enumerate(seen):
            for _, sb, kb in seen[i + 1:]:
                if sa == "feasible" and sb == "infeasible":
                    out.append(f"{ka} is feasible but {kb} is not")
    return out


def _design_of(study: Study, trial) -> Design:
    choice = []
    for v in study.variables:
        if v.numbers is not None:
            choice.append(trial.suggest_int(v.name, 0, len(v.labels) - 1))
        else:
            choice.append(trial.suggest_categorical(v.name, list(range(len(v.labels)))))
    return study.design(tuple(choice))


def _violations(study: Study, r: Result) -> list[float]:
    """Each constraint's deciding bound minus its limit (≤ 0: met), kept finite."""
    out = []
    for c in study.constraints:
        b = bounds(r.values(c.key), study.confidence)
        x = b.hi - c.limit if c.sense == "max" else c.limit - b.lo
        out.append(x if math.isfinite(x) else 1e12)
    return out


def _optuna(study: Study, ev: Evaluator) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Optuna 5 reads constraints a trial was given (Trial.set_constraint); before it, the
    # sampler asked a function for them
    modern = hasattr(optuna.trial.Trial, "set_constraint")
    old = {} if modern else {"constraints_func": lambda t: t.user_attrs["violations"]}
    sampler = optuna.samplers.TPESampler(seed=study.seed, n_startup_trials=max(study.batch, 4),
                                         **old)
    opt = optuna.create_study(direction="minimize", sampler=sampler)
    seen: set[int] = set()
    stall = trials = 0
    while len(seen) < study.grid_size and stall < STALL:
        batch = [opt.ask() for _ in range(study.batch)]
        designs = [_design_of(study, t) for t in batch]
        new = [d for d in designs if d.index not in seen]
        stall = 0 if new else stall + 1
        try:
            ev.evaluate(designs)
        finally:
            for t, d in zip(batch, designs, strict=True):
                r = ev.results[d.index]
                if len(r.runs) < study.min_reps:  # the budget ran out under it
                    opt.tell(t, state=optuna.trial.TrialState.FAIL)
                    continue
                violations = _violations(study, r)
                if modern:
                    for i, x in enumerate(violations):
                        t.set_constraint(f"constraint {i + 1}", x)
                else:
                    t.set_user_attr("violations", violations)
                value = r.mean(study.objective)
                opt.tell(t, value if math.isfinite(value) else 1e12)
                trials += 1
        seen.update(d.index for d in designs)
    return {"method": "optuna", "trials": trials, "designs_seen": len(seen),
            "stopped": "grid seen" if len(seen) >= study.grid_size else "stalled"}
