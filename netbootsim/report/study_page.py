"""A capacity-planning study's pages: ``study.md``, ``report.html`` and their figures.

Pure rendering of what :mod:`netbootsim.study.run` computed (``summary.json``'s dict and
the rows of ``designs.csv``): the recommended design and its margins first, then the
Pareto chart of cost against the time metric, the feasible designs, every evaluated
design, and the sensitivity ranking when there is one. Nothing is computed here that a
reader could not find in those two files.
"""

from __future__ import annotations

import base64
import math

from .figures import _figure, _png, _style
from .templates import _COMMON_CSS, _cell, environment

__all__ = ["study_pages", "pareto_png", "sensitivity_png"]

_COLORS = {"feasible": "#2a7a2a", "infeasible": "#999999", "open": "#d08000"}


def _axis_name(metric: str) -> str:
    """A time metric in words, for an axis (``fleet_p99[servers-*]``: of those groups)."""
    metric, _, group = metric.partition("[")
    if metric.startswith("fleet_p"):
        whose = f"of {group.rstrip(']')}" if group else "of the fleet"
        return f"time by which {metric[7:]} % {whose} was ready"
    return {"makespan": "makespan", "mean": "mean ready time"}.get(
        metric, f"{metric} of ready time (servers ready)")


def pareto_png(summary: dict, designs: list[dict]) -> bytes | None:
    """Each design's mean cost against its mean time metric, the front joined."""
    axis = summary["time_axis"]
    # a design whose time is not finite (a fleet percentile never reached) has no place
    # on the chart: the tables list it
    def finite(x) -> bool:
        return isinstance(x, int | float) and math.isfinite(x)

    pts = [d for d in designs if finite(d.get(f"{axis}_mean")) and finite(d.get("cost_mean"))]
    if not pts:
        return None
    scale, unit = (60.0, "min") if max(d[f"{axis}_mean"] for d in pts) >= 120 else (1.0, "s")

    def t(x) -> float:
        return math.nan if x is None else float(x) / scale

    with _style():
        fig = _figure(7.5, 4.2)
        ax = fig.add_subplot()
        for status, color in _COLORS.items():
            sel = [d for d in pts if d["status"] == status]
            if not sel:
                continue
            x = [t(d[f"{axis}_mean"]) for d in sel]
            lo = [max(0.0, xi - t(d[f"{axis}_lo"])) if finite(d[f"{axis}_lo"])
                  else 0.0 for xi, d in zip(x, sel, strict=True)]
            hi = [max(0.0, t(d[f"{axis}_hi"]) - xi) if finite(d[f"{axis}_hi"])
                  else 0.0 for xi, d in zip(x, sel, strict=True)]
            y = [d["cost_mean"] or 0.0 for d in sel]
            ax.errorbar(x, y, xerr=[lo, hi], fmt="o", color=color, ms=5, capsize=2,
                        lw=0.8, label=f"{status} ({len(sel)})")
        front = sorted((d for d in pts if d.get("pareto")),
                       key=lambda d: (d["cost_mean"], d[f"{axis}_mean"]))
        if front:
            ax.plot([t(d[f"{axis}_mean"]) for d in front],
                    [d["cost_mean"] for d in front], "-", color="#3060c0", lw=1,
                    label="Pareto front")
        rec = summary.get("recommended")
        if rec is not None:
            ax.plot([t(rec[axis]["mean"])], [rec["cost"]["mean"]], marker="*",
                    ms=16, color="#c03030", ls="none", label=f"recommended: {rec['design']}")
        for c in summary["constraints"]:
            if c["key"] == axis and c["sense"] == "max":
                ax.axvline(c["limit"] / scale, color="#c03030", ls="--", lw=0.8,
                           label=f"SLO: {c['text']}")
        ax.set_xlabel(f"{_axis_name(axis)}, {unit}\n(mean over replications; bars: "
                      f"{summary['confidence']:.0%} one-sided bounds, each)")
        ax.set_ylabel("cost (mean)")
        ax.legend(loc="best")
        return _png(fig)


