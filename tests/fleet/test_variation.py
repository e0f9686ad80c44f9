"""Per-server variation: each server draws its own values from its group's streams."""

import numpy as np
import pytest
from small_scenarios import scenario

from netbootsim.api import simulate_scenario
from netbootsim.streams import Streams

ROM = {"dist": "uniform", "low": "1s", "high": "3s"}


def _firmware(res, group):
    ph = res.phases
    f = ph[(ph.phase == "firmware") & (ph.group == group)]
    return f.set_index("server").seconds


def test_each_server_waits_its_own_draw_of_the_rom_start():
    # The firmware phase of server i is draw i of the stream group/g/profile/rom_start:
    # uniform(1 s, 3 s) from Streams(seed).rng("group", "g", "profile", "rom_start").
    sc = scenario(servers=6)
    sc["fleet"][0].update(count=6, tune={"rom_start": ROM})
    res = simulate_scenario(sc)
    want = Streams(res.summary["seed"]).rng("group", "g", "profile", "rom_start").uniform(
        1.0, 3.0, 6)
    got = _firmware(res, "g").sort_index().to_numpy()
    assert got == pytest.approx(want, abs=1e-9)
    assert len(set(np.round(got, 9))) == 6


def test_adding_a_group_leaves_the_first_groups_draws_unchanged():
    one = scenario(servers=8)
    one["fleet"][0].update(count=4, tune={"rom_start": ROM})
    two = scenario(servers=8)
    two["fleet"] = [dict(one["fleet"][0]),
                    {"name": "h", "count": 4, "boot": "ipxe", "images": ["kernel"],
                     "server": "http1", "tune": {"rom_start": ROM}}]
    a = _firmware(simulate_scenario(one), "g")
    res = simulate_scenario(two)
    b = _firmware(res, "g")
    assert (a.sort_index().to_numpy() == b.sort_index().to_numpy()).all()
    # ... and the second group draws from its own stream: other values
    assert not np.isin(_firmware(res, "h").to_numpy(), a.to_numpy()).any()


def test_stage_work_and_port_faults_vary_per_server():
    # stage work ~ uniform(10 s, 20 s) per server: the "work" phases are the draws of
    # group/g/stage/deploy/work; STP blocking ~ uniform(2 s, 4 s) per port.
    sc = scenario(servers=4)
    sc["fleet"][0].update(count=4, stages=[{"name": "deploy", "work": {
        "dist": "uniform", "low": "10s", "high": "20s"}}])
    sc["faults"] = [{"kind": "stp", "target": "g",
                     "duration": {"dist": "uniform", "low": "2s", "high": "4s"}}]
    res = simulate_scenario(sc)
    s = Streams(res.summary["seed"])
    work = s.rng("group", "g", "stage", "deploy", "work").uniform(10, 20, 4)
    ph = res.phases
    got = ph[ph.phase == "work"].sort_values("server").seconds.to_numpy()
    assert got == pytest.approx(work, abs=1e-9)
    # iPXE defers DHCP in whole seconds while the port blocks: ceil(stp) - its ROM start
    # is 0 for ipxe-current, so DHCP ends after about ceil(stp) s; the four differ.
    stp = s.rng("group", "g", "link", "stp").uniform(2, 4, 4)
    dhcp = ph[ph.phase == "dhcp"].sort_values("server")
    assert (dhcp.end.to_numpy() >= np.ceil(stp) - 1e-9).all()


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    sc = scenario(servers=5)
    sc["fleet"][0].update(count=5, tune={"rom_start": ROM, "tcp_client_delay": {
        "dist": "lognormal", "median": "1ms", "p95": "4ms"}})
    a, b = simulate_scenario(sc), simulate_scenario(sc)
    assert a.servers.equals(b.servers) and a.phases.equals(b.phases)
    c = simulate_scenario(sc, overrides=["run.seed=2"])
    assert not np.allclose(a.servers.ready.sort_values(), c.servers.ready.sort_values())


def test_an_api_draws_its_service_time_per_request():
    from small_scenarios import api_scenario

    sc = api_scenario(service_time={"dist": "uniform", "low": "100ms", "high": "200ms"})
    res = simulate_scenario(sc)
    api = res.phases[res.phases.phase.str.contains("api|script", regex=True)]
    assert len(api) >= 2
    assert api.seconds.nunique() == len(api)


def test_a_random_power_on_may_draw_its_delay_from_a_distribution():
    # power_on: {policy: random, at: 5s, window: lognormal(median 20 s, p95 60 s)}:
    # server i powers on at 5 s + draw i of the stream power_on/g (servers in group order)
    sc = scenario(servers=6)
    sc["fleet"][0].update(count=6, power_on={
        "policy": "random", "at": "5s",
        "window": {"dist": "lognormal", "median": "20s", "p95": "60s"}})
    res = simulate_scenario(sc)
    sigma = np.log(60 / 20) / 1.6448536269514722
    want = 5.0 + Streams(res.summary["seed"]).rng("power_on", "g").lognormal(
        np.log(20), sigma, 6)
    got = res.servers.sort_values("server").power_on.to_numpy()
    assert got == pytest.approx(want, abs=1e-9)
    assert res.summary["random"]["inputs"][0]["stream"] == "power_on/g"
