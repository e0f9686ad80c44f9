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
from .spread import (
    NESTED_PREFIXES,
    REPLICATION,
    failure_times,
    phase_seconds,
    replication_count,
    replication_of,
    slow_tail,
)

__all__ = ["MAX_SERVER_ROWS", "MAX_BOTTLENECK_ROWS", "MAX_FAILURE_ROWS", "MAX_SLOW_ROWS",
           "MAX_SLOW_PHASES",
           "NESTED_PREFIXES", "bound_scope", "phase_order", "ready_since_start",
           "replicated", "interval", "held_back", "build_context"]

#: Rows of the "servers not ready" table before it says how many more there are.
MAX_SERVER_ROWS = 50
#: Rows of the bottleneck table before it says how many more there are.
MAX_BOTTLENECK_ROWS = 20
#: Rows of the failures table (reasons, most servers first) before it says how many more
#: reasons and servers there are.
MAX_FAILURE_ROWS = 20
#: Servers in the slow-tail table.
MAX_SLOW_ROWS = 10
#: Phase columns of the slow-tail table; the rest are summed into "other phases".
MAX_SLOW_PHASES = 5




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
        first = (phases.assign(_pos=range(len(phases)), _rep=replication_of(phases))
                 .sort_values(["_rep", "server", "start", "end", "_pos"], kind="stable")
                 .drop_duplicates(["_rep", "server", "phase"]))
        first = first.assign(_rank=first.groupby(["_rep", "server"], sort=False).cumcount())
        keys = first.groupby("phase", sort=True).agg(rank=("_rank", "mean"),
                                                     start=("start", "mean"))
        order = [str(p) for _, _, p in sorted(
            (float(k["rank"]), float(k["start"]), str(p)) for p, k in keys.iterrows())]
    return order + sorted(str(p) for p in extra if str(p) not in order)


def ready_since_start(servers: pd.DataFrame) -> np.ndarray:
    """Ready times of completed servers, in seconds since their run's first power-on, sorted.

    With replications (a ``replication`` column), each counts from its own first
    power-on and the times are pooled.
    """
    if not len(servers):
        return np.empty(0)
    rep = pd.Series(replication_of(servers), index=servers.index)
    t0 = servers["power_on"].groupby(rep).transform("min")
    ok = (servers["outcome"] == "ok") & servers["ready"].notna()
    return np.sort((servers["ready"] - t0)[ok].to_numpy(dtype=float))


def replicated(s: dict) -> dict | None:
    """The summary's ``replications`` block when there were two or more, else ``None``."""
    r = s.get("replications")
    if isinstance(r, dict) and int(fmt.number(r.get("n")) or 1) > 1:
        return r
    return None


def interval(s: dict, key: str) -> tuple[float, float, float] | None:
    """``(mean, lo, hi)`` of a replicated metric (``makespan``, ``p99``...), or ``None``."""
    r = replicated(s)
    m = ((r or {}).get("metrics") or {}).get(key)
    if not isinstance(m, dict):
        return None
    vals = [fmt.number(m.get(k)) for k in ("mean", "lo", "hi")]
    return None if vals[0] is None else (vals[0], vals[1], vals[2])


def _dur(s: dict, key: str) -> str:
    """A duration metric: its replications' mean and interval, else the run's value."""
    iv = interval(s, key)
    return fmt.duration_interval(*iv) if iv else fmt.duration(s.get(key))


def _lead(s: dict, top: dict | None, clients_end: float | None = None,
          phases: pd.DataFrame | None = None) -> str:
    n, done = int(s.get("servers") or 0), int(s.get("completed") or 0)
    rep = replicated(s)
    if not done:
        text = f"No server of {fmt.count(n)} became ready."
    elif rep:
        text = (f"Over {fmt.count(rep.get('n'))} replications, {fmt.count(done)} of "
                f"{fmt.count(n)} servers ready; makespan {_dur(s, 'makespan')}, "
                f"p99 {_dur(s, 'p99')} ({_confidence(rep)}).")
    elif done < n:  # the percentiles are of the ready servers only: say so
        text = (f"{fmt.count(done)} of {fmt.count(n)} servers ready, the last at "
                f"{fmt.duration(s.get('makespan'))} (p95 of those "
                f"{fmt.duration(s.get('p95'))}).")
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
                 f"{fmt.duration(top.get('saturated_seconds'))}")
        first, last = fmt.number(top.get("first")), fmt.number(top.get("last"))
        if None not in (first, last, clients_end) and last - clients_end > 1.0:
            # the resource outlived its clients (orphan TFTP transfers hold slots)
            text += (f" (from {fmt.duration(first)} to {fmt.duration(last)}, "
                     f"{fmt.duration(last - clients_end)} after the last server finished or "
                     f"gave up at {fmt.duration(clients_end)})")
        text += "."
    elif done and phases is not None and len(phases):
        text += f" No resource saturated; what held it back: {held_back(s, phases)}."
    return text


