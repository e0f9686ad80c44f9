"""What the iPXE interpreter costs per boot in a fleet run: commands, events, wall time.

Every iPXE step of a fleet run (``ipxe`` and ``pxe-chainload-ipxe`` boot paths) goes
through :mod:`netbootsim.ipxe`: a shell parsing and running real script lines. The shell
schedules no SimPy event of its own (time passes only in the world's DHCP, fetch, sleep
and boot calls), so what it costs is Python time. This script measures, on one scenario:

1. the run's wall time (``simulate_scenario``, best of ``--repeat``), SimPy events
   scheduled (``Environment.schedule`` counted) and iPXE commands executed
   (``Shell.execv`` counted), each per server;
2. under ``cProfile`` (a separate run): the self time of every function defined in
   ``netbootsim/ipxe/`` as a share of the profiled total, which, applied to the
   unprofiled wall time, estimates the interpreter's milliseconds per boot.

Usage (the figures in the closing note of the iPXE issue)::

    python benchmarks/interpreter_overhead.py scenarios/dc-boot-storm-2000.yaml \
        --set 'fleet[0].server=http1'
    python benchmarks/interpreter_overhead.py scenarios/ipxe-dynamic-api.yaml \
        --set 'topology.racks=50' --set 'fleet[0].count=2000'

Prints one JSON object. The profiler's share is an estimate: cProfile slows small
functions more than large ones, and the interpreter's are small, so the share errs high.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from pathlib import Path

import simpy
from _measure import best_wall

from netbootsim.api import simulate_scenario
from netbootsim.ipxe.interp import Shell
from netbootsim.runtime import relaxed_gc

IPXE_DIR = str(Path(__file__).resolve().parent.parent / "netbootsim" / "ipxe")


def _counted(scenario: str, overrides: list[str]) -> tuple[float, int, int, dict]:
    """One run with SimPy's schedule and the shell's execv counted."""
    counts = {"events": 0, "commands": 0}
    schedule, execv = simpy.Environment.schedule, Shell.execv

    def counting_schedule(self, *a, **k):
        counts["events"] += 1
        return schedule(self, *a, **k)

    def counting_execv(self, argv):
        counts["commands"] += 1
        return execv(self, argv)

    simpy.Environment.schedule, Shell.execv = counting_schedule, counting_execv
    try:
        t0 = time.perf_counter()
        with relaxed_gc():
            res = simulate_scenario(scenario, overrides=overrides)
        wall = time.perf_counter() - t0
    finally:
        simpy.Environment.schedule, Shell.execv = schedule, execv
    return wall, counts["events"], counts["commands"], res.summary


def _profiled_share(scenario: str, overrides: list[str]) -> tuple[float, list]:
    prof = cProfile.Profile()
    with relaxed_gc():
        prof.runcall(simulate_scenario, scenario, overrides=overrides)
    stats = pstats.Stats(prof)
    total = stats.total_tt
    mine = [(tt, f"{Path(fn).name}:{line}:{name}")
            for (fn, line, name), (_cc, _nc, tt, _ct, _callers) in stats.stats.items()
            if fn.startswith(IPXE_DIR)]
    mine.sort(reverse=True)
    return sum(tt for tt, _ in mine) / total, [(n, round(tt, 4)) for tt, n in mine[:8]]


def main() -> None:
    """Run the measurement and print it."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario")
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    wall = best_wall(lambda: simulate_scenario(args.scenario, overrides=args.overrides),
                     args.repeat)
    _, events, commands, summary = _counted(args.scenario, args.overrides)
    share, top = _profiled_share(args.scenario, args.overrides)
    n = summary["servers"]
    print(json.dumps({
        "scenario": args.scenario, "overrides": args.overrides, "servers": n,
        "completed": summary["completed"], "failed": summary["failed"],
        "wall_s": round(wall, 3), "wall_per_server_ms": round(1e3 * wall / n, 3),
        "simpy_events": events, "events_per_server": round(events / n, 1),
        "ipxe_commands": commands, "commands_per_server": round(commands / n, 2),
        "interpreter_share_of_profile": round(share, 4),
        "interpreter_ms_per_boot_est": round(1e3 * share * wall / n, 4),
        "top_interpreter_functions_s": top,
    }, indent=2))


if __name__ == "__main__":
    main()
