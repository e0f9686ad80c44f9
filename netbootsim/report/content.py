"""What a commissioning report says: headline, tables and lead sentence, as plain data.

:func:`build_context` turns a run's summary and frames into the dict the templates
render. Every number comes from the summary or from the frames given; nothing is
re-simulated. Text is already formatted (see :mod:`netbootsim.report.fmt`), so the
Markdown and HTML reports show the very same strings.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import fmt

__all__ = ["MAX_SERVER_ROWS", "MAX_BOTTLENECK_ROWS", "bound_scope", "phase_order",
           "ready_since_start", "build_context"]

#: Rows of the "servers not ready" table before it says how many more there are.
MAX_SERVER_ROWS = 50
#: Rows of the bottleneck table before it says how many more there are.
MAX_BOTTLENECK_ROWS = 20


#: Phases that lie inside another phase of the same server (the DHCP exchange inside
#: ``dhcp``): the stacked time-by-phase figure leaves them out so no second is counted
#: twice. (Waits for a TFTP slot or an HTTP worker come before their ``fetch:``.)
NESTED_PREFIXES = ("dhcp-exchange",)


def phase_order(phases: pd.DataFrame, extra: object = ()) -> list[str]:
    """Phases in boot-log order.

    Each server's phases are numbered in the order they first started (0, 1, 2, ...);
    phases are sorted by their mean number over the servers that have them, ties by
    mean start time, then name. Groups that boot differently (``fetch:nbp`` before
    ``fetch:kernel`` in one, not the other) interleave sensibly, and groups powered
    on later do not push ``power-on`` after the others' fetches.

    Args:
        phases: the phase records frame.
        extra: more phase names (e.g. the summary's) to append, sorted, if not in the frame.

    Returns:
        Phase names, each once.
    """
    order: list[str] = []
    if len(phases):
        first = (phases.assign(_pos=range(len(phases)))
                 .sort_values(["server", "start", "end", "_pos"], kind="stable")
                 .drop_duplicates(["server", "phase"]))
        first = first.assign(_rank=first.groupby("server", sort=False).cumcount())
        keys = first.groupby("phase", sort=True).agg(rank=("_rank", "mean"),
                                                     start=("start", "mean"))
        order = [str(p) for _, _, p in sorted(
            (float(k["rank"]), float(k["start"]), str(p)) for p, k in keys.iterrows())]
    return order + sorted(str(p) for p in extra if str(p) not in order)


def ready_since_start(servers: pd.DataFrame) -> np.ndarray:
    """Ready times of completed servers, in seconds since the fleet's first power-on, sorted."""
    if not len(servers):
        return np.empty(0)
    t0 = float(servers["power_on"].min())
    ok = servers[(servers["outcome"] == "ok") & servers["ready"].notna()]
    return np.sort(ok["ready"].to_numpy(dtype=float) - t0)


def _lead(s: dict, top: dict | None) -> str:
    n, done = int(s.get("servers") or 0), int(s.get("completed") or 0)
    if not done:
        text = f"No server of {fmt.count(n)} became ready."
    else:
        text = (f"{fmt.count(done)} of {fmt.count(n)} servers ready in "
                f"{fmt.duration(s.get('makespan'))} (p95 {fmt.duration(s.get('p95'))}).")
    bad = [f"{fmt.count(s.get(k))} {k}" for k in ("failed", "unfinished") if s.get(k)]
    if bad:
        text += " " + " and ".join(bad).capitalize() + "."
    bound = s.get("line_rate_bound") or {}
    r = _ratio(s)
    if r is not None:
        text += (f" Makespan is {fmt.ratio(r)} the line-rate bound of "
                 f"{bound.get('resource', '')}.")
    if top:
        text += (f" Top bottleneck: {top['resource']}, saturated "
                 f"{fmt.duration(top.get('saturated_seconds'))}.")
    return text


def bound_scope(bound: dict) -> str:
    """What the line-rate bound leaves out: ``""`` when every server got ready.

    The bound counts the bytes that moved; a server that failed or was still booting
    moved less than it needed, so the fleet's own bound is higher than the number shown.
    """
    n = int(fmt.number(bound.get("not_ready")) or 0)
    return f"bytes carried only: {fmt.count(n)} not ready" if n else ""


def _ratio(s: dict) -> float | None:
    r = fmt.number(s.get("makespan_over_bound"))
    if r is None:
        bound = fmt.number((s.get("line_rate_bound") or {}).get("seconds"))
        span = fmt.number(s.get("makespan"))
        r = span / bound if bound and span is not None else None
    return r


def _headline(s: dict, servers: pd.DataFrame, top: dict | None) -> list[tuple[str, str]]:
    n = int(s.get("servers") or 0)

    def share(k: str) -> str:
        v = int(s.get(k) or 0)
        return f"{fmt.count(v)} ({fmt.percent(v / n)})" if n else fmt.count(v)

    groups = servers["group"].nunique() if len(servers) else 0
    b = s.get("line_rate_bound") or {}
    if fmt.number(b.get("seconds")):
        bound = (f"{fmt.duration(b['seconds'])}: {b.get('resource', '')} carries "
                 f"{fmt.size(b.get('bytes'))} at {fmt.bit_rate(b.get('capacity_bps'))}")
        if scope := bound_scope(b):
            bound += f" ({scope})"
    else:
        bound = fmt.DASH
    if top:
        bottleneck = f"{top['resource']}: saturated {fmt.duration(top.get('saturated_seconds'))}"
        if fmt.number(top.get("fraction_of_makespan")) is not None:
            bottleneck += f" ({fmt.percent(top['fraction_of_makespan'])} of makespan)"
    else:
        bottleneck = "none (no resource limited any flow)"
    return [
        ("Servers", fmt.count(n) + (f" in {groups} groups" if groups > 1 else "")),
        ("Completed", share("completed")),
        ("Failed", share("failed")),
        ("Unfinished", share("unfinished")),
        ("Ready p50 / p95 / p99", " / ".join(fmt.duration(s.get(k)) for k in
                                             ("p50", "p95", "p99"))),
        ("Mean ready time", fmt.duration(s.get("mean"))),
        ("Makespan (first power-on → last ready)", fmt.duration(s.get("makespan"))),
        ("Line-rate lower bound", bound),
        ("Makespan ÷ bound", fmt.ratio(_ratio(s))),
        ("Top bottleneck", bottleneck),
    ]


def _bottlenecks(s: dict) -> tuple[list[dict], int]:
    items = sorted(s.get("bottlenecks") or [],
                   key=lambda b: (-(fmt.number(b.get("saturated_seconds")) or 0.0),
                                  str(b.get("resource"))))
    rows = [{"resource": str(b.get("resource", "")),
             "saturated": fmt.duration(b.get("saturated_seconds")),
             "share": fmt.percent(b.get("fraction_of_makespan")),
             "max_flows": fmt.count(b.get("max_flows")),
             "window": f"{fmt.duration(b.get('first'))} – {fmt.duration(b.get('last'))}"}
            for b in items[:MAX_BOTTLENECK_ROWS]]
    return rows, max(0, len(items) - MAX_BOTTLENECK_ROWS)


def _failures(s: dict) -> list[dict]:
    n = int(s.get("servers") or 0)
    items = sorted((s.get("failures") or {}).items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
    return [{"reason": str(k) or "(none given)", "servers": fmt.count(v),
             "share": fmt.percent(int(v) / n) if n else fmt.DASH} for k, v in items]


def _not_ready(servers: pd.DataFrame, phases: pd.DataFrame) -> tuple[list[dict], int]:
    bad = servers[servers["outcome"] != "ok"] if len(servers) else servers
    if not len(bad):
        return [], 0
    rank = {"failed": 0, "unfinished": 1}
    bad = bad.assign(_rank=bad["outcome"].map(rank).fillna(2), _pos=range(len(bad)))
    bad = bad.sort_values(["_rank", "_pos"], kind="stable")
    shown = bad.head(MAX_SERVER_ROWS)
    recs = phases[phases["server"].isin(set(shown["server"]))] if len(phases) else phases
    last_fail: dict[str, str] = {}
    last_any: dict[str, str] = {}
    if len(recs):
        recs = recs.assign(_pos=range(len(recs))).sort_values(["end", "start", "_pos"],
                                                              kind="stable")
        for server, phase, outcome in zip(recs["server"], recs["phase"], recs["outcome"],
                                          strict=True):
            last_any[server] = phase
            if outcome != "ok":
                last_fail[server] = phase
    rows = []
    for r in shown.itertuples(index=False):
        if r.server in last_fail:
            phase = last_fail[r.server]
        elif r.server in last_any:
            phase = f"after {last_any[r.server]}"
        else:
            phase = fmt.DASH
        reason = r.reason if isinstance(r.reason, str) and r.reason else fmt.DASH
        rows.append({"server": str(r.server), "group": str(r.group), "outcome": str(r.outcome),
                     "phase": phase, "reason": reason})
    return rows, len(bad) - len(shown)


def _phase_stats(s: dict, phases: pd.DataFrame, order: list[str]) -> list[dict]:
    stats = s.get("phases") or {}
    rows = []
    for p in order:
        st = stats.get(p) or {}
        frame = phases[phases["phase"] == p] if len(phases) else phases
        failed = int((frame["outcome"] != "ok").sum()) if len(frame) else 0
        retries = int((frame["attempt"] > 1).sum()) if len(frame) else 0
        rows.append({"phase": p, "count": fmt.count(st.get("count", 0)),
                     "mean": fmt.duration(st.get("mean")), "p95": fmt.duration(st.get("p95")),
                     "total": fmt.duration(st.get("total")), "failed": fmt.count(failed),
                     "retries": fmt.count(retries),
                     "bytes": fmt.size(frame["bytes"].sum()) if len(frame) else fmt.DASH})
    return rows


def _groups(servers: pd.DataFrame) -> list[dict]:
    if not len(servers) or servers["group"].nunique() < 2:
        return []
    t0 = float(servers["power_on"].min())
    rows = []
    for g, frame in servers.groupby("group", sort=True):
        done = np.sort(frame.loc[frame["outcome"] == "ok", "ready"].dropna().to_numpy(float) - t0)

        def pct(q: float, done: np.ndarray = done) -> float:
            return float(np.percentile(done, q)) if done.size else math.nan

        rows.append({"group": str(g), "servers": fmt.count(len(frame)),
                     "completed": fmt.count(done.size),
                     "failed": fmt.count((frame["outcome"] == "failed").sum()),
                     "p50": fmt.duration(pct(50)), "p95": fmt.duration(pct(95)),
                     "last": fmt.duration(done[-1] if done.size else math.nan),
                     "bytes": fmt.size(frame["bytes"].sum())})
    return rows


def _services(s: dict) -> list[dict]:
    """One row per capped service and DHCP server: its limit and how hard it was hit."""
    rows = []
    for name, st in sorted((s.get("services") or {}).items()):
        what = "RRQs queued" if st.get("kind") == "tftp" else "connections waiting"
        pressure = [f"{fmt.count(st.get('max_queued', 0))} {what} at most"]
        if st.get("orphans"):
            pressure.append(f"{fmt.count(st['orphans'])} orphan transfers")
        if st.get("dropped_syns"):
            pressure.append(f"{fmt.count(st['dropped_syns'])} SYNs dropped")
        if st.get("kind") == "api":
            pressure = []
        rows.append({"service": name, "kind": str(st.get("kind", "")),
                     "limit": str(st.get("limit", "")),
                     "pressure": ", ".join(pressure) or fmt.DASH})
    dhcp = s.get("dhcp") or {}
    for name, st in sorted((dhcp.get("servers") or {}).items()):
        extra = f", {fmt.count(st['exhausted'])} DISCOVERs unanswered (pool empty)" \
            if st.get("exhausted") else ""
        rows.append({"service": name, "kind": "dhcp", "limit": "one packet at a time",
                     "pressure": f"{fmt.count(st.get('packets', 0))} packets, "
                                 f"{fmt.count(st.get('leases', 0))} leases{extra}"})
    casts = dhcp.get("broadcasts") or {}
    if casts:
        top = sorted(casts.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ", ".join(f"{d} {fmt.count(n)}" for d, n in top[:4])
        more = f", … ({len(top)} domains)" if len(top) > 4 else ""
        rows.append({"service": "DHCP broadcasts", "kind": "per L2 domain", "limit": fmt.DASH,
                     "pressure": shown + more})
    frames = dhcp.get("broadcast_frames") or {}
    if frames:
        top = sorted(frames.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ", ".join(f"{d} {fmt.count(n)}" for d, n in top[:4])
        more = f", … ({len(top)} domains)" if len(top) > 4 else ""
        rows.append({"service": "Broadcast frames seen (DHCP + ARP)", "kind": "per L2 domain",
                     "limit": fmt.DASH, "pressure": shown + more})
    return rows




def build_context(summary: dict, servers: pd.DataFrame, phases: pd.DataFrame) -> dict:
    """Everything the templates show, formatted, from the summary and the frames.

    Args:
        summary: the run summary (see :func:`netbootsim.report.write_report`).
        servers: one row per server.
        phases: the phase records frame.

    Returns:
        A dict of strings and lists of row dicts; figures are added by the caller.
    """
    s = summary
    bottlenecks, more_bottlenecks = _bottlenecks(s)
    top = (sorted(s.get("bottlenecks") or [],
                  key=lambda b: (-(fmt.number(b.get("saturated_seconds")) or 0.0),
                                 str(b.get("resource")))) or [None])[0]
    not_ready, more_servers = _not_ready(servers, phases)
    order = phase_order(phases, (s.get("phases") or {}).keys())
    engine = s.get("engine") or {}
    run_info = [f"seed {s['seed']}"] if s.get("seed") is not None else []
    if engine:
        run_info.append(f"engine {engine.get('mode', '?')}: {fmt.count(engine.get('events'))} "
                        f"events, {fmt.count(engine.get('solves'))} solves")
    return {
        "title": str(s.get("scenario") or "netbootsim run"),
        "question": str(s.get("question") or ""),
        "lead": _lead(s, top),
        "headline": _headline(s, servers, top),
        "groups": _groups(servers),
        "bottlenecks": bottlenecks,
        "more_bottlenecks": more_bottlenecks,
        "failures": _failures(s),
        "services": _services(s),
        "not_ready": not_ready,
        "more_servers": more_servers,
        "phase_stats": _phase_stats(s, phases, order),
        "notes": [str(n) for n in s.get("notes") or []],
        "warnings": [str(w) for w in s.get("warnings") or []],
        "run_info": " · ".join(run_info) or "netbootsim",
    }
