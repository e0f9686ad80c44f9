"""Study helpers: a fake pool whose runs are a formula of the design's overrides."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class FormulaPool:
    """Answers a run at once: ``p99 = f(value)`` of the first variable's override.

    ``f`` gets the value set by the last override (a number) and the replication.
    """

    workers = 1
    name = "formula"

    def __init__(self, f):
        self.f = f
        self.calls = []

    def results(self, tasks):
        for i, t in enumerate(tasks):
            value = json.loads(t.overrides[-1].split("=", 1)[1])
            self.calls.append((value, t.replication))
            p99 = self.f(value, t.replication)
            yield i, {"seed": 1, "servers": 10, "completed": 10, "failed": 0,
                      "makespan": p99, "p50": p99, "p95": p99, "p99": p99, "mean": p99,
                      "ready_fraction": 1.0, "failed_fraction": 0.0, "cost": float(value)}

    def close(self):
        pass


