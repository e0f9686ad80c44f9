"""The HTML report as a planner sees it: rendered by headless Chromium, not read as text.

A report can pass every text check and still show a broken image, a Markdown table as
raw pipes, or the failures table before the headline. These tests render reports at
1366 px wide and check what the browser shows. They need Debian's chromium and
chromium-driver (``netbootsim lab install``, which CI runs) and selenium (``dev``
extra); without them they skip, saying so.
"""

import json
from pathlib import Path

import pytest

from netbootsim.cli import main
from netbootsim.report import fmt
from netbootsim.report.browser import available, render

ROOT = Path(__file__).resolve().parents[2]
WHY = available()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no headless browser: {WHY}")

FIGURES = ["Completion time", "Time by phase", "Utilisation over time"]
#: Drawn after the completion CDF when some server failed or did not finish.
FLEET = "Readiness and failures over time"
# Markup that must never reach the reader as text: Markdown tables and emphasis, HTML
# tags, escaped entities shown literally (double escaping).
RAW = ["|---", "**", "<img", "<table", "<h2", "&lt;", "&gt;", "&amp;", "{{", "{%"]


def _check(page, summary: dict) -> None:
    # every figure decoded, at the width the page gives it
    figures = list(FIGURES)
    if summary.get("failed") or summary.get("unfinished"):
        figures.insert(1, FLEET)
    assert [alt for alt, *_ in page.images] == figures
    for alt, loaded, natural, _top, width, height in page.images:
        assert loaded and natural > 0, f"figure {alt!r} did not decode"
        assert width > 300 and height > 100, f"figure {alt!r} shown at {width}×{height}"
    for raw in RAW:
        assert raw not in page.text, f"raw markup {raw!r} shown as text"
    # the headline table carries the summary's numbers as formatted for people
    head = dict(row for row in page.headline if len(row) == 2)
    assert head["Servers"].startswith(fmt.count(summary["servers"]))
    # with servers not ready, the label says the percentiles are of the ready ones
    label = "Ready p50 / p95 / p99" + (
        f" (of the {fmt.count(summary['completed'])} ready)"
        if 0 < summary["completed"] < summary["servers"] else "")
    assert head[label] == " / ".join(
        fmt.duration(summary[k]) for k in ("p50", "p95", "p99"))
    assert head["Makespan (first power-on → last ready)"] == fmt.duration(summary["makespan"])
    assert head["Makespan ÷ bound"] == fmt.ratio(summary["makespan_over_bound"])
    assert head["Line-rate lower bound"].startswith(
        fmt.duration(summary["line_rate_bound"]["seconds"]))
    assert head["Top bottleneck"].startswith(summary["bottlenecks"][0]["resource"])
    # in reading order: headline, CDF, phases, bottleneck, failures
    tops = [page.top_of("table", "Servers"),
            *(top for _a, _l, _n, top, _w, _h in page.images[:2]),
            page.top_of("h2", "Bottleneck attribution"), page.top_of("h2", "Failures")]
    assert tops == sorted(tops), tops
    # the headline and the CDF's top half fit the first 900 px window
    assert page.top_of("table", "Servers") < 450
    cdf = page.images[0]
    assert cdf[3] < 900, f"the CDF starts {cdf[3]:.0f} px down, below the first screen"


def test_fresh_quickstart_report_renders(tmp_path):
    out = tmp_path / "q"
    assert main(["run", str(ROOT / "scenarios/quickstart.yaml"), "--out", str(out),
                 "--quiet"]) == 0
    shot = tmp_path / "q.png"
    page = render(out / "report.html", shot)
    _check(page, json.loads((out / "summary.json").read_text()))
    assert page.text.split("Failures", 1)[1].strip().startswith("No server failed.")
    assert shot.stat().st_size > 20_000  # a page with three figures, not a blank one


