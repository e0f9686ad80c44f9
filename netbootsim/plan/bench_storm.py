"""``netbootsim bench storm --servers N``: the shipped storm scaled to N servers, timed.

The scenario is ``scenarios/dc-boot-storm-2000.yaml`` (leaf-spine, 40 servers per rack,
4 spines, 25 Gb/s server links, 3:1 oversubscription, the lab-calibrated 2019 iPXE
ROM, a 12 MiB kernel and a 64 MiB initrd) with what changes so that every server
boots at any N — a benchmark of the simulator, not a sizing claim:

* ``racks`` = ceil(N / 40);
* one *shard* per 2,000 servers (the shipped fleet's size): a fleet group
  ``compute-K`` with its own nginx mirror (``httpK``, 4,096 workers, on host
  ``mirrorK``), kernel and initrd over HTTP;
* one DHCP server (ISC dhcpd's model, on ``boot1``) whose time per packet is scaled
  by 2,000 / N (from N = 2,000 on), so it answers N servers as promptly as the model
  answers 2,000. Every DHCP server of a scenario hears every relayed DISCOVER (as
  relays forwarding to all their helper addresses do), so more servers would add
  work, not share it.

The shipped file's dnsmasq DHCP (its ping check configures 4 of 2,000) and its TFTP
server (tftp-max 50) would fail most of the fleet, and a benchmark of failures
measures the failure path only.
* ``--variance`` adds every per-server draw of ``docs/performance.md``'s variance
  rows: POST, ROM start, TCP client delay, HTTP client rate and request overhead, TFTP
  block delay, an STP hold after link-up of 0–2 s, and power-on at a random moment of
  a 20 s window.

Each measurement runs in a fresh Python process (:func:`measure_once`): it imports
netbootsim, loads, validates and simulates the scenario, and writes every output a
``netbootsim run`` writes (records, summary, figures, report) through the same
:func:`netbootsim.plan.replicate.execute_replicated` (less its progress bar), and ends
as the ``netbootsim`` program does (:func:`netbootsim.cli.run_cli`: no heap teardown). The
parent takes that process's wall time (the *CLI wall*) and its peak RSS (``wait4``);
the child reports the simulation wall (``Outcome.wall``, the event loop only) and its
counters. The children load netbootsim from compiled bytecode (:func:`cached_bytecode`),
as an installed netbootsim does from its second run on. Where the time went comes from
one more run of the same size after the timed ones, whose child samples its own main
thread every 5 ms from a second thread (the *layer* of the innermost netbootsim frame,
:data:`LAYERS`). That sampling is kept out of
the timed runs because it costs time: a 10,000-server storm with variance took 11.4 s
sampled against 9.7-10.1 s as ``netbootsim run`` (measured 2026-12-04).

The machine's speed moves between hours and days by more than a change to the code
does (``docs/performance.md``); so each size's row also carries the wall of a fixed
pure-Python event loop run in the parent just before and just after that size's
measurements (:func:`reference_work`, the lower of the two bests of three), and the
CLI wall divided by it: the figure to compare across days. (The reference uses one
core; the CLI draws a large run's figures in a second process: on a machine whose
second core is slower or busy, the ratio moves too.)
"""

from __future__ import annotations

import heapq
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from ..errors import InputError
from ..services.registry import DHCP

__all__ = ["SHARD", "LAYERS", "REFERENCE_EVENTS", "storm_scenario", "layer_of",
           "cached_bytecode", "measure_once", "reference_work", "reference_wall",
           "bench_storm", "format_rows"]

#: Events of the machine reference (:func:`reference_work`): 0.74 s on the machine of
#: ``docs/performance.md`` (2026-12-07, 09:01 UTC).
REFERENCE_EVENTS = 700_000
_MASK = 2**64 - 1

#: Servers per shard (group, DHCP server, mirror): the shipped storm's fleet.
SHARD = 2000
#: The shipped storm's racks hold 40 servers each.
PER_RACK = 40

