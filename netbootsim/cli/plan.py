"""``netbootsim plan STUDY.yaml``: the cheapest design that meets the SLOs, and what matters.

The work is :func:`netbootsim.study.run_study`; :mod:`netbootsim.study.spec` says what a
study file holds and :mod:`netbootsim.study.run` what the study directory holds.
"""

from __future__ import annotations

import argparse

from .common import FORCE_HELP, add_pool_flags, say
from .run import _jobs

__all__ = ["add_plan_parser", "cmd_plan"]


def add_plan_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``plan``."""
    p = sub.add_parser("plan", help="a capacity-planning study: the cheapest design meeting "
                                    "SLOs with confidence; sensitivity of the inputs",
                       description="Runs the study in STUDY.yaml (base scenario, decision "
                                   "variables, objective, SLO constraints, budget) and writes "
                                   "its report. Stopped at any moment, the same command "
                                   "resumes it: finished runs are kept.")
    p.add_argument("study")
    p.add_argument("--out", help="the study directory (default results/<study name>)")
    p.add_argument("--sensitivity", action="store_true",
                   help="also rank the sensitivity: section's factors (Morris screening)")
    add_pool_flags(p)
    p.add_argument("--new", action="store_true",
                   help="when --out holds runs of another version of the study, start a new "
                        "directory beside it (OUT-2, ...) instead of refusing")
    p.add_argument("--restart", action="store_true",
                   help="forget the runs recorded in --out and run the study from nothing "
                        "(what regenerating a shipped study's results does)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=cmd_plan)


def cmd_plan(args: argparse.Namespace) -> int:
    """Handle ``netbootsim plan``."""
    from ..study.run import progress_bar, run_study
    from ..study.spec import load_study

    jobs = _jobs(args.jobs)
    update, bar = (None, None)
    if not args.no_progress:
        update, bar = progress_bar(load_study(args.study), args.sensitivity)
    try:
        page = run_study(args.study, args.out, jobs=jobs, dask=args.dask,
                         sensitivity=args.sensitivity, new=args.new, restart=args.restart,
                         force=args.force,
                         progress=update, say=say)
    finally:
        if bar is not None:
            bar.close()
    print(f"plan: {page}")
    return 0