def _confidence(rep: dict) -> str:
    """``"95 % intervals over 8 replications"``, from the replications block."""
    conf = fmt.number(rep.get("confidence")) or 0.95
    return f"{conf * 100:g} % intervals over {fmt.count(rep.get('n'))} replications"


_METHODS = {"student-t": "Student t", "bootstrap-percentile": "percentile bootstrap"}
_METRICS = {"mean": "mean ready time", "completed": "servers ready",
            "ready_fraction_by_deadline": "ready by the deadline"}


def _method(rep: dict) -> str:
    """Which interval each metric has (``"makespan, mean: Student t; p99: ..."``)."""
    m = rep.get("method")
    if not isinstance(m, dict):
        return str(m or "")
    by: dict[str, list[str]] = {}
    for metric, how in (m.get("metrics") or {}).items():
        by.setdefault(str(how), []).append(_METRICS.get(str(metric), str(metric)))
    parts = []
    for how, metrics in by.items():
        text = f"{', '.join(metrics)}: {_METHODS.get(how, how)}"
        boot = m.get(how)
        if how == "bootstrap-percentile" and isinstance(boot, dict) and boot.get("resamples"):
            text += f" of the mean, {fmt.count(boot['resamples'])} resamples"
        parts.append(text)
    return "; ".join(parts)


def bound_scope(bound: dict) -> str:
    """What the line-rate bound leaves out: ``""`` when every server got ready.

    The bound counts the bytes that moved; a server that failed or was still booting
    moved less than it needed, so the fleet's own bound is higher than the number shown.
    """
    n = int(fmt.number(bound.get("not_ready")) or 0)
    return f"bytes carried only: {fmt.count(n)} not ready" if n else ""


def _of_ready(s: dict) -> str:
    """" (of the 4 ready)" when some servers did not get ready: percentiles are of those."""
    n, done = int(s.get("servers") or 0), int(s.get("completed") or 0)
    return f" (of the {fmt.count(done)} ready)" if 0 < done < n else ""


def _ratio(s: dict) -> float | None:
    r = fmt.number(s.get("makespan_over_bound"))
    if r is None:
        bound = fmt.number((s.get("line_rate_bound") or {}).get("seconds"))
        span = fmt.number(s.get("makespan"))
        r = span / bound if bound and span is not None else None
    return r


def _headline(s: dict, servers: pd.DataFrame, phases: pd.DataFrame,
              top: dict | None) -> list[tuple[str, str]]:
    n = int(s.get("servers") or 0)
    rep = replicated(s)

    def share(k: str) -> str:
        v = int(s.get(k) or 0)
        text = f"{fmt.count(v)} ({fmt.percent(v / n)})" if n else fmt.count(v)
        iv = interval(s, k)
        if iv:
            text += f"; per replication {fmt.count_interval(*iv)}"
        return text

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
        bottleneck = f"{top['resource']}: saturated {_saturated(top)}"
    else:
        bottleneck = "none (no resource limited any flow)"
        if s.get("completed"):
            bottleneck += f"; what held it back: {held_back(s, phases)}"
    in_groups = f" in {groups} groups" if groups > 1 else ""
    reps = int(fmt.number((rep or {}).get("n")) or 1)
    if rep and n % reps == 0:
        rows = [("Servers", f"{fmt.count(n // reps)}{in_groups}, in each of {fmt.count(reps)} "
                            f"replications: {fmt.count(n)} server-runs, counted below")]
    else:
        rows = [("Servers", fmt.count(n) + in_groups)]
    if rep:
        conf = fmt.number(rep.get("confidence")) or 0.95
        rows.append(("Replications", f"{fmt.count(reps)} independent runs; "
                                     f"{conf * 100:g} % intervals of the mean over them"
                     + (f" ({_method(rep)})" if _method(rep) else "")
                     + (f"; {_until_ci(rep)}" if _until_ci(rep) else "")))
    rows += [
        ("Completed", share("completed")),
        ("Failed", share("failed")),
        ("Unfinished", share("unfinished")),
        ("Ready p50 / p95 / p99" + _of_ready(s),
         " / ".join(_dur(s, k) for k in ("p50", "p95", "p99"))),
        ("Mean ready time", _dur(s, "mean")),
        ("Makespan (first power-on → last ready)", _dur(s, "makespan")),
    ]
    deadline = fmt.number(s.get("deadline"))
    if deadline is not None:
        iv = interval(s, "ready_fraction_by_deadline")
        rows.append((f"Ready by the deadline ({fmt.duration(deadline)})",
                     fmt.percent_interval(*iv) if iv else
                     fmt.percent(s.get("ready_fraction_by_deadline"))))
    rows += [
        ("Line-rate lower bound", bound),
        ("Makespan ÷ bound", fmt.ratio(_ratio(s))),
        ("Top bottleneck", bottleneck),
    ]
    if isinstance(s.get("random"), dict):
        rows.append(("Random inputs", _random_headline(s)))
    return rows


