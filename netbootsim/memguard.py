"""The memory guard: no scenario eats the machine silently.

Before a scenario is built, :func:`estimate` gives the run's peak memory from the
number of servers and the engine; :func:`check` refuses (one line, exit 2) a run whose
estimate does not fit the memory this process may use (:func:`available`), unless
``--max-memory`` sets the limit. During the run, :class:`Watch` reads the process's
resident memory every few tens of thousands of SimPy steps and stops the run cleanly —
before anything is written — if it crosses the limit.

The estimate is calibrated on measured runs (peak RSS from ``/usr/bin/time -f %M``,
this machine, 2026-12-04; ``docs/limits.md`` has the table and the commands):

==========================================  ========  =========  ======================
run                                         servers   peak RSS   per server above base
==========================================  ========  =========  ======================
storm over HTTP, flow engine                   400     157 MB
storm over HTTP, flow engine                 2,000     207 MB     31 KB
storm over HTTP, flow engine                10,000     454 MB     31 KB
ipxe-dynamic-api (scripts, API, inventory)     320     166 MB
ipxe-dynamic-api, 50 racks                   2,000     285 MB     71 KB
quickstart, packet engine                        8     151 MB
quickstart, packet engine                       40     175 MB     0.75 MB
==========================================  ========  =========  ======================

So: a base of 160 MB (Python, NumPy, pandas, matplotlib, the package) and, per server,
80 KB on the flow engine (the worst measured, 71 KB, plus a margin) and 1 MB on the
packet engine (its queues and in-flight packets). The estimate errs high on purpose: it
refuses only what surely does not fit.
"""

from __future__ import annotations

import os
import resource

from .errors import InputError, Problem

__all__ = ["BASE_BYTES", "PER_SERVER_BYTES", "PER_NODE_BYTES", "PER_FLOW_BYTES",
           "PER_STORM_SERVER_BYTES", "estimate", "available", "rss", "check", "check_bench",
           "Watch", "MemoryLimit", "describe", "parse_limit"]

#: What the process holds before the first server exists, bytes (measured ~140-150 MB).
BASE_BYTES = 160e6
#: Peak memory per server, bytes, by engine (measured worst 71 KB flow, 0.75 MB packet).
PER_SERVER_BYTES = {"flow": 80e3, "packet": 1e6}
#: Memory per element of the topology that boots nothing (a server's graph node, links
#: and routes; a switch; a link): ``netbootsim validate`` of the storm grows 8.9 KB a
#: server from 2,000 to 10,000.
PER_NODE_BYTES = 10e3
#: ``netbootsim bench flows``: memory per flow of its workload, bytes (measured on the
#: leaf-spine workload: peak RSS 64 MB at 10,000 flows, 121 MB at 100,000, 0.63 KB a
#: flow; rounded up).
PER_FLOW_BYTES = 1e3
#: ``netbootsim bench storm``: memory per server of the scaled storm, bytes (measured:
#: peak RSS 1.96 GiB at 100,000 servers with variance, docs/performance.md; rounded up).
PER_STORM_SERVER_BYTES = 25e3


def estimate(servers: int, engine: str = "flow", nodes: int = 0) -> float:
    """Estimated peak memory of a run of ``servers`` on a topology of ``nodes``, bytes.

    ``nodes``: the topology's elements (servers, switches, links); those beyond the
    booting servers cost :data:`PER_NODE_BYTES` each.
    """
    per = PER_SERVER_BYTES.get(engine, PER_SERVER_BYTES["packet"])
    return BASE_BYTES + per * servers + PER_NODE_BYTES * max(nodes - servers, 0)


def rss() -> float:
    """This process's resident memory now, bytes (``/proc/self/statm``)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def _meminfo(key: str) -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return float(line.split()[1]) * 1024.0
    except (OSError, ValueError):
        pass
    return None


def _cgroup_room() -> float | None:
    """Room left under this process's cgroup v2 memory limit, if it has one."""
    try:
        with open("/proc/self/cgroup", encoding="ascii") as f:
            rel = next((ln.split(":", 2)[2].strip() for ln in f if ln.startswith("0::")), None)
        if rel is None:
            return None
        base = os.path.join("/sys/fs/cgroup", rel.lstrip("/"))
        with open(os.path.join(base, "memory.max"), encoding="ascii") as f:
            limit = f.read().strip()
        if limit == "max":
            return None
        with open(os.path.join(base, "memory.current"), encoding="ascii") as f:
            current = float(f.read().strip())
        return float(limit) - current
    except (OSError, ValueError, StopIteration):
        return None


