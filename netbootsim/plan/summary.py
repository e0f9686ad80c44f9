"""From a fleet run to frames, a summary and files on disk.

``summarize`` turns a :class:`~netbootsim.fleet.FleetRun` into the tidy frames and
the ``summary.json`` dict; ``write_outputs`` writes them (and the report) into a
staging directory, which :mod:`netbootsim.plan.outdir` renames into place, so a failed or
killed run leaves nothing half-written.

**Large runs.** The per-server and per-phase records go to ``servers.csv`` and
``phases.csv`` while they are small; with ``--format auto`` (the default), a run of more
than :data:`PARQUET_ABOVE_SERVERS` server rows or :data:`PARQUET_ABOVE_PHASES` phase rows
(replications counted) writes them as ``servers.parquet`` and ``phases.parquet``
instead (:func:`record_formats`): a 100,000-server storm's phases are about 700,000
rows, 70 MB of CSV that take seconds to write and to read back, where Parquet takes a
fraction of that, keeps every bit of each float and each column's type.
``timeline.csv`` stays CSV (its rows are bounded per resource, not per server).
``summary.json`` lists at most :data:`MAX_LISTED` entries of each table that grows with
the fleet (:func:`capped`), and says how many it left out.
"""

from __future__ import annotations

import csv
import json
import math
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd

from ..fleet import FleetRun
from ..records import SERVER_COLUMNS
from ..runtime import ChildFailed, Result, Warm, beside

__all__ = ["SERVER_COLUMNS", "summarize", "write_outputs", "warm_for", "WARM_MODULES",
           "WARM_FROM_SERVERS", "RECORD_FORMATS",
           "PARQUET_ABOVE_SERVERS", "PARQUET_ABOVE_PHASES", "PARALLEL_REPORT_ROWS",
           "record_formats", "check_format",
           "MAX_LISTED", "capped", "read_records"]

#: What ``--format`` may be: ``auto`` (CSV, or Parquet above the sizes below), ``csv``,
#: ``parquet``, ``both``.
RECORD_FORMATS = ("auto", "csv", "parquet", "both")
#: ``auto`` writes Parquet instead of CSV above this many server rows (servers ×
#: replications): above the shipped scenarios' largest, 10,000 (five replications of
#: 2,000 servers), whose CSVs stay as they were.
PARQUET_ABOVE_SERVERS = 20_000
#: ... or above this many phase rows (a fleet that retries a lot: the shipped largest has
#: 112,884).
PARQUET_ABOVE_PHASES = 500_000
#: :func:`write_outputs` draws the report's figures in a second process, beside the
#: records and the report's text, from this many phase rows: a 10,000-server storm's
#: 80,000 take 0.31 s as CSV and its text 0.20 s (the figures 0.40 s, matplotlib's import
#: 0.22 s), the shipped 2,000-server storm's 16,000 0.06 s.
PARALLEL_REPORT_ROWS = 50_000
#: What a :class:`~netbootsim.runtime.Warm` child for the report's figures imports
#: before the run ends (:func:`warm_for`): pandas for the frames it is handed, matplotlib
#: through the figures' module.
WARM_MODULES = ("netbootsim.plan.summary", "netbootsim.report", "netbootsim.report.figures")
#: :func:`warm_for` makes the child for runs of at least this many servers (and not more
#: than :data:`PARQUET_ABOVE_SERVERS`, whose records are not CSV): a storm writes about
#: 8 phase rows a server, so from here its report is likely drawn in parallel.
WARM_FROM_SERVERS = 5_000
#: Most entries ``summary.json`` lists of a table that grows with the fleet (bottleneck
#: resources, failure reasons, DHCP broadcasts per L2 domain); the shipped scenarios'
#: largest has 50 (one per rack).
MAX_LISTED = 100


