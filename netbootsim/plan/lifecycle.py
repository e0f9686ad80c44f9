"""The summary of a run's lifecycle events: time to restore, to new capacity, to demand.

From the events' rows (``events.csv``, :class:`netbootsim.records.EventRecord`) and the
events as the run took them (:mod:`netbootsim.fleet.events`), one entry per event in
``summary["lifecycle"]``:

* every event: ``kind``, ``at`` (a demand's: its first step that wants a server),
  ``servers`` (the servers
  it booted or skipped; a replaced node is not counted), ``ready``, ``failed``,
  ``skipped``, ``unfinished``, ``p50``/``max`` of a server's ask-to-ready time, and
  ``done``: the last ready time less ``at`` when every server it booted got ready
  (``None`` otherwise, and the counts say why; a skipped server, not ready when asked,
  was not booted: the counts show it);
* ``replace``: ``node``, ``standby``, and ``time_to_restore`` (the standby's ready time
  less ``at``; ``None`` if it did not get ready);
* ``reprovision``: ``time_to_capacity``: ``done``;
* ``demand``: its ``curve``, each step with ``reached`` (when the pool's servers ready
  first numbered the step's ``servers``, ``None`` if never) and ``lag`` (``reached``
  less the step's ``at``), and ``max_lag``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..fleet.events import Demand, LifeEvent, Replace, Reprovision

__all__ = ["lifecycle_block", "capacity_steps"]


def _num(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def capacity_steps(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(times, servers ready)``: the ready count of ``rows`` after each ready time."""
    t = np.sort(rows.loc[rows["outcome"] == "ok", "ready"].to_numpy(dtype=float))
    return t, np.arange(1, t.size + 1)


def lifecycle_block(events: Sequence[LifeEvent], frame: pd.DataFrame) -> dict:
    """``summary["lifecycle"]``: one entry per event, by name (see the module)."""
    out: dict[str, dict] = {}
    for ev in events:
        rows = frame[(frame["event"] == ev.name) & (frame["role"] != "failed")]
        if isinstance(ev, Demand):  # from its first step that wants a server
            at = next((t for t, n in ev.curve if n > 0), ev.curve[0][0] if ev.curve else 0.0)
        else:
            at = ev.at
        kind = ("replace" if isinstance(ev, Replace) else
                "reprovision" if isinstance(ev, Reprovision) else "demand")
        ok = rows[rows["outcome"] == "ok"]
        sec = ok["seconds"].to_numpy(dtype=float)
        counts = {o: int((rows["outcome"] == o).sum())
                  for o in ("failed", "skipped", "unfinished")}
        booted = int((rows["outcome"] != "skipped").sum())
        everyone = booted > 0 and len(ok) == booted
        entry = {"kind": kind, "at": float(at), "servers": int(len(rows)),
                 "ready": int(len(ok)), **counts,
                 "p50": float(np.percentile(sec, 50)) if sec.size else None,
                 "max": float(sec.max()) if sec.size else None,
                 "done": _num(float(ok["ready"].max()) - at) if everyone else None}
        if isinstance(ev, Replace):
            entry.update(node=ev.node, standby=ev.standby,
                         time_to_restore=_num(float(ok["ready"].max()) - ev.at)
                         if len(ok) else None)
        elif isinstance(ev, Reprovision):
            entry["time_to_capacity"] = entry["done"]
        else:
            times, ready = capacity_steps(rows)
            curve = []
            for t, n in ev.curve:
                k = int(np.searchsorted(ready, n)) if n > 0 else -1
                reached = t if n == 0 else (max(float(times[k]), t) if k < times.size
                                            else None)
                curve.append({"at": float(t), "servers": int(n), "reached": reached,
                              "lag": None if reached is None else reached - t})
            lags = [c["lag"] for c in curve]
            entry["curve"] = curve
            entry["max_lag"] = (max(lags) if lags and all(x is not None for x in lags)
                                else None)
        out[ev.name] = entry
    return out