def _until_ci(rep: dict) -> str:
    """What ``--until-ci`` asked and got, from the replications block (``""``: not used)."""
    u = rep.get("until_ci")
    if not isinstance(u, dict):
        return ""
    text = f"until the makespan's half-width is within {fmt.percent(u.get('target'))} of its mean"
    rel = fmt.percent(u.get("relative_half_width"))
    if u.get("reached"):
        return text + f": reached ({rel})"
    return text + f": not reached at the cap of {fmt.count(u.get('cap'))} ({rel})"


#: Phases that are waits rather than work: for a capped service (a TFTP slot, an HTTP
#: worker, a balancer's connection, a queue), for an edge's fill, for a service or link
#: to come back (a client's retries).
WAIT_PREFIXES = ("tftp-wait", "http-wait", "lb-wait", "queued", "edge-wait", "down-wait")


def _per_server(s: dict, phases: pd.DataFrame) -> pd.Series:
    """Mean seconds per server-run in each phase (every attempt, nested ones left out)."""
    secs = phase_seconds(phases)
    n = max(1, int(s.get("servers") or 0) or len(secs))
    return secs.sum(axis=0) / n if len(secs.columns) else pd.Series(dtype=float)


def _tftp(s: dict, phases: pd.DataFrame) -> str:
    """TFTP lock-step as time per round trip × round trips per server.

    From the TFTP fetch records that ended well: a read of ``b`` bytes moves
    ``floor(b / blksize) + 1`` DATA blocks (the last one short), ``windowsize`` blocks
    per round trip; block and window sizes are the summary's ``tftp`` block's (by group).
    Without them, the bytes and time per server.
    """
    ph = phases
    tftp = ph[(ph["protocol"] == "tftp") & (ph["outcome"] == "ok")
              & ph["phase"].astype(str).str.startswith("fetch:")] if len(ph) else ph
    if not len(tftp):
        return ""
    info = s.get("tftp") or {}
    blk = tftp["group"].map(lambda g: (info.get("blksize") or {}).get(str(g))).astype(float)
    win = tftp["group"].map(lambda g: (info.get("windowsize") or {}).get(str(g))).astype(float)
    n = max(1, int(s.get("servers") or 0))
    secs = float(tftp["seconds"].sum())
    if blk.notna().all() and win.notna().all():
        blocks = np.floor(tftp["bytes"].to_numpy(float) / blk.to_numpy()) + 1
        rounds = float(np.ceil(blocks / win.to_numpy()).sum())
        sizes = "/".join(f"{int(b):,}" for b in sorted(set(blk)))
        if set(win) == {1.0}:
            return (f"TFTP lock-step: {_precise(secs / rounds)} × "
                    f"{fmt.count(rounds / n)} blocks of {sizes} bytes per server, one round "
                    f"trip each")
        wins = "/".join(f"{int(w)}" for w in sorted(set(win)))
        return (f"TFTP lock-step: {_precise(secs / rounds)} × {fmt.count(rounds / n)} "
                f"windows of {wins} × {sizes}-byte blocks per server, one round trip each")
    return (f"TFTP lock-step: {fmt.size(tftp['bytes'].sum() / n)} per server in "
            f"{fmt.duration(secs / n)}, one round trip per block")