def check_format(text: str | None, flag: str = "--format") -> str:
    """``--format``'s value, checked (``None``: ``auto``); anything else: InputError."""
    from ..errors import InputError

    if text is None:
        return "auto"
    if text not in RECORD_FORMATS:
        raise InputError.single("command line", 0, flag,
                                f"{text!r}: must be one of {', '.join(RECORD_FORMATS)}")
    return text


def record_formats(fmt: str, servers: int, phases: int) -> tuple[str, ...]:
    """How ``servers`` and ``phases`` rows are written: CSV, Parquet or both.

    Returns ``("csv",)``, ``("parquet",)`` or ``("csv", "parquet")``.

    ``auto``: CSV up to :data:`PARQUET_ABOVE_SERVERS` server rows and
    :data:`PARQUET_ABOVE_PHASES` phase rows, Parquet alone above either.
    """
    if fmt == "auto":
        large = servers > PARQUET_ABOVE_SERVERS or phases > PARQUET_ABOVE_PHASES
        return ("parquet",) if large else ("csv",)
    return {"csv": ("csv",), "parquet": ("parquet",), "both": ("csv", "parquet")}[fmt]


def known_outputs(records: str, server_rows: int, events: bool = False,
                  only: frozenset[str] | None = None) -> set[str]:
    """The files a run writes beyond its fixed names, as known before it runs.

    Parquet records (:func:`record_formats` of ``server_rows``; with ``auto``, those a
    fleet of more phase rows than :data:`PARQUET_ABOVE_PHASES` gets are known only after
    the run) and a run with lifecycle events' two CSVs; ``only``: of these, those asked
    for. For :class:`~netbootsim.plan.outdir.OutputDir`'s check on entry.
    """
    names = set()
    if "parquet" in record_formats(records, server_rows, 0):
        names |= {"servers.parquet", "phases.parquet"}
    if events:
        names |= {"events.csv", "event-phases.csv"}
    return names if only is None else names & only


def warm_for(servers: int, records: str = "auto",
             only: frozenset[str] | None = None) -> Warm | None:
    """A child importing the report's figures now, for a run of ``servers`` (or ``None``).

    Made where :func:`write_outputs` will likely draw the figures in parallel: the
    report is written, the records go to CSV, and there are at least
    :data:`WARM_FROM_SERVERS` servers. Its imports then take place while the run
    simulates, on the second core; :func:`write_outputs` hands it the figures, or
    closes it.
    """
    if only is not None and "report.html" not in only:
        return None
    if servers < WARM_FROM_SERVERS or "csv" not in record_formats(records, servers, 0):
        return None
    try:
        return Warm(WARM_MODULES)
    except OSError:  # no Python to start (an embedding's empty sys.executable, say)
        return None  # the figures are drawn as without it


def _top(items: dict, limit: int) -> dict:
    """The ``limit`` entries with the largest values (ties by key)."""
    keep = {k for k, _ in sorted(items.items(), key=lambda kv: (-kv[1], str(kv[0])))[:limit]}
    return {k: v for k, v in items.items() if k in keep}


