"""The commissioning report: files, headline numbers, determinism and edge cases."""

import base64
import math
import re

import pandas as pd
import pytest

from netbootsim.records import PhaseRecord, to_frame
from netbootsim.report import fmt, write_report
from netbootsim.report.content import MAX_SERVER_ROWS, build_context, phase_order

MIB = 2**20
SERVER_COLUMNS = ["server", "group", "rack", "power_on", "ready", "seconds", "outcome", "reason",
                  "bytes"]


def rec(server, phase, start, end, nbytes=0.0, outcome="ok", reason="", group="g", attempt=1):
    return PhaseRecord("t", 1, server, group, "r01", "boot", phase, attempt, start, end, nbytes,
                       "tftp" if nbytes else "", "tftp1" if nbytes else "", outcome, reason)


def three_servers():
    # s1: power-on 0, kernel 0..10 s, initrd 10..40 s -> ready 40 s
    # s2: power-on 0, kernel 0..12 s, initrd 12..60 s -> ready 60 s
    # s3: power-on 0, kernel 0..15 s, initrd 15..75 s fails (timeout) at 50 % of its bytes
    records = [
        rec("s1", "power-on", 0, 0), rec("s2", "power-on", 0, 0), rec("s3", "power-on", 0, 0),
        rec("s1", "fetch:kernel", 0, 10, 10 * MIB), rec("s2", "fetch:kernel", 0, 12, 10 * MIB),
        rec("s3", "fetch:kernel", 0, 15, 10 * MIB),
        rec("s1", "fetch:initrd", 10, 40, 100 * MIB), rec("s2", "fetch:initrd", 12, 60, 100 * MIB),
        rec("s3", "fetch:initrd", 15, 75, 50 * MIB, "failed", "timeout"),
    ]
    phases = to_frame(records)
    servers = pd.DataFrame([
        ("s1", "g", "r01", 0.0, 40.0, 40.0, "ok", "", 110 * MIB),
        ("s2", "g", "r01", 0.0, 60.0, 60.0, "ok", "", 110 * MIB),
        ("s3", "g", "r01", 0.0, math.nan, math.nan, "failed", "fetch:initrd: timeout", 60 * MIB),
    ], columns=SERVER_COLUMNS)
    timeline = pd.DataFrame([
        (0.0, "boot->tor01", 1.0, 3), (40.0, "boot->tor01", 0.8, 2), (60.0, "boot->tor01", 0.5, 1),
        (0.0, "tor01->s1", 0.33, 1), (40.0, "tor01->s1", 0.0, 0),
    ], columns=["time", "resource", "utilisation", "flows"])
    # ready times 40, 60: p50 = 50 s, p95 = 40 + 0.95 × 20 = 59 s, p99 = 59.8 s, makespan 60 s;
    # bound: 280 MiB over 100 Mbps = 293601280 × 8 / 1e8 = 23.49 s; ratio 60 / 23.49 = 2.55
    summary = {
        "scenario": "three-servers", "question": "Do three servers boot in a minute?",
        "seed": 1, "servers": 3, "completed": 2, "failed": 1, "unfinished": 0,
        "makespan": 60.0, "p50": 50.0, "p95": 59.0, "p99": 59.8, "mean": 50.0,
        "line_rate_bound": {"seconds": 280 * MIB * 8 / 1e8, "resource": "boot->tor01",
                            "bytes": 280 * MIB, "capacity_bps": 1e8},
        "bottlenecks": [{"resource": "boot->tor01", "saturated_seconds": 45.0,
                         "fraction_of_makespan": 0.75, "max_flows": 3, "first": 0.0,
                         "last": 45.0}],
        "phases": {"power-on": {"mean": 0.0, "p95": 0.0, "total": 0.0, "count": 3},
                   "fetch:kernel": {"mean": 37 / 3, "p95": 14.7, "total": 37.0, "count": 3},
                   "fetch:initrd": {"mean": 39.0, "p95": 46.2, "total": 78.0, "count": 2}},
        "failures": {"fetch:initrd: timeout": 1},
        "engine": {"mode": "incremental", "events": 20, "solves": 9, "wall_seconds": 0.01},
        "notes": ["DHCP is not modelled yet."],
    }
    return summary, servers, phases, timeline


