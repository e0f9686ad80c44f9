"""Commissioning report: a run's frames and summary as Markdown and self-contained HTML.

The report leads with what a planner needs in a minute (the question, a headline
table with percentiles, makespan, the line-rate lower bound and the top bottleneck),
then figures (completion CDF, time by phase, utilisation), then tables (bottleneck
attribution, failures, servers not ready, phase statistics) and the modelling notes.

Everything shown is computed from the summary and frames passed in, and identical
inputs give byte-identical files (no timestamps, no wall-clock time, PNGs without
software metadata).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd

from . import fmt
from .comparison import Run, build_compare_context
from .content import build_context, replicated
from .spread import MAX_REPLICATION_LINES, replication_count
from .templates import COMPARE_HTML, COMPARE_MARKDOWN, HTML, MARKDOWN, environment

__all__ = ["Run", "write_report", "draw_figures", "write_pages", "write_compare_report"]

_CAPTIONS = {
    "cdf": ("Completion time",
            "Fraction of the whole fleet ready against time since the first power-on; dashed "
            "lines mark p50/p95/p99 of completed servers, the dotted line the line-rate lower "
            "bound (bytes the busiest resource, named in the headline, carried ÷ its "
            "capacity; servers that never got ready carried only part of theirs, so with any "
            "of them it is low)."),
    "fleet": ("Readiness and failures over time",
              "Cumulative share of the fleet ready (green, from the bottom) and failed (red, "
              "from the top) against time since the first power-on: when the fleet failed. "
              "A server fails at the end of its last recorded phase (its give-up or "
              "time-out)."),
    "phases": ("Time by phase",
               "Mean seconds a server spent in each phase, all attempts counted, averaged over "
               "every server of the group (the DHCP exchange is part of dhcp, so it is not "
               "stacked again)."),
    "utilisation": ("Utilisation over time",
                    "Share of capacity in use on the busiest resources, sampled when rates "
                    "change, at most about 200 samples per decade of time (each sample "
                    "holds until the next)."),
    "lifecycle": ("Lifecycle events",
                  "For each demand, the servers it wants (dashed) and the pool's servers "
                  "ready (the time-to-capacity curve); for each reprovision, the servers it "
                  "reboots and those ready again (events.csv)."),
}


def _caption(key: str, summary: dict, servers: pd.DataFrame) -> str:
    """A figure's caption; the CDF's says what its band is, or why there is none."""
    text = _CAPTIONS[key][1]
    reps = replication_count(servers)
    if key == "cdf":
        if reps > 1:
            conf = fmt.number((replicated(summary) or {}).get("confidence")) or 0.95
            text += (f" Thin lines: each of the {reps} replications (the first "
                     f"{MAX_REPLICATION_LINES} drawn); thick: all replications "
                     f"pooled; shaded: the pointwise {conf * 100:g} % confidence band of the "
                     f"mean CDF, Student's t over the replications' fractions ready at each "
                     f"time (replications are independent; servers within one run are not, "
                     f"so no band is drawn from one run alone). Percentiles are of the "
                     f"pooled ready times.")
        else:
            text += (" One run: no confidence band (its servers share the network and the "
                     "services, so they are not independent samples); run with "
                     "--replications N for one.")
        if fmt.number(summary.get("deadline")) is not None:
            text += " The solid red line is the scenario's deadline."
    elif key == "fleet" and reps > 1:
        text += " Pooled over the replications, each counted from its own first power-on."
    return text


def write_report(out_dir: Path, summary: dict, servers: pd.DataFrame, phases: pd.DataFrame,
                 timeline: pd.DataFrame | None = None, records_file: str = "servers.csv"
                 ) -> tuple[Path, Path]:
    """Write ``report.md`` (with PNG figures beside it) and a self-contained ``report.html``.

    Args:
        out_dir: directory to write into (created if missing). Figures are written as
            ``cdf.png``, ``fleet.png`` (readiness and failures over time, when a server
            failed or did not finish), ``phases.png`` and ``utilisation.png``; a figure
            with nothing to show (no phase records, no timeline) is left out.
        summary: the run summary dict (scenario, question, seed, servers, completed,
            failed, unfinished, makespan, p50, p95, p99, mean, line_rate_bound,
            bottlenecks, phases, failures, engine, notes; ``makespan_over_bound`` is used
            when present). Missing values may be ``None`` or NaN.
        servers: one row per server: server, group, rack, power_on, ready, seconds,
            outcome, reason, bytes; with replications, a ``replication`` column (one row
            per server and replication).
        phases: phase records, as made by :func:`netbootsim.records.to_frame`.
        timeline: optional utilisation samples: time, resource, utilisation, flows.
        records_file: the file beside the report holding every server's row
            (``servers.csv`` or ``servers.parquet``), named where a table is cut short.

    Returns:
        ``(markdown_path, html_path)``.
    """
    out_dir = Path(out_dir)
    drawn = draw_figures(out_dir, summary, servers, phases, timeline)
    return write_pages(out_dir, summary, servers, phases, drawn, records_file)


def draw_figures(out_dir: Path, summary: dict, servers: pd.DataFrame, phases: pd.DataFrame,
                 timeline: pd.DataFrame | None = None,
                 events: pd.DataFrame | None = None) -> list[str]:
    """The report's first half: draw its figures into ``out_dir`` as PNG files.

    Arguments as :func:`write_report`'s; ``events``: a run's lifecycle events' rows
    (``events.csv``), for their figure. Returns the figures drawn (``"cdf"``...), in
    the report's order; one with nothing to show is left out. The second half,
    :func:`write_pages`, needs none of matplotlib: the two can run side by side.
    """
    from . import figures  # matplotlib: only where a figure is drawn

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = {"cdf": lambda: figures.cdf_png(summary, servers),
            "fleet": lambda: figures.fleet_png(summary, servers, phases),
            "phases": lambda: figures.phases_png(phases, servers),
            "utilisation": lambda: figures.utilisation_png(timeline),
            "lifecycle": lambda: figures.lifecycle_png(summary, events)}
    drawn = []
    for key, draw in pngs.items():
        png = draw()
        if png is not None:
            (out_dir / f"{key}.png").write_bytes(png)
            drawn.append(key)
    return drawn


def write_pages(out_dir: Path, summary: dict, servers: pd.DataFrame, phases: pd.DataFrame,
                drawn: list[str], records_file: str = "servers.csv",
                context: dict | None = None, events: pd.DataFrame | None = None
                ) -> tuple[Path, Path]:
    """The report's second half: ``report.md`` and ``report.html`` around the figures.

    ``drawn``: what :func:`draw_figures` returned (its PNGs are read from ``out_dir``);
    ``context``: :func:`~.content.build_context` of the same arguments, when made
    already. Returns ``(markdown_path, html_path)``.
    """
    out_dir = Path(out_dir)
    if context is None:
        context = build_context(summary, servers, phases, records_file, events)
    shown = []
    for key in drawn:
        png = (out_dir / f"{key}.png").read_bytes()
        title, caption = _CAPTIONS[key][0], _caption(key, summary, servers)
        shown.append({"file": f"{key}.png", "title": title, "caption": caption,
                      "data": base64.b64encode(png).decode("ascii")})
    no_data = [{k: v for k, v in f.items() if k != "data"} for f in shown]
    return _write_pages(out_dir, "report", (MARKDOWN, {"figures": no_data}),
                        (HTML, {"figures": shown}), context)


def _write_pages(out_dir: Path, stem: str, markdown: tuple[str, dict],
                 html: tuple[str, dict], context: dict) -> tuple[Path, Path]:
    """Render ``stem.md`` and ``stem.html`` (each template with its own figures)."""
    paths = []
    for (template, extra), is_html, ext in ((markdown, False, "md"), (html, True, "html")):
        text = environment(html=is_html).from_string(template).render(**context, **extra)
        path = out_dir / f"{stem}.{ext}"
        path.write_text(text, encoding="utf-8", newline="\n")
        paths.append(path)
    return paths[0], paths[1]


def write_compare_report(out_dir: Path, runs: list[Run],
                         changes: dict[str, str] | None = None) -> tuple[Path, Path]:
    """Write a comparison page: ``compare.md``, ``compare.png`` and ``compare.html``.

    From finished runs (:mod:`netbootsim.report.comparison`); the HTML is
    self-contained.

    Args:
        out_dir: the comparison's directory (each run's own report below it, as
            ``Run.report`` names it).
        runs: the runs, in the order the comparison gives them.
        changes: what each run changes in the scenario (a variant's overrides), by name.

    Returns:
        ``(markdown_path, html_path)``.
    """
    from . import figures

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    context = build_compare_context(runs, changes)
    png = figures.compare_cdf_png([(r.name, r.summary, r.servers) for r in runs])
    (out_dir / "compare.png").write_bytes(png)
    caption = "Fraction of each run's servers ready against time since its first power-on."
    if any(replication_count(r.servers) > 1 for r in runs):
        caption += (" A replicated run's curve pools its replications; its shaded band is "
                    "the pointwise 95 % confidence band of the mean CDF (Student's t over "
                    "the replications).")
    if context["deadline"]:
        caption += " Red lines: the runs' deadlines."
    figure = {"file": "compare.png", "title": "Completion time", "caption": caption,
              "data": base64.b64encode(png).decode("ascii")}
    no_data = {k: v for k, v in figure.items() if k != "data"}
    return _write_pages(out_dir, "compare", (COMPARE_MARKDOWN, {"figure": no_data}),
                        (COMPARE_HTML, {"figure": figure}), context)