def capped(summary: dict, limit: int = MAX_LISTED) -> dict:
    """``summary`` as ``summary.json`` holds it: tables that grow with the fleet cut short.

    Each such table keeps ``limit`` entries and ``not_listed`` counts what was left out:
    ``bottlenecks`` keeps its first ``limit`` (most saturated first), ``failures`` the
    ``limit`` reasons most servers failed with, ``recovered`` the ``limit`` reasons with
    most failed attempts, ``dhcp.broadcasts`` and
    ``dhcp.broadcast_frames`` the ``limit`` L2 domains with most. ``not_listed`` (present
    only when something was cut) gives, for each, the entries left out (``more``) and
    what they count (``servers``, ``packets``); each server's reason is in the servers'
    records. A summary within the limits is returned unchanged (the same dict).
    """
    out = None
    more: dict[str, dict[str, int]] = {}

    def copy() -> dict:
        nonlocal out
        if out is None:
            out = dict(summary)
            out["dhcp"] = dict(summary.get("dhcp") or {})
        return out

    bottlenecks = summary.get("bottlenecks") or []
    if len(bottlenecks) > limit:
        copy()["bottlenecks"] = list(bottlenecks[:limit])
        more["bottlenecks"] = {"more": len(bottlenecks) - limit}
    failures = summary.get("failures") or {}
    if len(failures) > limit:
        kept = _top(failures, limit)
        copy()["failures"] = kept
        more["failures"] = {"more": len(failures) - limit,
                            "servers": int(sum(failures.values()) - sum(kept.values()))}
    again = summary.get("recovered") or {}
    if len(again) > limit:
        kept = {k: v for k, v in again.items()
                if k in _top({k: v["attempts"] for k, v in again.items()}, limit)}
        copy()["recovered"] = kept
        more["recovered"] = {"more": len(again) - limit,
                             "attempts": int(sum(v["attempts"] for v in again.values())
                                             - sum(v["attempts"] for v in kept.values()))}
    for key in ("broadcasts", "broadcast_frames"):
        table = (summary.get("dhcp") or {}).get(key) or {}
        if len(table) > limit:
            kept = _top(table, limit)
            copy()["dhcp"][key] = kept
            more[f"dhcp.{key}"] = {"more": len(table) - limit,
                                   "packets": int(sum(table.values()) - sum(kept.values()))}
    if out is None:
        return summary
    out["not_listed"] = more
    return out


def read_records(directory: Path, stem: str) -> pd.DataFrame:
    """The ``servers`` or ``phases`` records an output directory holds (``stem``).

    From ``STEM.csv`` when there is one, else from ``STEM.parquet``
    (:func:`write_outputs` wrote either or both).

    Text columns read from CSV keep ``""`` for empty text (not NaN).
    """
    csv = Path(directory) / f"{stem}.csv"
    if not csv.is_file() and (Path(directory) / f"{stem}.parquet").is_file():
        return pd.read_parquet(Path(directory) / f"{stem}.parquet")
    text = [c for c in ("reason", "protocol", "endpoint") if stem == "phases" or c == "reason"]
    frame = pd.read_csv(csv, keep_default_na=False, na_values=[""],
                        dtype={c: str for c in text})
    for c in text:
        if c in frame.columns:
            frame[c] = frame[c].fillna("")
    return frame


def _clean(x: object) -> object:
    """JSON-safe: NaN/inf become None, numpy scalars plain Python."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _occupancy(full: list[list[float]], now: float) -> list[tuple[float, float]]:
    """A cap's stretches with every slot (worker) taken, as the resource lived them.

    The stretches follow the resource, not its clients: a TFTP server whose slots hold
    orphan transfers for minutes after the last client gave up stays full until the
    last orphan is dropped, and the simulation runs until then. Only a stretch still
    open when the run stopped (cut at ``run.until``) ends at the run's end, ``now``.
    """
    return [(a, min(b, now)) for a, b in full if min(b, now) > a]


def _orchestrator_limit(o) -> str:
    """``298 power commands, 298 stage starts at once``: an orchestrator's caps."""
    def cap(n) -> str:
        return "no cap on" if n is None else f"{n}"
    return f"{cap(o.power.cap)} power commands, {cap(o.steps.cap)} stage starts at once"


def _dns_services(dns) -> dict:
    """The summary's DNS servers: queries answered; a resolver's forwards and cache hits."""
    if dns is None:
        return {}
    out = {}
    for spec in dns.servers:
        entry = {"kind": "dns", "limit": "no queue", "answered": dns.answered[spec.name]}
        if spec.forward is not None:
            entry.update(forwarded=dns.forwarded[spec.name], cache_hits=dns.hits[spec.name],
                         dropped=dns.dropped[spec.name])
        out[spec.name] = entry
    return out