def test_shipped_report_with_failures_renders():
    # ipxe-dynamic-api: 45 of 320 servers halted by imgverify; the failures table
    # names the reason and the count beside it
    report = ROOT / "results/ipxe-dynamic-api"
    summary = json.loads((report / "summary.json").read_text())
    page = render(report / "report.html")
    _check(page, summary)
    (reason, n), = summary["failures"].items()
    failures = page.text.split("Failures", 1)[1]
    assert "signature-invalid" in reason and reason.split(":")[0] in failures
    assert f"{reason}\t{n}\t{fmt.percent(n / summary['servers'])}" in failures


def test_compare_page_renders(tmp_path):
    # six scenarios: the answer, the shared question once, the runs' table with what held
    # each back, one figure, phases in boot order; no markup shown as text
    out = tmp_path / "cmp"
    scenarios = sorted(str(p) for p in (ROOT / "scenarios" / "tftp-vs-http").glob("*.yaml"))
    assert main(["compare", *scenarios, "--out", str(out)]) == 0
    page = render(out / "compare.html", tmp_path / "cmp.png")
    for raw in RAW:
        assert raw not in page.text, f"raw markup {raw!r} shown as text"
    assert [alt for alt, *_ in page.images] == ["Completion time"]
    alt, loaded, natural, top, width, height = page.images[0]
    assert loaded and natural > 0 and width > 600
    assert page.text.count("Question:") == 1
    assert "TFTP lock-step:" in page.text and "sooner than" in page.text
    phases = page.text.split("Time by phase", 1)[1]
    assert phases.index("firmware") < phases.index("fetch:kernel") < phases.index("fetch:initrd")
    # in reading order: question, answer, table, figure, phases
    assert page.top_of("table", "run") < top < page.top_of("h2", "Time by phase")


def test_study_page_renders(tmp_path):
    # a small study (quickstart cut to 10 servers, two link speeds, an SLO one misses):
    # the answer, then the Pareto chart, the feasible designs, every design, the ranking
    study = tmp_path / "s.yaml"
    study.write_text(
        f"scenario: {ROOT / 'scenarios' / 'quickstart.yaml'}\n"
        'set: {"topology.servers": 10, "fleet[0].count": 10, "fleet[0].tune": {"post": '
        '{"dist": "uniform", "low": "1s", "high": "5s"}}}\n'
        "variables:\n"
        '  link: {field: "topology.hosts[0].link.bandwidth", values: [1Gbps, 10Gbps]}\n'
        "price: [{item: link, of: link, amount: {1Gbps: 100, 10Gbps: 900}}]\n"
        "constraints: [{metric: fleet_p99, max: 12s}]\n"
        "sensitivity:\n  trajectories: 2\n  factors:\n"
        '    link: {field: "topology.hosts[0].link.bandwidth", low: 1Gbps, high: 10Gbps}\n'
        '    kernel: {field: "images.kernel.size", low: 4MiB, high: 8MiB}\n')
    out = tmp_path / "o"
    assert main(["plan", str(study), "--out", str(out), "--jobs", "1", "--no-progress",
                 "--sensitivity"]) == 0
    page = render(out / "report.html", tmp_path / "study.png")
    assert [alt for alt, *_ in page.images] == ["Pareto chart", "Sensitivity ranking"]
    for alt, loaded, natural, _top, width, height in page.images:
        assert loaded and natural > 0, f"figure {alt!r} did not decode"
        assert width > 300 and height > 80, f"figure {alt!r} shown at {width}×{height}"
    for raw in RAW:
        assert raw not in page.text, f"raw markup {raw!r} shown as text"
    assert "Recommended: link=10Gbps" in page.text
    tops = [page.top_of("h1", "Study"), page.images[0][3],
            page.top_of("h2", "Feasible designs"), page.top_of("h2", "Every evaluated design"),
            page.images[1][3]]
    assert tops == sorted(tops), tops
    assert page.images[0][3] < 900, "the Pareto chart starts below the first screen"
