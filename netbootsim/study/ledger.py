"""A study's record of finished runs: written at once, read back on resume.

``OUT/runs.jsonl`` holds one JSON line per finished run — its design's key and overrides,
its replication and seed, its metrics — appended and flushed to disk (``fsync``) the
moment the run's answer arrives. ``OUT/study.json`` holds the study's fingerprint:
a digest of netbootsim's code and of the base scenario with the study's own ``set``
(what every run's result depends on besides its design and replication).

Stopped at any moment (Ctrl-C, ``kill -9``, a lost machine) and started again with the
same command, a study reads the ledger and does no recorded run again: a line cut short
by the kill is dropped (that run is done again); a run is reused only when its design's
overrides and its replication match. Where the fingerprint differs (the scenario, a file
it names, or netbootsim changed), every recorded run is stale: the study refuses with one
line, or starts a new directory when asked (``--new``).

At the end the ledger is rewritten in design and replication order, so a study that was
stopped and resumed leaves the same bytes as one that never was.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from ..plan.outdir import atomic_write

__all__ = ["Ledger", "LEDGER", "FINGERPRINT", "fingerprint", "canonical"]

LEDGER = "runs.jsonl"
FINGERPRINT = "study.json"


def canonical(x, keep_inf: bool = False):
    """``x`` JSON-safe: NaN as ``null``, infinities too (or, ``keep_inf``, ``"inf"``).

    A run's metric may be infinite (a fleet percentile not reached: ``fleet_p99`` when
    more than 1 % never got ready); the ledger keeps it as ``"inf"``, which ``float``
    reads back, so a resumed study sees what the first one saw.
    """
    if isinstance(x, float) and not math.isfinite(x):
        if keep_inf and not math.isnan(x):
            return "inf" if x > 0 else "-inf"
        return None
    if isinstance(x, dict):
        return {k: canonical(v, keep_inf) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [canonical(v, keep_inf) for v in x]
    return x


def fingerprint(scenario: Path, base: tuple[str, ...]) -> str:
    """What every run depends on besides its design: code, scenario, files it names."""
    from ..plan.sweep import code_fingerprint, scenario_fingerprint

    return scenario_fingerprint(code_fingerprint(), str(scenario), list(base))


class Ledger:
    """The runs of one study directory, keyed by (overrides, replication)."""

    def __init__(self, out: Path):
        self.path = out / LEDGER
        self.rows: dict[tuple[tuple[str, ...], int], dict] = {}
        self._fh = None

    def load(self) -> int:
        """Read what an earlier, stopped study recorded; how many runs."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return 0
        good = 0
        for line in data.split(b"\n"):
            try:
                row = json.loads(line) if line.strip() else None
                key = (tuple(row["overrides"]), int(row["replication"])) if row else None
            except (ValueError, KeyError, TypeError):
                break  # a line cut short by a kill: it and anything after are not kept
            if row is not None:
                self.rows[key] = row
            good = min(len(data), good + len(line) + 1)
        if good < len(data):  # drop the torn tail, so appends start on a fresh line
            with open(self.path, "r+b") as fh:
                fh.truncate(good)
        elif data and not data.endswith(b"\n"):  # whole, but its last line unended
            with open(self.path, "ab") as fh:
                fh.write(b"\n")
        return len(self.rows)

    def get(self, overrides: tuple[str, ...], replication: int) -> dict | None:
        """The recorded run, if any."""
        return self.rows.get((overrides, replication))

    def add(self, row: dict) -> dict:
        """Record a finished run: appended, flushed and synced before this returns.

        Returns the row as it reads back from the ledger (NaN as ``None``, infinities as
        ``"inf"``): what the study goes on with, resumed or not.
        """
        line = json.dumps(canonical(row, keep_inf=True), sort_keys=True)
        row = json.loads(line)
        key = (tuple(row["overrides"]), int(row["replication"]))
        self.rows[key] = row
        if self._fh is None:
            self._fh = open(self.path, "ab")
        self._fh.write(line.encode() + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        return row

    def close(self) -> None:
        """Close the file (the rows stay readable)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def rewrite(self, order: list[tuple[tuple[str, ...], int, dict]]) -> None:
        """Replace the ledger by the runs the study used, atomically.

        ``order``: ``(overrides, replication, labels)`` in the study's order, each run
        once; ``labels`` (the design's name, index and values) replace what an earlier
        study recorded with the run (a design's name changes with the study file).
        """
        self.close()
        lines = [json.dumps({**self.rows[(o, k)], **labels}, sort_keys=True)
                 for o, k, labels in order]
        atomic_write(self.path, "".join(line + "\n" for line in lines))
