"""``netbootsim run SCENARIO...``: scenario in, commissioning report out.

Loads and validates each scenario (every problem reported at once, exit 2, nothing
written), boots its fleet, and writes ``servers.csv``, ``phases.csv``,
``timeline.csv``, ``summary.json``, ``report.md`` and ``report.html`` into the
scenario's output directory (``run.out``, else ``results/<scenario stem>``), through
:func:`netbootsim.plan.run.execute`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from ..plan.run import execute
from .common import ProgressBar, add_scenario_flags, max_memory, say

__all__ = ["add_run_parser", "cmd_run"]


def add_run_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``run``."""
    p = sub.add_parser("run", help="simulate scenarios and write their reports")
    p.add_argument("scenarios", nargs="+", help="scenario YAML files")
    p.add_argument("--out", help="output directory (only with one scenario)")
    p.add_argument("--quiet", action="store_true", help="print only the report paths")
    add_scenario_flags(p)
    p.set_defaults(func=cmd_run)


def _secs(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f} s"


def cmd_run(args: argparse.Namespace) -> int:
    """Handle ``netbootsim run``."""
    if args.out and len(args.scenarios) > 1:
        raise InputError.single("command line", 0, "--out", "use --out with one scenario only")
    limit = max_memory(args)
    for path in args.scenarios:
        bar = ProgressBar(Path(path).stem, enabled=not args.quiet)
        try:
            res = execute(path, args.overrides, args.out, force=args.force,
                          strict=args.strict, max_memory=limit, progress=bar, say=say)
        finally:
            bar.close()
        s, run = res.summary, res.run
        if not args.quiet:
            print(f"{s['scenario']}: {s['completed']}/{s['servers']} servers ready, "
                  f"makespan {_secs(s['makespan'])}, p95 {_secs(s['p95'])} "
                  f"({res.wall:.2f} s wall, "
                  + (f"{run.packets:,} packet hops)" if run.packets else
                     f"{run.events} engine events)"), file=sys.stderr)
        print(f"report: {res.target / 'report.html'}")
    return 0
