"""``netbootsim bench flows --flows N``: the flow engine under a storm of N flows, timed.

The workloads and the timing are :mod:`netbootsim.plan.bench`.
"""

from __future__ import annotations

import argparse
import json

from ..errors import InputError

__all__ = ["add_bench_parser", "cmd_bench"]


def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``bench flows``."""
    p = sub.add_parser("bench", help="benchmarks of the engine")
    bsub = p.add_subparsers(dest="bench", required=True)
    f = bsub.add_parser("flows", help="N flows through the flow engine, timed")
    f.add_argument("--flows", type=int, required=True, help="number of flows (≥ 1)")
    f.add_argument("--topology", choices=["one-link", "leaf-spine"], default="one-link")
    f.add_argument("--compare-full-recompute", action="store_true",
                   help="also run the full-recompute reference and compare completion times")
    f.add_argument("--seed", type=int, default=1)
    f.add_argument("--json", action="store_true", help="print one JSON object")
    f.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    """Handle ``netbootsim bench flows``."""
    if args.flows < 1:
        raise InputError.single("command line", 0, "--flows", "must be ≥ 1")
    from ..plan.bench import bench_flows  # here, not at the top: --help stays fast

    out = bench_flows(args.flows, args.topology, args.compare_full_recompute, args.seed)
    if args.json:
        print(json.dumps(out, sort_keys=True))
    else:
        for k in sorted(out):
            print(f"{k}: {out[k]}")
    return 0
