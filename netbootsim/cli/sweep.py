"""``netbootsim sweep SCENARIO --vary PATH=V1,V2,... --out DIR``: where is the cliff?

The work is :func:`netbootsim.study.sweep.sweep`; its module docstring says what the
sweep's ``summary.json`` holds.
"""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..units import UnitError, parse_time
from .common import add_pool_flags, add_scenario_flags, max_memory, say
from .run import _jobs

__all__ = ["add_sweep_parser", "cmd_sweep"]


def add_sweep_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``sweep``."""
    p = sub.add_parser("sweep", help="run a scenario over values of one field; find the cliff")
    p.add_argument("scenario")
    p.add_argument("--vary", required=True, metavar="PATH=V1,V2,...", action="append",
                   help="the field and its values, e.g. fleet[0].count=250,500,1000 "
                        "(one field a sweep)")
    p.add_argument("--deadline", default="20min",
                   help="a server not ready by then counts against the fleet (default 20min, "
                        "MAAS's commissioning timeout)")
    p.add_argument("--replications", metavar="N", default="1",
                   help="runs of each value, with independent draws (default 1); with 2 or "
                        "more, each point and each crossing gets a 95 %% interval")
    p.add_argument("--refine", metavar="K", default="4",
                   help="bisection steps around each crossing of 1 %% and 50 %% between "
                        "numeric values (default 4; 0: the grid only)")
    p.add_argument("--keep-runs", action="store_true",
                   help="keep every run's full report (default: only its summary.json)")
    add_pool_flags(p)
    p.add_argument("--out", required=True)
    add_scenario_flags(p)
    p.set_defaults(func=cmd_sweep)


def _count(text: str, flag: str, low: int) -> int:
    if not text.strip().isdigit() or int(text) < low:
        raise InputError.single("command line", 0, flag,
                                f"{text!r}: must be a whole number >= {low}")
    return int(text)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Handle ``netbootsim sweep``."""
    from ..plan.sweep import parse_vary  # here, not at the top: --help stays fast
    from ..study.sweep import sweep

    if len(args.vary) > 1:  # (argparse would keep the last one silently)
        raise InputError.single("command line", 0, "--vary",
                                f"given {len(args.vary)} times: a sweep varies one field; "
                                "sweep the others in turn, or compare variants")
    vary, grid = parse_vary(args.vary[0])
    try:
        deadline = parse_time(args.deadline)
    except UnitError as e:
        raise InputError.single("command line", 0, "--deadline", str(e)) from None
    if not deadline > 0:  # (nan, 0 and below: no server could be ready by it)
        raise InputError.single("command line", 0, "--deadline",
                                f"{args.deadline!r}: must be a time > 0")
    page = sweep(args.scenario, vary, grid, args.out, deadline=deadline,
                 deadline_text=args.deadline, overrides=args.overrides,
                 keep_runs=args.keep_runs, force=args.force, strict=args.strict,
                 max_memory=max_memory(args), say=say,
                 replications=_count(args.replications, "--replications", 1),
                 refine=_count(args.refine, "--refine", 0), jobs=_jobs(args.jobs),
                 dask=args.dask)
    print(f"sweep: {page}")
    return 0
