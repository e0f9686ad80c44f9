"""Scenarios side by side (``netbootsim compare A.yaml B.yaml ...``).

One scenario with a ``variants:`` section (name -> field overrides) compares its
variants instead: ``netbootsim compare scenarios/rack-tftp-vs-http.yaml --out DIR``.

Runs each scenario (its own report goes to ``OUT/<stem>/``; where two files share a
stem, ``OUT/<folder>-<stem>/``), then writes
``OUT/compare.md`` and a self-contained ``OUT/compare.html``: one table of headline
numbers with each makespan as a ratio to the first scenario's, and the completion-time
CDFs overlaid. Every number comes from the scenarios' own ``summary.json`` and
``servers.csv``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..errors import InputError  # noqa: E402
from ..report.content import bound_scope  # noqa: E402
from .outdir import OutputDir  # noqa: E402
from .run import run_scenario  # noqa: E402

__all__ = ["compare", "write_compare", "variants_of", "run_names"]


def _fmt(x: object) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "—"
    x = float(x)
    if x >= 3600:
        return f"{x / 3600:.2f} h"
    if x >= 120:
        return f"{x / 60:.1f} min"
    return f"{x:.3g} s"


def _cdf_png(runs: list[tuple[str, dict, pd.DataFrame]]) -> bytes:
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for name, summary, servers in runs:
        t0 = servers["power_on"].min()
        done = np.sort(servers.loc[servers["outcome"] == "ok", "ready"].to_numpy() - t0)
        n = max(len(servers), 1)
        y = np.arange(1, len(done) + 1) / n
        ax.step(np.concatenate([[0.0], done]), np.concatenate([[0.0], y]), where="post",
                label=f"{name} ({summary['completed']}/{summary['servers']})")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("time since first power-on (s, log scale above 1 s)")
    ax.set_ylabel("fraction of fleet ready")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def write_compare(out: Path, dirs: list[Path]) -> tuple[Path, Path]:
    """Write ``compare.md`` / ``compare.html`` from finished scenario output directories."""
    runs = []
    for d in dirs:
        summary = json.loads((d / "summary.json").read_text())
        servers = pd.read_csv(d / "servers.csv")
        runs.append((summary["scenario"], summary, servers))
    # ratios against the first run that finished (a run where nobody got ready has none)
    base = next((s["makespan"] for _, s, _ in runs if s["makespan"]), None)
    header = ["scenario", "ready", "failed", "p50", "p95", "makespan", "× first finished",
              "line-rate bound", "top bottleneck"]
    rows = []
    for name, s, _ in runs:
        top = s["bottlenecks"][0]["resource"] if s["bottlenecks"] else "—"
        ratio = (f"{s['makespan'] / base:.2f}×" if s["makespan"] and base else "—")
        bound = _fmt(s["line_rate_bound"]["seconds"])
        if scope := bound_scope(s["line_rate_bound"]):
            bound += f" ({scope})"
        rows.append([name, f"{s['completed']}/{s['servers']}", str(s["failed"]), _fmt(s["p50"]),
                     _fmt(s["p95"]), _fmt(s["makespan"]), ratio, bound, top])
    # mean time per phase (of the phases that took time), to say where a ratio comes from
    names = sorted({ph for _, s, _ in runs for ph, st in s["phases"].items()
                    if st["mean"] > 0 and not ph.startswith(("tftp-wait", "http-wait"))})
    ph_header = ["phase (mean)"] + [name for name, _, _ in runs]
    ph_rows = [[ph] + [_fmt(s["phases"][ph]["mean"]) if ph in s["phases"] else "—"
                       for _, s, _ in runs] for ph in names]
    png = _cdf_png(runs)
    (out / "compare.png").write_bytes(png)
    questions = [(name, s.get("question", "")) for name, s, _ in runs]
    if len({q for _, q in questions}) == 1:  # variants of one scenario: one question
        questions = [("all", questions[0][1])]
    md = ["# Comparison", "", "| " + " | ".join(header) + " |",
          "|" + "---|" * len(header)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    md += ["", "## Time by phase", "", "| " + " | ".join(ph_header) + " |",
           "|" + "---|" * len(ph_header)]
    md += ["| " + " | ".join(r) + " |" for r in ph_rows]
    md += ["", "![completion CDF](compare.png)", "", "## Questions", ""]
    md += [f"- **{n}**: {q}" for n, q in questions]
    md += ["", "Each scenario's full report: `<scenario>/report.html`.", ""]
    md_path = out / "compare.md"
    md_path.write_text("\n".join(md))
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                    for r in rows)
    qs = "".join(f"<li><b>{html.escape(n)}</b>: {html.escape(q)}</li>" for n, q in questions)
    ph_cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                       for r in ph_rows)
    ph_table = ("<h2>Time by phase</h2><table><tr>"
                + "".join(f"<th>{html.escape(h)}</th>" for h in ph_header) + "</tr>"
                + ph_cells + "</table>")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>netbootsim comparison"
        "</title><style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;"
        "text-align:right}td:first-child,th:first-child{text-align:left}</style></head><body>"
        "<h1>Comparison</h1><table><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>" + cells
        + "</table>" + ph_table + "<p><img alt='completion CDF' src='data:image/png;base64,"
        + base64.b64encode(png).decode() + "'></p><h2>Questions</h2><ul>" + qs
        + "</ul><p>Each scenario's full report: <code>&lt;scenario&gt;/report.html</code>."
        "</p></body></html>")
    html_path = out / "compare.html"
    html_path.write_text(page)
    return md_path, html_path


def variants_of(path: str, strict: bool = False,
                max_memory: float | None = None) -> dict[str, list[str]]:
    """A scenario's named variants as ``--set`` texts (``{}`` when it has none)."""
    from ..scenario import load_scenario

    sc = load_scenario(path, strict=strict, max_memory=max_memory)
    return {name: [f"{k}={json.dumps(v)}" for k, v in changes.items()]
            for name, changes in sc.variants.items()}