def sensitivity_png(summary: dict) -> bytes | None:
    """The factors' Morris mu* (with its 95 % interval), largest on top."""
    sens = summary.get("sensitivity")
    if not sens or not sens.get("factors"):
        return None
    rows = list(reversed(sens["factors"]))
    unit = " s" if sens["metric"] in summary["time_metrics"] else ""
    with _style():
        fig = _figure(7.5, 0.5 + 0.45 * len(rows))
        ax = fig.add_subplot()
        conf = [r["mu_star_conf"] or 0.0 for r in rows]
        ax.barh([r["factor"] for r in rows], [r["mu_star"] for r in rows],
                xerr=[[min(c, r["mu_star"]) for c, r in zip(conf, rows, strict=True)], conf],
                color="#3060c0", capsize=3)
        ax.set_xlabel(f"Morris mu* of {sens['metric']}{unit} (mean |elementary effect| "
                      "over the factor's range)")
        return _png(fig)


def _fmt(x, unit: str = "") -> str:
    """A number for a table; ``"inf"`` (a fleet percentile never reached) as ``never``."""
    if x == "inf":
        return "never"
    if x == "-inf":
        return "—"
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if unit == "s":
        return f"{x / 60:.1f} min" if abs(x) >= 120 else f"{x:.1f} s"
    if isinstance(x, float):
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"
    return f"{x:,}"


def _unit(metric: str) -> str:
    return "s" if metric.startswith("fleet_p") or \
        metric in ("makespan", "p50", "p95", "p99", "mean") else ""


def _context(summary: dict, designs: list[dict]) -> dict:
    axis = summary["time_axis"]
    names = [v["name"] for v in summary["variables"]]
    cons = summary["constraints"]

    def row(d: dict) -> dict:
        cells = [d[n] for n in names]
        return {"design": d["design"], "values": cells, "reps": d["replications"],
                "status": d["status"], "pareto": "yes" if d.get("pareto") else "",
                "cost": _fmt(d["cost_mean"]),
                "ready": "—" if d.get("ready_fraction_mean") is None else
                         f"{100 * d['ready_fraction_mean']:.1f} %",
                "time": _fmt(d[f"{axis}_mean"], "s") if d[f"{axis}_mean"] == "inf" else
                        f"{_fmt(d[f'{axis}_mean'], 's')} [{_fmt(d[f'{axis}_lo'], 's')}, "
                        f"{_fmt(d[f'{axis}_hi'], 's')}]",
                "margins": [_fmt(d[f"margin_{i + 1}"], _unit(c["metric"]))
                            for i, c in enumerate(cons)]}

    rec = summary.get("recommended")
    answer = "No evaluated design meets every constraint."
    conf = f"{summary['confidence']:.0%}"
    if not summary["variables"] and designs:  # nothing to choose: what the scenario gives
        d = designs[0]
        held = {"feasible": "; it meets every constraint",
                "infeasible": "; it misses a constraint",
                "open": "; whether it meets the constraints is not decided"}
        answer = (f"The scenario with the study's settings, {d['replications']} "
                  f"replications: {axis} {_fmt(d[f'{axis}_mean'], 's')} (at "
                  f"{conf} confidence at least {_fmt(d[f'{axis}_lo'], 's')}, at most "
                  f"{_fmt(d[f'{axis}_hi'], 's')})"
                  f"{held[d['status']] if summary['constraints'] else ''}.")
        rec = None
    elif rec is not None:
        answer = (f"Recommended: {rec['design']} — {summary['objective']} "
                  f"{_fmt(rec['objective']['mean'], _unit(summary['objective']))}"
                  f" (mean of {rec['replications']} replications)"
                  + ("" if axis == summary["objective"] else
                     f", {axis} {_fmt(rec[axis]['mean'], 's')}")
                  + f"; {axis} at {conf} confidence at most {_fmt(rec[axis]['hi'], 's')}"
                  f" (and at least {_fmt(rec[axis]['lo'], 's')}).")
    margins = [] if rec is None else [
        {"constraint": m["constraint"], "bound": _fmt(m["bound"], _unit(c["metric"])),
         "margin": _fmt(m["margin"], _unit(c["metric"])),
         "share": "—" if m["margin_fraction"] is None else f"{m['margin_fraction']:.1%}"}
        for m, c in zip(rec["margins"], cons, strict=True)]
    search = summary["search"]
    spent = (f"{summary['runs']:,} runs over {summary['designs_evaluated']:,} of the "
             f"{summary['grid_designs']:,} designs ({search['method']}); the exhaustive grid "
             f"needs at least {summary['grid_runs_at_least']:,} "
             f"({summary['replications']['min']} replications each).")
    if summary.get("budget_spent"):
        spent += " The budget ran out: designs left open are undecided."
    notes = []
    mono = {v["name"]: v["monotone"] for v in summary["variables"]}
    for b in search.get("searches", []):
        fixed = ", ".join(f"{k}={v}" for k, v in b["fixed"].items())
        which = "smallest" if mono.get(search["variable"]) == "decreasing" else "largest"
        found = (b["answer"] if b["answer"] is not None else "none") if b["finished"] else \
            "not known (the budget ran out)"
        notes.append(f"Bisection on {search['variable']}{f' with {fixed}' if fixed else ''}: "
                     f"tried {', '.join(b['probes']) or 'nothing'}; the {which} value "
                     f"meeting every constraint: {found}.")
    if search.get("contradictions"):
        notes.append("The runs contradict the declared monotone order: "
                     + "; ".join(search["contradictions"]) + ".")
    sens = summary.get("sensitivity")
    head = ["design", "replications", "status", "on the front", "cost", "ready",
            f"{axis} (bounds)",
            *(f"margin: {c['text']}" for c in cons)]
    table = [head, ["---", "---:", "---", "---", "---:", "---:", "---:",
                    *("---:" for _ in cons)]]
    table += [[r["design"], r["reps"], r["status"], r["pareto"], r["cost"], r["ready"],
               r["time"], *r["margins"]] for r in map(row, designs)]
    designs_md = ["| " + " | ".join(_cell(x) for x in line) + " |" for line in table]
    return {"designs_md": designs_md, "s": summary, "names": names, "axis": axis, "answer": answer,
            "margins": margins, "spent": spent, "notes": notes,
            "feasible": [row(d) for d in designs if d["status"] == "feasible"],
            "rows": [row(d) for d in designs], "constraints": cons, "sens": sens}


