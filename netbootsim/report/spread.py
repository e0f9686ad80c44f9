"""The spread of a run, from its frames: CDFs per replication, their band, the slow tail.

What the report draws and tabulates about *how different* the servers were, computed
from ``servers.csv`` and ``phases.csv`` as written (a ``replication`` column, 0 for a
single run; frames without it count as one run):

- :func:`ready_by_replication`: each replication's ready times, since its own first
  power-on, sorted;
- :func:`cdf_points`: a completion CDF on a quantile grid, at most :data:`GRID` + 1
  points whatever the fleet's size (a 100,000-server fleet draws 401 steps, not
  100,000);
- :func:`cdf_band`: the fraction ready at given times in each replication, their mean
  and its pointwise confidence interval (Student's t over the replications);
- :func:`failure_times` and :func:`fleet_over_time`: when servers failed, and how many
  were ready and failed at each time;
- :func:`slow_tail`: the slowest servers with the seconds they spent in each phase,
  beside the median server's, and the phase that made each one slow.

Nothing here formats text (:mod:`netbootsim.report.content` does) or draws
(:mod:`netbootsim.report.figures`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Most replications drawn as thin CDFs in the report (the band and the pooled CDF use
#: them all); here, not in :mod:`.figures`, so the report's text says it without
#: importing matplotlib.
MAX_REPLICATION_LINES = 100

__all__ = ["GRID", "REPLICATION", "NESTED_PREFIXES", "nested_in", "replication_of",
           "replication_count", "ready_by_replication", "cdf_points", "cdf_band",
           "t_quantile", "failure_times", "fleet_over_time", "SlowTail", "slow_tail",
           "phase_seconds"]

#: Most steps a drawn CDF has: levels 1/GRID, 2/GRID, ... of the fleet (quantile grid).
GRID = 400
#: The column naming a row's replication (0 for a single run).
REPLICATION = "replication"
#: Phases that lie inside another phase of the same server (the DHCP exchange inside
#: ``dhcp``, an ``outage:<file>`` inside ``fetch:<file>``, a diskless OS's writes
#: ``san-write:<stage>`` over the same stretch as its reads ``san-read:<stage>``, a SAN
#: target's loss ``san-outage:<stage>`` or a path's failover ``san-failover:<stage>``
#: within those reads, what an edge cache's request to its origin met on a server's
#: behalf ``edge-origin/<phase>`` within its ``edge-fill:<file>``): sums over a
#: server's phases leave them out, so no second counts twice.
NESTED_PREFIXES = ("dhcp-exchange", "outage:", "san-write:", "san-outage:", "san-failover:",
                   "edge-origin/")


def nested_in(phase: str) -> str:
    """The top-level phase a nested phase (:data:`NESTED_PREFIXES`) lies in.

    (``edge-origin/edge-origin/down-wait:F`` lies in ``edge-origin/edge-fill:F``, itself
    in ``edge-fill:F``: the latter is returned, the phase whose seconds the sums count.)
    """
    if phase.startswith("edge-origin/"):
        return "edge-fill:" + phase.split(":", 1)[1]
    if phase.startswith("outage:"):
        return "fetch:" + phase.split(":", 1)[1]
    if phase.startswith(("san-write:", "san-outage:", "san-failover:")):
        return "san-read:" + phase.split(":", 1)[1]
    return "dhcp"


def replication_of(frame: pd.DataFrame) -> np.ndarray:
    """Each row's replication index (all 0 when the frame has no ``replication`` column)."""
    if REPLICATION in frame.columns:
        return frame[REPLICATION].to_numpy(dtype=np.int64)
    return np.zeros(len(frame), dtype=np.int64)


def replication_count(servers: pd.DataFrame) -> int:
    """How many replications the servers frame holds (1 for a single run)."""
    return max(1, int(np.unique(replication_of(servers)).size))


def _t0(servers: pd.DataFrame) -> pd.Series:
    """Each server row's replication's first power-on."""
    rep = pd.Series(replication_of(servers), index=servers.index)
    return servers["power_on"].groupby(rep).transform("min")


def ready_by_replication(servers: pd.DataFrame) -> list[tuple[int, np.ndarray, int]]:
    """``(replication, ready times, servers)`` per replication, in replication order.

    Ready times are of completed servers, in seconds since that replication's first
    power-on, sorted; ``servers`` counts every server of the replication (the CDF's
    denominator: a failed server never reaches it).
    """
    if not len(servers):
        return []
    rep = replication_of(servers)
    since = servers["ready"].to_numpy(float) - _t0(servers).to_numpy(float)
    ok = (servers["outcome"] == "ok").to_numpy() & np.isfinite(since)
    out = []
    for r in np.unique(rep):
        mine = rep == r
        out.append((int(r), np.sort(since[mine & ok]), int(mine.sum())))
    return out


