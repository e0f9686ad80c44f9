"""``netbootsim bench flows|storm``: the flow engine under N flows; the storm at N servers.

The workloads and the timing are :mod:`netbootsim.plan.bench` and
:mod:`netbootsim.plan.bench_storm`.
"""

from __future__ import annotations

import argparse
import json

from ..errors import InputError

__all__ = ["add_bench_parser", "cmd_bench"]


def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``bench flows`` and ``bench storm``."""
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
    s = bsub.add_parser(
        "storm", help="the shipped storm scaled to N servers: walls, peak RSS, where time goes",
        description="Runs scenarios/dc-boot-storm-2000.yaml scaled to N servers (racks "
        "scaled; a DHCP server and an nginx mirror per 2,000 servers, so all boot) in a "
        "fresh process per measurement, writing every output as netbootsim run does. "
        "Reports the simulation wall, the whole process's wall (CLI wall) and peak RSS, "
        "SimPy events per server, flow classes per solve, and the share of wall time per "
        "layer (sampled every 5 ms in one more run: sampling slows the run it is in), "
        "and the CLI wall over the wall of a fixed pure-Python event loop run beside it "
        "(CLI / reference: comparable across days and machines). "
        "See netbootsim/plan/bench_storm.py.")
    s.add_argument("--servers", required=True, type=_sizes, metavar="N[,N...]",
                   help="fleet sizes, comma-separated (each ≥ 1)")
    s.add_argument("--variance", action="store_true",
                   help="every per-server draw on (POST, ROM start, client delays and "
                   "rates, STP hold, power-on in a 20 s window)")
    s.add_argument("--repeat", type=int, default=1, help="best of this many runs (≥ 1)")
    s.add_argument("--scenarios", default="scenarios",
                   help="the directory holding the shipped storm's inputs (default: "
                   "scenarios, from the repository root)")
    s.add_argument("--json", action="store_true", help="print one JSON list")
    s.set_defaults(func=cmd_bench_storm)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: integers, comma-separated") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every size must be ≥ 1")
    return sizes


def cmd_bench_storm(args: argparse.Namespace) -> int:
    """Handle ``netbootsim bench storm``."""
    if args.repeat < 1:
        raise InputError.single("command line", 0, "--repeat", "must be ≥ 1")
    from .. import memguard
    # each measured process holds the whole storm: the largest must fit
    if (why := memguard.check_bench(max(args.servers), "servers")) is not None:
        raise InputError.single("command line", 0, "--servers", why)
    from pathlib import Path

    from ..plan.bench_storm import bench_storm, format_rows

    def say(n: int, res: dict) -> None:
        if not args.json:
            print(f"  N={n}: CLI {res['cli_wall']:.2f} s, simulation "
                  f"{res['simulation_wall']:.2f} s, peak RSS "
                  f"{res['peak_rss_bytes'] / 2**30:.2f} GiB", flush=True)

    rows = bench_storm(args.servers, args.variance, args.repeat, Path(args.scenarios), say)
    print(json.dumps(rows, sort_keys=True) if args.json else format_rows(rows))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Handle ``netbootsim bench flows``."""
    if args.flows < 1:
        raise InputError.single("command line", 0, "--flows", "must be ≥ 1")
    from .. import memguard
    if (why := memguard.check_bench(args.flows, "flows")) is not None:
        raise InputError.single("command line", 0, "--flows", why)
    from ..plan.bench import bench_flows  # here, not at the top: --help stays fast

    out = bench_flows(args.flows, args.topology, args.compare_full_recompute, args.seed)
    if args.json:
        print(json.dumps(out, sort_keys=True))
    else:
        for k in sorted(out):
            print(f"{k}: {out[k]}")
    return 0