def _san_services(san) -> dict:
    """The summary's SAN targets: their limits, the most sessions held, logins refused."""
    if san is None:
        return {}
    out = {}
    for name, spec in san.specs.items():
        limits = [f"{spec.array}'s array" if spec.array is not None else
                  f"{spec.iops:g} IOPS" if spec.iops is not None else "no IOPS limit",
                  f"{spec.sessions} sessions" if spec.sessions is not None
                  else "no session limit"]
        out[name] = {"kind": spec.kind, "limit": ", ".join(limits),
                     "max_sessions_held": san.peak[name],
                     "refused_logins": san.refused[name]}
    return out


def _dhcp_block(run: FleetRun) -> dict:
    """``summary["dhcp"]``: broadcasts per domain and each server's counts.

    With lifecycle events, as they stood when the commissioning ended
    (``FleetRun.commission``).
    """
    com = run.commission
    if com is None:
        broadcasts, frames = run.broadcasts, run.broadcast_frames
        servers = run.dhcp_counts()
    else:
        broadcasts, frames, servers = com["broadcasts"], com["broadcast_frames"], com["dhcp"]
    return {"broadcasts": dict(sorted(broadcasts.items())),
            **({"broadcast_frames": dict(sorted(frames.items()))} if frames else {}),
            "servers": {name: {"packets": p, "leases": n, "exhausted": x}
                        for name, (p, n, x) in sorted(servers.items())}}


def recovered(servers: pd.DataFrame, phases: pd.DataFrame) -> dict:
    """Failed phases of servers that got ready all the same, by reason.

    A mirror that died, a WAN link that flapped, a 503 from a balancer: the server's
    script or stage retried and it booted, so it is in no failure count, yet the fault
    cost it time. Per reason: ``attempts`` (failed phase records), ``servers`` (how many
    servers had one) and ``seconds`` (the time those records took, summed).
    """
    if not len(phases):
        return {}
    ok = servers.loc[servers["outcome"] == "ok", "server"]
    failed = phases.loc[phases["outcome"] == "failed", ["server", "reason", "seconds"]]
    bad = failed.loc[failed["server"].isin(ok)]  # (the few failed rows looked up, not all)
    out = {}
    for reason, rows in bad.groupby("reason", sort=True):
        out[str(reason)] = {"attempts": int(len(rows)), "servers": int(rows["server"].nunique()),
                            "seconds": float(rows["seconds"].sum())}
    return out