def cdf_points(done: np.ndarray, n: int, grid: int = GRID) -> tuple[np.ndarray, np.ndarray]:
    """The step points of a completion CDF, drawn with ``where="post"``.

    ``done`` holds sorted ready times of ``n`` servers (failed ones absent). With at most
    ``grid`` ready times the steps are exact: ``(0, 0), (t1, 1/n), (t2, 2/n), ...``.
    With more, only the ``k``-th ready times for ``grid`` levels ``k`` evenly spread
    over ``1..len(done)`` are kept (the first and last always), so the drawn curve lies
    less than ``ceil((len(done) − 1) / (grid − 1)) / n`` below the true one and never
    above it.

    Returns:
        ``(x, y)``, both starting at 0, at most ``grid + 1`` points.
    """
    m = int(done.size)
    if not m or not n:
        return np.zeros(1), np.zeros(1)
    if m <= grid:
        k = np.arange(1, m + 1)
    else:
        k = np.unique(np.round(np.linspace(1, m, grid)).astype(np.int64))
    return (np.concatenate([[0.0], done[k - 1]]),
            np.concatenate([[0.0], k / float(n)]))


def t_quantile(confidence: float, dof: int) -> float:
    """Student's t quantile of a two-sided ``confidence`` interval with ``dof`` degrees."""
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2.0, dof))


