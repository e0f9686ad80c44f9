"""``netbootsim run SCENARIO...``: scenario in, commissioning report out.

Loads and validates each scenario (every problem reported at once, exit 2, nothing
written; given several, all of them before the first runs), boots its fleet, and
writes ``servers.csv``, ``phases.csv`` (``--format``: Parquet instead, or both; by
default Parquet above a size,
:mod:`netbootsim.plan.summary`), ``timeline.csv``, ``summary.json``, ``report.md`` and
``report.html`` into the scenario's output directory (``run.out``, else
``results/<scenario stem>``), through :func:`netbootsim.plan.run.execute`. With
``--replications N`` or ``--until-ci PCT`` (or ``run.replications`` / ``run.until_ci``)
it runs independent replications in ``--jobs`` processes
(:mod:`netbootsim.plan.replicate`), prints a line per replication and the headline with
95 % intervals.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from .common import ProgressBar, add_scenario_flags, max_memory, say

__all__ = ["add_run_parser", "cmd_run", "headline"]


def add_run_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``run``."""
    p = sub.add_parser("run", help="simulate scenarios and write their reports")
    p.add_argument("scenarios", nargs="+", help="scenario YAML files")
    p.add_argument("--out", help="output directory (only with one scenario)")
    p.add_argument("--quiet", action="store_true", help="print only the report paths")
    p.add_argument("--replications", metavar="N",
                   help="run N independent replications (seeds spawned from run.seed) and "
                        "report 95 %% intervals over them (default run.replications, 1)")
    p.add_argument("--until-ci", metavar="PCT",
                   help="replicate until the makespan's 95 %% interval is within PCT of its "
                        "mean, e.g. 2%% (at least 3 replications; default run.until_ci)")
    p.add_argument("--max-replications", metavar="M",
                   help="the cap of --until-ci (default run.max_replications, 100)")
    p.add_argument("--format", metavar="F",
                   help="how servers' and phases' records are written: auto (CSV; above "
                        "20,000 server rows or 500,000 phase rows, Parquet instead), csv, "
                        "parquet or both (default auto)")
    p.add_argument("--jobs", metavar="J",
                   help="processes running replications at once (default: the machine's "
                        "cores); the outputs are the same for any J")
    add_scenario_flags(p)
    p.set_defaults(func=cmd_run)


def _secs(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f} s"


