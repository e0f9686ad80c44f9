"""Leaf-spine against one link: ``netbootsim bench flows``, best of N, and the reference.

Command (from the repository root; about 3 minutes with the default sizes, most of it
the full-recompute reference at 10,000 flows):

    python benchmarks/flows_ratio.py [--repeat 3] [--sizes 10000 100000]
                                     [--compare 2000 10000]

Each measurement is the command ``netbootsim bench flows --json`` in a fresh process
(the two topologies alternate, so that the machine's load falls on both alike); the
wall time is the command's own (``env.run()`` only). The goal of issue 15: the
leaf-spine workload within 3x the one-link time at 100,000 flows. The agreement rows run
``--compare-full-recompute`` once per topology and size: every flow's completion time
against the full-recompute reference engine (goal: max abs diff <= 1 us).
Prints a Markdown section.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import commit, machine  # noqa: E402

TOPOLOGIES = ("one-link", "leaf-spine")


def _bench(n: int, topology: str, compare: bool = False) -> dict:
    cmd = [sys.executable, "-m", "netbootsim", "bench", "flows", "--flows", str(n),
           "--topology", topology, "--json"]
    if compare:
        cmd.append("--compare-full-recompute")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print the Markdown section."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--compare", type=int, nargs="*", default=[2_000, 10_000])
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    best: dict[tuple[str, int], dict] = {}
    walls: dict[tuple[str, int], list[float]] = {}
    for n in args.sizes:
        for _ in range(args.repeat):
            for topo in TOPOLOGIES:
                r = _bench(n, topo)
                walls.setdefault((topo, n), []).append(r["wall_seconds"])
                if (topo, n) not in best or r["wall_seconds"] < best[(topo, n)]["wall_seconds"]:
                    best[(topo, n)] = r
                print(f"{topo} {n}: {r['wall_seconds']:.2f} s", file=sys.stderr)
    cmp_rows = []
    for n in args.compare:
        for topo in TOPOLOGIES:
            r = _bench(n, topo, compare=True)
            cmp_rows.append(r)
            print(f"compare {topo} {n}: {r['max_abs_diff_seconds']:.2e} s", file=sys.stderr)
    total = time.perf_counter() - t0
    argl = (f"--repeat {args.repeat} --sizes {' '.join(map(str, args.sizes))}"
            f" --compare {' '.join(map(str, args.compare))}")
    lines = [
        f"`python benchmarks/flows_ratio.py {argl}` at commit `{commit()}` on {machine()};"
        f" the whole run took {total:.0f} s. Best of {args.repeat} (each a fresh"
        " `netbootsim bench flows --json` process, the topologies alternating); every run's"
        " wall in the last column.",
        "",
        "| topology | flows | wall, best (s) | solves | mean entries/solve | events |"
        " makespan (s) | all runs (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for n in args.sizes:
        for topo in TOPOLOGIES:
            r = best[(topo, n)]
            eps = r["entries_solved"] / r["solves"] if r["solves"] else 0.0
            runs = ", ".join(f"{w:.2f}" for w in walls[(topo, n)])
            lines.append(f"| {topo} | {n:,} | {r['wall_seconds']:.2f} | {r['solves']:,} |"
                         f" {eps:.1f} | {r['events']:,} | {r['makespan']:.1f} | {runs} |")
    lines.append("")
    for n in args.sizes:
        ratio = best[("leaf-spine", n)]["wall_seconds"] / best[("one-link", n)]["wall_seconds"]
        lines.append(f"- {n:,} flows: leaf-spine / one-link = **{ratio:.2f}x**")
    lines += [
        "",
        "| topology | flows | incremental (s) | full recompute (s) | speed ratio |"
        " max abs diff of completion times (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in cmp_rows:
        lines.append(f"| {r['topology']} | {r['flows']:,} | {r['wall_seconds']:.3f} |"
                     f" {r['reference_wall_seconds']:.2f} |"
                     f" {r['speedup_vs_full_recompute']:.0f}x |"
                     f" {r['max_abs_diff_seconds']:.2e} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