_MD = """\
# Study: {{ s.study }}

{% if s.question %}**Question:** {{ s.question }}

{% endif %}
{{ answer }}

{% if margins %}
| constraint | deciding bound | margin | of the limit |
|---|---:|---:|---:|
{% for m in margins %}| {{ m.constraint | cell }} | {{ m.bound }} | {{ m.margin }} | {{ m.share }} |
{% endfor %}

{% endif %}
{{ spent }} Scenario `{{ s.scenario }}`; objective: minimise {{ s.objective }};
constraints held with {{ "%.0f" % (100 * s.confidence) }} % confidence (one-sided Student-t
bounds on the mean over replications).
{% for n in notes %}

{{ n }}
{% endfor %}

## Designs

{% for line in designs_md %}{{ line }}
{% endfor %}
{% if sens %}

## Sensitivity of {{ sens.metric }} (Morris, {{ sens.runs }} runs)
{% if sens.get("error") %}

{{ sens.error }}
{% else %}

| rank | factor | field | mu* | mu* 95 % | sigma |
|---:|---|---|---:|---:|---:|
{% for f in sens.factors %}
| {{ f.rank }} | {{ f.factor }} | `{{ f.field }}` | {{ "%.4g" % f.mu_star }} {#- #}
 | ± {{ "%.3g" % f.mu_star_conf }} | {{ "%.4g" % f.sigma }} |
{% endfor %}
{% endif %}
{% endif %}
"""

_HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Study: {{ s.study }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; color: #222; max-width: 80rem;
       margin: 1.5rem auto; padding: 0 1rem; }
