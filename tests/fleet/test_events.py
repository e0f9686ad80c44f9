"""Lifecycle events: replace, reprovision, demand (netbootsim/fleet/events.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from small_scenarios import api_scenario, cli_refuses, scenario

from netbootsim.api import simulate_scenario
from netbootsim.errors import InputError
from netbootsim.plan.run import execute

STANDBY = {"policy": "standby"}


def _fleet(servers: int = 6) -> dict:
    """api_scenario's three servers (group g, two in the API's inventory), then a
    standby ``spare`` (1) and a standby ``pool`` (the rest)."""
    sc = api_scenario()
    sc["topology"]["servers"] = servers
    sc["fleet"].append({"name": "spare", "count": 1, "images": ["kernel"], "server": "http1",
                        "power_on": STANDBY})
    sc["fleet"].append({"name": "pool", "count": servers - 4, "images": ["kernel", "initrd"],
                        "server": "http1", "power_on": STANDBY})
    return sc


def _row(res, event: str, server: str) -> dict:
    ev = res.events
    rows = ev[(ev["event"] == event) & (ev["server"] == server)]
    assert len(rows) == 1, rows
    return rows.iloc[0].to_dict()


def test_standby_takes_the_failed_nodes_identity_and_its_script():
    # r01s001 (serial R01S001, role compute in the API: kernel + initrd) fails at 100 s.
    # The spare r01s004 is in no inventory row: under its own serial the API would give
    # it the unknown script, which fails. Carrying r01s001's identity, it is served the
    # compute script: it fetches kernel and initrd and gets ready.
    sc = _fleet()
    sc["events"] = [{"kind": "replace", "at": "100s", "node": "r01s001", "standby": "r01s004"}]
    res = simulate_scenario(sc)
    node, spare = _row(res, "replace-1", "r01s001"), _row(res, "replace-1", "r01s004")
    assert node["role"] == "failed" and node["outcome"] == "failed"
    assert spare["role"] == "standby" and spare["identity"] == "r01s001"
    assert spare["outcome"] == "ok" and spare["bytes"] == (8 + 32) * 2**20
    ph = res.event_phases
    api = ph[(ph["server"] == "r01s004") & (ph["phase"] == "api:api1")]
    assert list(api["reason"]) == ["role compute"]
    assert set(ph.loc[ph["server"] == "r01s004", "stage"]) == {"replace-1:boot"}
    life = res.summary["lifecycle"]["replace-1"]
    assert life["time_to_restore"] == pytest.approx(spare["ready"] - 100.0, abs=1e-12)
    # the node had commissioned: its own record keeps that; standbys are not in the fleet
    assert list(res.servers["server"]) == ["r01s001", "r01s002", "r01s003"]
    assert res.servers.set_index("server").loc["r01s001", "outcome"] == "ok"


def test_a_replacement_boots_as_long_as_the_node_did_alone():
    # Nothing else is on the network at 100 s: the spare's boot is the node's own boot
    # alone, so its time to restore equals the first boot of a fleet of one server of
    # the same role (the inventory's R01S001), to the nanosecond clock.
    sc = _fleet()
    sc["events"] = [{"kind": "replace", "at": "100s", "node": "r01s001", "standby": "r01s004"}]
    restore = simulate_scenario(sc).summary["lifecycle"]["replace-1"]["time_to_restore"]
    alone = api_scenario()
    alone["topology"]["servers"] = 1
    alone["fleet"][0]["count"] = 1
    first = simulate_scenario(alone).servers.iloc[0]
    assert restore == pytest.approx(first["ready"] - first["power_on"], abs=1e-9)


def test_a_node_failing_while_it_boots_fails_and_its_standby_boots():
    sc = _fleet()
    sc["events"] = [{"kind": "replace", "at": "0.5s", "node": "r01s002",
                     "standby": "r01s004"}]
    res = simulate_scenario(sc)
    node = res.servers.set_index("server").loc["r01s002"]
    assert node["outcome"] == "failed"
    assert node["reason"] == "failed at 0.5 s; replaced by r01s004 (replace-1)"
    assert _row(res, "replace-1", "r01s004")["outcome"] == "ok"


def test_reprovision_ends_when_the_last_server_is_ready_again():
    # Two runs that differ only in the new stage's work time: 100 s and 400 s. The work
    # is a pure delay after each server's boot, so every server is ready 300 s later,
    # and the reprovision's end (its last server ready, less its instant) moves by 300 s.
    def done(work: str) -> tuple[float, list[float]]:
        sc = scenario(servers=4)
        sc["fleet"][0]["count"] = 4
        sc["events"] = [{"kind": "reprovision", "at": "1h", "group": "g", "count": 3,
                         "stages": [{"name": "hpc", "work": work}]}]
        res = simulate_scenario(sc)
        life = res.summary["lifecycle"]["reprovision-1"]
        assert life["servers"] == 3 and life["ready"] == 3
        ready = sorted(res.events["ready"])
        assert life["time_to_capacity"] == pytest.approx(ready[-1] - 3600.0, abs=1e-12)
        return life["time_to_capacity"], ready

    short, r1 = done("100s")
    long, r2 = done("400s")
    assert long - short == pytest.approx(300.0, abs=1e-9)
    assert [b - a for a, b in zip(r1, r2, strict=True)] == pytest.approx([300.0] * 3,
                                                                         abs=1e-9)
    assert short > 100.0  # the boot itself comes first


def test_reprovision_boots_the_new_image_and_skips_servers_not_ready():
    sc = scenario(servers=3)
    sc["fleet"][0]["count"] = 3
    sc["images"]["hpc-kernel"] = {"size": "4MiB"}
    sc["events"] = [{"kind": "reprovision", "name": "night", "at": "2s", "group": "g",
                     "images": ["hpc-kernel"]}]
    sc["faults"] = [{"kind": "server-fail", "target": "r01s003", "at": "0.5s"}]
    res = simulate_scenario(sc)
    ok = _row(res, "night", "r01s001")
    assert ok["outcome"] == "ok" and ok["bytes"] == 4 * 2**20
    skipped = _row(res, "night", "r01s003")
    assert skipped["outcome"] == "skipped"
    assert skipped["reason"].startswith("not ready at 2 s: down: server failed at 0.5 s")
    fetched = res.event_phases.loc[res.event_phases["phase"].str.startswith("fetch:"),
                                   "phase"]
    assert set(fetched) == {"fetch:hpc-kernel"}
    life = res.summary["lifecycle"]["night"]
    assert (life["servers"], life["ready"], life["skipped"]) == (3, 2, 1)
    # the skipped server was not booted: the two that were are the reprovision's end
    assert life["time_to_capacity"] == pytest.approx(
        float(res.events["ready"].max()) - 2.0, abs=1e-12)


def test_a_replaced_node_is_reprovisioned_in_its_standby():
    # r01s001 is replaced by r01s004 at 10 s; the reprovision at 1 h names the group's
    # first two servers: r01s001's identity now lives in r01s004, which reboots.
    sc = _fleet()
    sc["events"] = [{"kind": "replace", "at": "10s", "node": "r01s001", "standby": "r01s004"},
                    {"kind": "reprovision", "name": "night", "at": "1h", "group": "g",
                     "count": 2}]
    res = simulate_scenario(sc)
    ev = res.events[res.events["event"] == "night"]
    assert list(zip(ev["server"], ev["identity"], ev["outcome"], strict=True)) == [
        ("r01s002", "r01s002", "ok"), ("r01s004", "r01s001", "ok")]  # in fleet order
    life = res.summary["lifecycle"]["night"]
    assert life["time_to_capacity"] == pytest.approx(float(ev["ready"].max()) - 3600.0)


def test_demand_powers_the_pool_on_step_by_step():
    # A pool of 3; demand 1 at 100 s, 0 more at 200 s (a step that asks nothing new),
    # 2 at 300 s (one more). Each new server boots alone (the steps are far apart), so
    # each lag is one server's boot time B, the same for both (identical servers): step
    # 1 reached at 100 + B, step 2 at once (already met), step 3 at 300 + B. The third
    # server of the pool is never asked for.
    sc = _fleet(servers=7)
    sc["events"] = [{"kind": "demand", "group": "pool", "curve": [
        {"at": "100s", "servers": 1}, {"at": "200s", "servers": 1},
        {"at": "300s", "servers": 2}]}]
    res = simulate_scenario(sc)
    life = res.summary["lifecycle"]["demand-1"]
    c = life["curve"]
    boot = c[0]["lag"]
    assert 0 < boot < 5
    assert c[1]["reached"] == 200.0 and c[1]["lag"] == 0.0
    assert c[2]["lag"] == pytest.approx(boot, abs=1e-9)
    assert life["max_lag"] == pytest.approx(boot, abs=1e-12)
    assert list(res.events["asked"]) == [100.0, 300.0]
    assert list(res.events["server"]) == ["r01s005", "r01s006"]


def test_a_demand_the_pool_cannot_meet_in_time_lags():
    # Two steps 0.1 s apart: the second asks before the first's server is ready (a boot
    # takes about a second), so its lag is its servers' boot time, and the curve reached
    # 2 only when the second server is ready.
    sc = _fleet(servers=6)
    sc["events"] = [{"kind": "demand", "group": "pool", "curve": [
        {"at": "10s", "servers": 1}, {"at": "10.1s", "servers": 2}]}]
    res = simulate_scenario(sc)
    c = res.summary["lifecycle"]["demand-1"]["curve"]
    assert c[1]["reached"] == pytest.approx(float(res.events["ready"].max()), abs=1e-12)


def test_events_leave_the_commissioning_as_it_was():
    # Events after the fleet is ready change none of its numbers: its servers, phases,
    # makespan and the line-rate bound (the bytes of the commissioning alone).
    base = _fleet()
    later = _fleet()
    later["events"] = [
        {"kind": "replace", "at": "1h", "node": "r01s002", "standby": "r01s004"},
        {"kind": "demand", "group": "pool", "curve": [{"at": "2h", "servers": 2}]}]
    a, b = simulate_scenario(base), simulate_scenario(later)
    assert a.servers.equals(b.servers)
    assert a.phases.equals(b.phases)
    for key in ("makespan", "p99", "line_rate_bound", "phases", "bottlenecks"):
        assert a.summary[key] == b.summary[key], key
    assert a.timeline.equals(b.timeline)
    assert "lifecycle" not in a.summary and a.events is None


def test_same_seed_same_event_records():
    sc = _fleet(servers=7)
    sc["events"] = [{"kind": "replace", "at": "0.8s", "node": "r01s001", "standby": "r01s004"},
                    {"kind": "demand", "group": "pool",
                     "curve": [{"at": "1s", "servers": 3}]}]
    a, b = simulate_scenario(sc), simulate_scenario(sc)
    assert a.events.equals(b.events) and a.event_phases.equals(b.event_phases)
    assert json.dumps(a.summary, sort_keys=True) == json.dumps(b.summary, sort_keys=True)


def test_run_writes_the_event_files_and_the_report_section(tmp_path):
    from ruamel.yaml import YAML

    sc = _fleet(servers=7)
    sc["events"] = [{"kind": "replace", "at": "1h", "node": "r01s001", "standby": "r01s004"},
                    {"kind": "demand", "group": "pool", "curve": [
                        {"at": "2h", "servers": 1}, {"at": "3h", "servers": 3}]}]
    f = tmp_path / "events.yaml"
    YAML().dump(sc, f)
    out = execute(str(f), out=str(tmp_path / "out")).target
    names = {p.name for p in out.iterdir()}
    assert {"events.csv", "event-phases.csv", "lifecycle.png"} <= names
    report = (out / "report.md").read_text()
    assert "## Lifecycle events" in report
    assert "r01s001 failed; r01s004 took its identity and served after" in report
    assert "3 demand steps" not in report and "2 demand steps; capacity at most" in report
    summary = json.loads((out / "summary.json").read_text())
    assert summary["lifecycle"]["demand-2"]["curve"][1]["servers"] == 3


@pytest.mark.parametrize("events, where, text", [
    ([{"kind": "replace", "at": "1s", "node": "r01s001", "standby": "r09s009"}],
     "events[0].standby", "'r09s009' is not a server of the fleet"),
    ([{"kind": "replace", "at": "1s", "node": "r01s001", "standby": "r01s002"}],
     "events[0].standby", "r01s002 is of group g, which is powered on with the fleet"),
    ([{"kind": "replace", "at": "1s", "node": "r01s001"}],
     "events[0].standby", "required by a replace event"),
    ([{"kind": "reprovision", "at": "1s", "group": "gg"}],
     "events[0].group", "unknown fleet group 'gg'"),
    ([{"kind": "reprovision", "at": "1s", "group": "g", "curve": []}],
     "events[0].curve", "not used by a reprovision event"),
    ([{"kind": "demand", "group": "g", "curve": [{"at": "1s", "servers": 1}]}],
     "events[0].group", "g is powered on with the fleet"),
    ([{"kind": "demand", "group": "pool", "curve": [{"at": "2s", "servers": 1},
                                                   {"at": "1s", "servers": 2}]}],
     "events[0].curve[1].at", "before the step before it"),
    ([{"kind": "demand", "group": "pool", "curve": [{"at": "2s", "servers": 9}]}],
     "events[0].curve[0].servers", "9 servers wanted, but the pool pool has 2"),
    ([{"kind": "reprovision", "name": "a:b", "at": "1s", "group": "g"}],
     "events[0].name", "no ':' in an event's name"),
    ([{"kind": "reprovision", "at": "1s", "group": "g",
       "script": "#!ipxe\nkernal http://http1/kernel\n"}],
     "events[0].script", "kernal"),
])
def test_bad_events_are_refused_at_their_field(events, where, text):
    sc = _fleet()
    sc["events"] = events
    with pytest.raises(InputError) as e:
        load_scenario_dict(sc)
    msg = str(e.value)
    assert f"{where}:" in msg and text in msg, msg


def load_scenario_dict(sc: dict):
    from netbootsim.scenario import Scenario

    return Scenario.from_dict(sc)


def test_events_with_replications_are_refused():
    sc = _fleet()
    sc["run"]["replications"] = 3
    sc["events"] = [{"kind": "replace", "at": "1s", "node": "r01s001", "standby": "r01s004"}]
    with pytest.raises(InputError, match=r"run\.replications: lifecycle events are simulated"):
        load_scenario_dict(sc)


def test_cli_refuses_a_missing_standby_with_one_line(tmp_path):
    sc = _fleet()
    sc["events"] = [{"kind": "replace", "at": "1s", "node": "r01s001", "standby": "r02s001"}]
    line = cli_refuses(sc, tmp_path)
    assert line.endswith("events[0].standby: 'r02s001' is not a server of the fleet "
                         "(did you mean 'r01s001'?)"), line



@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 3)), min_size=1,
                      max_size=4))
def test_demand_invariants(steps):
    # Any curve in time order: the pool powers on exactly as many servers as the curve
    # ever wants (at most its 3), each at the first step that wants it; a step is reached
    # no sooner than it asks, and once reached its servers are ready.
    steps = sorted(steps)
    sc = _fleet(servers=7)  # a pool of 3
    sc["events"] = [{"kind": "demand", "group": "pool",
                     "curve": [{"at": f"{t}s", "servers": n} for t, n in steps]}]
    res = simulate_scenario(sc)
    ev = res.events
    wanted = max(n for _, n in steps)
    assert len(ev) == wanted and set(ev["outcome"]) <= {"ok"}
    for k in range(wanted):  # server k+1 is asked at the first step wanting k+1
        assert ev["asked"].iloc[k] == next(t for t, m in steps if m > k)
    for c in res.summary["lifecycle"]["demand-1"]["curve"]:
        assert c["reached"] >= c["at"]
        assert int((ev["ready"] <= c["reached"]).sum()) >= c["servers"]


def test_an_events_work_time_is_drawn_per_server():
    # one generator per event (the stream event/<name>), a draw per server and stage:
    # four servers, four different work times from uniform(10 s, 1000 s)
    sc = scenario(servers=4)
    sc["fleet"][0]["count"] = 4
    sc["events"] = [{"kind": "reprovision", "at": "1h", "group": "g", "stages": [
        {"name": "hpc", "work": {"dist": "uniform", "low": "10s", "high": "1000s"}}]}]
    ph = simulate_scenario(sc).event_phases
    works = ph.loc[ph.phase == "work", "seconds"]
    assert len(works) == 4 and works.nunique() == 4
    assert works.between(10, 1000).all()


def test_a_node_replaced_twice_fails_in_its_first_replacement():
    # r01s001 replaced by r01s004 at 10 s; "r01s001" fails again at 100 s: it is r01s004
    # now (its identity), which goes down, and r01s005 takes the identity on
    sc = _fleet(servers=7)
    sc["events"] = [{"kind": "replace", "at": "10s", "node": "r01s001", "standby": "r01s004"},
                    {"kind": "replace", "at": "100s", "node": "r01s001",
                     "standby": "r01s005"}]
    res = simulate_scenario(sc)
    second = res.events[res.events["event"] == "replace-2"]
    assert list(zip(second["server"], second["identity"], second["role"], second["outcome"],
                    strict=True)) == [("r01s004", "r01s001", "failed", "failed"),
                                      ("r01s005", "r01s001", "standby", "ok")]


def test_a_standby_failed_while_powered_off_is_passed_over():
    # r01s005 (the pool's first) fails at 5 s, powered off: its record is the event
    # log's, not the fleet's, and the demand at 100 s powers the next one on instead
    sc = _fleet(servers=7)
    sc["faults"] = [{"kind": "server-fail", "target": "r01s005", "at": "5s"}]
    sc["events"] = [{"kind": "demand", "group": "pool", "curve": [{"at": "100s",
                                                                    "servers": 1}]}]
    res = simulate_scenario(sc)
    assert "r01s005" not in set(res.phases["server"])
    fail = res.event_phases[res.event_phases["server"] == "r01s005"]
    assert list(fail["phase"]) == ["server-fail"] and list(fail["stage"]) == [
        "standby:failure"]
    ev = res.events
    assert list(zip(ev["server"], ev["outcome"], strict=True)) == [("r01s005", "skipped"),
                                                                   ("r01s006", "ok")]
    c = res.summary["lifecycle"]["demand-1"]["curve"][0]
    assert c["lag"] == pytest.approx(float(ev["seconds"].iloc[1]))


def test_server_fail_on_a_pool_server_up_after_its_boot_does_nothing():
    # a pool server that booted for a demand and is up is as a ready fleet server: the
    # fault does not touch it (one still booting fails, as a booting fleet server does)
    sc = _fleet(servers=7)
    sc["events"] = [{"kind": "demand", "group": "pool", "curve": [{"at": "10s",
                                                                    "servers": 2}]}]
    sc["faults"] = [{"kind": "server-fail", "target": "r01s005", "at": "50s"},
                    {"kind": "server-fail", "target": "r01s006", "at": "10.5s"}]
    res = simulate_scenario(sc)
    ev = res.events.set_index("server")
    assert ev.loc["r01s005", "outcome"] == "ok"
    assert ev.loc["r01s006", "outcome"] == "failed"
    assert "server failed at 10.5 s" in ev.loc["r01s006", "reason"]


def test_an_unfinished_event_boot_keeps_its_bytes():
    # cut by run.until while booting: its row is unfinished with the bytes it moved
    sc = _fleet()
    sc["run"]["until"] = "101.02s"
    sc["events"] = [{"kind": "replace", "at": "100s", "node": "r01s001", "standby": "r01s004"}]
    res = simulate_scenario(sc)
    row = _row(res, "replace-1", "r01s004")
    moved = res.event_phases.loc[(res.event_phases.server == "r01s004")
                                 & res.event_phases.phase.str.startswith("fetch:"), "bytes"]
    assert row["outcome"] == "unfinished" and row["bytes"] == moved.sum() > 0


@pytest.mark.parametrize("change, where, text", [
    ({"events": [{"kind": "replace", "node": "r01s001", "standby": "r01s004"}]},
     "events[0].at", "required by a replace event"),
    ({"events": [{"kind": "replace", "at": "1h", "node": "r01s001", "standby": "r01s004"}],
      "run": {"seed": 1, "until": "1h"}}, "events[0].at", "not before the run's horizon"),
    ({"events": [{"kind": "reprovision", "at": "1s", "group": "g", "images": ["kernel"]}]},
     "events[0].images", "not fetched: group g's script runs"),
    ({"events": [{"kind": "reprovision", "at": "1s", "group": "g",
                  "stages": [{"name": "a:b"}]}]}, "events[0].stages[0].name", "no ':'"),
    ({"events": [{"kind": "reprovision", "at": "1s", "group": "g", "server": "dhcp1"}]},
     "events[0].server", "images come from a tftp or http service"),
])
def test_a_reprovisions_boot_is_checked_as_a_groups(change, where, text):
    sc = _fleet()
    sc.update(change)
    with pytest.raises(InputError) as e:
        load_scenario_dict(sc)
    msg = str(e.value)
    assert f"{where}:" in msg and text in msg, msg


def test_a_pxe_group_reprovisioned_without_images_is_refused():
    sc = scenario(servers=1)
    sc["services"]["dhcp1"]["boot_files"] = {"bios": "undionly.kpxe"}
    sc["fleet"][0].update({"boot": "pxe", "profile": "pxe-rom", "server": "tftp1",
                           "images": ["undionly.kpxe", "kernel"]})
    for ev, where, text in (
            ({"images": [], "script": "#!ipxe\nboot\n"}, "events[0].script",
             "its PXE ROM runs no iPXE script"),
            ({"images": []}, "events[0].images", "give at least one image"),
            ({"server": "http1"}, "events[0].server", "boot path 'pxe' fetches over TFTP")):
        sc["events"] = [{"kind": "reprovision", "at": "100s", "group": "g", **ev}]
        with pytest.raises(InputError) as e:
            load_scenario_dict(sc)
        assert f"{where}:" in str(e.value) and text in str(e.value), str(e.value)


def test_a_fleet_stage_name_with_a_colon_is_refused():
    sc = scenario(servers=1)
    sc["fleet"][0]["stages"] = [{"name": "night:boot"}]
    with pytest.raises(InputError, match=r"fleet\[0\]\.stages\[0\]\.name: 'night:boot': no ':'"):
        load_scenario_dict(sc)


def test_validate_counts_the_lifecycle_events(capsys):
    from pathlib import Path

    from netbootsim.cli import main

    day_night = Path(__file__).resolve().parents[2] / "scenarios" / "day-night.yaml"
    assert main(["validate", str(day_night)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("; 4 lifecycle events")
