"""``netbootsim sweep SCENARIO --vary PATH=V1,V2,... --out DIR``: where is the cliff?

Runs the scenario once per value of one field (any ``--set`` path, e.g.
``fleet[0].count`` or ``services.tftp1.max_sessions``), each into ``DIR/<value>/`` (only
its ``summary.json`` is kept unless ``--keep-runs``), and
writes ``DIR/sweep.csv`` (one flat row per run, with every input), ``DIR/summary.json``
and ``DIR/sweep.md``. The cliff is measured as the fraction of the fleet *not ready by
the deadline* (failed, still booting, or ready later). ``summary.json`` holds:

- ``cliff``: ``{"vary": PATH, "deadline_s": ..., "crosses_1pct": X, "crosses_50pct": Y}``,
  the values of the swept field where that fraction first crosses 1 % and 50 %,
  interpolated linearly between grid points (``null`` when the sweep never crosses, or
  when the values are not numbers);
- ``points``: the table of ``sweep.csv``, one record per run;
- ``vary``, ``values``, ``deadline_s``, ``not_ready_fraction``, ``crosses_1pct``,
  ``crosses_50pct``: the same, flat.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

from .errors import InputError
from .run_cli import run_scenario
from .units import UnitError, parse_time

__all__ = ["add_sweep_parser", "cmd_sweep", "crossing"]


def crossing(xs: list[float], ys: list[float], level: float) -> float | None:
    """First ``x`` where ``y`` crosses ``level``, linear between grid points.

    Rising (``y`` starts below ``level``, e.g. against fleet size): where it reaches it.
    Falling (``y`` starts at or above, e.g. against the server's cap): where it drops
    below it. ``None`` when it never crosses.
    """
    if not ys:
        return None
    rising = ys[0] < level
    for i in range(1, len(ys)):
        x0, y0, x, y = xs[i - 1], ys[i - 1], xs[i], ys[i]
        if (rising and y >= level) or (not rising and y < level):
            return x0 + (level - y0) * (x - x0) / (y - y0) if y != y0 else x
    return None


def _value(text: str) -> float | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def add_sweep_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``sweep``."""
    p = sub.add_parser("sweep", help="run a scenario over values of one field; find the cliff")
    p.add_argument("scenario")
    p.add_argument("--vary", required=True, metavar="PATH=V1,V2,...",
                   help="the field and its values, e.g. fleet[0].count=250,500,1000")
    p.add_argument("--deadline", default="20min",
                   help="a server not ready by then counts against the fleet (default 20min, "
                        "MAAS's commissioning timeout)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    p.add_argument("--keep-runs", action="store_true",
                   help="keep every run's full report (default: only its summary.json)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Handle ``netbootsim sweep``."""
    path, eq, values = args.vary.partition("=")
    grid = [v.strip() for v in values.split(",") if v.strip()]
    if not eq or not path.strip() or not grid:
        raise InputError.single("command line", 0, "--vary",
                                f"{args.vary!r}: expected PATH=V1,V2,...")
    try:
        deadline = parse_time(args.deadline)
    except UnitError as e:
        raise InputError.single("command line", 0, "--deadline", str(e)) from None
    out = Path(args.out)
    rows = []
    for v in grid:
        target = run_scenario(args.scenario, [*args.overrides, f"{path.strip()}={v}"],
                              str(out / v))
        summary = json.loads((target / "summary.json").read_text())
        servers = pd.read_csv(target / "servers.csv")
        t0 = servers["power_on"].min()
        ready = (servers["outcome"] == "ok") & (servers["ready"] - t0 <= deadline)
        if not args.keep_runs:
            for f in target.iterdir():
                if f.name != "summary.json":
                    f.unlink()
        rows.append({path.strip(): _value(v), "servers": summary["servers"],
                     "completed": summary["completed"], "failed": summary["failed"],
                     "unfinished": summary["unfinished"],
                     "not_ready_fraction": 1.0 - float(ready.mean()) if len(servers) else 0.0,
                     "p95": summary["p95"], "makespan": summary["makespan"],
                     "seed": summary["seed"], "scenario": summary["scenario"]})
    frame = pd.DataFrame(rows)
    frame.to_csv(out / "sweep.csv", index=False, float_format="%.9g")
    numeric = all(isinstance(r[path.strip()], (int, float)) for r in rows)
    xs = [float(r[path.strip()]) for r in rows] if numeric else list(range(len(rows)))
    ys = [r["not_ready_fraction"] for r in rows]
    cliff = {"vary": path.strip(), "deadline_s": deadline,
             "crosses_1pct": crossing(xs, ys, 0.01) if numeric else None,
             "crosses_50pct": crossing(xs, ys, 0.5) if numeric else None}
    result = {**cliff, "values": [r[path.strip()] for r in rows], "not_ready_fraction": ys,
              "cliff": cliff, "points": rows}
    (out / "summary.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    lines = [f"# Sweep of `{path.strip()}` — {rows[0]['scenario']}", "",
             f"Not ready by the deadline ({args.deadline}): failed, still booting, or later.",
             "", f"| {path.strip()} | ready | failed | not ready by deadline | p95 | makespan |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        p95 = "—" if r["p95"] is None or not math.isfinite(r["p95"]) else f"{r['p95']:.1f} s"
        mk = ("—" if r["makespan"] is None or not math.isfinite(r["makespan"])
              else f"{r['makespan']:.1f} s")
        lines.append(f"| {r[path.strip()]} | {r['completed']}/{r['servers']} | {r['failed']} | "
                     f"{100 * r['not_ready_fraction']:.1f} % | {p95} | {mk} |")
    lines += ["", f"Crosses 1 %: {result['crosses_1pct']}; crosses 50 %: "
              f"{result['crosses_50pct']} (linear between grid points; `cliff` in "
              "`summary.json`).", ""]
    (out / "sweep.md").write_text("\n".join(lines))
    print(f"sweep: {out / 'sweep.md'}")
    return 0