def _jobs(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise InputError.single("command line", 0, "--jobs",
                                f"{text!r}: must be a whole number >= 1")
    return int(text)


def _interval(s: dict, key: str) -> str:
    """``"412.000 s [398.000, 431.000]"``: a metric's mean over replications and interval."""
    m = s["replications"]["metrics"].get(key) or {}
    if m.get("mean") is None:
        return "—"
    if m.get("lo") is None or m.get("hi") is None:
        return _secs(m["mean"])
    return f"{m['mean']:.3f} s [{m['lo']:.3f}, {m['hi']:.3f}]"


def _on_replica(name: str) -> Callable:
    def said(done: int, total: int | None, rep) -> None:
        s = rep.summary
        of = f"{done}/{total}" if total else f"{done}"
        print(f"{name}: replication {rep.replication} ({of}): {s['completed']}/{s['servers']} "
              f"ready, makespan {_secs(s['makespan'])}, p99 {_secs(s['p99'])} "
              f"({rep.wall:.2f} s wall)", file=sys.stderr)
    return said


def _headline_replicated(res) -> str:
    s = res.summary
    r = s["replications"]
    procs = "1 process" if res.jobs == 1 else f"{res.jobs} processes"
    line = (f"{s['scenario']}: {r['n']} replications ({procs}), "
            f"{s['completed']}/{s['servers']} server-runs ready; mean over replications "
            f"[95 % interval]: makespan {_interval(s, 'makespan')}, "
            f"p50 {_interval(s, 'p50')}, p95 {_interval(s, 'p95')}, "
            f"p99 {_interval(s, 'p99')} ({res.wall:.2f} s of simulation)")
    if (u := r.get("until_ci")) is not None:
        rel = u.get("relative_half_width")
        got = "—" if rel is None else f"{rel * 100:.2f} %"
        line += (f"; until-ci {u['target'] * 100:g} %: "
                 + ("reached" if u["reached"] else f"NOT reached at the cap of {u['cap']}")
                 + f" (half-width {got} of the mean)")
    return line


def headline(res) -> str:
    """The line ``run`` (and ``compare``, run by run) prints when a scenario is done.

    ``res``: a single run's :class:`~netbootsim.plan.run.Outcome` or a replicated run's
    :class:`~netbootsim.plan.replicate.Replicated`.
    """
    if hasattr(res, "replicas"):  # Replicated
        return _headline_replicated(res)
    s, run = res.summary, res.run
    return (f"{s['scenario']}: {s['completed']}/{s['servers']} servers ready, "
            f"makespan {_secs(s['makespan'])}, p95 {_secs(s['p95'])} "
            f"({res.wall:.2f} s wall, "
            + (f"{run.packets:,} packet hops)" if run.packets else
               f"{run.events} engine events)"))


def _check_all(args: argparse.Namespace, limit: float | None, records: str) -> None:
    """Several scenarios: each one's file and output directory, before any runs.

    A scenario that would not load, an output directory that is not ours to write (or,
    with ``--force``, an output's name on an entry of the user's: the fixed names and
    those the run's plan and ``records`` make known, :func:`output_names`), and two
    scenarios writing the same directory (the second would replace the first's outputs) are all
    refused at once, so that no run is done only for a later one to be refused.
    """
    from ..plan.outdir import OutputDir
    from ..plan.replicate import output_names, plan_of
    from ..scenario import load_scenario

    problems = []
    targets: dict[Path, str] = {}
    for path in args.scenarios:
        try:
            sc = load_scenario(path, overrides=args.overrides, strict=args.strict,
                               max_memory=limit)
        except InputError as e:
            problems += e.problems
            continue
        target = Path(sc.run.out or Path("results") / sc.name)  # (as the run's own)
        if target.resolve() in targets:
            problems += InputError.single(
                path, 0, "run.out", f"{target}: {targets[target.resolve()]} writes it too: "
                "the second would replace the first's outputs; run them one at a time "
                "with --out, or give one a run.out").problems
            continue
        targets[target.resolve()] = path
        try:
            plan = plan_of(sc.run, replications=args.replications, until_ci=args.until_ci,
                           max_replications=args.max_replications)
            OutputDir(target, "run", force=args.force, flag="run.out",
                      names=output_names(sc, plan, records)).check()
        except InputError as e:
            problems += e.problems
    if problems:
        raise InputError(problems)


def cmd_run(args: argparse.Namespace) -> int:
    """Handle ``netbootsim run``."""
    from ..plan.replicate import execute_replicated  # here: --help stays fast
    from ..plan.summary import check_format

    if args.out and len(args.scenarios) > 1:
        raise InputError.single("command line", 0, "--out", "use --out with one scenario only")
    limit = max_memory(args)
    jobs = _jobs(args.jobs)
    records = check_format(args.format)
    if len(args.scenarios) > 1:  # every scenario checked before the first one runs
        _check_all(args, limit, records)
    for path in args.scenarios:
        bar = ProgressBar(Path(path).stem, enabled=not args.quiet)
        try:
            res = execute_replicated(
                path, args.overrides, args.out, force=args.force, strict=args.strict,
                max_memory=limit, progress=bar, say=say, replications=args.replications,
                until_ci=args.until_ci, max_replications=args.max_replications, jobs=jobs,
                on_replica=None if args.quiet else _on_replica(Path(path).stem), records=records)
        finally:
            bar.close()
        if not args.quiet:
            print(headline(res), file=sys.stderr)
        print(f"report: {res.target / 'report.html'}")
    return 0
