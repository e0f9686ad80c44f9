"""Where is the cliff? ``netbootsim sweep``: one field over values, as a study.

Runs the scenario at each value of one field (any ``--set`` path: ``fleet[0].count``,
``services.tftp1.max_sessions``...), ``--replications N`` times each, on the study's
machinery (:mod:`netbootsim.study.evaluate`): the same ledger (a sweep stopped at any
moment and started again redoes no recorded run), the same pools (``--jobs``,
``--dask``), results independent of both. The cliff is measured as the fraction of the
fleet *not ready by the deadline* (failed, still booting, or ready later).

**Refinement.** A crossing of 1 % or 50 % between two grid values is narrowed by
bisection (``--refine K``, default 4 steps per level): the value halfway is run (whole
numbers stay whole), and the pair that brackets the crossing is kept. A step in the
fraction between 1,000 and 2,000 slots is then found within 1,000 / 2^K of where it is,
not drawn as a line from one grid value to the next. Non-numeric values are not refined
(and have no crossing).

**Intervals.** With replications, each point's fraction is their mean with its
Student-t 95 % interval (cut to [0, 1]); a crossing's interval is where the interval's
lower and upper curves cross the level: the band the crossing lies in, as far as the
replications tell.

Outputs (``--out DIR``):

- ``DIR/<value>/``: that point's ``summary.json`` (every output with ``--keep-runs``);
  with replications, ``DIR/<value>/rep-<r>/`` for each.
- ``sweep.csv``: one row per point (grid and refined), in the order of the values.
- ``summary.json``: ``cliff`` ``{"vary", "deadline_s", "crosses_1pct", "crosses_50pct",
  "crosses_1pct_interval", "crosses_50pct_interval", "refined", "turns"}`` (``turns``:
  the values where the not-ready fraction changes direction by more than the
  replications' 95 % intervals, :func:`_turns`; each crossing is the first from the
  smallest value), ``points`` (the
  table), and ``vary``, ``values``, ``deadline_s``, ``not_ready_fraction``,
  ``crosses_1pct``, ``crosses_50pct`` flat.
- ``sweep.md``: the table and the cliff in words.
- ``runs.jsonl``: the ledger (one line per run).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..errors import InputError, Problem
from ..plan.intervals import t_interval
from ..plan.outdir import OutputDir, atomic_write, listed
from ..plan.sweep import crossing
from .evaluate import Evaluator, Result
from .ledger import FINGERPRINT, LEDGER, Ledger, canonical, fingerprint
from .runner import make_pool
from .spec import Design, Study

__all__ = ["sweep", "LEVELS", "REFINE"]

#: The not-ready fractions whose crossings are the cliff.
LEVELS = (0.01, 0.5)
#: Bisection steps per crossing by default.
REFINE = 4


def _value(text: str) -> float | int | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _label(x: float | int | str) -> str:
    return str(x) if not isinstance(x, float) else f"{x:.12g}"


def _as_vary(problem: Problem, vary: str, grid: Sequence[str], value: str) -> Problem:
    """A problem of the override ``--set VARY=VALUE`` the sweep made, told as ``--vary``."""
    if problem.file == f"--set {vary}={value}":
        return replace(problem, file=f"--vary {vary}={','.join(grid)}",
                       message=f"value {value!r}: {problem.message}")
    return problem


def _study(scenario: str, overrides: Sequence[str], reps: int) -> Study:
    return Study(path=Path(scenario), name=Path(scenario).stem, question="",
                 scenario=Path(scenario).resolve(), base=tuple(overrides), variables=(),
                 objective="p99", constraints=(), confidence=0.95, min_reps=reps,
                 max_reps=reps, budget=10**9, batch=1, search="grid", seed=1,
                 sensitivity=None)


def sweep(scenario: str, vary: str, grid: Sequence[str], out: str | Path, *,
          deadline: float, deadline_text: str = "", overrides: Sequence[str] = (),
          keep_runs: bool = False, force: bool = False, strict: bool = False,
          max_memory: float | None = None, say: Callable[[str], None] | None = None,
          replications: int = 1, refine: int = REFINE, jobs: int | None = None,
          dask: str | None = None) -> Path:
    """Run ``scenario`` over the values ``grid`` of the field ``vary``; write the sweep.

    Every value is checked before any runs. Returns the path of ``sweep.md``.

    Raises:
        InputError: the scenario, a value, the directory or the pool will not do.
    """
    from ..scenario import load_scenario

    out = Path(out)
    for v in grid:  # every point is loaded (validated) before the first one runs
        try:
            sc = load_scenario(scenario, overrides=[*overrides, f"{vary}={v}"],
                               strict=strict, max_memory=max_memory)
        except InputError as e:
            raise InputError([_as_vary(p, vary, grid, v) for p in e.problems]) from None
        for w in sc.warnings if say is not None and v == grid[0] else ():
            say(str(w))
    study = _study(scenario, overrides, replications)
    stamp = fingerprint(study.scenario, study.base) + \
        f" deadline={deadline!r} replications={replications} keep={keep_runs}"
    numeric = all(isinstance(_value(v), int | float) for v in grid)
    pool = make_pool(jobs, dask)  # a pool that cannot start writes nothing
    try:
        with OutputDir(out, "sweep", force=force) as od:
            od.open_in_place()
            mine = listed(out)
            theirs = [n for n in (LEDGER, FINGERPRINT) if (out / n).exists() and n not in mine]
            if theirs:
                raise InputError.single("command line", 0, "--out",
                                        f"{out}: holds {theirs[0]!r}, which netbootsim did "
                                        "not write, where a sweep writes its own")
            old = _stamp(out)
            od.mark([LEDGER, FINGERPRINT, *grid])
            ledger = Ledger(out)
            if old == stamp:
                ledger.load()
            else:  # another scenario, code, deadline or count: not this sweep's runs
                (out / LEDGER).unlink(missing_ok=True)
            atomic_write(out / FINGERPRINT, json.dumps({"sweep": vary, "fingerprint": stamp},
                                                       indent=1) + "\n")
            only = None if keep_runs else frozenset({"summary.json"})
            try:
                ev = _SweepEvaluator(study, ledger, pool, out, vary, only, deadline)
                points = [_point(vary, v, i) for i, v in enumerate(grid)]
                ev.evaluate(points, reps=replications)
                refined: list[str] = []
                if numeric:
                    refined = _refine(ev, od, vary, points, deadline, replications, refine,
                                      grid)
            finally:
                ledger.close()
            ledger.rewrite(ev.ledger_order())
            results = sorted((r for r in ev.results.values()),
                             key=lambda r: (_value(r.design.key) if numeric else 0,
                                            r.design.index))
            od.mark([LEDGER, FINGERPRINT, *(r.design.key for r in results),
                     "sweep.csv", "summary.json", "sweep.md"])
            _write_results(out, vary, results, deadline, deadline_text or f"{deadline:g} s",
                           numeric, refined)
    finally:
        pool.close()
    return out / "sweep.md"


def _stamp(out: Path) -> str | None:
    try:
        return json.loads((out / FINGERPRINT).read_text()).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None


def _point(vary: str, value: str, index: int) -> Design:
    """The point ``value`` of the field: set by the value's text, as ``--set`` does."""
    return Design(index, (), (value,), (f"{vary}={value}",), value)


