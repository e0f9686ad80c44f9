"""What the benchmark scripts share: the machine's line, best-of-N wall time, SimPy steps.

Imported by the scripts beside it (``python benchmarks/NAME.py`` puts this directory on
``sys.path``).
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import simpy

from netbootsim.runtime import relaxed_gc

__all__ = ["best_wall", "commit", "counting_steps", "machine"]


def machine() -> str:
    """``"<CPU model>, <n> cores, Python <version>"`` of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def commit() -> str:
    """HEAD's short hash (``"unknown"`` outside a git checkout)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def best_wall(fn: Callable[[], object], repeat: int) -> float:
    """The best wall time of ``repeat`` calls of ``fn``, each inside ``relaxed_gc()``."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        with relaxed_gc():
            fn()
        best = min(best, time.perf_counter() - t)
    return best


@contextmanager
def counting_steps() -> Iterator[list[int]]:
    """Count ``simpy.Environment.step`` calls (events processed) while inside.

    Yields a one-element list whose item is the count so far.
    """
    count = [0]
    step = simpy.Environment.step

    def counting(self):
        count[0] += 1
        return step(self)

    simpy.Environment.step = counting
    try:
        yield count
    finally:
        simpy.Environment.step = step