def run_names(paths: list[str]) -> list[str]:
    """A distinct name per scenario file: its stem, or its path where stems collide.

    ``a/q.yaml`` and ``b/q.yaml`` become ``a-q`` and ``b-q`` (the path below the folder
    they share, ``/`` as ``-``); the same file given twice gets ``-2``, ``-3``...
    """
    stems = [Path(p).stem for p in paths]
    names = []
    for p, stem in zip(paths, stems, strict=True):
        if stems.count(stem) == 1:
            names.append(stem)
            continue
        same = [Path(q).resolve() for q, s in zip(paths, stems, strict=True) if s == stem]
        common = Path(os.path.commonpath([str(q.parent) for q in same]))
        rel = Path(p).resolve().with_suffix("").relative_to(common)
        names.append("-".join(rel.parts) or stem)
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}-{seen[n]}")
    return out


def compare(scenarios: Sequence[str], out: str | Path, *, overrides: Sequence[str] = (),
            force: bool = False, strict: bool = False, max_memory: float | None = None,
            say: Callable[[str], None] | None = None) -> Path:
    """Run scenarios (or one scenario's variants) and write the comparison into ``out``.

    Every scenario is checked before any runs; the whole directory (each run's report in
    ``OUT/<name>/``, ``compare.md``, ``compare.html``, ``compare.png``) is staged and
    renamed into place (:class:`~netbootsim.plan.outdir.OutputDir`).

    Returns:
        The path of ``compare.html``.

    Raises:
        InputError: a scenario, the output directory, fewer than two runs.
    """
    out = Path(out)
    variants = [variants_of(path, strict, max_memory) for path in scenarios]  # all checked
    if len(scenarios) == 1 and variants[0]:
        runs = [(scenarios[0], [*overrides, *sets], name) for name, sets in variants[0].items()]
    else:
        runs = [(path, list(overrides), name)
                for path, name in zip(scenarios, run_names(list(scenarios)), strict=True)]
    if len(runs) < 2:
        raise InputError.single("command line", 0, "scenarios",
                                "give two or more scenarios, or one with variants:")
    with OutputDir(out, "compare", force=force) as od:
        tmp = od.staging()
        try:
            dirs = [run_scenario(path, sets, str(tmp / name), name=name, strict=strict,
                                 max_memory=max_memory, say=say) for path, sets, name in runs]
            write_compare(tmp, dirs)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        od.publish(tmp)
    return out / "compare.html"
