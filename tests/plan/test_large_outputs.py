"""Large runs' outputs: Parquet records, capped tables in summary.json and the report."""

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbootsim.cli import main
from netbootsim.plan import summary as summary_module
from netbootsim.plan.summary import (
    MAX_LISTED,
    PARQUET_ABOVE_PHASES,
    PARQUET_ABOVE_SERVERS,
    capped,
    read_records,
    record_formats,
)
from netbootsim.report import write_report
from netbootsim.report.content import MAX_FAILURE_ROWS, build_context

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def test_record_formats_at_the_thresholds():
    assert record_formats("auto", PARQUET_ABOVE_SERVERS, PARQUET_ABOVE_PHASES) == ("csv",)
    assert record_formats("auto", PARQUET_ABOVE_SERVERS + 1, 0) == ("parquet",)
    assert record_formats("auto", 1, PARQUET_ABOVE_PHASES + 1) == ("parquet",)
    assert record_formats("csv", 10**6, 10**7) == ("csv",)
    assert record_formats("parquet", 1, 1) == ("parquet",)
    assert record_formats("both", 1, 1) == ("csv", "parquet")


def big_summary() -> dict:
    # 103 failure reasons, reason k failed by k + 1 servers (1..103): the 100 kept are
    # those of 4..103 servers; left out: 3 reasons of 1 + 2 + 3 = 6 servers.
    # 105 bottlenecks, most saturated first: 5 left out.
    # 101 L2 domains, domain k with 10 + k broadcasts: the one left out is d000, 10.
    return {
        "servers": 5356,
        "failures": {f"reason {k:03d}": k + 1 for k in range(103)},
        "bottlenecks": [{"resource": f"link{k:03d}", "saturated_seconds": 200.0 - k}
                        for k in range(105)],
        "dhcp": {"broadcasts": {f"d{k:03d}": 10 + k for k in range(101)},
                 "servers": {"dhcp1": {"packets": 9}}},
    }


def test_summary_tables_are_capped_with_counts_of_the_rest():
    s = big_summary()
    out = capped(s)
    assert MAX_LISTED == 100
    assert out["not_listed"] == {"failures": {"more": 3, "servers": 6},
                                 "bottlenecks": {"more": 5},
                                 "dhcp.broadcasts": {"more": 1, "packets": 10}}
    assert len(out["failures"]) == 100 and "reason 002" not in out["failures"]
    assert out["failures"]["reason 003"] == 4 and out["failures"]["reason 102"] == 103
    assert [b["resource"] for b in out["bottlenecks"]] == [f"link{k:03d}" for k in range(100)]
    assert "d000" not in out["dhcp"]["broadcasts"] and len(out["dhcp"]["broadcasts"]) == 100
    assert out["dhcp"]["servers"] == s["dhcp"]["servers"]
    # the summary itself keeps everything (replications pool it); within limits: unchanged
    assert len(s["failures"]) == 103 and "not_listed" not in s
    small = {"failures": {"a": 1}, "bottlenecks": [], "dhcp": {"broadcasts": {"r1": 3}}}
    assert capped(small) is small


def test_recovered_failures_are_capped_by_attempts():
    # 102 reasons, reason k with k + 1 failed attempts: the two with 1 and 2 are left out
    s = {"recovered": {f"why {k:03d}": {"attempts": k + 1, "servers": 1, "seconds": 1.0}
                       for k in range(102)}}
    out = capped(s)
    assert out["not_listed"] == {"recovered": {"more": 2, "attempts": 3}}
    assert len(out["recovered"]) == 100 and "why 001" not in out["recovered"]


def test_summary_json_is_written_capped(tmp_path):
    empty = pd.DataFrame()
    summary_module.write_outputs(tmp_path, big_summary(), empty, empty, empty,
                                 only=frozenset({"summary.json"}))
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["not_listed"]["failures"] == {"more": 3, "servers": 6}
    assert len(written["failures"]) == 100 and written["servers"] == 5356


