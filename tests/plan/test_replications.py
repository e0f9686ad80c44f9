"""Replications (netbootsim.plan.replicate): processes, seeds, pooling, until-ci, bad flags."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from small_scenarios import scenario

from netbootsim.api import simulate_scenario
from netbootsim.cli import main
from netbootsim.errors import InputError
from netbootsim.plan import intervals
from netbootsim.plan import replicate as replicate_module
from netbootsim.plan.replicate import Plan, Source, replicate
from netbootsim.plan.run import simulate
from netbootsim.scenario import Scenario

#: firmware start drawn per server, uniform on [1 s, 3 s]: the only random input
UNIFORM_ROM = {"rom_start": {"dist": "uniform", "low": "1s", "high": "3s"}}


def varied(servers: int = 5, **run) -> dict:
    """One rack of ``servers`` fetching kernel and initrd over HTTP; ROM start uniform."""
    sc = scenario(servers=servers)
    sc["fleet"][0].update(count=servers, tune=dict(UNIFORM_ROM))
    sc["run"].update(run)
    return sc


def write(tmp_path, sc: dict, name: str = "varied") -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps(sc, indent=1))  # JSON is YAML
    return str(path)


def cli(*argv) -> int:
    return main(["run", *argv, "--quiet"])


def test_two_processes_byte_identical_to_serial(tmp_path, monkeypatch, capsys):
    # these replications take milliseconds: processes would not pay off and replicate()
    # would keep them here; a start-up cost of 0 makes it use the 2 processes
    monkeypatch.setattr(replicate_module, "SPAWN_SECONDS", 0.0)
    path = write(tmp_path, varied())
    one, two = tmp_path / "one", tmp_path / "two"
    assert cli(path, "--replications", "8", "--jobs", "1", "--out", str(one)) == 0
    capsys.readouterr()
    assert main(["run", path, "--replications", "8", "--jobs", "2", "--out", str(two)]) == 0
    assert "8 replications (2 processes)" in capsys.readouterr().err
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in two.iterdir())
    assert {"servers.csv", "phases.csv", "timeline.csv", "summary.json",
            "report.html"} <= set(names)
    for name in names:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    servers = pd.read_csv(one / "servers.csv")
    assert servers.columns[0] == "replication"
    assert sorted(servers["replication"].unique()) == list(range(8))
    assert servers["seconds"].nunique() == 40  # 8 × 5 different firmware starts
    phases = pd.read_csv(one / "phases.csv")
    assert list(phases.columns[:4]) == ["run", "seed", "replication", "server"]
    s = json.loads((one / "summary.json").read_text())
    assert s["replications"]["n"] == 8 and s["replications"]["jobs_independent"] is True


def test_replication_draws_do_not_depend_on_n():
    # replication 3 of 4 and replication 3 of 8 draw from Streams(seed, 3) alike
    four = simulate_scenario(varied(), replications=4, jobs=1)
    eight = simulate_scenario(varied(), replications=8, jobs=1)
    for frame in ("servers", "phases"):
        a = getattr(four, frame)
        b = getattr(eight, frame)
        a3 = a[a["replication"] == 3].reset_index(drop=True)
        b3 = b[b["replication"] == 3].reset_index(drop=True)
        assert len(a3) and a3.equals(b3), frame
    m4 = four.summary["replications"]["metrics"]["makespan"]["values"]
    m8 = eight.summary["replications"]["metrics"]["makespan"]["values"]
    assert m8[:4] == m4
    assert len(set(m8)) == 8  # and the replications differ from each other


def test_single_run_keeps_its_streams():
    # no flag: Streams(seed), as before replications existed; replication 0 of a
    # replicated run uses Streams(seed, 0) and draws otherwise
    sc = Scenario.from_dict(varied())
    single = simulate_scenario(varied())
    direct = simulate(sc)  # replication=None
    assert single.servers.equals(direct.servers)
    assert (single.servers["replication"] == 0).all()
    assert "replications" not in single.summary
    rep0 = simulate(sc, replication=0)
    assert not np.allclose(rep0.servers["ready"], single.servers["ready"])
    assert simulate_scenario(varied(), replications=1).servers.equals(single.servers)


def test_mean_ready_time_interval_contains_the_analytic_mean():
    # Each server's firmware start is U(1 s, 3 s), drawn per server; everything after it
    # is the same for every server (fast links, 5 servers: their ready times differ by
    # their draw, as the rows above show). One server with no firmware start gives the
    # constant rest C of a boot; the expected ready time is then C + (1 + 3) / 2 = C + 2 s.
    # The mean ready time of a replication averages 5 draws (sd 2/√12/√5 = 0.258 s); the
    # t-interval over 20 replications has a half-width near 2.09 · 0.258 / √20 = 0.12 s,
    # so it must hold C + 2 and not C + 2.5 (what U(1 s, 4 s) would give).
    base = scenario(servers=1)
    rest = simulate_scenario(base).summary["mean"]
    res = simulate_scenario(varied(), replications=20, jobs=1)
    m = res.summary["replications"]["metrics"]["mean"]
    assert res.summary["replications"]["method"]["metrics"]["mean"] == "student-t"
    assert m["lo"] <= rest + 2.0 <= m["hi"]
    assert not m["lo"] <= rest + 2.5 <= m["hi"]
    assert 0.05 < m["half_width"] < 0.25
    # the interval is the t-interval of the per-replication means, recomputed here
    iv = intervals.t_interval(m["values"])
    assert (m["lo"], m["hi"]) == pytest.approx((iv.lo, iv.hi), rel=1e-12)
    per = res.servers.groupby("replication")["seconds"].mean().to_numpy()
    assert m["values"] == pytest.approx(list(per), rel=1e-12)


def test_pooled_summary():
    res = simulate_scenario(varied(deadline="3s"), replications=6, jobs=1)
    s, rep = res.summary, res.summary["replications"]
    servers = res.servers
    assert s["servers"] == 30 and s["completed"] == 30
    # every server powers on at 0, so its ready time is its seconds
    assert s["makespan"] == max(rep["metrics"]["makespan"]["values"])
    assert s["p99"] == pytest.approx(float(np.percentile(servers["seconds"], 99)), rel=1e-12)
    assert s["mean"] == pytest.approx(float(servers["seconds"].mean()), rel=1e-12)
    ready = int((servers["seconds"] <= 3.0).sum())
    assert s["deadline"] == 3.0 and s["ready_by_deadline"] == ready
    assert s["ready_fraction_by_deadline"] == pytest.approx(ready / 30)
    frac = rep["metrics"]["ready_fraction_by_deadline"]
    per = [float((g["seconds"] <= 3.0).mean()) for _, g in servers.groupby("replication")]
    assert frac["values"] == pytest.approx(per)
    assert 0.0 <= frac["lo"] <= frac["mean"] <= frac["hi"] <= 1.0
    assert rep["metrics"]["completed"]["values"] == [5.0] * 6
    assert rep["metrics"]["completed"]["half_width"] == 0.0
    for k in ("p50", "p95", "p99"):
        assert rep["method"]["metrics"][k] == "bootstrap-percentile"
        m = rep["metrics"][k]
        assert m["lo"] <= m["mean"] <= m["hi"]
        assert m["mean"] == pytest.approx(float(np.mean(m["values"])), rel=1e-12)
    assert rep["until_ci"] is None
    # makespan ÷ bound: the mean makespan (what the report shows) over the mean bound,
    # not the pooled makespan (the slowest replication's); the ROM draws make them differ
    spans = rep["metrics"]["makespan"]["values"]
    assert max(spans) > float(np.mean(spans))
    bound = s["line_rate_bound"]["seconds"]
    assert s["makespan_over_bound"] == pytest.approx(float(np.mean(spans)) / bound, rel=1e-12)
    assert (res.timeline["replication"].unique() == np.arange(6)).all()
    assert s["engine"]["events"] > 0


def _stop_at(values, target):
    """The rule --until-ci follows: the first n >= 3 whose makespans are precise enough."""
    for n in range(3, len(values) + 1):
        if intervals.precise_enough(values[:n], target):
            return n
    return None


def test_until_ci_stops_at_the_target(monkeypatch):
    monkeypatch.setattr(replicate_module, "SPAWN_SECONDS", 0.0)  # jobs=2: 2 processes
    full = simulate_scenario(varied(), replications=40, jobs=1)
    makespans = full.summary["replications"]["metrics"]["makespan"]["values"]
    expect = _stop_at(makespans, 0.03)
    assert expect is not None and 3 < expect < 40  # a test of the rule, not of n = 3
    for jobs in (1, 2):
        res = simulate_scenario(varied(), until_ci="3%", jobs=jobs)
        rep = res.summary["replications"]
        assert rep["n"] == expect, jobs
        assert rep["until_ci"]["reached"] is True and rep["until_ci"]["cap"] == 100
        assert rep["until_ci"]["relative_half_width"] <= 0.03
        assert rep["metrics"]["makespan"]["values"] == makespans[:expect]
        assert sorted(res.servers["replication"].unique()) == list(range(expect))


def test_until_ci_stops_at_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(replicate_module, "SPAWN_SECONDS", 0.0)
    path = write(tmp_path, varied())
    out = tmp_path / "out"
    assert cli(path, "--until-ci", "0.01%", "--max-replications", "4", "--jobs", "2",
               "--out", str(out)) == 0
    rep = json.loads((out / "summary.json").read_text())["replications"]
    assert rep["n"] == 4
    assert rep["until_ci"]["reached"] is False and rep["until_ci"]["cap"] == 4
    assert rep["until_ci"]["target"] == pytest.approx(1e-4)
    assert rep["until_ci"]["relative_half_width"] > 1e-4


def test_until_ci_without_variance_stops_at_three():
    # nothing random: every replication is the same run, the interval a point
    res = simulate_scenario(scenario(servers=2), until_ci="1%", jobs=1)
    rep = res.summary["replications"]
    assert rep["n"] == 3 and rep["until_ci"]["reached"] is True
    assert rep["metrics"]["makespan"]["half_width"] == 0.0


def test_scenario_run_section(tmp_path):
    out = tmp_path / "out"
    assert cli(write(tmp_path, varied(replications=3)), "--out", str(out)) == 0
    assert json.loads((out / "summary.json").read_text())["replications"]["n"] == 3
    # a flag wins over the section
    res = simulate_scenario(varied(replications=3), replications=2, jobs=1)
    assert res.summary["replications"]["n"] == 2


@pytest.mark.parametrize("flags, field, words", [
    (["--replications", "0"], "--replications", "must be from 1"),
    (["--replications", "abc"], "--replications", "not a whole number"),
    (["--until-ci", "0%"], "--until-ci", "more than 0%"),
    (["--until-ci", "abc"], "--until-ci", "not a percentage"),
    (["--until-ci", "2"], "--until-ci", "not a percentage"),
    (["--replications", "4", "--until-ci", "2%"], "--replications", "not both"),
    (["--max-replications", "5"], "--max-replications", "caps --until-ci"),
    (["--until-ci", "2%", "--max-replications", "2"], "--max-replications", "from 3"),
    (["--jobs", "0"], "--jobs", ">= 1"),
])
def test_bad_flags_exit_2_one_line(tmp_path, capsys, flags, field, words):
    path = write(tmp_path, varied())
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["run", path, "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert err[0].startswith(f"command line: {field}: ") and words in err[0]
    assert not out.exists()


def test_both_in_the_run_section_is_refused(tmp_path, capsys):
    path = write(tmp_path, varied(replications=4, until_ci="2%"))
    assert main(["run", path, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{path}:") and "not both" in err[0]


def test_a_worker_input_error_comes_back_whole(tmp_path, monkeypatch):
    # a replication's process that cannot load the scenario reports the problem as the
    # parent would (InputError does not pickle by itself): here replication 0 loads in
    # this process, the file goes, replication 1 fails in a process of its own
    monkeypatch.setattr(replicate_module, "SPAWN_SECONDS", 0.0)
    path = tmp_path / "going.yaml"
    path.write_text(json.dumps(varied()))
    seen = []

    def remove_after_first(done, total, rep):
        seen.append(rep.replication)
        path.unlink()

    with pytest.raises(InputError) as e:  # 2 left after the first: the 2 processes
        replicate(Source(str(path)), Plan(3), jobs=2, on_replica=remove_after_first)
    assert seen == [0]
    assert len(e.value.problems) == 1 and "going.yaml" in str(e.value)


def test_short_replications_stay_in_this_process():
    # replications of milliseconds: starting processes (SPAWN_SECONDS) would cost more
    reps, used = replicate(Source(varied()), Plan(4), jobs=2)
    assert used == 1 and [r.replication for r in reps] == [0, 1, 2, 3]


def test_api_argument_errors_name_the_keyword():
    with pytest.raises(InputError, match=r"^simulate_scenario: replications: 0: must be"):
        simulate_scenario(varied(), replications=0)
    assert math.isfinite(simulate_scenario(varied(), until_ci=0.5, jobs=1)
                         .summary["replications"]["until_ci"]["relative_half_width"])