class _SweepEvaluator(Evaluator):
    """The study's evaluator, writing each run's outputs into its point's directory."""

    def __init__(self, study: Study, ledger: Ledger, pool, out: Path, vary: str,
                 only: frozenset[str] | None, deadline: float):
        super().__init__(study, ledger, pool)
        self.out, self.vary, self.only = out, vary, only
        self.deadlines = (deadline,)

    def _task(self, d: Design, k: int):
        task = super()._task(d, k)
        base = self.out / d.key
        where = base if self.study.min_reps == 1 else base / f"rep-{k}"
        return replace(task, overrides=(*self.study.base, *d.overrides), out=str(where),
                       only=self.only)


def _fraction(r: Result, deadline: float) -> list[float]:
    return [1.0 - x for x in r.values(f"ready_fraction@{deadline:g}")]


def _refine(ev: Evaluator, od: OutputDir, vary: str, points: list[Design], deadline: float,
            reps: int, steps: int, grid: Sequence[str]) -> list[str]:
    """Bisect the brackets of each level's crossing; the values added."""
    added: list[str] = []
    integer = all(isinstance(_value(v), int) for v in grid)
    for level in LEVELS:
        for _ in range(steps):
            rs = sorted(ev.results.values(), key=lambda r: _value(r.design.key))
            xs = [float(_value(r.design.key)) for r in rs]
            ys = [float(sum(f) / len(f)) for f in (_fraction(r, deadline) for r in rs)]
            bracket = _bracket(xs, ys, level)
            if bracket is None:
                break
            x0, x1 = xs[bracket - 1], xs[bracket]
            mid: float | int = (x0 + x1) / 2
            if integer:
                mid = int(math.floor(mid))
                if mid <= x0 or mid >= x1:
                    break
            elif not (x0 < mid < x1):
                break
            label = _label(mid)
            od.mark([label])  # before its directory exists: a kill leaves it ours
            added.append(label)
            ev.evaluate([_point(vary, label, len(points) + len(added))], reps=reps)
    return added