def test_report_failures_table_is_capped_with_the_rest_counted(tmp_path):
    # 23 reasons, reason k by k + 1 servers: 20 rows (23 down to 4 servers), then
    # 3 more reasons of 1 + 2 + 3 = 6 servers
    reasons = {f"reason {k:02d}": k + 1 for k in range(23)}
    n = sum(reasons.values())  # 276 servers, all failed
    servers = pd.DataFrame({
        "server": [f"s{i}" for i in range(n)], "group": "g", "rack": "r01", "power_on": 0.0,
        "ready": float("nan"), "seconds": float("nan"), "outcome": "failed",
        "reason": [r for r, c in reasons.items() for _ in range(c)], "bytes": 0.0})
    phases = pd.DataFrame(columns=["run", "seed", "server", "group", "rack", "stage", "phase",
                                   "attempt", "start", "end", "bytes", "protocol",
                                   "endpoint", "outcome", "reason", "seconds"])
    summary = {"scenario": "t", "servers": n, "completed": 0, "failed": n, "unfinished": 0,
               "failures": reasons}
    ctx = build_context(summary, servers, phases, "servers.parquet")
    assert MAX_FAILURE_ROWS == 20 and len(ctx["failures"]) == 20
    assert ctx["failures"][0]["reason"] == "reason 22" and ctx["failures"][-1]["servers"] == "4"
    assert ctx["more_failures"] == {"reasons": "3", "servers": "6"}
    md, html = write_report(tmp_path, summary, servers, phases, records_file="servers.parquet")
    line = ("… and 3 more reasons (6 servers); every server's reason is in servers.parquet.")
    assert line in md.read_text()
    assert "… and 3 more reasons\n(6 servers); every server's reason is in servers.parquet." \
        in html.read_text()


def test_compare_failure_rows_are_capped_per_run():
    # 23 reasons of k + 1 servers in the run's summary.json, which itself left out 2 more
    # of 5 servers: 20 rows, then "… and 3 + 2 = 5 more reasons" of 1 + 2 + 3 + 5 = 11
    from netbootsim.report.comparison import Run, _failure_rows

    reasons = {f"reason {k:02d}": k + 1 for k in range(23)}
    summary = {"servers": 400, "failures": reasons,
               "not_listed": {"failures": {"more": 2, "servers": 5}}}
    empty = pd.DataFrame(columns=["server", "group", "rack", "power_on", "ready", "seconds",
                                  "outcome", "reason", "bytes"])
    rows = _failure_rows([Run("a", summary, empty, pd.DataFrame(columns=["server", "end"]))])
    assert len(rows) == 21 and rows[0]["reason"] == "reason 22"
    assert rows[-1] == {"run": "a", "reason": "… and 5 more reasons", "servers": "11",
                        "share": "2.8 %", "when": "—"}


def test_parquet_round_trip_equals_the_csv(tmp_path):
    out = tmp_path / "both"
    assert main(["run", str(QUICKSTART), "--out", str(out), "--quiet", "--format", "both"]) == 0
    marker = json.loads((out / ".netbootsim").read_text())["files"]
    assert {"servers.csv", "phases.csv", "servers.parquet", "phases.parquet"} <= set(marker)
    for stem in ("servers", "phases"):
        pq = pd.read_parquet(out / f"{stem}.parquet")
        csv = read_records(out, stem)
        assert list(pq.columns) == list(csv.columns) and len(pq) == len(csv) > 0
        # the CSV writes 9 significant digits and integral floats as integers; Parquet
        # keeps each value and type
        pd.testing.assert_frame_equal(pq, csv, check_dtype=False, check_exact=False,
                                      rtol=1e-8)
        for c in ("power_on", "ready", "bytes") if stem == "servers" else ("start", "end"):
            assert pq[c].dtype == "float64"
    # a directory of Parquet records reads the same
    only = tmp_path / "parquet"
    assert main(["run", str(QUICKSTART), "--out", str(only), "--quiet",
                 "--format", "parquet"]) == 0
    assert not (only / "servers.csv").exists() and not (only / "phases.csv").exists()
    assert (only / "timeline.csv").is_file() and (only / "report.html").is_file()
    pd.testing.assert_frame_equal(read_records(only, "phases"),
                                  pd.read_parquet(out / "phases.parquet"))
    # same seed, same bytes
    assert (only / "phases.parquet").read_bytes() == (out / "phases.parquet").read_bytes()