#: The per-server draws of docs/performance.md's variance rows (issue 14).
VARIANCE_TUNE = {
    "post": {"dist": "lognormal", "median": "2s", "p95": "5s"},
    "rom_start": {"dist": "lognormal", "median": "2.223s", "p95": "4s"},
    "tcp_client_delay": {"dist": "lognormal", "median": "1.532ms", "p95": "3ms"},
    "http_client_rate": {"dist": "normal", "mean": "129.13MB/s", "sd": "15MB/s"},
    "http_request_overhead": {"dist": "uniform", "low": "200us", "high": "600us"},
    "tftp_client_block_delay": {"dist": "lognormal", "median": "58.15us", "p95": "137us"},
}

#: Where a sampled moment's time is charged: the first prefix of the innermost
#: netbootsim frame's module path that matches (``netbootsim/`` stripped).
LAYERS: tuple[tuple[str, str], ...] = (
    ("net/", "engine"),
    ("services/", "services"),
    ("protocols/", "services"),
    ("ipxe/", "interpreter"),
    ("records.py", "records"),
    ("fleet/results.py", "records"),
    ("plan/summary.py", "records"),
    ("report/", "report"),
    ("topology/", "routing"),
    ("fleet/", "fleet"),
    ("scenario/", "load"),
    ("yamltext.py", "load"),
    ("dist.py", "load"),
)


def layer_of(frame) -> str:
    """The layer a sampled stack is charged to (``frame``: the innermost frame).

    SimPy's own frames, when no netbootsim frame is inside them, are ``simpy``; a
    stack with no netbootsim frame at all (start-up imports) is ``other``.
    """
    f = frame
    while f is not None:
        path = f.f_code.co_filename.replace("\\", "/")
        cut = path.rfind("/netbootsim/")
        if cut >= 0:
            rel = path[cut + len("/netbootsim/"):]
            if rel.startswith("plan/bench_storm.py"):
                return "other"
            for prefix, layer in LAYERS:
                if rel.startswith(prefix):
                    return layer
            return "plan"
        if "/simpy/" in path and f is frame:
            return "simpy"
        f = f.f_back
    return "other"


def storm_scenario(n: int, variance: bool, base: Path) -> dict:
    """The storm scaled to ``n`` servers, as a scenario dict (see the module docstring).

    Args:
        n: servers (≥ 1).
        variance: add the per-server draws.
        base: the shipped storm's directory (``scenarios/``): the ROM-start CSV is
            found from it.
    """
    shards = math.ceil(n / SHARD)
    rom_csv = (base / "../lab/dnsmasq-ping/rom-start.csv").resolve()
    per_packet = DHCP.model("isc-dhcpd").service_time * min(1.0, SHARD / n)
    link = {"bandwidth": "25Gbps", "latency": "2us"}
    hosts: list[dict] = [{"name": "boot1", "link": link}]
    services: dict = {"dhcp1": {"kind": "dhcp", "host": "boot1", "model": "isc-dhcpd",
                                "service_time": f"{per_packet * 1e6:.9g}us"}}
    fleet, faults = [], []
    for k in range(1, shards + 1):
        hosts.append({"name": f"mirror{k}", "link": link})
        services[f"http{k}"] = {"kind": "http", "host": f"mirror{k}", "model": "nginx",
                                "workers": 4096}
        tune: dict = {"rom_start": {"dist": "empirical", "file": str(rom_csv),
                                    "column": "seconds"}}
        power: dict = {"at": "0s"}
        if variance:
            tune = dict(VARIANCE_TUNE)
            power = {"policy": "random", "window": "20s"}
            faults.append({"kind": "stp", "target": f"compute-{k}",
                           "duration": {"dist": "uniform", "low": "0s", "high": "2s"}})
        fleet.append({"name": f"compute-{k}", "count": min(SHARD, n - (k - 1) * SHARD),
                      "boot": "ipxe", "profile": "ipxe-2019-qemu", "tune": tune,
                      "images": ["kernel", "initrd"], "server": f"http{k}",
                      "power_on": power})
    sc = {
        "topology": {"shape": "leaf-spine", "racks": math.ceil(n / PER_RACK),
                     "servers_per_rack": PER_RACK, "spines": 4,
                     "server_link": {"bandwidth": "25Gbps", "latency": "2us"},
                     "oversubscription": 3, "hosts": hosts},
        "services": services,
        "images": {"kernel": {"size": "12MiB"}, "initrd": {"size": "64MiB"}},
        "fleet": fleet,
        "run": {"seed": 1},
    }
    if faults:
        sc["faults"] = faults
    return sc


