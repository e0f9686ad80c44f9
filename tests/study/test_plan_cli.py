"""``netbootsim plan`` end to end: answers, resumption after kill -9, pools, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from study_fakes import ROOT

from netbootsim.cli import main

QUICK = ROOT / "scenarios" / "quickstart.yaml"
# quickstart cut to 10 servers whose POST differs (uniform 1-5 s): each run ~0.1 s
SMALL = ('set: {"topology.servers": 10, "fleet[0].count": 10, '
         '"fleet[0].tune": {"post": {"dist": "uniform", "low": "1s", "high": "5s"}}, '
         '"costs": {"currency": "EUR", "services": {"http1": 1000}}}')


def _write(tmp_path, body: str, name: str = "study.yaml"):
    f = tmp_path / name
    f.write_text(f"scenario: {QUICK}\n" + textwrap.dedent(body))
    return f


GRID = SMALL + """
variables:
  link:
    field: "topology.hosts[0].link.bandwidth"
    values: [1Gbps, 2Gbps, 3Gbps, 5Gbps, 8Gbps, 10Gbps]
objective: {minimize: p99}
constraints: [{metric: p99, max: 12s}]
replications: {min: 3, max: 4}
search: grid
"""

OUTPUTS = ("runs.jsonl", "runs.csv", "designs.csv", "summary.json", "study.md",
           "report.html", "pareto.png", "study.json")


def _files(d):
    return {n: (d / n).read_bytes() for n in OUTPUTS if (d / n).exists()}


def test_real_bisection_on_quickstart(tmp_path):
    # quickstart (40 servers, 92 MiB each) behind the boot host's link, 1..10 Gb/s, p99
    # ≤ 20 s: positions [0, 10]: mid 5 (6 Gb/s, p99 12.3 s) feasible; mid 2 (3 Gb/s,
    # 17.5 s) feasible; mid 1 (2 Gb/s, 22.9 s) not: answer 3 Gb/s, 3 designs × 3 runs.
    # (The p99s: 40 × 92 MiB = 3.86 GB over 0.25 GB/s at 2 Gb/s is 15.4 s of wire plus
    # POST up to 5 s and iPXE's DHCP: ~23 s.)
    f = _write(tmp_path, """\
        set: {"fleet[0].tune": {"post": {"dist": "uniform", "low": "1s", "high": "5s"}}}
        variables:
          link:
            field: "topology.hosts[0].link.bandwidth"
            range: {from: 1Gbps, to: 10Gbps, step: 1Gbps}
            monotone: decreasing
        objective: {minimize: p99}
        constraints: [{metric: p99, max: 20s}]
        """)
    out = tmp_path / "o"
    assert main(["plan", str(f), "--out", str(out), "--jobs", "1", "--no-progress"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["search"]["method"] == "bisect"
    assert s["search"]["probes"] == ["6Gbps", "3Gbps", "2Gbps"]
    assert s["recommended"]["design"] == "link=3Gbps"
    assert s["runs"] == 9 and s["grid_runs_at_least"] == 30
    assert s["recommended"]["margins"][0]["margin"] > 0


def _run(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "netbootsim", "plan", *args,
                             "--no-progress"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, **kw)


def _ledger_keys(out):
    keys = []
    try:
        lines = (out / "runs.jsonl").read_bytes().split(b"\n")
    except FileNotFoundError:
        return keys
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a torn last line
        keys.append((tuple(row["overrides"]), row["replication"]))
    return keys


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d))
    return out


def _kill_and_resume(f, out: Path, seed: int) -> tuple[int, int]:
    """Run the study into ``out``, killing it (-9) again and again until one finishes.

    Checks what must hold after any such history (no run done twice, no orphaned
    workers, no temporary directory left) and returns ``(kills, kills with runs
    recorded before them)``.
    """
    rng = np.random.default_rng(seed)
    kills = mid = 0
    orphans: set[int] = set()
    for attempt in range(20):
        # the first attempt dies while starting (random time); each later one after a
        # random number of newly recorded runs (1-3) and a random moment after that
        # (within the next run, or in the middle of writing a line)
        before = len(_ledger_keys(out))
        gain, extra = int(rng.integers(1, 4)), float(rng.uniform(0.0, 0.2))
        p = _run([str(f), "--out", str(out), "--jobs", "2"])
        deadline = time.monotonic() + (float(rng.uniform(0.2, 1.0)) if attempt == 0 else 60)
        while p.poll() is None and time.monotonic() < deadline:
            if attempt and len(_ledger_keys(out)) >= before + gain:
                # held at once (its workers may finish the run they are in, not report
                # it), then killed a random moment later: no race with its last runs
                os.kill(p.pid, signal.SIGSTOP)
                time.sleep(extra)
                break
            time.sleep(0.01)
        if p.poll() is not None:
            assert p.returncode == 0, p.stderr.read().decode()
            break
        workers = _children(p.pid)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        kills += 1
        mid += bool(before)  # killed with runs recorded before it started
        orphans.update(workers)
        keys = _ledger_keys(out)
        assert len(keys) == len(set(keys)), "a recorded run was done again"
    time.sleep(1.5)  # a pool worker whose parent died ends within 0.5 s
    assert not [w for w in orphans if os.path.exists(f"/proc/{w}")], "orphaned workers"
    assert not [e for e in os.listdir(out.parent) if e.endswith("netbootsim-tmp")]
    return kills, mid


def test_kill_9_and_resume_is_byte_identical(tmp_path):
    # 6 designs × 5 replications = 30 runs: room for several kills between runs
    f = _write(tmp_path, GRID.replace("replications: {min: 3, max: 4}",
                                      "replications: {min: 5, max: 6}"))
    ref = tmp_path / "ref"
    assert main(["plan", str(f), "--out", str(ref), "--jobs", "1", "--no-progress"]) == 0
    seen = []
    for seed in (7, 8, 9):
        out = tmp_path / f"killed-{seed}"
        kills, mid = _kill_and_resume(f, out, seed)
        seen.append((kills, mid))
        # whatever the history, the study is the uninterrupted one, each run once
        assert _files(out) == _files(ref)
        assert len(_ledger_keys(out)) == 30  # 6 designs × 5, each once
        # the history sought: killed while starting and at least twice in the middle of
        # the study (on an idle machine 4-8 kills). On a loaded one this process, starved,
        # may see a resumed attempt finish its runs before it kills it (CI: 2 kills, none
        # in the middle): then the study is killed again from the start, another history
        if kills >= 3 and mid >= 2:
            break
    else:
        pytest.fail(f"no attempt was killed often enough (kills, mid-study): {seen}")


def test_pools_give_the_same_study(tmp_path):
    f = _write(tmp_path, GRID)
    a, b = tmp_path / "one", tmp_path / "two"
    assert main(["plan", str(f), "--out", str(a), "--jobs", "1", "--no-progress"]) == 0
    assert main(["plan", str(f), "--out", str(b), "--jobs", "2", "--no-progress"]) == 0
    assert _files(a) == _files(b)
    s = json.loads((a / "summary.json").read_text())
    # 1 Gb/s: 10 × 92 MiB over 125 MB/s = 7.7 s of wire after POST (up to 5 s) and
    # DHCP: ~15 s, misses 12 s; from 2 Gb/s the wire is 3.9 s or less (~11 s)
    assert s["feasible"] == ["link=2Gbps", "link=3Gbps", "link=5Gbps", "link=8Gbps",
                             "link=10Gbps"]


def test_dask_local_cluster_gives_the_same_study(tmp_path):
    pytest.importorskip("distributed")
    f = _write(tmp_path, GRID)
    a, b = tmp_path / "pool", tmp_path / "dask"
    assert main(["plan", str(f), "--out", str(a), "--jobs", "2", "--no-progress"]) == 0
    assert main(["plan", str(f), "--out", str(b), "--jobs", "2", "--dask", "local",
                 "--no-progress"]) == 0
    assert _files(a) == _files(b)


def test_changed_scenario_is_refused_then_new_directory(tmp_path, capsys):
    f = _write(tmp_path, GRID)
    out = tmp_path / "o"
    assert main(["plan", str(f), "--out", str(out), "--jobs", "1", "--no-progress"]) == 0
    f.write_text(f.read_text().replace('"fleet[0].count": 10', '"fleet[0].count": 9'))
    assert main(["plan", str(f), "--out", str(out), "--jobs", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another version of this study" in err[0]
    assert main(["plan", str(f), "--out", str(out), "--jobs", "1", "--no-progress",
                 "--new"]) == 0
    assert (tmp_path / "o-2" / "report.html").is_file()


def test_optuna_study_is_deterministic_and_saves_runs(tmp_path):
    body = SMALL + textwrap.dedent("""
    variables:
      link: {field: "topology.hosts[0].link.bandwidth", values: [1Gbps, 2Gbps, 5Gbps, 10Gbps]}
      size: {field: "images.initrd.size", values: [40MiB, 80MiB, 160MiB]}
    objective: {minimize: p99}
    constraints: [{metric: p99, max: 12s}]
    budget: {runs: 18, batch: 3}
    search: optuna
    """)
    f = _write(tmp_path, body)
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["plan", str(f), "--out", str(a), "--jobs", "1", "--no-progress"]) == 0
    assert main(["plan", str(f), "--out", str(b), "--jobs", "2", "--no-progress"]) == 0
    assert _files(a) == _files(b)
    s = json.loads((a / "summary.json").read_text())
    assert s["search"]["method"] == "optuna" and s["runs"] <= 18
    assert s["designs_evaluated"] < 12  # not the whole grid


def test_sensitivity_ranks_the_link_first(tmp_path):
    body = SMALL + textwrap.dedent("""
    sensitivity:
      metric: p99
      trajectories: 4
      factors:
        link: {field: "topology.hosts[0].link.bandwidth", low: 1Gbps, high: 10Gbps}
        kernel: {field: "images.kernel.size", low: 4MiB, high: 8MiB}
    """)
    f = _write(tmp_path, body)
    out = tmp_path / "o"
    assert main(["plan", str(f), "--out", str(out), "--jobs", "1", "--no-progress",
                 "--sensitivity"]) == 0
    s = json.loads((out / "summary.json").read_text())
    ranks = [r["factor"] for r in s["sensitivity"]["factors"]]
    # the link moves 10 × 92 MiB from 7.7 s (1 Gb/s) to 0.8 s of wire; the kernel's
    # 4 MiB more adds at most 10 × 4 MiB / 125 MB/s = 0.34 s
    assert ranks == ["link", "kernel"]
    assert s["sensitivity_runs"] == 4 * 3 and (out / "sensitivity.png").is_file()


BAD = [
    ("variables:\n  a: {field: services.http1.workers, values: [1, 2], colour: red}\n",
     ":3: variables.a.colour: unknown field 'colour'; expected one of: field, values,"),
    ("variables:\n  a:\n    field: services.http1.workers\n    range: {from: 10, to: 1, step: 1}\n",
     ":5: variables.a.range: empty range"),
    ("constraints:\n  - {metric: p999, max: 30min}\n", ":3: constraints[0].metric: unknown metric"),
    ("variables:\n  a:\n    options: {x: {}, y: {}}\n    monotone: decreasing\n",
     ":5: variables.a.monotone:"),
    ("variables:\n  a:\n    field: services.http1.workers\n    values: [4, 2, 8]\n"
     "    monotone: decreasing\n", ":6: variables.a.monotone:"),
    ("constraints:\n  - {metric: p99, max: 3}\n", ":3: constraints[0].max:"),
    ("variables:\n  a: {field: services.http1.workers, values: [1, -5]}\n",
     ":3: variables.a: makes the scenario invalid"),
]


# (line 1 of each file is its scenario: line)
@pytest.mark.parametrize("body,expect", BAD)
def test_bad_study_is_one_line_exit_2(tmp_path, capsys, body, expect):
    f = _write(tmp_path, body)
    out = tmp_path / "o"
    assert main(["plan", str(f), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(str(f) + ":") and expect in err[0], err[0]
    assert not out.exists()


STUDIES = sorted((ROOT / "scenarios" / "studies").glob("*.yaml"))


@pytest.mark.parametrize("path", [p for p in STUDIES if "\nscenario:" in "\n" + p.read_text()],
                         ids=lambda p: p.stem)
def test_shipped_studies_load(path):
    from netbootsim.study.spec import load_study

    study = load_study(path)
    assert study.question and study.scenario.is_file()
    assert study.constraints or study.sensitivity


def test_constraint_on_some_groups(tmp_path):
    # 10 servers in two groups; the "slow" group's POST is 20 s (fixed), the "fast"
    # group's 1 s: the whole fleet's p99 is past 20 s, the fast group's is not. An SLO of
    # 15 s on the fast group holds; the same SLO on the whole fleet would not.
    group = ('{"name": "%s", "count": 5, "boot": "ipxe", "profile": "ipxe-2019-qemu", '
             '"images": ["kernel", "initrd"], "server": "http1", "power_on": {"at": "0s"}, '
             '"tune": {"post": "%s"}}')
    f = _write(tmp_path, f"""\
        set: {{"topology.servers": 10, "fleet": [{group % ("fast", "1s")},
                                                  {group % ("slow", "20s")}]}}
        constraints:
          - {{metric: fleet_p99, max: 15s, group: "fa*"}}
          - {{metric: ready_fraction, by: 60s, min: 0.99, group: slow}}
        """)
    out = tmp_path / "o"
    assert main(["plan", str(f), "--out", str(out), "--jobs", "1", "--no-progress"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["feasible"] == ["as written"]
    runs = (out / "runs.csv").read_text()
    assert "fleet_p99[fa*]" in runs and "ready_fraction@60[slow]" in runs
    import pandas as pd
    r = pd.read_csv(out / "runs.csv")
    assert (r["fleet_p99[fa*]"] < 15).all() and (r["fleet_p99"] > 20).all()


def test_group_pattern_matching_nothing_is_refused(tmp_path, capsys):
    f = _write(tmp_path, "constraints: [{metric: fleet_p99, max: 15s, group: kiosk*}]\n")
    assert main(["plan", str(f), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert ":2: constraints[0].group: 'kiosk*' matches no fleet group" in err


# -- review findings (2026-12-06), each once a defect -----------------------------------


def test_a_fleet_percentile_never_reached_renders(tmp_path):
    # stock dnsmasq's ping check (ping: true) leaves most of quickstart's 10 servers
    # without DHCP: fleet_p99 is never reached (inf) in that design; the page still renders
    f = _write(tmp_path, """\
        set: {"topology.servers": 10, "fleet[0].count": 10}
        variables:
          ping: {field: services.dhcp1.ping, values: [false, true]}
        constraints: [{metric: fleet_p99, max: 30s}]
        """)
    out = tmp_path / "o"
    assert main(["plan", str(f), "--out", str(out), "--jobs", "1", "--no-progress"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["feasible"] == ["ping=false"]
    assert "| never |" in (out / "study.md").read_text()


def test_bisection_cut_short_by_the_budget(tmp_path):
    f = _write(tmp_path, SMALL + textwrap.dedent("""
        variables:
          link:
            field: "topology.hosts[0].link.bandwidth"
            range: {from: 1Gbps, to: 10Gbps, step: 1Gbps}
            monotone: decreasing
        constraints: [{metric: p99, max: 12s}]
        budget: {runs: 5}
        """))
    out = tmp_path / "o"
    assert main(["plan", str(f), "--out", str(out), "--jobs", "1", "--no-progress"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["budget_spent"] and s["runs"] == 5 and s["recommended"] is None
    assert s["search"]["searches"][0]["finished"] is False


def test_sweep_of_a_yes_no_field(tmp_path):
    out = tmp_path / "sw"
    assert main(["sweep", str(QUICK), "--set", "topology.servers=10", "--set",
                 "fleet[0].count=10", "--vary", "services.dhcp1.ping=false,true",
                 "--out", str(out), "--jobs", "1"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["values"] == ["false", "true"] and s["not_ready_fraction"][0] == 0.0


def test_a_pool_that_cannot_start_writes_nothing(tmp_path, capsys):
    f = _write(tmp_path, GRID)
    out = tmp_path / "o"
    assert main(["plan", str(f), "--out", str(out), "--dask", "tcp://127.0.0.1:1",
                 "--no-progress"]) == 2
    assert "--dask" in capsys.readouterr().err
    assert not out.exists()


def test_renamed_variable_relabels_the_runs_it_reuses(tmp_path):
    # the same designs under another variable name reuse their runs (same overrides),
    # and every table names them as the study file now does
    f = _write(tmp_path, GRID)
    out, fresh = tmp_path / "o", tmp_path / "fresh"
    assert main(["plan", str(f), "--out", str(out), "--jobs", "1", "--no-progress"]) == 0
    f.write_text(f.read_text().replace("  link:", "  uplink:"))
    assert main(["plan", str(f), "--out", str(out), "--jobs", "1", "--no-progress"]) == 0
    assert main(["plan", str(f), "--out", str(fresh), "--jobs", "1", "--no-progress"]) == 0
    assert _files(out) == _files(fresh)
    assert "uplink=2Gbps" in (out / "runs.csv").read_text()


def test_ledger_without_its_last_newline(tmp_path):
    from netbootsim.study.ledger import Ledger

    led = Ledger(tmp_path)
    rows = [{"overrides": [f"a={i}"], "replication": 0, "metrics": {"p99": 1.0}}
            for i in range(3)]
    for r in rows[:2]:
        led.add(r)
    led.close()
    (tmp_path / "runs.jsonl").write_bytes((tmp_path / "runs.jsonl").read_bytes()[:-1])
    again = Ledger(tmp_path)
    assert again.load() == 2
    again.add(rows[2])
    again.close()
    assert Ledger(tmp_path).load() == 3


def test_force_keeps_a_users_file_of_an_output_name(tmp_path, capsys):
    f = _write(tmp_path, GRID)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "sensitivity.png").write_text("my picture")
    assert main(["plan", str(f), "--out", str(out), "--force", "--no-progress"]) == 2
    assert "'sensitivity.png', which netbootsim did not write" in capsys.readouterr().err
    assert (out / "sensitivity.png").read_text() == "my picture"


@pytest.mark.slow
def test_shipped_study_reproduces_its_committed_results(tmp_path):
    # the golden run of a shipped study: the same command gives the committed directory
    # byte for byte (its study.json fingerprint included: the same code and scenario)
    out = tmp_path / "edge-or-central"
    assert main(["plan", str(ROOT / "scenarios" / "studies" / "edge-or-central.yaml"),
                 "--out", str(out), "--jobs", "2", "--no-progress"]) == 0
    committed = ROOT / "results" / "studies" / "edge-or-central"
    names = sorted(p.name for p in committed.iterdir())
    assert sorted(p.name for p in out.iterdir()) == names
    for n in names:
        assert (out / n).read_bytes() == (committed / n).read_bytes(), n