/*COMMON_CSS*/
table { font-size: .9rem; }
th, td { padding: .2rem .6rem; border-bottom: 1px solid #e5e5e5; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.feasible td:first-child { border-left: 3px solid #2a7a2a; }
figure img { max-width: 100%; }
figcaption, .more { color: #555; font-size: .9rem; }
</style>
</head>
<body>
<h1>Study: {{ s.study }}</h1>
{% if s.question %}<p class="question"><strong>Question:</strong> {{ s.question }}</p>{% endif %}
<p class="lead">{{ answer }}</p>
{% if margins %}<table><tr><th>constraint</th><th class="n">deciding bound</th>
<th class="n">margin</th><th class="n">of the limit</th></tr>
{% for m in margins %}<tr><td>{{ m.constraint }}</td><td class="n">{{ m.bound }}</td>
<td class="n">{{ m.margin }}</td><td class="n">{{ m.share }}</td></tr>
{% endfor %}</table>{% endif %}
<p class="more">{{ spent }} Scenario <code>{{ s.scenario }}</code>; objective: minimise
{{ s.objective }}; constraints held with {{ "%.0f" % (100 * s.confidence) }} % confidence
(one-sided Student-t bounds on the mean over replications).</p>
{% for n in notes %}<p><strong>{{ n }}</strong></p>{% endfor %}
{% if pareto %}<h2>Cost against {{ axis }}</h2>
<figure><img src="data:image/png;base64,{{ pareto }}" alt="Pareto chart">
<figcaption>Every evaluated design; the line joins the Pareto front (no other design is
both cheaper and faster); the star is the recommended design.</figcaption></figure>
{% endif %}
<h2>Feasible designs ({{ feasible | length }})</h2>
{% if feasible %}<table><tr><th>design</th>{% for n in names %}<th>{{ n }}</th>{% endfor %}
<th class="n">replications</th><th class="n">cost</th><th class="n">ready</th>
<th class="n">{{ axis }} (bounds)</th>
{% for c in constraints %}<th class="n">margin: {{ c.text }}</th>{% endfor %}</tr>
{% for r in feasible %}<tr class="feasible"><td>{{ r.design }}</td>
{% for v in r["values"] %}<td>{{ v }}</td>{% endfor %}<td class="n">{{ r.reps }}</td>
<td class="n">{{ r.cost }}</td><td class="n">{{ r.ready }}</td><td class="n">{{ r.time }}</td>
{% for m in r.margins %}<td class="n">{{ m }}</td>{% endfor %}</tr>
{% endfor %}</table>{% else %}<p>None.</p>{% endif %}
<h2>Every evaluated design ({{ rows | length }})</h2>
<table><tr><th>design</th><th class="n">replications</th><th>status</th><th>front</th>
<th class="n">cost</th><th class="n">ready</th><th class="n">{{ axis }} (bounds)</th>
{% for c in constraints %}<th class="n">margin: {{ c.text }}</th>{% endfor %}</tr>
{% for r in rows %}<tr{% if r.status == "feasible" %} class="feasible"{% endif %}>
<td>{{ r.design }}</td><td class="n">{{ r.reps }}</td><td>{{ r.status }}</td>
<td>{{ r.pareto }}</td><td class="n">{{ r.cost }}</td><td class="n">{{ r.ready }}</td>
<td class="n">{{ r.time }}</td>
{% for m in r.margins %}<td class="n">{{ m }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% if sens %}<h2>Sensitivity of {{ sens.metric }}</h2>
{% if sens.get("error") %}<p>{{ sens.error }}</p>{% else %}
{% if sensitivity %}<figure><img src="data:image/png;base64,{{ sensitivity }}"
alt="Sensitivity ranking"><figcaption>Morris screening, {{ sens.trajectories }}
trajectories, {{ sens.levels }} levels, {{ sens.runs }} runs.</figcaption></figure>{% endif %}
<table><tr><th class="n">rank</th><th>factor</th><th>field</th><th class="n">mu*</th>
<th class="n">mu* 95 %</th><th class="n">sigma</th></tr>
{% for f in sens.factors %}<tr><td class="n">{{ f.rank }}</td><td>{{ f.factor }}</td>
<td><code>{{ f.field }}</code></td><td class="n">{{ "%.4g" % f.mu_star }}</td>
<td class="n">± {{ "%.3g" % f.mu_star_conf }}</td><td class="n">{{ "%.4g" % f.sigma }}</td></tr>
{% endfor %}</table>{% endif %}{% endif %}
<p class="more">Every number here is in <code>designs.csv</code>, <code>runs.csv</code> and
<code>summary.json</code> beside this page.</p>
</body>
</html>
"""


_HTML = _HTML.replace("/*COMMON_CSS*/\n", _COMMON_CSS)


def study_pages(summary: dict, designs: list[dict]) -> dict[str, bytes | None]:
    """The pages and figures by file name (``None``: no such figure for this study)."""
    ctx = _context(summary, designs)
    figs = {"pareto": pareto_png(summary, designs), "sensitivity": sensitivity_png(summary)}
    enc = {k: base64.b64encode(v).decode() if v else "" for k, v in figs.items()}
    return {"pareto.png": figs["pareto"], "sensitivity.png": figs["sensitivity"],
            "study.md": environment(False).from_string(_MD).render(**ctx).encode(),
            "report.html": environment(True).from_string(_HTML).render(**ctx, **enc).encode()}
