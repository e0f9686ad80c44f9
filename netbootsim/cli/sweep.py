"""``netbootsim sweep SCENARIO --vary PATH=V1,V2,... --out DIR``: where is the cliff?

The work is :func:`netbootsim.plan.sweep.sweep`; its module docstring says what the
sweep's ``summary.json`` holds.
"""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..units import UnitError, parse_time
from .common import add_scenario_flags, max_memory, say

__all__ = ["add_sweep_parser", "cmd_sweep"]


def add_sweep_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``sweep``."""
    p = sub.add_parser("sweep", help="run a scenario over values of one field; find the cliff")
    p.add_argument("scenario")
    p.add_argument("--vary", required=True, metavar="PATH=V1,V2,...",
                   help="the field and its values, e.g. fleet[0].count=250,500,1000")
    p.add_argument("--deadline", default="20min",
                   help="a server not ready by then counts against the fleet (default 20min, "
                        "MAAS's commissioning timeout)")
    p.add_argument("--keep-runs", action="store_true",
                   help="keep every run's full report (default: only its summary.json)")
    p.add_argument("--out", required=True)
    add_scenario_flags(p)
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Handle ``netbootsim sweep``."""
    from ..plan.sweep import parse_vary, sweep  # here, not at the top: --help stays fast

    vary, grid = parse_vary(args.vary)
    try:
        deadline = parse_time(args.deadline)
    except UnitError as e:
        raise InputError.single("command line", 0, "--deadline", str(e)) from None
    page = sweep(args.scenario, vary, grid, args.out, deadline=deadline,
                 deadline_text=args.deadline, overrides=args.overrides,
                 keep_runs=args.keep_runs, force=args.force, strict=args.strict,
                 max_memory=max_memory(args), say=say)
    print(f"sweep: {page}")
    return 0