def _bracket(xs: list[float], ys: list[float], level: float) -> int | None:
    """The index ``i`` where ``ys`` first crosses ``level`` between ``i − 1`` and ``i``."""
    if not ys:
        return None
    rising = ys[0] < level
    for i in range(1, len(ys)):
        if (rising and ys[i] >= level) or (not rising and ys[i] < level):
            return i
    return None


def _write_results(out: Path, path: str, results: list[Result], deadline: float,
                   deadline_text: str, numeric: bool, refined: list[str]) -> None:
    """``sweep.csv``, ``summary.json`` and ``sweep.md``, each renamed into place."""
    rows = []
    for r in results:
        f = _fraction(r, deadline)
        iv = t_interval(f, within=(0.0, 1.0))
        def mean(k: str, r: Result = r) -> float:
            return float(sum(r.values(k)) / len(r.runs))

        rows.append({path: _value(r.design.key), "replications": len(r.runs),
                     "servers": int(r.runs[0]["servers"]),
                     "completed": mean("completed"), "failed": mean("failed"),
                     "unfinished": mean("unfinished"),
                     "not_ready_fraction": iv.mean,
                     "not_ready_lo": iv.lo if len(f) > 1 else None,
                     "not_ready_hi": iv.hi if len(f) > 1 else None,
                     "p95": mean("p95"), "makespan": mean("makespan"),
                     "seed": int(r.runs[0]["seed"]), "refined": r.design.key in refined})
    scenario_name = _scenario_name(out)
    for row in rows:
        row["scenario"] = scenario_name
        for k in ("completed", "failed", "unfinished"):
            if len(results) and float(row[k]).is_integer():
                row[k] = int(row[k])
    frame = pd.DataFrame(rows)
    atomic_write(out / "sweep.csv", frame.to_csv(index=False, float_format="%.9g"))
    xs = [float(r[path]) for r in rows] if numeric else list(range(len(rows)))
    ys = [r["not_ready_fraction"] for r in rows]
    lo = [r["not_ready_lo"] for r in rows]
    hi = [r["not_ready_hi"] for r in rows]
    cliff: dict = {"vary": path, "deadline_s": deadline, "refined": refined,
                   "turns": [r[path] for r in _turns(rows, ys)] if numeric else []}
    for level, key in zip(LEVELS, ("crosses_1pct", "crosses_50pct"), strict=True):
        cliff[key] = crossing(xs, ys, level) if numeric else None
        band = None
        if numeric and all(x is not None for x in lo + hi) and rows:
            a, b = crossing(xs, hi, level), crossing(xs, lo, level)
            if a is not None and b is not None:
                band = sorted([a, b])
        cliff[f"{key}_interval"] = band
    result = {"vary": path, "deadline_s": deadline,
              "crosses_1pct": cliff["crosses_1pct"], "crosses_50pct": cliff["crosses_50pct"],
              "values": [r[path] for r in rows], "not_ready_fraction": ys,
              "cliff": cliff, "points": rows}
    atomic_write(out / "summary.json",
                 json.dumps(canonical(result), indent=2, sort_keys=True) + "\n")
    reps = rows[0]["replications"] if rows else 1
    lines = [f"# Sweep of `{path}` — {scenario_name}", "",
             f"Not ready by the deadline ({deadline_text}): failed, still booting, or later."
             + (f" Each point: the mean of {reps} replications, with its 95 % interval."
                if reps > 1 else ""), "",
             f"| {path} | ready | failed | not ready by deadline | p95 | makespan |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        p95 = "—" if r["p95"] is None or not math.isfinite(r["p95"]) else f"{r['p95']:.1f} s"
        mk = ("—" if r["makespan"] is None or not math.isfinite(r["makespan"])
              else f"{r['makespan']:.1f} s")
        nr = f"{100 * r['not_ready_fraction']:.1f} %"
        if r["not_ready_lo"] is not None:
            nr += f" [{100 * r['not_ready_lo']:.1f}, {100 * r['not_ready_hi']:.1f}]"
        mark = " (refined)" if r["refined"] else ""
        lines.append(f"| {r[path]}{mark} | {r['completed']:g}/{r['servers']} | "
                     f"{r['failed']:g} | {nr} | {p95} | {mk} |")

    def said(key: str) -> str:
        x, band = cliff[key], cliff[f"{key}_interval"]
        if x is None:
            return "never"
        text = f"{x:.6g}"
        return text + (f" [{band[0]:.6g}, {band[1]:.6g}]" if band else "")

    how = (f"bisected {len(refined)} times around the crossings, then linear between "
           "the two values that bracket each" if refined else "linear between grid points")
    lines += ["", f"Crosses 1 %: {said('crosses_1pct')}; crosses 50 %: "
              f"{said('crosses_50pct')} ({how}; `cliff` in `summary.json`).", ""]
    if cliff["turns"]:  # a crossing is the first from the left: say it may not be the last
        lines += [f"The curve is not monotone: it turns at {path} = "
                  f"{', '.join(str(t) for t in cliff['turns'])}"
                  + (" (beyond the replications' 95 % intervals)" if reps > 1 else "")
                  + ", so it may cross a level "
                  "again after the crossing given above (read the table).", ""]
    atomic_write(out / "sweep.md", "\n".join(lines))


def _turns(rows: list[dict], ys: list[float]) -> list[dict]:
    """The points where the not-ready fraction changes direction, beyond its noise.

    The curve takes a direction at the first point that lies clear of an earlier one
    (above it: rising; below: falling), and keeps it until a point lies clear of an
    earlier one of this stretch the other way; the stretch's extreme (its highest point
    while rising, its lowest while falling; the first of a plateau) is then a turn, and
    the next stretch starts there. *Clear*: without replications every unequal value
    (one seed: the run is what it is); with them (each point's ``not_ready_lo`` /
    ``not_ready_hi``, a 95 % interval), intervals that do not overlap. So a curve that
    wanders within its intervals has no turns, one that falls slowly, each step within
    the noise, turns once it has fallen clear, and the turn is at its peak whatever the
    width of the peak's own interval.
    """
    def bound(row: dict, key: str) -> float | None:
        v = row.get(key)
        return None if v is None or v != v else v  # (NaN: no interval)

    def clear(a: int, b: int) -> bool:  # points a and b differ beyond their noise
        if ys[a] == ys[b]:
            return False
        lo_a, hi_a = bound(rows[a], "not_ready_lo"), bound(rows[a], "not_ready_hi")
        lo_b, hi_b = bound(rows[b], "not_ready_lo"), bound(rows[b], "not_ready_hi")
        if None in (lo_a, hi_a, lo_b, hi_b):
            return True
        return hi_a < lo_b or hi_b < lo_a

    def extreme(lo: int, hi: int, sign: int) -> int:  # the first highest (+1) or lowest
        return min(range(lo, hi + 1), key=lambda j: (-sign * ys[j], j))

    turns: list[dict] = []
    sign, start = 0, 0  # the direction (0: none yet), where its stretch began
    for i in range(1, len(ys)):
        up = any(ys[j] < ys[i] and clear(j, i) for j in range(start, i))
        down = any(ys[j] > ys[i] and clear(j, i) for j in range(start, i))
        if down and (sign == 1 or (sign == 0 and not up)):
            peak = extreme(start, i, 1)
            if sign == 1:
                turns.append(rows[peak])
            sign, start = -1, peak
        elif up and sign <= 0:
            trough = extreme(start, i, -1)
            if sign == -1:
                turns.append(rows[trough])
            sign, start = 1, trough
    return turns


def _scenario_name(out: Path) -> str:
    """The scenario's name, from the first point's ``summary.json``."""
    for d in sorted(p for p in out.iterdir() if p.is_dir()):
        for f in (d / "summary.json", d / "rep-0" / "summary.json"):
            try:
                return str(json.loads(f.read_text())["scenario"])
            except (OSError, ValueError, KeyError):
                continue
    return ""