def available() -> tuple[float, str]:
    """Memory this process may grow to, bytes, and where the figure comes from.

    The smallest of: the machine's ``MemAvailable`` plus what this process holds now;
    the room under its cgroup's ``memory.max``; its address-space limit
    (``RLIMIT_AS``) less the address space it maps but has not touched.
    """
    now = rss()
    options: list[tuple[float, str]] = []
    free = _meminfo("MemAvailable")
    if free is not None:
        options.append((free + now, "the machine's available memory"))
    room = _cgroup_room()
    if room is not None:
        options.append((room + now, "this process's cgroup limit"))
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        mapped = _vm_size()
        options.append((soft - max(mapped - now, 0.0), "this process's address-space "
                        "limit (RLIMIT_AS)"))
    if not options:
        return float("inf"), "no known limit"
    return min(options)


def _vm_size() -> float:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0.0


def describe(nbytes: float) -> str:
    """``1.23 GB`` (decimal units, as ``free -h`` and the ``--max-memory`` help use)."""
    if nbytes >= 1e9:
        return f"{nbytes / 1e9:,.2f} GB"
    if nbytes >= 1e6:
        return f"{nbytes / 1e6:.0f} MB"
    return f"{nbytes / 1e3:.0f} KB"


def _over(need: float, limit: float | None) -> tuple[float, str] | None:
    """``(the limit, where it comes from)`` when ``need`` bytes exceed it, else ``None``.

    ``limit``: ``--max-memory`` in bytes, or ``None`` for :func:`available`.
    """
    limit, where = available() if limit is None else (limit, "--max-memory")
    return None if need <= limit else (limit, where)


def check(servers: int, engine: str, limit: float | None, nodes: int = 0) -> str | None:
    """Why a run of ``servers`` on ``engine`` does not fit, or ``None`` when it does.

    ``limit``: ``--max-memory`` in bytes, or ``None`` for :func:`available`;
    ``nodes``: the topology's elements (those beyond the fleet's servers cost less).
    """
    need = estimate(servers, engine, nodes)
    over = _over(need, limit)
    if over is None:
        return None
    limit, where = over
    per = PER_SERVER_BYTES.get(engine, PER_SERVER_BYTES["packet"])
    n = nodes - servers
    spare = (f" + {describe(PER_NODE_BYTES)} for each of the topology's {n:,} other "
             f"element{'' if n == 1 else 's'}" if n > 0 else "")
    return (f"{servers:,} servers to boot need an estimated {describe(need)} of memory on the "
            f"{engine} engine ({describe(BASE_BYTES)} + {describe(per)} a server{spare}, "
            f"measured: docs/limits.md), more than the {describe(limit)} of {where}; "
            f"run fewer servers, or give --max-memory to raise the limit")


def check_bench(n: int, what: str) -> str | None:
    """Why a benchmark of ``n`` ``what`` (``"flows"``, ``"servers"``) does not fit, or ``None``.

    ``bench flows`` holds :data:`PER_FLOW_BYTES` a flow, ``bench storm``'s measured
    process :data:`PER_STORM_SERVER_BYTES` a server, beside :data:`BASE_BYTES`.
    """
    per = PER_FLOW_BYTES if what == "flows" else PER_STORM_SERVER_BYTES
    need = BASE_BYTES + per * n
    over = _over(need, None)
    if over is None:
        return None
    limit, where = over
    return (f"{n:,} {what} need an estimated {describe(need)} of memory "
            f"({describe(BASE_BYTES)} + {describe(per)} a {what[:-1]}), more than the "
            f"{describe(limit)} of {where}; run fewer {what}")


def parse_limit(text: str | None) -> float | None:
    """``--max-memory`` text as bytes (``None`` stays ``None``).

    Raises:
        InputError: not a size with a unit.
    """
    if text is None:
        return None
    from .units import UnitError, parse_size

    try:
        return parse_size(text)
    except UnitError as e:
        raise InputError.single("command line", 0, "--max-memory", str(e)) from None


class MemoryLimit(InputError):
    """A run stopped because its memory crossed the limit."""


class Watch:
    """Stops a run (:class:`MemoryLimit`) whose resident memory crosses ``limit``.

    Called as ``watch(now)`` by :func:`netbootsim.fleet.simulate` every few tens of
    thousands of SimPy steps; one read of ``/proc/self/statm`` each time.

    Args:
        limit: bytes; ``None`` for :func:`available` at the start of the run.
        what: names the run in the message (the scenario file).
    """

    def __init__(self, limit: float | None, what: str):
        if limit is None:
            self.limit, self.where = available()
        else:
            self.limit, self.where = limit, "--max-memory"
        self.what = what
        self.peak = rss()

    def __call__(self, now: float) -> None:
        """Check the memory at simulated time ``now``."""
        used = rss()
        self.peak = max(self.peak, used)
        if used > self.limit:
            raise MemoryLimit([Problem(self.what, 0, "", (
                f"run stopped at simulated time {now:.3f} s: its memory reached "
                f"{describe(used)}, past the limit of {describe(self.limit)} "
                f"({self.where}); nothing was written. Run fewer servers, or give "
                f"--max-memory to raise the limit"))])
