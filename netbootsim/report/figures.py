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
from .content import NESTED_PREFIXES, bound_scope, phase_order, ready_since_start

__all__ = ["DPI", "RC", "MAX_GROUPS", "MAX_RESOURCES", "busiest", "cdf_png", "phases_png",
           "utilisation_png"]

#: Resolution of every figure (dots per inch).
DPI = 100
#: rcParams applied on top of matplotlib's defaults while drawing.
RC = {"svg.hashsalt": "netbootsim", "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
      "axes.spines.top": False, "axes.spines.right": False, "legend.fontsize": 8}
#: Most groups drawn in the phase figure.
MAX_GROUPS = 40
#: Most resources drawn in the utilisation figure.
MAX_RESOURCES = 8


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

    Args:
        summary: run summary; its p50/p95/p99 and line-rate bound are marked.
        servers: one row per server (the denominator is every server).

    Returns:
        The PNG file's bytes.
    """
    with _style():
        fig = _figure(8.5, 3.6)
        ax = fig.add_subplot()
        n = len(servers)
        done = ready_since_start(servers)
        if done.size:
            x = np.concatenate([[0.0], done])
            y = np.arange(done.size + 1) / n
            ax.step(x, y, where="post", color="#1f4e79", lw=2, label="servers ready")
        else:
            ax.text(0.5, 0.5, "no server became ready", transform=ax.transAxes,
                    ha="center", va="center", color="#a00")
        marks = [("p50", "#2a9d8f", "--"), ("p95", "#e9c46a", "--"), ("p99", "#e76f51", "--")]
        for key, colour, style in marks:
            v = fmt.number(summary.get(key))
            if v is not None:
                ax.axvline(v, color=colour, ls=style, lw=1.2,
                           label=f"{key} {fmt.duration(v)}")
        bound = summary.get("line_rate_bound") or {}
        b = fmt.number(bound.get("seconds"))
        if b:
            what = "; ".join(x for x in (bound.get("resource", ""), bound_scope(bound)) if x)
            ax.axvline(b, color="black", ls=":", lw=1.5,
                       label=f"line-rate bound {fmt.duration(b)} ({what})")
        right = max([v for v in (fmt.number(summary.get("makespan")), b,
                                 float(done[-1]) if done.size else None) if v] or [1.0])
        ax.set_xlim(0, right * 1.04)
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("time since first power-on (s)")
        ax.set_ylabel("fleet ready")
        ax.set_title(f"Completion time: {len(done)} of {n} servers ready")
        if ax.get_legend_handles_labels()[0]:
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