def _precise(seconds: float) -> str:
    """A short duration to three significant digits (``"5.02 ms"``, ``"47.3 µs"``)."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if seconds >= scale or unit == "µs":
            return f"{seconds / scale:.3g} {unit}"
    return fmt.duration(seconds)


#: The share of the makespan a resource must stay saturated for to be what held a run
#: back (:func:`held_back`).
HELD_SHARE = 0.05


def held_back(s: dict, phases: pd.DataFrame) -> str:
    """What held a run back, in a few words.

    Its most saturated resource when one limited flows for at least
    :data:`HELD_SHARE` of the makespan (how long, and until when if it stayed saturated
    after the last server was done); otherwise the phase its servers spent longest in,
    with its mechanism where the records show it: TFTP's lock-step (time per round trip
    × round trips per server), an HTTP transfer's rate, or the phase's time per server.
    (A resource saturated for a moment of a run that its servers spent waiting in a
    queue did not hold it back: an admission control of 20 boots at a time saturated a
    SAN array for 0.6 s of 19.5 min.)
    """
    tops = sorted(s.get("bottlenecks") or [],
                  key=lambda b: (-(fmt.number(b.get("saturated_seconds")) or 0.0),
                                 str(b.get("resource"))))
    span = fmt.number(s.get("makespan"))
    if tops and span and (fmt.number(tops[0].get("saturated_seconds")) or 0.0) < \
            HELD_SHARE * span:
        tops = []
    if tops:
        b = tops[0]
        text = f"{b['resource']} saturated {fmt.duration(b.get('saturated_seconds'))}"
        end = float(phases["end"].max()) if len(phases) else None
        last = fmt.number(b.get("last"))
        if last is not None and end is not None and last - end > 1.0:
            text += (f" (until {fmt.duration(last)}, after the last server at "
                     f"{fmt.duration(end)})")
        return text
    per = _per_server(s, phases)
    per = per[per > 0] if len(per) else per
    if not len(per):
        return "nothing: no phase took time"
    phase, secs = sorted(per.items(), key=lambda kv: (-kv[1], str(kv[0])))[0]
    phase, secs = str(phase), float(secs)
    ph = phases[phases["phase"] == phase]
    proto = str(ph["protocol"].mode().iat[0]) if len(ph) and (ph["protocol"] != "").any() \
        else ""
    if phase.startswith("fetch:") and proto == "tftp":
        return _tftp(s, phases) or f"{phase}: {fmt.duration(secs)} per server"
    if phase.startswith("fetch:") and proto.startswith("http"):
        ok = ph[ph["outcome"] == "ok"]
        took = float(ok["seconds"].sum())
        rate = float(ok["bytes"].sum()) * 8 / took if took > 0 else None
        return (f"{phase} over HTTP: {fmt.duration(secs)} per server at "
                f"{fmt.bit_rate(rate)}, no link saturated (the TCP window and the client's "
                f"pace)")
    if phase.startswith(WAIT_PREFIXES):
        return f"waiting ({phase}): {fmt.duration(secs)} per server"
    return f"{phase}: {fmt.duration(secs)} per server"


def _saturated(b: dict) -> str:
    """How long a bottleneck was saturated: in all, and within the makespan window.

    "45.0 s (75.0 % of makespan)"; when it stayed saturated after the last server was
    ready (orphan transfers, failed servers' retries), both: "1.3 min in all, 19.3 s
    (89.7 %) of the makespan".
    """
    total = fmt.number(b.get("saturated_seconds"))
    inside = fmt.number(b.get("saturated_in_makespan_seconds"))
    if fmt.number(b.get("fraction_of_makespan")) is None:
        return fmt.duration(total)
    if inside is not None and fmt.duration(total) != fmt.duration(inside):
        return f"{fmt.duration(total)} in all, {_window_share(b)} of the makespan"
    return f"{fmt.duration(total)} ({fmt.percent(b.get('fraction_of_makespan'))} of makespan)"


def _window_share(b: dict) -> str:
    """A bottleneck's saturation within the makespan window: "19.3 s (89.7 %)".

    Its share alone ("89.7 %") for a summary written before the seconds were recorded
    (``saturated_in_makespan_seconds``).
    """
    inside = fmt.number(b.get("saturated_in_makespan_seconds"))
    share = fmt.percent(b.get("fraction_of_makespan"))
    return share if inside is None else f"{fmt.duration(inside)} ({share})"


def _bottlenecks(s: dict) -> tuple[list[dict], int]:
    items = sorted(s.get("bottlenecks") or [],
                   key=lambda b: (-(fmt.number(b.get("saturated_seconds")) or 0.0),
                                  str(b.get("resource"))))
    rows = [{"resource": str(b.get("resource", "")),
             "saturated": fmt.duration(b.get("saturated_seconds")),
             "share": _window_share(b),
             "max_flows": fmt.count(b.get("max_flows")),
             "window": f"{fmt.duration(b.get('first'))} – {fmt.duration(b.get('last'))}"}
            for b in items[:MAX_BOTTLENECK_ROWS]]
    return rows, max(0, len(items) - MAX_BOTTLENECK_ROWS)


def _failures(s: dict, fails: pd.DataFrame, fleet: int) -> tuple[list[dict], dict | None]:
    """The failure reasons, most servers first, with when servers failed of each.

    At most :data:`MAX_FAILURE_ROWS` rows; the second item counts the rest (``reasons``,
    ``servers``, as text), or is ``None``.
    """
    n = fleet or int(s.get("servers") or 0)
    items = sorted((s.get("failures") or {}).items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
    more = None
    if len(items) > MAX_FAILURE_ROWS:
        rest = items[MAX_FAILURE_ROWS:]
        more = {"reasons": fmt.count(len(rest)), "servers": fmt.count(sum(int(v) for _, v in rest))}
        items = items[:MAX_FAILURE_ROWS]
    when = fails.groupby("reason", sort=False)["time"].agg(["min", "max"]) if len(fails) \
        else pd.DataFrame(columns=["min", "max"])
    rows = []
    for k, v in items:
        first, last = (when.loc[k, "min"], when.loc[k, "max"]) if k in when.index \
            else (None, None)
        rows.append({"reason": str(k) or "(none given)", "servers": fmt.count(v),
                     "share": fmt.percent(int(v) / n) if n else fmt.DASH,
                     "first": fmt.duration(first), "last": fmt.duration(last)})
    return rows, more


def _recovered(s: dict) -> tuple[list[dict], int]:
    """Failures the fleet recovered from, and how many reasons were left out.

    Most failed attempts first, at most :data:`MAX_FAILURE_ROWS` rows.
    """
    items = sorted((s.get("recovered") or {}).items(),
                   key=lambda kv: (-int(kv[1]["attempts"]), str(kv[0])))
    more = len(items) - MAX_FAILURE_ROWS + int((s.get("not_listed") or {})
                                               .get("recovered", {}).get("more", 0))
    rows = [{"reason": str(k) or "(none given)", "attempts": fmt.count(v["attempts"]),
             "servers": fmt.count(v["servers"]), "seconds": fmt.duration(v["seconds"])}
            for k, v in items[:MAX_FAILURE_ROWS]]
    return rows, max(0, more)


def _failure_timing(fails: pd.DataFrame, rep: bool) -> str:
    """When the fleet failed, in one sentence (``""`` when no server failed)."""
    t = np.sort(fails["time"].to_numpy(float)) if len(fails) else np.empty(0)
    t = t[np.isfinite(t)]
    if not t.size:
        return ""
    who = "server" if t.size == 1 else "servers"
    when = "since each replication's first power-on" if rep else "since the first power-on"
    if t.size == 1 or t[0] == t[-1]:
        return f"{fmt.count(t.size)} {who} failed at {fmt.duration(t[0])} {when}."
    return (f"{fmt.count(t.size)} {who} failed between {fmt.duration(t[0])} and "
            f"{fmt.duration(t[-1])} {when}; half of them by "
            f"{fmt.duration(float(np.percentile(t, 50)))}.")


def _not_ready(servers: pd.DataFrame, phases: pd.DataFrame) -> tuple[list[dict], int]:
    bad = servers[servers["outcome"] != "ok"] if len(servers) else servers
    if not len(bad):
        return [], 0
    rank = {"failed": 0, "unfinished": 1}
    bad = bad.assign(_rank=bad["outcome"].map(rank).fillna(2), _pos=range(len(bad)),
                     repl=replication_of(bad))
    bad = bad.sort_values(["_rank", "_pos"], kind="stable")
    shown = bad.head(MAX_SERVER_ROWS)
    keys = set(zip(shown["repl"], shown["server"], strict=True))
    recs = phases.assign(_rep=replication_of(phases)) if len(phases) else phases
    if len(recs):
        mine = [k in keys for k in zip(recs["_rep"], recs["server"], strict=True)]
        recs = recs[mine]
    last_fail: dict[tuple, str] = {}
    last_any: dict[tuple, str] = {}
    if len(recs):
        recs = recs.assign(_pos=range(len(recs))).sort_values(["end", "start", "_pos"],
                                                              kind="stable")
        for r, server, phase, outcome in zip(recs["_rep"], recs["server"], recs["phase"],
                                             recs["outcome"], strict=True):
            last_any[(r, server)] = phase
            if outcome != "ok":
                last_fail[(r, server)] = phase
    many = replication_count(servers) > 1
    rows = []
    for r in shown.itertuples(index=False):
        key = (r.repl, r.server)
        if key in last_fail:
            phase = last_fail[key]
        elif key in last_any:
            phase = f"after {last_any[key]}"
        else:
            phase = fmt.DASH
        reason = r.reason if isinstance(r.reason, str) and r.reason else fmt.DASH
        rows.append({"server": _who(r.server, r.repl, many), "group": str(r.group),
                     "outcome": str(r.outcome), "phase": phase, "reason": reason})
    return rows, len(bad) - len(shown)


def _who(server: object, rep: object, many: bool) -> str:
    """A server's name, with its replication when there are several (``r01s002 #3``)."""
    return f"{server} #{rep}" if many else str(server)


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
    rep = pd.Series(replication_of(servers), index=servers.index)
    since = servers["ready"] - servers["power_on"].groupby(rep).transform("min")
    rows = []
    for g, frame in servers.groupby("group", sort=True):
        done = np.sort(since[frame.index][frame["outcome"] == "ok"].dropna().to_numpy(float))

        def pct(q: float, done: np.ndarray = done) -> float:
            return float(np.percentile(done, q)) if done.size else math.nan

        rows.append({"group": str(g), "servers": fmt.count(len(frame)),
                     "completed": fmt.count(done.size),
                     "failed": fmt.count((frame["outcome"] == "failed").sum()),
                     "p50": fmt.duration(pct(50)), "p95": fmt.duration(pct(95)),
                     "last": fmt.duration(done[-1] if done.size else math.nan),
                     "bytes": fmt.size(frame["bytes"].sum())})
    return rows


def _slow(servers: pd.DataFrame, phases: pd.DataFrame, order: list[str]) -> dict:
    """The slow-tail table: columns and rows, as text (``{}`` when no server got ready).

    Phase columns follow the boot log; phases with no time in any shown row (nor in the
    median) are left out, and past :data:`MAX_SLOW_PHASES` the ones with least time in
    the shown rows are summed into "other phases".
    """
    tail = slow_tail(servers, phases, MAX_SLOW_ROWS)
    if not tail.rows:
        return {}
    shown = [*tail.rows, tail.median]
    total = {p: sum(r["phases"].get(p, 0.0) for r in shown) for p in tail.phases}
    cols = [p for p in order if total.get(p, 0.0) > 0]
    cols += sorted(p for p in tail.phases if total[p] > 0 and p not in cols)
    other: list[str] = []
    if len(cols) > MAX_SLOW_PHASES:
        keep = set(sorted(cols, key=lambda p: (-total[p], cols.index(p)))[:MAX_SLOW_PHASES - 1])
        other = [p for p in cols if p not in keep]
        cols = [p for p in cols if p in keep]
    late = any(r["power_on"] > 0 for r in shown)
    many = replication_count(servers) > 1

    def row(r: dict) -> dict:
        cells = [fmt.duration(r["phases"].get(p, 0.0)) for p in cols]
        if other:
            cells.append(fmt.duration(sum(r["phases"].get(p, 0.0) for p in other)))
        why = fmt.DASH
        if r["why"]:
            what, mine, med = r["why"]
            # the excess itself: a tail of near-equal servers shows how little it lost
            over = f"+{fmt.duration(mine - med)} over the median {fmt.duration(med)}"
            why = (f"powered on at {fmt.duration(mine)}, {over}" if what == "power-on"
                   else f"{what}: {fmt.duration(mine)}, {over}")
        return {"server": _who(r["server"], r[REPLICATION], many) if r[REPLICATION] is not None
                else "median server", "group": r["group"],
                "power_on": fmt.duration(r["power_on"]), "ready": fmt.duration(r["ready"]),
                "boot": fmt.duration(r["boot"]), "cells": cells, "why": why}

    return {"columns": cols + (["other phases"] if other else []),
            "other": ", ".join(other), "late": late,
            "rows": [row(r) for r in tail.rows], "median": row(tail.median),
            "of": fmt.count(tail.completed)}


def _random_headline(s: dict) -> str:
    """The headline's word on randomness: what draws, or that the seed changes nothing."""
    rnd = s.get("random") or {}
    inputs, loss = rnd.get("inputs") or [], rnd.get("loss") or []
    if not inputs and not loss:
        return f"none: the seed ({s.get('seed', '?')}) changes nothing"
    parts = []
    if inputs:
        parts.append(f"{len(inputs)} drawn " + ("value" if len(inputs) == 1 else "values"))
    if loss:
        parts.append("packet loss on " + (f"{len(loss)} links" if len(loss) > 1 else "1 link"))
    return ", ".join(parts) + " (see Random inputs)"


def _random(s: dict) -> dict | None:
    """The Random inputs section: what is drawn, per what, from which stream."""
    rnd = s.get("random")
    if not isinstance(rnd, dict):
        return None
    inputs = [{"input": str(i.get("input", "")), "per": str(i.get("per", "")),
               "dist": str(i.get("dist", "")), "stream": str(i.get("stream", ""))}
              for i in rnd.get("inputs") or []]
    loss = [{"input": str(i.get("input", "")), "per": str(i.get("per", "packet")),
             "dist": str(i.get("dist", "")), "stream": str(i.get("stream", ""))}
            for i in rnd.get("loss") or []]
    rows = inputs + loss
    if rows:
        text = (f"Drawn from named random streams of seed {s.get('seed', '?')}: another seed, "
                "or another replication, draws other values for these inputs and only these; "
                "everything else is the same in every run.")
    else:
        text = (f"Nothing in this scenario is drawn at random: no value is a distribution and "
                f"no link loses packets, so every server of a group boots alike and the seed "
                f"({s.get('seed', '?')}) changes nothing; replications would all give the "
                f"same numbers.")
    return {"text": text, "rows": rows}


def _services(s: dict) -> list[dict]:
    """One row per capped service and DHCP server: its limit and how hard it was hit."""
    rows = []
    for name, st in sorted((s.get("services") or {}).items()):
        what = {"tftp": "RRQs queued", "orchestrator": "commands waiting"}.get(
            st.get("kind"), "connections waiting")
        pressure = [f"{fmt.count(st.get('max_queued', 0))} {what} at most"]
        if st.get("orphans"):
            pressure.append(f"{fmt.count(st['orphans'])} orphan transfers")
        if st.get("dropped_rrqs"):
            pressure.append(f"{fmt.count(st['dropped_rrqs'])} RRQs dropped (receive "
                            f"buffer full)")
        if st.get("dropped_syns"):
            pressure.append(f"{fmt.count(st['dropped_syns'])} SYNs dropped")
        if st.get("kind") == "api":
            pressure = []
        if st.get("kind") == "dns":
            pressure = [f"{fmt.count(st.get('answered', 0))} queries answered"]
            if "forwarded" in st:
                pressure.append(f"{fmt.count(st['forwarded'])} forwarded, "
                                f"{fmt.count(st.get('cache_hits', 0))} from its cache")
            if st.get("dropped"):
                pressure.append(f"{fmt.count(st['dropped'])} dropped (too many clients "
                                "waiting on one forward)")
        if "max_sessions_held" in st:  # a SAN target (the summary's _san_services)
            pressure = [f"{fmt.count(st.get('max_sessions_held', 0))} sessions held at most"]
            if st.get("refused_logins"):
                pressure.append(f"{fmt.count(st['refused_logins'])} logins refused (every "
                                "session taken)")
        rows.append({"service": name, "kind": str(st.get("kind", "")),
                     "limit": str(st.get("limit", "")),
                     "pressure": ", ".join(pressure) or fmt.DASH})
    dhcp = s.get("dhcp") or {}
    for name, st in sorted((dhcp.get("servers") or {}).items()):
        extra = f", {fmt.count(st['exhausted'])} DISCOVERs unanswered (pool empty)" \
            if st.get("exhausted") else ""
        rows.append({"service": name, "kind": "dhcp", "limit": "one packet at a time",
                     "pressure": f"{fmt.count(st.get('packets', 0))} packets, "
                                 f"{fmt.count(st.get('leases', 0))} addresses offered"
                                 f"{extra}"})  # (reserved at the offer: not all acknowledged)
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




def not_ready(event: dict) -> list[str]:
    """A lifecycle event's servers not ready by kind (``["2 failed", "1 skipped"]``)."""
    return [f"{event[k]} {k}" for k in ("failed", "skipped", "unfinished") if event.get(k)]


def _lifecycle(s: dict) -> list[dict]:
    """The lifecycle events' table (``summary["lifecycle"]``), one row per event."""
    rows = []
    for name, e in (s.get("lifecycle") or {}).items():
        kind = e.get("kind")
        missing = not_ready(e)
        if kind == "replace":
            restored = fmt.number(e.get("time_to_restore"))
            result = (f"{e.get('node')} failed; {e.get('standby')} took its identity and "
                      + (f"served after {fmt.duration(restored)}" if restored is not None
                         else "did not get ready"))
        elif kind == "reprovision":
            done = fmt.number(e.get("done"))
            result = (f"the {e.get('ready')} it rebooted ready again after "
                      f"{fmt.duration(done)}" if done is not None else
                      f"{e.get('ready')} of {e.get('servers')} ready again")
        else:
            lag = fmt.number(e.get("max_lag"))
            steps = len(e.get("curve") or [])
            result = (f"{steps} demand steps; capacity at most {fmt.duration(lag)} behind "
                      "the demand" if lag is not None else
                      f"{steps} demand steps; the pool never met "
                      + ("some of them" if steps > 1 else "it"))
        rows.append({"event": name, "kind": kind, "at": fmt.duration(e.get("at")),
                     "servers": fmt.count(e.get("servers")),
                     "ready": fmt.count(e.get("ready")),
                     "not_ready": ", ".join(missing) or "none",
                     "p50": fmt.duration(e.get("p50")), "result": result})
    return rows


def build_context(summary: dict, servers: pd.DataFrame, phases: pd.DataFrame,
                  records_file: str = "servers.csv", events: pd.DataFrame | None = None
                  ) -> dict:
    """Everything the templates show, formatted, from the summary and the frames.

    Args:
        summary: the run summary (see :func:`netbootsim.report.write_report`).
        servers: one row per server (per replication, with a ``replication`` column).
        phases: the phase records frame.
        records_file: the file holding every server's row, which a capped table names.
        events: a run with lifecycle events: their rows (``events.csv``); the section
            itself is from ``summary["lifecycle"]``, the frame only says it exists.

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
    fails = failure_times(servers, phases)
    failures, more_failures = _failures(s, fails, len(servers))
    recovered, more_recovered = _recovered(s)
    clients_end = float(phases["end"].max()) if len(phases) else None
    engine = s.get("engine") or {}
    run_info = [f"seed {s['seed']}"] if s.get("seed") is not None else []
    if engine:
        run_info.append(f"engine {engine.get('mode', '?')}: {fmt.count(engine.get('events'))} "
                        f"events, {fmt.count(engine.get('solves'))} solves")
    return {
        "title": str(s.get("scenario") or "netbootsim run"),
        "question": str(s.get("question") or ""),
        "lead": _lead(s, top, clients_end, phases),
        "headline": _headline(s, servers, phases, top),
        "groups": _groups(servers),
        "slow": _slow(servers, phases, order),
        "bottlenecks": bottlenecks,
        "more_bottlenecks": fmt.count(more_bottlenecks) if more_bottlenecks else "",
        "failures": failures,
        "more_failures": more_failures,
        "recovered": recovered,
        "recovered_who": "server-runs" if replication_count(servers) > 1 else "servers",
        "more_recovered": fmt.count(more_recovered) if more_recovered else "",
        # the failed attempts' rows are phase records, beside the servers' in its format
        "phases_file": records_file.replace("servers", "phases", 1),
        "records_file": records_file,
        "failure_timing": _failure_timing(fails, replication_count(servers) > 1),
        "services": _services(s),
        "costs": cost_rows(s),
        "lifecycle": _lifecycle(s) if events is not None else [],
        "not_ready": not_ready,
        "more_servers": fmt.count(more_servers) if more_servers else "",
        "phase_stats": _phase_stats(s, phases, order),
        "random": _random(s),
        "notes": [str(n) for n in s.get("notes") or []],
        "warnings": [str(w) for w in s.get("warnings") or []],
        "run_info": " · ".join(run_info) or "netbootsim",
    }


def money(amount: object, currency: str = "") -> str:
    """An amount in the user's currency: two decimals, thousands separated."""
    value = fmt.number(amount)
    if value is None:
        return fmt.DASH
    return f"{value:,.2f}" + (f" {currency}" if currency else "")


def cost_rows(s: dict) -> dict | None:
    """The run's priced items and total (``summary["costs"]``), formatted; None if unpriced."""
    c = s.get("costs")
    if not c:
        return None
    cur = str(c.get("currency") or "")
    rows = [{"what": str(i["what"]), "name": str(i["name"]),
             "quantity": f"{fmt.number(i['quantity']) or 0.0:,.6g} {i['unit']}",
             "price": money(i["price"], cur), "amount": money(i["amount"], cur)}
            for i in c.get("items") or []]
    return {"total": money(c.get("total"), cur), "rows": rows}
