"""Report figures as PNG bytes: completion CDF, time by phase, utilisation over time.

Figures are drawn on bare :class:`matplotlib.figure.Figure` objects (Agg canvas, no
pyplot state) under matplotlib's default style plus :data:`RC`, at a fixed dpi and
with the PNG ``Software`` metadata removed, so the same inputs give byte-identical
files whatever the user's matplotlib configuration.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib as mpl
import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from . import fmt
from .content import NESTED_PREFIXES, bound_scope, phase_order, replicated
from .spread import (
    MAX_REPLICATION_LINES,
    cdf_band,
    cdf_points,
    failure_times,
    fleet_over_time,
    ready_by_replication,
)

__all__ = ["DPI", "RC", "MAX_GROUPS", "MAX_RESOURCES", "MAX_REPLICATION_LINES", "TIME_GRID",
           "LOG_SPAN",
           "busiest", "cdf_png", "compare_cdf_png", "fleet_png", "phases_png",
           "utilisation_png", "lifecycle_png"]

#: Resolution of every figure (dots per inch).
DPI = 100
#: rcParams applied on top of matplotlib's defaults while drawing.
RC = {"svg.hashsalt": "netbootsim", "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
      "axes.spines.top": False, "axes.spines.right": False, "legend.fontsize": 8}
#: Most groups drawn in the phase figure.
MAX_GROUPS = 40
#: Most resources drawn in the utilisation figure.
MAX_RESOURCES = 8
#: Times at which the band and the fleet's state over time are evaluated.
TIME_GRID = 600
#: The comparison's time axis is logarithmic when the runs' last ready times differ more
#: than this many times.
LOG_SPAN = 20.0


@contextmanager
def _style() -> Iterator[None]:
    """Matplotlib's default style plus :data:`RC`, whatever the user's configuration."""
    with matplotlib.style.context("default"), mpl.rc_context(RC):
        yield


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def cdf_png(summary: dict, servers: pd.DataFrame) -> bytes:
    """Fraction of the fleet ready against time since the first power-on.

    One run: its CDF. Replications (a ``replication`` column with two or more values):
    one thin CDF per replication (at most :data:`MAX_REPLICATION_LINES`), the pooled
    CDF over all of them, and the pointwise confidence band of the mean CDF
    (:func:`~netbootsim.report.spread.cdf_band`, Student's t over the replications).
    Every CDF is drawn on a quantile grid (:func:`~netbootsim.report.spread.cdf_points`),
    so the figure costs the same for 100 or 100,000 servers.

    Args:
        summary: run summary; its p50/p95/p99, deadline and line-rate bound are marked.
        servers: one row per server (the denominator is every server).

    Returns:
        The PNG file's bytes.
    """
    per_rep = ready_by_replication(servers)
    done = np.sort(np.concatenate([d for _, d, _ in per_rep])) if per_rep else np.empty(0)
    n = len(servers)
    rep = replicated(summary)
    with _style():
        fig = _figure(8.5, 3.6)
        ax = fig.add_subplot()
        bound = summary.get("line_rate_bound") or {}
        b = fmt.number(bound.get("seconds"))
        deadline = fmt.number(summary.get("deadline"))
        right = max([v for v in (fmt.number(summary.get("makespan")), b, deadline,
                                 float(done[-1]) if done.size else None) if v] or [1.0])
        if done.size and len(per_rep) > 1:
            for i, (_, d, size) in enumerate(per_rep[:MAX_REPLICATION_LINES]):
                x, y = cdf_points(d, size)
                ax.step(np.append(x, right * 1.04), np.append(y, y[-1]), where="post",
                        color="#7a9cc6", lw=0.6, alpha=0.55,
                        label="one replication" if i == 0 else None)
            times = np.linspace(0.0, right * 1.04, TIME_GRID)
            conf = fmt.number((rep or {}).get("confidence")) or 0.95
            _, lo, hi = cdf_band(per_rep, times, conf)
            ax.fill_between(times, lo, hi, step="post", color="#1f4e79", alpha=0.18, lw=0,
                            label=f"{conf * 100:g} % band of the mean")
        if done.size:
            x, y = cdf_points(done, n)
            label = "all replications pooled" if len(per_rep) > 1 else "servers ready"
            ax.step(np.append(x, right * 1.04), np.append(y, y[-1]), where="post",
                    color="#1f4e79", lw=2, label=label)
        else:
            ax.text(0.5, 0.5, "no server became ready", transform=ax.transAxes,
                    ha="center", va="center", color="#a00")
        marks = [("p50", "#2a9d8f", "--"), ("p95", "#e9c46a", "--"), ("p99", "#e76f51", "--")]
        for key, colour, style in marks:
            v = fmt.number(summary.get(key))
            if v is not None:
                ax.axvline(v, color=colour, ls=style, lw=1.2,
                           label=f"{key} {fmt.duration(v)}")
        if deadline is not None:
            ax.axvline(deadline, color="#a00", ls="-", lw=1.2,
                       label=f"deadline {fmt.duration(deadline)}")
        if b:
            # the resource and the bound's scope are in the caption and the headline: a
            # long label here squeezes the plot
            ax.axvline(b, color="black", ls=":", lw=1.5,
                       label=f"line-rate bound {fmt.duration(b)}"
                       + (" (bytes carried only)" if bound_scope(bound) else ""))
        ax.set_xlim(0, right * 1.04)
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("time since first power-on (s)")
        ax.set_ylabel("fleet ready")
        if len(per_rep) > 1:
            ax.set_title(f"{len(per_rep)} replications of {n // len(per_rep):,} servers: "
                         f"{len(done):,} of {n:,} ready")
        else:
            ax.set_title(f"Completion time: {len(done):,} of {n:,} servers ready")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        return _png(fig)


def fleet_png(summary: dict, servers: pd.DataFrame, phases: pd.DataFrame) -> bytes | None:
    """Cumulative fractions of the fleet ready and failed against time.

    A server fails at the end of its last phase record
    (:func:`~netbootsim.report.spread.failure_times`). With replications, times count
    from each one's first power-on and the fractions are pooled. Evaluated at
    :data:`TIME_GRID` times.

    Returns:
        The PNG file's bytes, or ``None`` when no server failed or was left unfinished
        (the completion CDF then says it all).
    """
    if not len(servers) or not (servers["outcome"] != "ok").any():
        return None
    fails = failure_times(servers, phases)["time"].to_numpy(float)
    fails = fails[np.isfinite(fails)]
    ready = np.concatenate([d for _, d, _ in ready_by_replication(servers)])
    ends = [v for v in (fmt.number(summary.get("makespan")), fmt.number(summary.get("deadline")),
                        float(ready.max()) if ready.size else None,
                        float(fails.max()) if fails.size else None) if v]
    right = max(ends or [1.0]) * 1.04
    times = np.linspace(0.0, right, TIME_GRID)
    ok, bad = fleet_over_time(servers, phases, times)
    with _style():
        fig = _figure(8.5, 3.0)
        ax = fig.add_subplot()
        # ready grows from the bottom, failed from the top: the two never hide each other,
        # and the band between them is the share still booting (or not yet powered on)
        ax.fill_between(times, 0, ok, step="post", color="#2a9d8f", alpha=0.35, lw=0)
        ax.step(times, ok, where="post", color="#2a9d8f", lw=1.8,
                label=f"ready, from the bottom ({fmt.percent(ok[-1])} at the end)")
        ax.fill_between(times, 1.0 - bad, 1.0, step="post", color="#c0392b", alpha=0.35, lw=0)
        ax.step(times, 1.0 - bad, where="post", color="#c0392b", lw=1.8,
                label=f"failed, from the top ({fmt.percent(bad[-1])} at the end)")
        rest = 1.0 - ok[-1] - bad[-1]
        ax.plot([], [], " ", label="between: booting or not yet powered on"
                + (f" ({fmt.percent(rest)} still booting when the run stopped)"
                   if rest > 1e-12 else ""))
        deadline = fmt.number(summary.get("deadline"))
        if deadline is not None:
            ax.axvline(deadline, color="#a00", ls="-", lw=1.2,
                       label=f"deadline {fmt.duration(deadline)}")
        ax.set_xlim(0, right)
        ax.set_ylim(0, 1.0)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("time since first power-on (s)")
        ax.set_ylabel("share of fleet")
        ax.set_title("Readiness and failures over time")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        return _png(fig)


def phases_png(phases: pd.DataFrame, servers: pd.DataFrame) -> bytes | None:
    """Mean seconds per server in each phase, stacked, one bar per group.

    Every attempt counts (failed ones and retries take time too); the mean is over
    all servers of the group, so a bar's length is the mean time a server spent in
    recorded phases.

    Args:
        phases: the phase records frame.
        servers: one row per server (gives each group's size).

    Returns:
        The PNG file's bytes, or ``None`` when there are no phase records.
    """
    if not len(phases) or not len(servers):
        return None
    order = [p for p in phase_order(phases) if not p.startswith(NESTED_PREFIXES)]
    sizes = servers.groupby("group", sort=True).size()
    groups = [str(g) for g in sizes.index][:MAX_GROUPS]
    total = phases.groupby(["group", "phase"], sort=True)["seconds"].sum()
    ncol = 1 if len(order) <= 8 else 2
    rows = -(-len(order) // ncol)
    # tall enough for the legend beside the bars too (about 0.19 in a row at 8 pt):
    # a clipped legend hides which colour is which phase
    height = max(1.6 + 0.38 * len(groups), 0.9 + 0.19 * rows)
    with _style():
        fig = _figure(8.5, height)
        ax = fig.add_subplot()
        ypos = np.arange(len(groups))
        left = np.zeros(len(groups))
        colors = _phase_colors(len(order))
        for i, p in enumerate(order):
            widths = np.array([float(total.get((g, p), 0.0)) / int(sizes[g]) for g in groups])
            ax.barh(ypos, widths, left=left, color=colors[i], label=p, height=0.6)
            left += widths
        ax.set_yticks(ypos, groups)
        ax.invert_yaxis()
        ax.set_xlabel("mean seconds per server")
        ax.grid(axis="y", visible=False)
        extra = f" (first {MAX_GROUPS} of {len(sizes)} groups)" if len(sizes) > MAX_GROUPS else ""
        who = "per group" if len(sizes) > 1 else "fleet"
        ax.set_title(f"Time by phase, {who}{extra}")
        # beside the bars, not under them (it would cover the axis label)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, ncol=ncol)
        return _png(fig)


def _phase_colors(n: int) -> list:
    """``n`` distinct colours: tab10 up to 10 phases, then tab20, tab20b, tab20c (60).

    Past 60 they repeat; a fleet's boot log has far fewer phases than that.
    """
    if n <= 10:
        palette = list(mpl.colormaps["tab10"].colors)
    else:
        palette = [c for name in ("tab20", "tab20b", "tab20c")
                   for c in mpl.colormaps[name].colors]
    return [palette[i % len(palette)] for i in range(n)]


def busiest(timeline: pd.DataFrame, limit: int = MAX_RESOURCES) -> list[str]:
    """Resources with the largest time-integrated utilisation, most first (ties by name).

    Each sample holds until the resource's next sample; the last holds until the
    timeline's last time.
    """
    end = float(timeline["time"].max())
    area: dict[str, float] = {}
    for name, frame in timeline.groupby("resource", sort=True):
        t = frame["time"].to_numpy(float)
        u = frame["utilisation"].to_numpy(float)
        dt = np.diff(np.append(t, end))
        area[str(name)] = float(np.nansum(u * dt))
    return [k for k, _ in sorted(area.items(), key=lambda kv: (-kv[1], kv[0]))][:limit]


def utilisation_png(timeline: pd.DataFrame | None) -> bytes | None:
    """Utilisation of the busiest resources over time, as step lines.

    Args:
        timeline: samples with columns time, resource, utilisation (0..1), flows.

    Returns:
        The PNG file's bytes, or ``None`` when there is no timeline.
    """
    if timeline is None or not len(timeline):
        return None
    timeline = timeline.sort_values(["resource", "time"], kind="stable")
    names = busiest(timeline)
    end = float(timeline["time"].max())
    with _style():
        fig = _figure(8.5, 3.4)
        ax = fig.add_subplot()
        for name in names:
            frame = timeline[timeline["resource"] == name]
            t = np.append(frame["time"].to_numpy(float), end)
            u = frame["utilisation"].to_numpy(float)
            ax.step(t, np.append(u, u[-1]), where="post", lw=1.3, label=name)
        ax.set_ylim(0, 1.05)
        ax.set_xlim(left=0)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("simulated time (s)")
        ax.set_ylabel("utilisation")
        ax.set_title(f"Utilisation of the {len(names)} busiest resources")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        return _png(fig)


def compare_cdf_png(runs: list[tuple[str, dict, pd.DataFrame]]) -> bytes:
    """The runs' completion CDFs overlaid.

    Each run's CDF pools its replications (on a quantile grid); a replicated run gets
    its pointwise confidence band (:func:`~netbootsim.report.spread.cdf_band`). A
    deadline is a red vertical line. Time is on a linear axis, or a log one above 1 s
    when the runs' last ready times differ more than :data:`LOG_SPAN` times.

    Args:
        runs: ``(name, summary, servers)`` per run.

    Returns:
        The PNG file's bytes.
    """
    colours = _phase_colors(len(runs))
    per_run = [ready_by_replication(servers) for _, _, servers in runs]
    lasts = [float(d[-1]) for reps in per_run for _, d, _ in reps if d.size]
    deadlines = [d for _, s, _ in runs if (d := fmt.number(s.get("deadline"))) is not None]
    right = max([1.0, *lasts, *deadlines])
    log = bool(lasts) and max(lasts) > LOG_SPAN * max(min(lasts), 1e-9)
    right *= 1.3 if log else 1.04
    with _style():
        fig = _figure(10.5, 3.8)
        ax = fig.add_subplot()
        marked: dict[float, list[str]] = {}
        for (name, summary, servers), per_rep, colour in zip(runs, per_run, colours,
                                                             strict=True):
            done = np.sort(np.concatenate([d for _, d, _ in per_rep])) if per_rep \
                else np.empty(0)
            n = len(servers)
            if len(per_rep) > 1:
                times = (np.geomspace(1e-3, right, TIME_GRID) if log
                         else np.linspace(0.0, right, TIME_GRID))
                conf = fmt.number((replicated(summary) or {}).get("confidence")) or 0.95
                _, lo, hi = cdf_band(per_rep, times, conf)
                ax.fill_between(times, lo, hi, step="post", color=colour, alpha=0.2, lw=0)
            x, y = cdf_points(done, n)
            label = f"{name} ({len(done):,}/{n:,})"
            if len(per_rep) > 1:
                label += f", {len(per_rep)} replications"
            ax.step(np.append(x, right), np.append(y, y[-1]), where="post", color=colour,
                    lw=1.8, label=label)
            d = fmt.number(summary.get("deadline"))
            if d is not None:
                marked.setdefault(d, []).append(name)
        for d, names in sorted(marked.items()):
            who = "" if len(names) == len(runs) else f" ({', '.join(names)})"
            ax.axvline(d, color="#a00", lw=1.2, label=f"deadline {fmt.duration(d)}{who}")
        if log:
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_xlabel("time since first power-on (s, log scale above 1 s)")
        else:
            ax.set_xlabel("time since first power-on (s)")
        ax.set_xlim(0, right)
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel("fleet ready")
        ax.set_title("Completion time, run by run")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        return _png(fig)


def lifecycle_png(summary: dict, events: pd.DataFrame | None) -> bytes | None:
    """Servers ready against time for each ``demand`` and ``reprovision`` event.

    A demand's panel draws its curve (servers wanted) and the pool's servers ready
    (the time-to-capacity curve); a reprovision's, the servers it reboots and those
    ready again. Time is since the run's start, in hours past two hours.

    Returns:
        The PNG file's bytes, or ``None`` without such events.
    """
    block = summary.get("lifecycle") or {}
    shown = [(n, e) for n, e in block.items() if e.get("kind") in ("demand", "reprovision")]
    if events is None or not shown:
        return None
    with _style():
        fig = _figure(8.5, 2.4 * len(shown) + 0.4)
        axes = fig.subplots(len(shown), 1, squeeze=False)[:, 0]
        for ax, (name, e) in zip(axes, shown, strict=True):
            rows = events[(events["event"] == name) & (events["role"] != "failed")]
            ready = np.sort(rows.loc[rows["outcome"] == "ok", "ready"].to_numpy(float))
            at = float(e["at"])
            want_t = [float(c["at"]) for c in e.get("curve") or []] or [at]
            want_n = [int(c["servers"]) for c in e.get("curve") or []] or [int(e["servers"])]
            right = max([*want_t, *(ready[-1:] if ready.size else [at])])
            right += max(0.04 * (right - min(want_t[0], at)), 1.0)
            scale, unit = (3600.0, "h") if right > 7200 else (1.0, "s")
            xs = np.concatenate([[min(want_t[0], at)], ready, [right]]) / scale
            ys = np.concatenate([[0], np.arange(1, ready.size + 1), [ready.size]])
            ax.step(np.concatenate([want_t, [right]]) / scale, [*want_n, want_n[-1]],
                    where="post", color="#444", ls="--", lw=1.4,
                    label="servers wanted" if e["kind"] == "demand" else
                    "servers reprovisioned")
            ax.step(xs, ys, where="post", color="#2a9d8f", lw=1.8,
                    label="servers ready" + (" (pool)" if e["kind"] == "demand" else
                                             " again"))
            ax.set_xlim(min(want_t[0], at) / scale, right / scale)
            ax.set_ylim(0, max([*want_n, int(ready.size), 1]) * 1.08)
            ax.set_xlabel(f"time since the run's start ({unit})")
            ax.set_ylabel("servers")
            ax.set_title(f"{name}: " + ("time to capacity against the demand"
                                         if e["kind"] == "demand" else
                                         "servers ready again after the reboot"))
            ax.legend(loc="lower right", frameon=False)
        return _png(fig)
