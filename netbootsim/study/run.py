"""``netbootsim plan STUDY.yaml``: run a study and write its answer.

The study directory (``--out``, default ``results/<study name>``) holds, when done:

- ``runs.jsonl``: every run (:mod:`netbootsim.study.ledger`), in design and replication
  order; ``runs.csv``: the same as a table (one row per design × replication, its seed,
  its values and metrics, its overrides).
- ``designs.csv``: one row per evaluated design: its values, replications, status
  (feasible / infeasible / open), each metric's mean and one-sided bounds at the
  study's confidence, each constraint's margin, and whether it is on the Pareto front.
- ``summary.json``: the study, the method and the runs it spent against the
  exhaustive grid's, the recommended design and its margins, the front, the feasible
  designs, and the sensitivity ranking (``--sensitivity``).
- ``study.md`` and ``report.html`` (with ``pareto.png`` and ``sensitivity.png``): the
  answer first, then the Pareto chart, the feasible designs, every design.

Runs are recorded the moment they finish; the same command after a stop resumes
(:mod:`netbootsim.study.ledger`). Results are the same for any ``--jobs`` or ``--dask``.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..plan.outdir import OutputDir, atomic_write, listed
from .decide import bisect_steps, bounds, margin, pareto_front
from .evaluate import Evaluator, Result
from .ledger import FINGERPRINT, LEDGER, Ledger, canonical, fingerprint
from .runner import make_pool
from .search import run_search
from .spec import METRICS, TIME_METRICS, Study, load_study

__all__ = ["run_study", "OUTPUTS", "new_directory"]

#: What a finished study writes (besides the ledger and its fingerprint).
OUTPUTS = ("runs.csv", "designs.csv", "summary.json", "study.md", "report.html",
           "pareto.png", "sensitivity.png")


def new_directory(out: Path) -> Path:
    """The first of ``OUT-2``, ``OUT-3``... that does not exist (``--new``)."""
    k = 2
    while (p := out.with_name(f"{out.name}-{k}")).exists():
        k += 1
    return p


def run_study(path: str | Path, out: str | Path | None = None, *, jobs: int | None = None,
              dask: str | None = None, sensitivity: bool = False, new: bool = False,
              restart: bool = False, force: bool = False, progress: Callable | None = None,
              say: Callable[[str], None] | None = None) -> Path:
    """Run the study in ``path``; the study directory.

    Raises:
        InputError: the study file, its scenario, the directory or the pool will not do.
    """
    study = load_study(path)
    if sensitivity and study.sensitivity is None:
        raise InputError.single(str(path), 0, "sensitivity", "--sensitivity needs a "
                                "sensitivity: section (metric, factors with low and high)")
    target = Path(out) if out is not None else Path("results") / study.name
    print_ = say or (lambda m: None)
    stamp = fingerprint(study.scenario, study.base)
    if target.exists() and _other_study(target, stamp) and not restart:
        if not new:
            raise InputError.single(
                "command line", 0, "--out",
                f"{target}: holds runs of another version of this study (its scenario, a "
                f"file it names, or netbootsim changed): they cannot be reused; add --new "
                f"to start a new study directory beside it, --restart to run this one "
                f"again from nothing, or choose another --out")
        target = new_directory(target)
        print_(f"plan: starting a new study directory {target}")
    pool = make_pool(jobs, dask)  # a pool that cannot start writes nothing
    try:
        with OutputDir(target, "plan", force=force) as od:
            od.open_in_place()
            _claim(target)
            od.mark([LEDGER, FINGERPRINT])
            atomic_write(target / FINGERPRINT, json.dumps(
                {"study": study.name, "fingerprint": stamp}, indent=1, sort_keys=True) + "\n")
            ledger = Ledger(target)
            if restart:  # the runs recorded here are not wanted (ours: _claim said so)
                (target / LEDGER).unlink(missing_ok=True)
            found = ledger.load()
            if found:
                print_(f"plan: resuming: {found} runs recorded in {target / LEDGER}")
            try:
                ev = Evaluator(study, ledger, pool, progress)
                method = run_search(study, ev)
                ranking = None
                if sensitivity:
                    from .sensitivity import morris

                    ranking = morris(study, ev)
            finally:
                ledger.close()
            ledger.rewrite(ev.ledger_order())
            summary, designs, runs = _tables(study, ev, method, ranking)
            od.mark([LEDGER, FINGERPRINT, *OUTPUTS])  # before they exist: a kill leaves
            _write(target, study, summary, designs, runs)  # the directory ours
    finally:
        pool.close()
    return target / "report.html"


def _claim(target: Path) -> None:
    """Refuse a ledger, fingerprint or output of ours' names that netbootsim did not write.

    With ``--force`` a directory may hold the user's files; one named like ours is theirs
    unless the marker lists it, and is neither read, truncated nor replaced.
    """
    mine = listed(target)
    theirs = [n for n in (LEDGER, FINGERPRINT, *OUTPUTS)
              if (target / n).exists() and n not in mine]
    if theirs:
        raise InputError.single("command line", 0, "--out",
                                f"{target}: holds {theirs[0]!r}, which netbootsim did not "
                                "write, where a study writes its own; choose another --out")


def _other_study(target: Path, stamp: str) -> bool:
    """Whether ``target`` holds a study (of ours) whose runs this one cannot use."""
    mine = listed(target)
    if FINGERPRINT not in mine or LEDGER not in mine:
        return False
    try:
        old = json.loads((target / FINGERPRINT).read_text())
    except (OSError, ValueError):
        return False
    return old.get("fingerprint") != stamp and (target / LEDGER).is_file() and \
        (target / LEDGER).stat().st_size > 0


# -- tables ----------------------------------------------------------------------------


def _keys(study: Study) -> list[str]:
    keys = list(dict.fromkeys(["makespan", "p50", "p95", "p99", "fleet_p99", "ready_fraction",
                               "cost", _time_axis(study),
                               *(c.key for c in study.constraints), study.objective]))
    return keys


def _design_row(study: Study, r: Result, keys: list[str]) -> dict:
    row: dict = {"design": r.design.key, "index": r.design.index}
    for v, label in zip(study.variables, r.design.labels, strict=True):
        row[v.name] = label
    row.update({"replications": len(r.runs), "status": r.status})
    for k in keys:
        b = bounds(r.values(k), study.confidence)
        row[f"{k}_mean"] = b.mean
        row[f"{k}_lo"] = b.lo
        row[f"{k}_hi"] = b.hi
    for i, c in enumerate(study.constraints):
        row[f"margin_{i + 1}"] = margin(c, bounds(r.values(c.key), study.confidence))
    return row


def _time_axis(study: Study) -> str:
    """The time metric the front weighs cost against.

    The first time SLO's (with its group, if any: ``fleet_p99[servers-*]``), else a time
    objective, else the sensitivity's metric if it is a time, else ``p99``.
    """
    for c in study.constraints:
        if c.metric in TIME_METRICS:
            return c.key
    if study.objective != "cost":
        return study.objective
    if study.sensitivity and study.sensitivity["metric"] in TIME_METRICS:
        return study.sensitivity["metric"]
    return "p99"


def _tables(study: Study, ev: Evaluator, method: dict, ranking: dict | None):
    keys = _keys(study)
    grid = sorted((r for r in ev.results.values() if r.design.index < study.grid_size
                   and r.runs), key=lambda r: r.design.index)
    rows = [_design_row(study, r, keys) for r in grid]
    axis = _time_axis(study)
    points = [(row["cost_mean"], row[f"{axis}_mean"]) for row in rows]
    priced = any(p[0] > 0 for p in points)
    front = pareto_front(points) if priced else []
    for i, row in enumerate(rows):
        row["pareto"] = i in front
    best = ev.best(study.objective, axis)
    if method.get("method") == "bisect":  # the smallest (largest) value meeting the SLOs
        answers = {s["design"] for s in method["searches"] if s["design"]}
        found = [r for r in ev.results.values() if r.design.key in answers]
        best = min(found, key=lambda r: (r.mean(study.objective), r.mean(axis),
                                         r.design.index), default=None)
    recommended = None
    if best is not None:
        row = next(x for x in rows if x["index"] == best.design.index)
        recommended = {
            "design": best.design.key,
            "values": dict(zip((v.name for v in study.variables), best.design.labels,
                               strict=True)),
            "overrides": list(best.design.overrides),
            "replications": len(best.runs),
            "objective": {"metric": study.objective, "mean": row[f"{study.objective}_mean"]},
            "cost": {"mean": row["cost_mean"], "lo": row["cost_lo"], "hi": row["cost_hi"]},
            axis: {"mean": row[f"{axis}_mean"], "lo": row[f"{axis}_lo"],
                   "hi": row[f"{axis}_hi"]},
            "margins": [{"constraint": c.text, "bound": row[f"{c.key}_hi"]
                         if c.sense == "max" else row[f"{c.key}_lo"], "limit": c.limit,
                         "margin": row[f"margin_{i + 1}"],
                         "margin_fraction": row[f"margin_{i + 1}"] / c.limit
                         if c.limit else math.nan}
                        for i, c in enumerate(study.constraints)]}
    runs_grid = study.grid_size * study.min_reps
    summary = {
        "study": study.name, "question": study.question,
        "scenario": str(study.scenario.name), "base": list(study.base),
        "variables": [{"name": v.name, "values": list(v.labels), "monotone": v.monotone}
                      for v in study.variables],
        "objective": study.objective,
        "constraints": [{"metric": c.metric, "key": c.key, "group": c.group,
                         "sense": c.sense, "limit": c.limit, "by": c.by, "text": c.text}
                        for c in study.constraints],
        "confidence": study.confidence,
        "replications": {"min": study.min_reps, "max": study.max_reps},
        "budget": study.budget, "search": method,
        "runs": ev.spent, "sensitivity_runs": ev.free, "designs_evaluated": len(rows),
        "grid_designs": study.grid_size,
        "grid_runs_at_least": runs_grid,
        "budget_spent": ev.exhausted,
        "time_axis": axis, "priced": priced,
        "recommended": recommended,
        "feasible": [r["design"] for r in rows if r["status"] == "feasible"],
        "pareto": [rows[i]["design"] for i in front],
        "sensitivity": ranking,
        "metrics": list(METRICS), "time_metrics": list(TIME_METRICS),
    }
    runs = []
    for d, k in ev.order:
        rec = ev.ledger.get(d.overrides, k)
        assert rec is not None
        row = {"design": d.key, "index": d.index}
        if d.index < study.grid_size:
            row.update(zip((v.name for v in study.variables), d.labels, strict=True))
        row.update({"replication": k, "seed": rec["seed"]})
        row.update((m, rec["metrics"][m]) for m in sorted(rec["metrics"]) if m != "seed")
        row["overrides"] = " ".join(d.overrides)
        runs.append(row)
    runs.sort(key=lambda x: (x["index"], x["replication"]))
    return summary, rows, runs


def _write(target: Path, study: Study, summary: dict, designs: list[dict],
           runs: list[dict]) -> None:
    from ..report.study_page import study_pages

    def csv(rows: list[dict]) -> str:
        return pd.DataFrame(rows).to_csv(index=False, float_format="%.9g") if rows else ""

    atomic_write(target / "runs.csv", csv(runs))
    atomic_write(target / "designs.csv", csv(designs))
    atomic_write(target / "summary.json",
                 json.dumps(canonical(summary), indent=2, sort_keys=True) + "\n")
    for name, data in study_pages(canonical(summary),
                                  canonical(designs, keep_inf=True)).items():
        if data is not None:
            atomic_write(target / name, data)
        else:  # a figure of an earlier run of this study (ours: _claim checked)
            (target / name).unlink(missing_ok=True)


def expected_runs(study: Study, sensitivity: bool) -> int:
    """Runs the study will likely take.

    Each design it evaluates at the minimum replications (the grid's designs, the most
    bisection evaluates, or the budget), plus Morris' runs. More replications of designs
    near a limit add to it as they are decided on.
    """
    if study.search == "grid":
        runs = study.grid_size * study.min_reps
    elif study.search == "bisect":
        mono = next(v for v in study.variables if v.monotone)
        runs = study.grid_size // len(mono.labels) * bisect_steps(len(mono.labels)) * \
            study.min_reps
    else:
        runs = study.budget
    if sensitivity and study.sensitivity:
        runs += study.sensitivity["trajectories"] * (len(study.factors) + 1)
    return runs


def progress_bar(study: Study, sensitivity: bool = False):
    """A tqdm bar over the study's runs: designs decided, the best so far, time left.

    Its total starts at :func:`expected_runs` and grows when a wave needs more, so its
    estimate of the time left is tqdm's: the rate so far over the runs still expected.
    """
    from tqdm import tqdm

    bar = tqdm(total=expected_runs(study, sensitivity), unit="run", file=sys.stderr,
               dynamic_ncols=True, leave=True, disable=None)

    def update(ev: Evaluator) -> None:
        bar.total = max(bar.total or 0, ev.horizon)
        bar.n = ev.done
        decided = sum(r.status != "open" for r in ev.results.values())
        best = ev.best(study.objective, _time_axis(study))
        text = f"{decided}/{len(ev.results)} designs decided"
        if best is not None:
            text += f", best {best.design.key} ({study.objective} " \
                    f"{best.mean(study.objective):,.4g})"
        bar.set_postfix_str(text, refresh=False)
        bar.refresh()

    return update, bar
