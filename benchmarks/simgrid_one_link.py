"""SimGrid 4.1 on netbootsim's ``one-link`` benchmark workload: an outside reference.

Runs exactly the flows of ``netbootsim.plan.bench.one_link_workload(n, seed)`` (N flows of
1–300 MiB starting uniformly over the first 60 s, all sharing one 10 Gbps link) in
SimGrid 4.1 and measures the wall time of ``Engine.run()`` only (platform and workload
building are not timed), the simulated makespan and every flow's completion time.

Command (from the repository root)::

    python benchmarks/simgrid_one_link.py --flows 10000 [--seed 1] [--json]
        [--model raw|CM02|LV08] [--style launcher|actors] [--compare]

Platform: two hosts joined by one shared (not split-duplex) link of 1.25e9 B/s and
latency 0, the same route both ways. Each flow is ``Comm.sendto_async(src, dst, size)``
(size rounded to whole bytes), a host-to-host communication without mailboxes.

* ``--style launcher`` (default, the fast way): one actor walks the flows in start
  order, ``sleep_until(start)`` then ``sendto_async``, and finally waits for them all.
* ``--style actors``: one actor per flow, created with its start time, that does a
  blocking ``Comm.sendto`` (SimGrid's Python bindings use one thread per actor).

Network model: ``raw`` by default — max-min fair sharing, time = size/bw + latency, no
bandwidth/latency factors, no TCP-gamma window bound, no cross traffic. That is what
netbootsim's flow engine computes for this workload, so completion times agree. ``LV08``
(SimGrid's default) scales bandwidth by 0.97 and, with cross traffic on, makes every
flow also use 5 % of its rate on the reverse direction, which on a shared link is the
same link; ``CM02`` has no factors but keeps the cross traffic. Both are slower
in simulated time; with latency 0 the TCP-gamma bound (gamma / 2·latency) never applies.

Installing SimGrid 4.1 (``pip install -e '.[peers]'``) builds it from source (about 6
minutes on 2 cores): it needs g++, cmake and Boost headers (Debian: ``libboost-dev``),
and its ``setup.py`` imports pybind11 but does not declare it, and does not compile
with pybind11 3. What works::

    pip install "pybind11<3" wheel
    pip install --no-build-isolation simgrid==4.1   # or -e '.[peers]' likewise

SimGrid allows one ``Engine`` per process, so :func:`run_simgrid_one_link` runs the
simulation in a fresh Python subprocess (this file with ``--json``).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["run_simgrid_one_link"]

LINK_BANDWIDTH = 1.25e9  # bytes/s, 10 Gbps (netbootsim.plan.bench: 10 * GBPS)
LINK_LATENCY = 0.0

_MODEL_SETTINGS = {
    "raw": [],
    "CM02": ["network/TCP-gamma:0"],
    "LV08": ["network/TCP-gamma:0"],
}


def _import_simgrid():
    """Import the ``simgrid`` module.

    The extension built by ``pip install simgrid`` needs ``libsimgrid.so.4.1``, installed
    next to it but without an rpath; loading it first by full path lets the import work
    without ``LD_LIBRARY_PATH``.
    """
    spec = importlib.util.find_spec("simgrid")
    if spec is None or spec.origin is None:
        raise ImportError("simgrid is not installed: pip install -e '.[peers]'")
    lib = Path(spec.origin).parent / "libsimgrid.so.4.1"
    if lib.exists():
        ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
    import simgrid

    return simgrid


def _settings(model: str) -> list[str]:
    return [f"network/model:{model}", *_MODEL_SETTINGS[model]]


def _run_here(n: int, seed: int, model: str, style: str) -> dict:
    """Build and run the simulation in this process (once per process)."""
    from netbootsim.plan.bench import one_link_workload

    sg = _import_simgrid()
    flows = []
    for start, specs in one_link_workload(n, seed):
        (spec,) = specs  # one flow per chain, unbounded, on the one link
        flows.append((start, int(round(spec.size))))

    settings = _settings(model)
    args = ["simgrid_one_link", *(f"--cfg={s}" for s in settings),
            "--log=root.thresh:warning"]
    e = sg.Engine(args)
    zone = e.netzone_root
    src = zone.add_host("boot-server", 1e9).seal()
    dst = zone.add_host("client", 1e9).seal()
    link = zone.add_link("boot-link", LINK_BANDWIDTH).set_latency(LINK_LATENCY).seal()
    zone.add_route(src, dst, [link])
    zone.seal()

    comms: list = [None] * n
    ends = [0.0] * n
    if style == "launcher":
        order = sorted(range(n), key=lambda i: flows[i][0])

        def launcher():
            pending = sg.ActivitySet()
            for i in order:
                start, size = flows[i]
                if start > sg.Engine.clock:
                    sg.this_actor.sleep_until(start)
                comms[i] = sg.Comm.sendto_async(src, dst, size)
                pending.push(comms[i])
            pending.wait_all()

        src.add_actor("launcher", launcher)
    else:
        def flow(i: int):
            start, size = flows[i]
            sg.this_actor.sleep_until(start)
            sg.Comm.sendto(src, dst, size)
            ends[i] = sg.Engine.clock

        for i in range(n):
            src.add_actor(f"flow-{i}", flow, i)

    t0 = time.perf_counter()
    e.run()
    wall = time.perf_counter() - t0
    if style == "launcher":
        ends = [c.finish_time for c in comms]
    return {"flows": n, "seed": seed, "wall_seconds": wall,
            "makespan": max(ends, default=0.0), "model": model, "style": style,
            "settings": (f"SimGrid {sg.simgrid_version}; "
                         f"{' '.join(settings)}; one shared link {LINK_BANDWIDTH:g} B/s, "
                         f"latency {LINK_LATENCY:g} s; {style}: Comm.sendto"
                         f"{'_async' if style == 'launcher' else ''} per flow"),
            "ends": ends}


def run_simgrid_one_link(n: int, seed: int = 1, model: str = "raw",
                         style: str = "launcher", ends: bool = False) -> dict:
    """Run SimGrid on ``one_link_workload(n, seed)`` in a fresh subprocess.

    Returns ``{"flows", "seed", "wall_seconds", "makespan", "model", "style",
    "settings"}`` and, with ``ends=True``, ``"ends"``: each flow's completion time in
    workload (chain) order, as ``netbootsim.plan.bench.run_workload(...)["ends"]``.
    """
    cmd = [sys.executable, str(Path(__file__).resolve()), "--flows", str(n),
           "--seed", str(seed), "--model", model, "--style", style, "--json"]
    if ends:
        cmd.append("--ends")
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _compare(res: dict, n: int, seed: int) -> dict:
    """netbootsim's engine on the same workload, and the difference to SimGrid."""
    from netbootsim.plan.bench import one_link_workload, run_workload

    ours = run_workload(one_link_workload(n, seed))
    diff = max((abs(a - b) for a, b in zip(res["ends"], ours["ends"], strict=True)),
               default=0.0)
    return {"netbootsim_wall_seconds": ours["wall_seconds"],
            "netbootsim_makespan": ours["makespan"],
            "max_abs_diff_seconds": diff,
            "wall_ratio": res["wall_seconds"] / ours["wall_seconds"]}


def main(argv: list[str] | None = None) -> int:
    """Command line: run once in this process and print the result."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, required=True, help="number of flows (≥ 1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--model", choices=sorted(_MODEL_SETTINGS), default="raw")
    ap.add_argument("--style", choices=["launcher", "actors"], default="launcher")
    ap.add_argument("--compare", action="store_true",
                    help="also run netbootsim's engine on the same flows and compare")
    ap.add_argument("--ends", action="store_true",
                    help="include every flow's completion time in the output")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.flows < 1:
        ap.error("--flows must be ≥ 1")
    res = _run_here(args.flows, args.seed, args.model, args.style)
    if args.compare:
        res.update(_compare(res, args.flows, args.seed))
    if not args.ends:
        del res["ends"]
    if args.json:
        print(json.dumps(res, sort_keys=True), flush=True)
    else:
        for k in sorted(res):
            print(f"{k}: {res[k]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