def _child(scenario_path: str, out: str, sample: bool = False) -> dict:
    """Run one scenario as ``netbootsim run`` does; what the parent prints (in the child).

    With ``sample``, a second thread charges the main thread's stack to a layer every
    5 ms (``layer_samples``); without, ``layer_samples`` is empty.
    """
    samples: Counter[str] = Counter()
    main = threading.main_thread().ident
    stop = threading.Event()

    def take() -> None:
        while not stop.wait(0.005):
            frame = sys._current_frames().get(main)
            if frame is not None:
                samples[layer_of(frame)] += 1

    sampler = threading.Thread(target=take, daemon=True)
    if sample:
        sampler.start()
    from .replicate import execute_replicated  # what netbootsim run calls

    outcome = execute_replicated(scenario_path, out=out)
    stop.set()
    if sample:
        sampler.join()
    run, summary = outcome.run, outcome.summary
    servers = len(run.servers)
    return {"simulation_wall": outcome.wall, "servers": servers,
            "ready": summary["completed"], "makespan": summary["makespan"],
            "simpy_events": run.steps, "simpy_events_per_server": run.steps / servers,
            "solves": run.solves, "engine_events": run.events,
            "classes_per_solve": run.entries_solved / run.solves if run.solves else 0.0,
            "layer_samples": dict(samples)}


