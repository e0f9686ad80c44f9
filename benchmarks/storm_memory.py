"""Where a storm's memory goes: tracemalloc at the run's fullest moment, per server.

Runs ``netbootsim bench storm``'s scenario (:func:`netbootsim.plan.bench_storm.storm_scenario`)
at N servers in this process with tracemalloc on, snapshots the traced heap every
``--every`` SimPy steps (the run's watch hook), keeps the fullest snapshot, and prints
its allocations grouped by the file that made them (a generator's frame counts where
the generator was created), in bytes per server above the imports (the scenario's load,
which builds the topology the run keeps, counts). Also: what the load alone holds, the
same at the start of the run (the built fleet before anything happens) and after it
(records). (Before 2026-12-05 the load was counted with the imports, so the topology
was in no figure.)

Command (from the repository root)::

    python benchmarks/storm_memory.py --servers 10000 [--variance] [--top 25]

tracemalloc slows the run about 3x; its figures are Python allocations only
(no allocator overhead or fragmentation: peak RSS is higher, see ``bench storm``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _short(name: str) -> str:
    for cut in ("/netbootsim/", "/site-packages/", "/lib/python3"):
        if cut in name:
            return name[name.index(cut) + 1:]
    return name


def grouped(snap: tracemalloc.Snapshot, servers: int, top: int,
            key: str = "filename") -> list[tuple[str, float, int]]:
    """(file or file:line, bytes per server, blocks) for the ``top`` biggest of a snapshot.

    ``key`` "traceback" groups by the line and its callers (innermost first, `` < ``
    between them).
    """
    rows = []
    stats = [st for st in snap.statistics(key)
             if not st.traceback[-1].filename.startswith("<frozen")]  # imports: not per server
    for st in stats[:top]:
        if key == "filename":
            name = _short(st.traceback[0].filename)
        else:  # innermost frame first
            name = " < ".join(f"{_short(fr.filename)}:{fr.lineno}"
                              for fr in reversed(st.traceback))
        rows.append((name, st.size / servers, st.count))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, default=10000)
    ap.add_argument("--variance", action="store_true")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--every", type=int, default=20000, help="SimPy steps between looks")
    ap.add_argument("--lines", action="store_true",
                    help="group by the line that allocated, not the file")
    ap.add_argument("--callers", type=int, default=0, metavar="N",
                    help="with --lines: also name the N frames that called each line")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    tracemalloc.start(1 + args.callers)
    import netbootsim.fleet.simulate as fs
    from netbootsim.plan.bench_storm import storm_scenario
    from netbootsim.plan.run import simulate
    from netbootsim.scenario import load_scenario

    fs.WATCH_EVERY = args.every
    # the scenario's load counts as the run's: it builds (and the run keeps) the topology
    imports = tracemalloc.get_traced_memory()[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "storm.json"
        path.write_text(json.dumps(storm_scenario(args.servers, args.variance,
                                                  ROOT / "scenarios")))
        sc = load_scenario(path)
    loaded = tracemalloc.get_traced_memory()[0]
    best: dict = {"size": -1}
    first: dict = {}

    def watch(now: float) -> None:
        size = tracemalloc.get_traced_memory()[0]
        if not first:
            first.update(now=now, size=size, snap=tracemalloc.take_snapshot())
        if size > best["size"]:
            best.update(now=now, size=size, snap=tracemalloc.take_snapshot())

    out = simulate(sc, watch=watch)
    after = tracemalloc.get_traced_memory()
    n = args.servers
    res = {
        "servers": n, "variance": args.variance,
        "imported_bytes": imports,
        "loaded_bytes_per_server": (loaded - imports) / n,
        "first_look": {"at": first["now"], "bytes_per_server": (first["size"] - imports) / n},
        "fullest": {"at": best["now"], "bytes_per_server": (best["size"] - imports) / n,
                    "by_file": grouped(best["snap"], n, args.top,
                                           ("traceback" if args.callers else "lineno")
                                       if args.lines else "filename")},
        "after_run_bytes_per_server": (after[0] - imports) / n,
        "traced_peak_bytes": after[1],
        "ready": out.summary["completed"],
    }
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"{n:,} servers, variance {'on' if args.variance else 'off'}: "
          f"imports {imports / 2**20:.0f} MiB; traced peak {after[1] / 2**20:.0f} MiB")
    print(f"scenario loaded (topology built): {res['loaded_bytes_per_server']:,.0f} "
          "B/server above the imports")
    print(f"first look (t = {first['now']:.1f} s): {res['first_look']['bytes_per_server']:,.0f} "
          f"B/server above the imports")
    print(f"fullest look (t = {best['now']:.1f} s): {res['fullest']['bytes_per_server']:,.0f} "
          f"B/server above the imports, by the file that allocated:")
    for name, per, count in res["fullest"]["by_file"]:
        print(f"  {per:9,.0f} B/server  {count:9,d} blocks  {name}")
    print(f"after the run: {res['after_run_bytes_per_server']:,.0f} B/server")
    return 0


if __name__ == "__main__":
    sys.exit(main())
