"""``netbootsim bench flows``: the flow engine under a boot-storm load, timed.

Two workloads, both deterministic for a given seed:

* ``one-link`` — N flows of 1–300 MiB (uniform), starting uniformly over the first
  60 s, all sharing one 10 Gbps boot-server link, no other bound. This is the case
  SimGrid 4.1 took 181 s for at N = 10,000 in an earlier, uncommitted measurement
  [simgrid-planning] (``benchmarks/simgrid_one_link.py`` times it reproducibly).
* ``leaf-spine`` — a fixed fabric of 32 racks × 40 servers, 4 spines, 25 Gbps server
  links, 3:1 oversubscription; a boot server (100 Gbps) and a remote mirror (100 Gbps,
  2.5 ms one way) on a services leaf. The N flows are spread over the 1,280 servers,
  each server fetching its share one after another from a random start in the first
  60 s. A third are TFTP lock-step from the boot server (iPXE: blksize 1432, 50 us
  client delay per block), a third HTTP from the boot server with a 2 MiB window
  (slow start, then line rate), a third HTTP from the mirror with a 256 KiB window
  (window-limited at about 52 MB/s). Paths are multi-hop (host link, leaf→spine,
  spine→ToR, server link) with ECMP.

Only ``env.run()`` is timed; building the workload is not.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import simpy

from ..net import Flow, Resource, make_engine
from ..protocols import TcpParams, TftpParams, http_plan, tftp_plan
from ..runtime import relaxed_gc
from ..topology import HostSpec, LinkSpec, leaf_spine

__all__ = ["FlowSpec", "one_link_workload", "leaf_spine_workload", "run_workload",
           "bench_flows"]

MIB = 2**20
GBPS = 1e9 / 8


@dataclass(frozen=True)
class FlowSpec:
    """One flow of a benchmark workload (a chain is run back to back from ``start``)."""

    size: float
    path: tuple[Resource, ...]
    bound: float
    schedule: tuple[tuple[float, float], ...] = ()


def one_link_workload(n: int, seed: int = 1) -> list[tuple[float, list[FlowSpec]]]:
    """N single-flow chains on one 10 Gbps link (see the module docstring)."""
    rng = np.random.default_rng(seed)
    link = Resource("boot-link", 10 * GBPS)
    sizes = rng.uniform(1, 300, n) * MIB
    starts = rng.uniform(0, 60, n)
    return [(float(t), [FlowSpec(float(s), (link,), math.inf)])
            for t, s in zip(starts, sizes, strict=True)]


def leaf_spine_workload(n: int, seed: int = 1) -> list[tuple[float, list[FlowSpec]]]:
    """N flows over a 1,280-server leaf-spine (see the module docstring)."""
    rng = np.random.default_rng(seed)
    topo = leaf_spine(
        32, 40, 4, server_link=LinkSpec(25 * GBPS, 1e-6), oversubscription=3.0,
        hosts=[HostSpec("boot", link=LinkSpec(100 * GBPS, 1e-6)),
               HostSpec("mirror", link=LinkSpec(100 * GBPS, 2.5e-3))],
    )
    resources = {ld.name: Resource(ld.name, ld.capacity) for ld in topo.link_dirs()}
    servers = topo.servers()
    tftp = TftpParams(client_block_delay=50e-6)
    tcp_new = TcpParams(rwnd=2 * MIB)
    tcp_old = TcpParams(rwnd=256 * 1024)
    kinds = rng.integers(0, 3, n)
    sizes = rng.uniform(1, 300, n) * MIB
    chains: list[list[FlowSpec]] = [[] for _ in servers]
    for j in range(n):
        srv = servers[j % len(servers)]
        kind = int(kinds[j])
        host = "mirror" if kind == 2 else "boot"
        fwd, back, rtt = topo.round_trip(host, srv, f"{srv}/{j}")
        path = tuple(resources[ld.name] for ld in fwd)
        line = min(ld.capacity for ld in fwd)
        if kind == 0:
            plan = tftp_plan(float(sizes[j]), tftp, rtt, [ld.capacity for ld in fwd])
            spec = FlowSpec(plan.data_time * plan.rate, path, plan.rate)
        else:
            hp = http_plan(float(sizes[j]), tcp_new if kind == 1 else tcp_old, rtt, line)
            spec = FlowSpec(hp.wire_bytes, path, hp.bound, hp.schedule)
        chains[j % len(servers)].append(spec)
    starts = rng.uniform(0, 60, len(servers))
    return [(float(t), c) for t, c in zip(starts, chains, strict=True) if c]


def run_workload(chains: list[tuple[float, list[FlowSpec]]], full_recompute: bool = False
                 ) -> dict:
    """Run a workload in a fresh environment; return timings and every flow's end."""
    env = simpy.Environment()
    engine = make_engine(env, full_recompute=full_recompute)
    ends: list[list[float]] = []

    def chain(start: float, specs: list[FlowSpec], out: list[float]):
        yield env.timeout(start)
        for s in specs:
            flow = Flow(s.size, s.path, s.bound, s.schedule)
            yield engine.start(flow)
            out.append(flow.end)

    for start, specs in chains:
        out: list[float] = []
        ends.append(out)
        env.process(chain(start, specs, out))
    with relaxed_gc():
        t0 = time.perf_counter()
        env.run()
        wall = time.perf_counter() - t0
    flat = [t for out in ends for t in out]
    return {"wall_seconds": wall, "events": engine.events, "solves": engine.solves,
            "entries_solved": engine.entries_solved, "moves": engine.moves,
            "makespan": max(flat) if flat else 0.0, "ends": flat}


def bench_flows(n: int, topology: str = "one-link", compare: bool = False, seed: int = 1) -> dict:
    """The ``bench flows`` result as a dict (see :func:`cmd_bench`)."""
    make = one_link_workload if topology == "one-link" else leaf_spine_workload
    chains = make(n, seed)
    res = run_workload(chains)
    out = {"flows": n, "topology": topology, "seed": seed,
           **{k: v for k, v in res.items() if k != "ends"}}
    out["events_per_flow"] = res["events"] / n if n else 0.0
    if compare:
        ref = run_workload(make(n, seed), full_recompute=True)
        diff = max((abs(a - b) for a, b in zip(res["ends"], ref["ends"], strict=True)),
                   default=0.0)
        out["reference_wall_seconds"] = ref["wall_seconds"]
        out["max_abs_diff_seconds"] = diff
        out["speedup_vs_full_recompute"] = ref["wall_seconds"] / res["wall_seconds"]
    return out