def test_report_files_and_headline(tmp_path):
    summary, servers, phases, timeline = three_servers()
    md, html = write_report(tmp_path, summary, servers, phases, timeline)
    assert md == tmp_path / "report.md" and html == tmp_path / "report.html"
    for name in ("cdf.png", "phases.png", "utilisation.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
    text = html.read_text(encoding="utf-8")
    assert "<h1>three-servers</h1>" in text
    assert "Do three servers boot in a minute?" in text
    assert "50.0 s / 59.0 s / 59.8 s" in text          # p50 / p95 / p99
    assert "1.0 min" in text                            # makespan, 60 s
    assert "23.5 s: boot-&gt;tor01 carries 280.0 MiB at 100 Mbps" in text
    assert "2.55×" in text                              # 60 / 23.49
    assert "boot-&gt;tor01: saturated 45.0 s (75.0 % of makespan)" in text
    assert "{{" not in text and "{%" not in text
    assert "wall" not in text                           # reports do not change run to run
    assert "DHCP is not modelled yet." in text
    # the CDF is embedded, and it is the same PNG as the file beside the Markdown
    cdf = base64.b64encode((tmp_path / "cdf.png").read_bytes()).decode()
    assert f'<img src="data:image/png;base64,{cdf}"' in text
    assert text.count('<img src="data:image/png;base64,') == 4  # cdf, fleet, phases, utilisation
    assert "http" not in text.replace("http-equiv", "")  # nothing fetched from outside
    # the failed server with its phase and reason
    assert "<td>s3</td><td>g</td><td>failed</td>\n<td>fetch:initrd</td>" in text
    assert "fetch:initrd: timeout" in text
    mdtext = md.read_text(encoding="utf-8")
    assert "![Completion time](cdf.png)" in mdtext and "(utilisation.png)" in mdtext
    assert "| s3 | g | failed | fetch:initrd | fetch:initrd: timeout |" in mdtext
    # 2 of 3 ready: the percentiles say they are of those two
    assert "| **Ready p50 / p95 / p99 (of the 2 ready)** | 50.0 s / 59.0 s / 59.8 s |" in mdtext
    assert "{{" not in mdtext and "{%" not in mdtext


def test_byte_identical_for_identical_inputs(tmp_path):
    summary, servers, phases, timeline = three_servers()
    write_report(tmp_path / "a", summary, servers, phases, timeline)
    write_report(tmp_path / "b", summary, servers, phases, timeline)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["cdf.png", "fleet.png", "phases.png", "report.html", "report.md",
                     "utilisation.png"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    png = (tmp_path / "a" / "cdf.png").read_bytes()
    assert b"Software" not in png and b"matplotlib" not in png


def test_zero_completed_no_timeline(tmp_path):
    summary, servers, phases, _ = three_servers()
    servers = servers.assign(ready=math.nan, seconds=math.nan, outcome="failed",
                             reason="fetch:kernel: timeout")
    summary |= {"completed": 0, "failed": 3, "makespan": None, "p50": None, "p95": None,
                "p99": math.nan, "mean": None, "bottlenecks": [], "phases": {},
                "failures": {"fetch:kernel: timeout": 3}}
    md, html = write_report(tmp_path, summary, servers, phases, None)
    text = html.read_text(encoding="utf-8")
    assert "No server of 3 became ready." in text
    words = re.sub(r"base64,[A-Za-z0-9+/=]+", "", text)
    assert "— / — / —" in words and "nan" not in words.lower()
    assert "No resource limited any flow." in text
    assert not (tmp_path / "utilisation.png").exists()
    assert "utilisation.png" not in md.read_text(encoding="utf-8")
    assert text.count('<img src="data:image/png;base64,') == 3  # cdf, fleet, phases


def test_no_failures_and_a_single_server(tmp_path):
    summary, servers, phases, _ = three_servers()
    servers = servers[servers["server"] == "s1"]
    phases = phases[phases["server"] == "s1"]
    summary |= {"servers": 1, "completed": 1, "failed": 0, "makespan": 40.0, "p50": 40.0,
                "p95": 40.0, "p99": 40.0, "mean": 40.0, "failures": {}, "question": "",
                "notes": []}
    del summary["engine"]
    _, html = write_report(tmp_path, summary, servers, phases)
    text = html.read_text(encoding="utf-8")
    assert "No server failed." in text and "Servers not ready" not in text
    assert 'class="question"' not in text and "Modelling notes" not in text
    assert "1 of 1 servers ready in 40.0 s" in text


def test_empty_frames(tmp_path):
    summary = {"scenario": "empty", "servers": 0}
    servers = pd.DataFrame(columns=SERVER_COLUMNS)
    phases = to_frame([])
    md, html = write_report(tmp_path, summary, servers, phases, pd.DataFrame(
        columns=["time", "resource", "utilisation", "flows"]))
    assert "No phase was recorded." in html.read_text(encoding="utf-8")
    assert (tmp_path / "cdf.png").exists() and not (tmp_path / "phases.png").exists()


def test_many_failed_servers_are_capped_and_text_is_escaped(tmp_path):
    n = MAX_SERVER_ROWS + 7
    names = [f"s{i:03d}" for i in range(n)]
    servers = pd.DataFrame([(s, "g|1", "", 0.0, math.nan, math.nan, "failed", "<bad>", 0.0)
                            for s in names], columns=SERVER_COLUMNS)
    phases = to_frame([rec(s, "fetch:nbp", 0, 1, outcome="failed", reason="<bad>",
                           group="g|1") for s in names])
    summary = {"scenario": "<script>x</script>", "servers": n, "completed": 0, "failed": n,
               "failures": {"<bad>": n}}
    md, html = write_report(tmp_path, summary, servers, phases)
    text = html.read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "… and 7 more servers not listed." in text
    assert text.count("<td>failed</td>\n<td>fetch:nbp</td>") == MAX_SERVER_ROWS
    assert "| g\\|1 |" in md.read_text(encoding="utf-8")


def test_phase_order_follows_the_boot_log():
    # group a: power-on, kernel, initrd from t=0; group b powers on at 100 s and fetches nbp
    # first: by mean start, power-on (mean 50 s) would come after a's fetches.
    phases = to_frame([
        rec("a1", "power-on", 0, 0, group="a"), rec("a1", "fetch:kernel", 0, 5, group="a"),
        rec("a1", "fetch:initrd", 5, 9, group="a"),
        rec("b1", "power-on", 100, 100, group="b"), rec("b1", "fetch:nbp", 100, 101, group="b"),
        rec("b1", "fetch:kernel", 101, 105, group="b"),
    ])
    assert phase_order(phases, ["os-install"]) == ["power-on", "fetch:nbp", "fetch:kernel",
                                                   "fetch:initrd", "os-install"]


def test_unfinished_server_shows_its_last_phase():
    summary, servers, phases, _ = three_servers()
    servers.loc[2, ["outcome", "reason"]] = ["unfinished", ""]
    phases = phases[~((phases["server"] == "s3") & (phases["phase"] == "fetch:initrd"))]
    ctx = build_context(summary, servers, phases)
    assert ctx["not_ready"] == [{"server": "s3", "group": "g", "outcome": "unfinished",
                                 "phase": "after fetch:kernel", "reason": fmt.DASH}]


@pytest.mark.parametrize(("value", "text"), [
    (None, "—"), (math.nan, "—"), (0, "0 s"), (0.25, "250 ms"), (42, "42.0 s"),
    (754, "12.6 min"), (9000, "2.50 h"),
])
def test_duration(value, text):
    assert fmt.duration(value) == text


def test_sizes_rates_ratios():
    assert fmt.size(512) == "512 B"
    assert fmt.size(350 * MIB) == "350.0 MiB"
    assert fmt.size(1.5 * 2**30) == "1.50 GiB"
    assert fmt.bit_rate(25e9) == "25 Gbps"
    assert fmt.ratio(1.337) == "1.34×"
    assert fmt.percent(0.625) == "62.5 %"
    assert fmt.count(12345) == "12,345"