def test_auto_writes_parquet_above_the_threshold(tmp_path, monkeypatch):
    # quickstart: 40 servers; with the threshold at 39 rows its records go to Parquet
    monkeypatch.setattr(summary_module, "PARQUET_ABOVE_SERVERS", 39)
    out = tmp_path / "out"
    assert main(["run", str(QUICKSTART), "--out", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.glob("*.parquet")) == ["phases.parquet",
                                                             "servers.parquet"]
    assert not list(out.glob("servers.csv")) and len(pd.read_parquet(out / "servers.parquet")) \
        == 40


@pytest.mark.parametrize("value", ["xml", "", "CSV", "parquet,csv"])
def test_a_bad_format_exits_2_on_one_line_writing_nothing(tmp_path, capsys, value):
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["run", str(QUICKSTART), "--out", str(out), "--format", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"command line: --format: {value!r}: must be one of auto, csv, parquet, "
                   "both"]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_the_report_written_beside_the_records_is_the_same(tmp_path):
    # write_outputs with the report in a forked process, in a Warm child started before
    # (warm_for's), and here: the same files, byte for byte (the quickstart's run,
    # written three times from one simulation)
    from netbootsim.plan.run import build, load_scenario, simulate
    from netbootsim.runtime import Warm

    o = simulate(build(load_scenario(str(QUICKSTART))))
    outs = {"forked": True, "warm": True, "inline": False}
    for name, parallel in outs.items():
        warm = Warm(summary_module.WARM_MODULES) if name == "warm" else None
        summary_module.write_outputs(tmp_path / name, o.summary, o.servers, o.phases,
                                     o.timeline, parallel=parallel, warm=warm)
        assert warm is None or warm.pid is None  # its job taken
    names = sorted(p.name for p in (tmp_path / "inline").iterdir())
    assert {"report.html", "servers.csv", "summary.json"} <= set(names)
    for name in outs:
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == names
        for file in names:
            assert (tmp_path / name / file).read_bytes() == \
                (tmp_path / "inline" / file).read_bytes(), (name, file)


def test_a_warm_child_not_needed_is_closed(tmp_path):
    # no parallel report (asked for here), or no report at all: write_outputs ends the
    # Warm child unused, and draws the figures itself if any
    from netbootsim.plan.run import build, load_scenario, simulate
    from netbootsim.runtime import Warm

    o = simulate(build(load_scenario(str(QUICKSTART))))
    for name, parallel, only in (("here", False, None), ("none", None,
                                                         frozenset({"summary.json"}))):
        warm = Warm(summary_module.WARM_MODULES)
        pid = warm.pid
        summary_module.write_outputs(tmp_path / name, o.summary, o.servers, o.phases,
                                     o.timeline, parallel=parallel, only=only, warm=warm)
        assert warm.pid is None
        assert (tmp_path / name / "cdf.png").is_file() == (only is None)
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # waited for already: no such child left


def test_warm_for_starts_a_child_only_for_a_large_csv_run_with_a_report():
    from netbootsim.plan.summary import PARQUET_ABOVE_SERVERS, WARM_FROM_SERVERS, warm_for

    assert warm_for(WARM_FROM_SERVERS - 1) is None  # small: forked when due, if at all
    assert warm_for(PARQUET_ABOVE_SERVERS + 1) is None  # Parquet records: no parallel report
    assert warm_for(WARM_FROM_SERVERS, "parquet") is None
    assert warm_for(WARM_FROM_SERVERS, only=frozenset({"summary.json"})) is None  # no report
    with warm_for(WARM_FROM_SERVERS) as warm:
        assert warm is not None and warm.pid is not None
    assert warm.pid is None  # closed on leaving


def test_warm_for_without_a_python_to_start_draws_as_without(monkeypatch):
    # an interpreter that cannot be started (sys.executable empty in an embedding):
    # no Warm child, no error; write_outputs then forks or draws here as before
    from netbootsim.plan.summary import WARM_FROM_SERVERS, warm_for

    monkeypatch.setattr("sys.executable", "")
    assert warm_for(WARM_FROM_SERVERS) is None


_CELLS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none())
_TEXT = st.one_of(st.none(), st.text(alphabet=st.sampled_from('ab ,"\n\r\t-é0.e'),
                                     max_size=6))


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(_CELLS, _TEXT, st.integers(-2**62, 2**62), st.booleans(),
                               _TEXT), max_size=12))
def test_write_csv_writes_pandas_bytes(tmp_path_factory, rows):
    # the fast writer against pandas' own to_csv with the records' float format: floats
    # (NaN, inf, -0.0, tiny and huge), text needing quotes (commas, quotes, line ends),
    # missing values in object and string columns, integers, booleans, no rows at all
    from netbootsim.plan.summary import CSV_FLOAT, write_csv

    frame = pd.DataFrame(rows, columns=["f", "o", "i", "b", "s"]).astype(
        {"f": "float64", "o": "object", "i": "int64", "b": "bool"})
    frame["s"] = frame["s"].astype("string")
    where = tmp_path_factory.mktemp("csv")
    frame.to_csv(where / "pandas.csv", index=False, float_format=CSV_FLOAT)
    write_csv(frame, where / "fast.csv")
    assert (where / "fast.csv").read_bytes() == (where / "pandas.csv").read_bytes()