def summarize(
    run: FleetRun, *, scenario: str, question: str, seed: int, mode: str, notes: list[str],
    warnings: list[str] = (),
) -> tuple[dict, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Frames and summary of one run: ``(summary, servers, phases, timeline)``.

    ``warnings``: the scenario's warnings (``FILE:LINE: field: warning: ...``); the
    summary has a ``warnings`` list only when there are some.
    """
    servers = run.servers.frame()
    phases = run.records.frame()
    timeline = pd.DataFrame(run.timeline, columns=["time", "resource", "utilisation", "flows"])
    t0 = float(servers["power_on"].min()) if len(servers) else 0.0
    done = servers.loc[servers["outcome"] == "ok", "ready"].to_numpy() - t0
    pct = (lambda q: float(np.percentile(done, q))) if done.size else (lambda q: math.nan)
    # The bound is of the bytes that moved (completed transfers). A server that never got
    # ready moved only part of what it needed, so with any such server the bound is low
    # for the whole fleet: ``not_ready`` says how many, and the reports say so beside it.
    bound = {"seconds": 0.0, "resource": "", "bytes": 0.0, "capacity_bps": 0.0}
    # with lifecycle events, the counters of the commissioning alone (not the events')
    com = run.commission or {}
    moved = com.get("wire_bytes", run.wire_bytes)
    for name in sorted(moved):
        t = moved[name] / run.capacity[name]
        if t > bound["seconds"]:
            bound = {"seconds": t, "resource": name, "bytes": moved[name],
                     "capacity_bps": run.capacity[name] * 8}
    bound["not_ready"] = int((servers["outcome"] != "ok").sum())
    makespan = float(done.max()) if done.size else math.nan
    # service caps: the time every TFTP slot / HTTP worker was taken counts as saturation
    caps = [(f"{name}:slots", sl, sl.max_sessions) for name, sl in run.slots.items()]
    caps += [(f"{name}:workers", pool, pool.workers.capacity)
             for name, pool in run.workers.items()]
    # orchestrators' workers and admission caps: saturated while requests wait for them
    caps += [(label, pool, size) for label, (pool, size) in sorted(run.caps.items())]
    saturated = dict(com.get("saturated", run.saturated))
    max_flows = dict(com.get("max_flows", run.max_flows))
    # copies: the run's own counters stay the engine's
    first_last = dict(com.get("first_last", run.first_last))
    until = com.get("end", math.inf)
    stretches = dict(com.get("spans", run.spans))  # the engine's resources'
    for label, cap, size in caps:
        spans = [(a, min(b, until)) for a, b in _occupancy(cap.full, cap.env.now)
                 if a < until]
        secs = sum(b - a for a, b in spans)
        if secs > 0:
            saturated[label] = secs
            max_flows[label] = size
            first_last[label] = [spans[0][0], spans[-1][1]]
            stretches[label] = spans
    # seconds saturated within the makespan window (first power-on to last ready): a
    # resource can stay saturated after it (orphan TFTP transfers, failed servers' retries)
    in_span = {name: sum(max(0.0, min(b, t0 + makespan) - max(a, t0)) for a, b in spans)
               for name, spans in stretches.items()} if math.isfinite(makespan) else {}
    bottlenecks = [
        {"resource": name, "saturated_seconds": secs,
         "saturated_in_makespan_seconds": in_span.get(name, math.nan),
         "fraction_of_makespan": in_span[name] / makespan
         if makespan and name in in_span else math.nan,
         "max_flows": max_flows.get(name, 0),
         "first": first_last[name][0], "last": first_last[name][1]}
        for name, secs in sorted(saturated.items(), key=lambda kv: (-kv[1], kv[0]))
        if secs > 0
    ]
    # the two columns needed, not a copy of the whole frame (at 100,000 servers that
    # copy was ~120 MiB on top of the run's peak)
    ok = phases.loc[phases["outcome"] == "ok", ["phase", "seconds"]]
    phase_stats = {}
    for phase, frame in ok.groupby("phase", sort=True):
        sec = frame["seconds"].to_numpy()
        phase_stats[phase] = {"mean": float(sec.mean()), "p95": float(np.percentile(sec, 95)),
                              "total": float(sec.sum()), "count": int(sec.size)}
    failed = servers[servers["outcome"] == "failed"]
    summary = {
        "scenario": scenario,
        "question": question,
        "seed": seed,
        "servers": int(len(servers)),
        "completed": int((servers["outcome"] == "ok").sum()),
        "failed": int(len(failed)),
        "unfinished": int((servers["outcome"] == "unfinished").sum()),
        "makespan": makespan,
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "mean": float(done.mean()) if done.size else math.nan,
        "line_rate_bound": bound,
        "makespan_over_bound": makespan / bound["seconds"] if bound["seconds"] else math.nan,
        "bottlenecks": bottlenecks,
        "phases": phase_stats,
        "failures": {str(k): int(v) for k, v in
                     failed["reason"].value_counts().sort_index().items()},
        "dhcp": _dhcp_block(run),
        "services": {
            **{name: {"kind": "tftp",
                      "limit": f"tftp-max {sl.max_sessions}, {sl.capacity} RRQs buffered",
                      "orphans": sl.orphans, "max_queued": sl.max_queue,
                      "dropped_rrqs": sl.dropped}
               for name, sl in sorted(run.slots.items())},
            **{name: {"kind": "http", "limit": f"{pool.workers.capacity} workers",
                      "max_queued": pool.max_waiting, "dropped_syns": pool.dropped_syns}
               for name, pool in sorted(run.workers.items())},
            **_dns_services(run.dns),
            **_san_services(run.san),
            **{name: {"kind": "api", "limit": f"{res.capacity} at once"}
               for name, res in sorted(run.apis.items())},
            **{name: {"kind": "orchestrator", "limit": _orchestrator_limit(o),
                      "max_queued": max(o.power.max_queued, o.steps.max_queued),
                      "power_commands": o.power.served, "steps": o.steps.served}
               for name, o in sorted(run.orchestrators.items())},
        },
        "recovered": recovered(servers, phases),
        "retries": {
            "servers_retried": int(phases.loc[phases["attempt"] > 1, "server"].nunique())
            if len(phases) else 0,
            "max_attempt": int(phases["attempt"].max()) if len(phases) else 0,
        },
        "engine": {"mode": mode, "events": run.events, "solves": run.solves,
                   **({"packets": run.packets} if mode == "packet" else {})},
        "notes": notes,
    }
    if warnings:
        summary["warnings"] = list(warnings)
    return _clean(summary), servers, phases, timeline


#: How a float is written in a CSV record: nine significant digits (a microsecond at
#: 999 s, a byte at 999 MB), as ``%.9g`` writes it.
CSV_FLOAT = "%.9g"


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """``frame.to_csv(path, index=False, float_format=CSV_FLOAT)``, the same bytes, faster.

    pandas formats each value through Python calls of its own (a float ~4 µs with its
    missing-value check): 0.43 s for a 10,000-server storm's 80,000 phase rows. Here each
    column becomes strings in one comprehension (a missing value as the empty string,
    pandas' ``na_rep``) and the rows go through the same :func:`csv.writer` pandas uses
    (minimal quoting, newline line ends). A column of another kind (a category, a date)
    is left to pandas.
    """
    cells = []
    for name in frame.columns:
        col = frame[name]
        kind = col.dtype.kind if isinstance(col.dtype, np.dtype) else None
        values = col.tolist()
        if kind == "f":
            fmt = CSV_FLOAT.__mod__
            cells.append([fmt(v) if v == v else "" for v in values])
        elif kind in ("i", "u", "b"):
            cells.append([str(v) for v in values])
        elif kind == "O" or isinstance(col.dtype, pd.StringDtype):
            cells.append([v if isinstance(v, str) else "" if pd.isna(v) else str(v)
                          for v in values])
        else:
            frame.to_csv(path, index=False, float_format=CSV_FLOAT)
            return
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow([str(c) for c in frame.columns])
        writer.writerows(zip(*cells, strict=True))


def _draw(out_dir: Path, summary: dict, servers: pd.DataFrame, phases: pd.DataFrame,
          timeline: pd.DataFrame | None, events: pd.DataFrame | None) -> list[str]:
    """The report's figures (:func:`netbootsim.report.draw_figures`): what a child runs."""
    from ..report import draw_figures

    return draw_figures(out_dir, summary, servers, phases, timeline, events)


def write_outputs(out_dir: Path, summary: dict, servers: pd.DataFrame, phases: pd.DataFrame,
                  timeline: pd.DataFrame, only: frozenset[str] | None = None,
                  records: str = "auto", parallel: bool | None = None,
                  events: pd.DataFrame | None = None,
                  event_phases: pd.DataFrame | None = None,
                  warm: Warm | None = None) -> Path:
    """Write the records, ``summary.json`` and the report into the directory ``out_dir``.

    ``out_dir`` is a staging directory (:class:`netbootsim.plan.outdir.OutputDir` renames it
    into place), so nothing here needs to be atomic. ``only``: write just these files
    (e.g. ``{"summary.json"}`` for a sweep's points); the report is written when
    ``report.html`` is among them. ``records``: ``--format`` (:data:`RECORD_FORMATS`):
    servers and phases as CSV, Parquet or both (:func:`record_formats`).
    ``summary.json`` is :func:`capped`.

    ``parallel``: draw the report's figures in a forked process while this one writes
    the records and the report's text (:func:`netbootsim.runtime.beside`; the same files
    either way). ``None``: when the records go to CSV and there are at least
    :data:`PARALLEL_REPORT_ROWS` phase rows, where writing them takes long enough to
    hide. Not for Parquet records (large runs),
    which take little time: there the child would gain nothing and hold memory of its
    own beside the parent's (the report's, and the pages of the shared heap it touches),
    which a peak RSS read as the larger process's does not show.

    ``events``, ``event_phases``: a run with lifecycle events: its ``events.csv`` and
    ``event-phases.csv`` (always CSV: one row per server an event touched, and their
    boots' phases); the report gains the events' section.

    ``warm``: a :class:`~netbootsim.runtime.Warm` child made before the run with the
    figures' imports done (:data:`WARM_MODULES`, :func:`warm_for`): the figures are drawn
    there (``parallel`` ``None`` counts it as parallel with CSV records) instead of in a
    process forked now. It is closed (unused) otherwise.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def want(name: str) -> bool:
        return only is None or name in only

    formats = record_formats(records, len(servers), len(phases))

    records_file = "servers.csv" if "csv" in formats else "servers.parquet"
    shown = timeline if len(timeline) else None

    def figures() -> list[str]:
        return _draw(out_dir, summary, servers, phases, shown, events)

    if parallel is None:  # (a Warm child has its imports done: drawing there pays)
        parallel = "csv" in formats and (warm is not None
                                         or len(phases) >= PARALLEL_REPORT_ROWS)
    report = want("report.html")
    context = None
    if warm is not None and not (report and parallel):
        warm.close()
        warm = None
    if not report:
        drawing = nullcontext()
    elif warm is not None:
        drawing = warm.beside(_draw, out_dir, summary, servers, phases, shown, events)
    else:
        drawing = beside(figures, fork=parallel)
    try:
        with drawing as drawn:
            _write_records(out_dir, want, formats, summary, servers, phases, timeline,
                           events, event_phases)
            if report and parallel:  # the report's text, while the figures are drawn
                from ..report.content import build_context

                context = build_context(summary, servers, phases, records_file, events)
    except ChildFailed:
        if warm is None:
            raise
        # the Warm child could not do it (a Python that cannot import netbootsim as this
        # one did, say): drawn here; a fault of the drawing itself raises here again
        drawn = Result()
        drawn.value = figures()
    if report:
        from ..report import write_pages

        write_pages(out_dir, summary, servers, phases, drawn.value, records_file, context,
                    events)
    return out_dir


def _write_records(out_dir: Path, want, formats: tuple[str, ...], summary: dict,
                   servers: pd.DataFrame, phases: pd.DataFrame, timeline: pd.DataFrame,
                   events: pd.DataFrame | None, event_phases: pd.DataFrame | None) -> None:
    """:func:`write_outputs`'s records and ``summary.json`` (``want(name)``: write it)."""
    for name, frame in (("events", events), ("event-phases", event_phases)):
        if frame is not None and want(f"{name}.csv"):
            write_csv(frame, out_dir / f"{name}.csv")
    for name, frame in (("servers", servers), ("phases", phases), ("timeline", timeline)):
        if want(f"{name}.csv") and ("csv" in formats or name == "timeline"):
            write_csv(frame, out_dir / f"{name}.csv")
        if want(f"{name}.parquet") and "parquet" in formats and name != "timeline":
            frame.to_parquet(out_dir / f"{name}.parquet", index=False, engine="pyarrow")
    if want("summary.json"):
        (out_dir / "summary.json").write_text(json.dumps(capped(summary), indent=2,
                                                         sort_keys=True) + "\n")