def cdf_band(per_rep: list[tuple[int, np.ndarray, int]], times: np.ndarray,
             confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fraction ready at ``times``: the replications' mean and its pointwise interval.

    Each replication ``r`` gives ``F_r(t)``, the fraction of its servers ready by ``t``;
    the replications are independent, so at each ``t`` the mean of ``F_r(t)`` has the
    Student t interval ``mean ± t(conf, R−1) · sd / √R`` (clipped to [0, 1]). With one
    replication the interval is the value itself (nothing to say how sure it is).

    Returns:
        ``(mean, lo, hi)`` arrays, one value per time.
    """
    f = np.array([np.searchsorted(done, times, side="right") / max(n, 1)
                  for _, done, n in per_rep], dtype=float)
    if not len(f):
        z = np.zeros(len(times))
        return z, z, z
    mean = f.mean(axis=0)
    if len(f) < 2:
        return mean, mean.copy(), mean.copy()
    half = t_quantile(confidence, len(f) - 1) * f.std(axis=0, ddof=1) / math.sqrt(len(f))
    return mean, np.clip(mean - half, 0.0, 1.0), np.clip(mean + half, 0.0, 1.0)


def failure_times(servers: pd.DataFrame, phases: pd.DataFrame) -> pd.DataFrame:
    """When each failed server failed: the end of its last phase record.

    Returns:
        One row per failed server: ``replication``, ``server``, ``group``, ``reason``,
        ``time`` (seconds since its replication's first power-on; NaN when it has no
        phase record). In the servers frame's order.
    """
    cols = [REPLICATION, "server", "group", "reason", "time"]
    if not len(servers):
        return pd.DataFrame(columns=cols)
    failed = servers["outcome"] == "failed"
    bad = pd.DataFrame({REPLICATION: replication_of(servers)[failed.to_numpy()],
                        "server": servers.loc[failed, "server"].to_numpy(),
                        "group": servers.loc[failed, "group"].to_numpy(),
                        "reason": servers.loc[failed, "reason"].fillna("").astype(str)
                        .to_numpy(),
                        "t0": _t0(servers)[failed].to_numpy(float)})
    if len(phases) and len(bad):
        last = (pd.DataFrame({REPLICATION: replication_of(phases),
                              "server": phases["server"].to_numpy(),
                              "end": phases["end"].to_numpy(float)})
                .groupby([REPLICATION, "server"], sort=False)["end"].max())
        ends = last.reindex(pd.MultiIndex.from_arrays([bad[REPLICATION], bad["server"]]))
        bad["time"] = ends.to_numpy(float) - bad["t0"].to_numpy(float)
    else:
        bad["time"] = math.nan
    return bad[cols]


def fleet_over_time(servers: pd.DataFrame, phases: pd.DataFrame, times: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Fractions of the fleet ready and failed by each of ``times``, pooled.

    Times count from each replication's first power-on; the denominator is every
    server of every replication.

    Returns:
        ``(ready, failed)`` arrays, one value per time.
    """
    n = len(servers)
    if not n:
        z = np.zeros(len(times))
        return z, z
    ready = np.sort(np.concatenate([d for _, d, _ in ready_by_replication(servers)]))
    fails = failure_times(servers, phases)["time"].to_numpy(float)
    fails = np.sort(fails[np.isfinite(fails)])
    return (np.searchsorted(ready, times, side="right") / n,
            np.searchsorted(fails, times, side="right") / n)


def phase_seconds(phases: pd.DataFrame, since: pd.Series | None = None) -> pd.DataFrame:
    """Seconds each server spent in each phase, every attempt counted.

    Nested phases (:data:`NESTED_PREFIXES`) are left out. Index ``(replication,
    server)``, one column per phase (0 where a server has none of it).

    ``since``: an instant per ``(replication, server)`` (a server's power-on): only the
    part of each record after it counts (a wait for the power to come on — ``admission``,
    ``step``, ``power`` — lies before it); servers it does not name count nothing.
    """
    if not len(phases):
        return pd.DataFrame(index=pd.MultiIndex.from_arrays([[], []],
                                                            names=[REPLICATION, "server"]))
    keep = ~phases["phase"].astype(str).str.startswith(NESTED_PREFIXES).to_numpy()
    seconds = phases["seconds"].to_numpy(float)
    if since is not None:
        key = pd.MultiIndex.from_arrays([replication_of(phases), phases["server"].to_numpy()])
        at = since.reindex(key).to_numpy(float)  # NaN: a server not named
        start = np.maximum(phases["start"].to_numpy(float), at)
        seconds = np.where(np.isnan(at), 0.0,
                           np.maximum(phases["end"].to_numpy(float) - start, 0.0))
    frame = pd.DataFrame({REPLICATION: replication_of(phases)[keep],
                          "server": phases["server"].to_numpy()[keep],
                          "phase": phases["phase"].astype(str).to_numpy()[keep],
                          "seconds": seconds[keep]})
    return frame.pivot_table(index=[REPLICATION, "server"], columns="phase", values="seconds",
                             aggfunc="sum", fill_value=0.0, sort=True)


@dataclass
class SlowTail:
    """The slowest completed servers and what they spent their time on.

    Attributes:
        rows: one dict per slow server, slowest first: ``replication``, ``server``,
            ``group``, ``power_on`` and ``ready`` (since the replication's first
            power-on), ``boot`` (ready − power-on), ``phases`` (phase → seconds) and
            ``why`` (``(what, its seconds, the median's)``: the phase — or
            ``"power-on"``, a late start — where the server lost most against the
            median; ``None`` when it lost nowhere).
        median: the same keys for the median of every completed server, column by
            column (``server`` ``"median"``; a column's median, not one server's).
        phases: every phase seen, boot-log order not implied (the caller orders them).
        completed: how many completed servers the tail was taken from.
    """

    rows: list[dict] = field(default_factory=list)
    median: dict = field(default_factory=dict)
    phases: list[str] = field(default_factory=list)
    completed: int = 0


def slow_tail(servers: pd.DataFrame, phases: pd.DataFrame, limit: int = 10) -> SlowTail:
    """The ``limit`` completed servers that were ready last, with their phase seconds.

    A phase counts only its seconds after the server's power-on (the power-on column
    holds the wait before it: a power policy's ``admission``, ``step`` and ``power``).
    Servers are ranked by ready time since their replication's first power-on (what
    the CDF, the percentiles and the makespan count), latest first; ties keep the
    frame's order. Each one's ``why`` is the column with the largest excess over the
    median completed server: a phase's seconds, or the power-on instant (a server
    powered on late is late without being slow).
    """
    if not len(servers):
        return SlowTail()
    ok = (servers["outcome"] == "ok").to_numpy() & servers["ready"].notna().to_numpy()
    if not ok.any():
        return SlowTail()
    t0 = _t0(servers).to_numpy(float)
    done = pd.DataFrame({REPLICATION: replication_of(servers)[ok],
                         "server": servers["server"].to_numpy()[ok],
                         "group": servers["group"].to_numpy()[ok],
                         "power_on": servers["power_on"].to_numpy(float)[ok] - t0[ok],
                         "ready": servers["ready"].to_numpy(float)[ok] - t0[ok]})
    done["boot"] = done["ready"] - done["power_on"]
    # a phase's seconds after the power-on only: what came before it (waiting for a place
    # or for the power command) is the power-on column's, not counted twice
    at = pd.Series(servers["power_on"].to_numpy(float)[ok],
                   index=pd.MultiIndex.from_arrays([done[REPLICATION], done["server"]]))
    secs = phase_seconds(phases, since=at)
    names = [str(c) for c in secs.columns]
    key = pd.MultiIndex.from_arrays([done[REPLICATION], done["server"]])
    per = secs.reindex(key).fillna(0.0).to_numpy(float) if names else np.zeros((len(done), 0))
    med_ph = np.median(per, axis=0) if len(per) else np.zeros(len(names))
    med_on = float(np.median(done["power_on"]))
    median = {REPLICATION: None, "server": "median", "group": "",
              "power_on": med_on, "ready": float(np.median(done["ready"])),
              "boot": float(np.median(done["boot"])),
              "phases": dict(zip(names, map(float, med_ph), strict=True)), "why": None}
    order = np.lexsort((np.arange(len(done)), -done["ready"].to_numpy(float)))[:limit]
    rows = []
    for i in order:
        ph = dict(zip(names, map(float, per[i]), strict=True))
        excess = [(float(done["power_on"].iat[i]) - med_on, "power-on",
                   float(done["power_on"].iat[i]), med_on)]
        excess += [(ph[p] - median["phases"][p], p, ph[p], median["phases"][p]) for p in names]
        best = max(excess, key=lambda e: e[0])  # the first of equals: power-on, then phases
        rows.append({REPLICATION: int(done[REPLICATION].iat[i]),
                     "server": str(done["server"].iat[i]), "group": str(done["group"].iat[i]),
                     "power_on": float(done["power_on"].iat[i]),
                     "ready": float(done["ready"].iat[i]), "boot": float(done["boot"].iat[i]),
                     "phases": ph, "why": best[1:] if best[0] > 0 else None})
    return SlowTail(rows, median, names, int(len(done)))