def cached_bytecode(cache: Path, tree: Path | None = None) -> dict[str, str]:
    """The environment of a child whose Python modules load from compiled bytecode.

    ``tree``: a directory holding another ``netbootsim`` package, which the child then
    imports instead of this one (``PYTHONPATH``; ``benchmarks/storm_ab.py`` compares
    two revisions so).

    netbootsim's modules are compiled into ``cache`` first (``PYTHONPYCACHEPREFIX``),
    as ``pip install`` compiles an installed package's and as Python caches an editable
    install's at its first run. Without it, an environment with
    ``PYTHONDONTWRITEBYTECODE`` set (this project's measuring machine has it) compiles
    every netbootsim module at every start: 0.2 s of the 0.78 s its imports took, a
    cost of the environment that a user's second run does not pay.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    package = Path(__file__).resolve().parents[1]
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
        package = tree / "netbootsim"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    return env


def measure_once(n: int, variance: bool, base: Path, keep: Path | None = None,
                 sample: bool = False, env: dict[str, str] | None = None) -> dict:
    """One measurement in a fresh process: its figures, CLI wall, CPU time and peak RSS.

    ``sample``: the child also samples where its time goes (``layer_samples``), which
    slows it: its walls are not the program's. ``env``: the child's environment
    (default: this process's; :func:`cached_bytecode`).
    """
    with tempfile.TemporaryDirectory(prefix="netbootsim-bench-storm-") as tmp:
        scen = Path(tmp) / f"{n}{'-variance' if variance else ''}.json"
        scen.write_text(json.dumps(storm_scenario(n, variance, base)))
        out = keep if keep is not None else Path(tmp) / "out"
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "netbootsim.plan.bench_storm",
                                 str(scen), str(out), "sample" if sample else "plain"],
                                stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout is not None
        stdout = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"bench storm child failed ({proc.returncode}) at N={n}")
    res = json.loads(stdout.strip().splitlines()[-1])
    res["cli_wall"] = wall
    res["cli_cpu"] = usage.ru_utime + usage.ru_stime  # the child's own, all its threads
    res["peak_rss_bytes"] = int(usage.ru_maxrss) * 1024  # Linux: KiB
    return res


def reference_work(events: int = REFERENCE_EVENTS) -> int:
    """A fixed pure-Python event loop, the machine reference: its checksum.

    A thousand generator processes wait on delays drawn from a 64-bit linear
    congruential generator (Knuth's MMIX constants), through a binary heap, with a dict
    of per-process counts: the kind of work a simulator's core does, and none of
    netbootsim's code, so every tree does the same work. The storm's walls change with
    the machine (the same tree measured 10.1 s one hour and 13.5 s the next morning,
    ``docs/performance.md``); divided by this work's wall, taken in the same run, they
    compare across days and machines.
    """
    rng = [1]
    counts: dict[int, int] = {}

    def proc(k: int):
        while True:
            rng[0] = x = (rng[0] * 6364136223846793005 + 1442695040888963407) & _MASK
            counts[k] = counts.get(k, 0) + 1
            yield (x >> 40) % 1000 + 1  # a delay, in ticks

    procs = [proc(k) for k in range(1000)]
    heap = [(0, k) for k in range(1000)]
    total = 0
    for _ in range(events):
        t, k = heapq.heappop(heap)
        d = next(procs[k])
        total = (total * 31 + t + d) & _MASK
        heapq.heappush(heap, (t + d, k))
    return total ^ sum(counts.values())


def reference_wall(repeat: int = 3, events: int = REFERENCE_EVENTS) -> float:
    """The best wall time of :func:`reference_work` in ``repeat`` runs, in this process."""
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        reference_work(events)
        best = min(best, time.perf_counter() - t0)
    return best


def bench_storm(servers: list[int], variance: bool, repeat: int, base: Path,
                progress=None) -> list[dict]:
    """Best of ``repeat`` per fleet size (by CLI wall); figures as :func:`measure_once`.

    The layer shares (``layer_samples``) come from one more, sampled run of each size.
    Each row also carries the machine reference (``reference_wall``,
    :func:`reference_wall`, best of three, taken before and after each size's runs:
    the lower) and ``cli_per_reference``, the CLI wall divided by it.

    Raises:
        InputError: a size below 1, or the storm's directory lacks its ROM-start file.
    """
    if not (base / "../lab/dnsmasq-ping/rom-start.csv").is_file():
        raise InputError.single("command line", 0, "--scenarios",
                                f"{base} has no ../lab/dnsmasq-ping/rom-start.csv "
                                "(run from the repository root)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="netbootsim-bench-bytecode-") as cache:
        env = cached_bytecode(Path(cache))
        for n in servers:
            best = None
            ref = reference_wall()
            for _ in range(repeat):
                res = measure_once(n, variance, base, env=env)
                if progress is not None:
                    progress(n, res)
                if best is None or res["cli_wall"] < best["cli_wall"]:
                    best = res
            assert best is not None
            best["layer_samples"] = measure_once(n, variance, base, sample=True,
                                                 env=env)["layer_samples"]
            best["reference_wall"] = ref = min(ref, reference_wall())
            best["cli_per_reference"] = best["cli_wall"] / ref
            best["variance"] = variance
            best["repeat"] = repeat
            best["bytecode"] = "cached"
            rows.append(best)
    return rows


def format_rows(rows: list[dict]) -> str:
    """The rows as a Markdown table (times in s, RSS in GiB, layers in % of samples).

    With the machine reference in the rows, ``CLI / reference`` is the CLI wall over
    :func:`reference_wall`.
    """
    layers = sorted({k for r in rows for k in r["layer_samples"]})
    refs = any("reference_wall" in r for r in rows)
    head = ["servers", "variance", "ready", "simulation wall", "CLI wall",
            *(["CLI / reference"] if refs else []), "peak RSS",
            "SimPy events / server", "classes / solve", *layers]
    lines = ["| " + " | ".join(head) + " |", "|" + "--:|" * len(head)]
    for r in rows:
        total = sum(r["layer_samples"].values()) or 1
        cells = [f"{r['servers']:,}", "on" if r["variance"] else "off", f"{r['ready']:,}",
                 f"{r['simulation_wall']:.2f} s", f"{r['cli_wall']:.2f} s",
                 *([f"{r['cli_per_reference']:.2f}" if "cli_per_reference" in r else "—"]
                   if refs else []),
                 f"{r['peak_rss_bytes'] / 2**30:.2f} GiB",
                 f"{r['simpy_events_per_server']:.1f}", f"{r['classes_per_solve']:.1f}",
                 *(f"{100 * r['layer_samples'].get(k, 0) / total:.0f} %" for k in layers)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":  # the measured child: python -m netbootsim.plan.bench_storm S OUT
    print(json.dumps(_child(sys.argv[1], sys.argv[2], sys.argv[3:] == ["sample"])),
          flush=True)
    os._exit(0)  # as the netbootsim program ends (netbootsim.cli.run_cli): no heap teardown
