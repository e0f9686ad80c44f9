"""``netbootsim compare A.yaml B.yaml ... --out DIR``: scenarios side by side.

One scenario with a ``variants:`` section compares its variants instead. The work is
:func:`netbootsim.plan.compare.compare`; each run's headline line is printed as it
finishes, the same line ``netbootsim run`` prints.
"""

from __future__ import annotations

import argparse
import sys

from .common import add_scenario_flags, max_memory, say
from .run import headline

__all__ = ["add_compare_parser", "cmd_compare"]


def add_compare_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``compare``."""
    p = sub.add_parser("compare", help="run scenarios and write a side-by-side report")
    p.add_argument("scenarios", nargs="+",
                   help="two or more scenario files, or one whose variants: section names "
                        "the runs")
    p.add_argument("--out", required=True, help="directory for the comparison")
    add_scenario_flags(p)
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    """Handle ``netbootsim compare``."""
    from ..plan.compare import compare  # here, not at the top: --help stays fast

    def done(res) -> None:
        print(headline(res), file=sys.stderr)  # each run's line, as netbootsim run prints

    page = compare(args.scenarios, args.out, overrides=args.overrides, force=args.force,
                   strict=args.strict, max_memory=max_memory(args), say=say, done=done)
    print(f"comparison: {page}")
    return 0
