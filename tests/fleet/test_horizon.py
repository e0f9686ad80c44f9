"""Simulated time stays exact or is refused; runs stop at their horizon; nothing spins.

The clock is a float64 of seconds (:mod:`netbootsim.clock`): times past 2**22 s are
refused at validation, every run stops at ``run.until`` (default 7 days), and the flow
engine's wake-ups always move the clock forward, even where its resolution is coarser
than the engine's 1 ns completion tolerance.
"""

from __future__ import annotations

import csv
import importlib
import math
import subprocess
import sys
from fractions import Fraction

import pytest
import simpy

from netbootsim.api import simulate_scenario
from netbootsim.clock import DEFAULT_HORIZON, TIME_LIMIT
from netbootsim.errors import InputError
from netbootsim.fleet import Group, Service
from netbootsim.net import Flow, Resource, make_engine
from netbootsim.profiles import get_profile
from netbootsim.scenario import Scenario
from netbootsim.topology import HostSpec, LinkSpec, rack

# the module (``netbootsim.fleet.simulate`` as an attribute is the function)
fleet_simulate = importlib.import_module("netbootsim.fleet.simulate")

# -- the flow engine far from t = 0 ------------------------------------------------------


def drive(t0: float, sizes: list[float], capacity: float, full: bool, limit: int = 1000):
    """Flows of ``sizes`` on one link, all started at ``t0``; step SimPy to the end.

    Returns the flows' end times and the SimPy steps taken. A wake-up that does not move
    the clock would loop for ever, inside one step (the incremental mode's completion
    loop) or step after step (full recompute): both are cut at ``limit`` and fail.
    """
    env = simpy.Environment()
    eng = make_engine(env, full_recompute=full)
    link = Resource("L", capacity)
    flows = [Flow(s, [link], name=f"f{i}") for i, s in enumerate(sizes)]
    looks = [0]
    complete_group = eng._complete_group

    def counted(*args):
        looks[0] += 1
        assert looks[0] < limit, "the engine keeps waking at the same instant"
        return complete_group(*args)

    eng._complete_group = counted

    def proc(f):
        yield env.timeout(t0)
        yield eng.start(f)

    for f in flows:
        env.process(proc(f))
    steps = 0
    while env.peek() < math.inf:
        env.step()
        steps += 1
        assert steps < limit, "the engine keeps waking at the same instant"
    return [f.end for f in flows], steps


# Sizes on a 3 MB/s link, all started together: max-min gives each 3/n MB/s, so
# 1 MB alone ends after 1/3 s; 1 MB + 2 MB: the first after 2/3 s (1.5 MB/s each), the
# second 1 MB later alone at 3 MB/s, at 1 s; 1 + 2 + 3 MB: 1 s, 5/3 s, 2 s. None of 1/3,
# 2/3, 5/3 is a float: every end time is rounded, at 1e12 s to 2**-13 s ≈ 0.12 ms.
CASES = [([1e6], [Fraction(1, 3)]),
         ([1e6, 2e6], [Fraction(2, 3), Fraction(1)]),
         ([1e6, 2e6, 3e6], [Fraction(1), Fraction(5, 3), Fraction(2)])]


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
@pytest.mark.parametrize("t0", [1e8, 1e10, 1e12])
@pytest.mark.parametrize("sizes,exact", CASES, ids=["1", "2", "3"])
def test_flows_far_from_zero_end_in_bounded_steps_within_ulps(t0, sizes, exact, full):
    # The bound: the same run started at t = 0 (where the clock resolves far below the
    # 1 ns tolerance) plus at most one step per flow. A completion time rounded down
    # by the clock wakes the engine up to half a resolution step early, with the last
    # bytes (at most rate × ulp / 2) still to go; the engine then wakes at the next
    # representable instant (math.nextafter), one ulp on, by which the rate has moved
    # rate × ulp bytes: more than what was left, so the flow is done there. Measured:
    # 5/14/21 steps at t = 0 (incremental), 7/13/19 (full recompute); at most 1/2/2
    # more at 1e8, 1e10 and 1e12 s.
    _, base = drive(0.0, sizes, 3e6, full)
    ends, steps = drive(t0, sizes, 3e6, full)
    assert steps <= base + len(sizes)
    ulp = math.ulp(t0)
    for end, want in zip(ends, exact, strict=True):
        # the answer to the nearest float is within 1/2 ulp, a wake-up one ulp later
        # within 3/2: "a few ulps" is 2
        assert abs(Fraction(end) - (Fraction(t0) + want)) <= 2 * Fraction(ulp)


def test_wake_up_a_hair_later_is_strictly_later():
    from netbootsim.net.engine import _later

    assert _later(0.0) > 0.0
    for t in (1.0, 1e8, 1e12, TIME_LIMIT):
        assert _later(t) - t == math.ulp(t) > 0.0


# -- times a scenario can write ----------------------------------------------------------

SCENARIO = """\
topology:
  shape: rack
  servers: 2
  hosts:
    - {name: boot1}
services:
  http1: {kind: http, host: boot1}
images:
  kernel: {size: 12MiB}
fleet:
  - name: g
    count: 2
    images: [kernel]
    server: http1
    power_on: {at: AT}
"""
AT_LINE = 15  # the line of "power_on" above


def cli(*argv: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netbootsim", *argv], capture_output=True,
                          text=True, timeout=10, cwd=cwd)


@pytest.mark.parametrize("at", ["100000000s", "10000000000s", "1000000000000s"])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_power_on_past_the_time_limit_is_refused_by_validate_and_run(tmp_path, at, command):
    # 1e8 s: the clock's resolution there is 2**-26 s ≈ 15 ns, over the engine's 1 ns:
    # this file once made `netbootsim run` spin for ever. Now both commands refuse it.
    path = tmp_path / "far.yaml"
    path.write_text(SCENARIO.replace("AT", at))
    argv = [command, str(path)] + (["--out", str(tmp_path / "out")] if command == "run"
                                   else [])
    r = cli(*argv, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"{path}:{AT_LINE}: fleet[0].power_on.at: {at!r} is past")
    assert "2**22 s" in line and "1 ns" in line
    assert not (tmp_path / "out").exists()


def test_power_on_after_the_default_horizon_is_refused(tmp_path):
    # 10 days = 240 h = 864000 s: within the clock's limit (4194304 s) but after the
    # default run.until, 7 days = 604800 s: the group would never power on.
    path = tmp_path / "late.yaml"
    path.write_text(SCENARIO.replace("AT", "240h"))
    r = cli("validate", str(path), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"{path}:{AT_LINE}: fleet[0].power_on.at: 864000 s is after")
    assert "run.until = 604800 s" in line
    # with a horizon past it, the same file is fine
    r = cli("validate", str(path), "--set", "run.until=300h", cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def base() -> dict:
    """One rack, two servers fetching a kernel over HTTP, as a dict."""
    return {"topology": {"shape": "rack", "servers": 2, "hosts": [{"name": "boot1"}]},
            "services": {"http1": {"kind": "http", "host": "boot1"}},
            "images": {"kernel": {"size": "12MiB"}},
            "fleet": [{"name": "g", "count": 2, "images": ["kernel"], "server": "http1"}]}


@pytest.mark.parametrize("where", [
    "run.until", "fleet[0].power_on.rack_interval", "fleet[0].stages[0].timeout",
    "fleet[0].stages[0].work", "fleet[0].stages[0].reboot_after", "faults[0].at",
    "faults[0].duration", "topology.server_link.latency", "services.dhcp1.service_time",
    "fleet[0].tune.rom_start",
])
def test_every_time_field_is_held_to_the_limit(where):
    # 1200 h = 4320000 s > 2**22 s = 4194304 s (48.5 days)
    far = "1200h"
    sc = base()
    leaf = where.rsplit(".", 1)[1]
    if where.startswith("fleet[0].stages"):
        sc["fleet"][0]["stages"] = [{"name": "boot", "on_failure": "reboot",
                                     "timeout": "1h", leaf: far}]
    elif where.startswith("faults"):
        sc["faults"] = [{"kind": "service-down", "target": "http1", "at": "1s",
                         "duration": "1s", leaf: far}]
    elif where.startswith("services.dhcp1"):
        sc["services"]["dhcp1"] = {"kind": "dhcp", "host": "boot1", leaf: far}
    elif where.startswith("fleet[0].tune"):
        sc["fleet"][0]["tune"] = {leaf: far}
    elif where == "topology.server_link.latency":
        sc["topology"]["server_link"] = {"bandwidth": "25Gbps", "latency": far}
    elif where == "run.until":
        sc["run"] = {"until": far}
    else:
        sc["fleet"][0]["power_on"] = {"rack_interval": far}
    with pytest.raises(InputError) as e:
        Scenario.from_dict(sc)
    fields = [p.field for p in e.value.problems]
    assert fields == [where], e.value
    assert "2**22 s" in e.value.problems[0].message


def test_times_up_to_the_limit_are_taken():
    sc = base()
    sc["run"] = {"until": "1165h"}  # 4194000 s, just under 2**22 s
    assert Scenario.from_dict(sc).run.until == 4194000.0
    assert Scenario.from_dict(base()).run.until == DEFAULT_HORIZON == 604800.0
    assert TIME_LIMIT == 4194304.0


# -- the run horizon ---------------------------------------------------------------------

SLEEPY = """\
topology:
  shape: rack
  servers: 2
  hosts:
    - {name: boot1}
services:
  http1: {kind: http, host: boot1}
images:
  kernel: {size: 12MiB}
fleet:
  - name: sleepy
    count: 1
    images: [kernel]
    server: http1
    script: |
      #!ipxe
      sleep 999999999
  - name: fine
    count: 1
    images: [kernel]
    server: http1
"""


def test_sleep_for_ever_ends_at_the_horizon_unfinished(tmp_path):
    # iPXE sleeps 999999999 s (31.7 years): the run stops at the default horizon, 7 days,
    # at once (nothing happens between the other server's boot and the sleep's end).
    path = tmp_path / "sleepy.yaml"
    path.write_text(SLEEPY)
    r = cli("run", str(path), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "out" / "servers.csv") as f:
        rows = {row["group"]: row for row in csv.DictReader(f)}
    assert rows["fine"]["outcome"] == "ok" and rows["fine"]["reason"] == ""
    assert rows["sleepy"]["outcome"] == "unfinished"
    assert rows["sleepy"]["reason"] == ("still booting at the run's horizon (run.until = "
                                        "604800 s, the default: 7 days)")


def test_power_on_past_an_explicit_horizon_says_so():
    # The hand case below with run.until = 2.5 s: server 1 (on at 2 s) is in its 5 s
    # sleep, server 2 powers on at 3 s, after the horizon.
    sc = hand_case()
    sc["run"] = {"until": "2500ms"}
    res = simulate_scenario(sc)
    reasons = list(res.servers.reason)
    assert list(res.servers.outcome) == ["unfinished", "unfinished"]
    assert reasons[0] == "still booting at the run's horizon (run.until = 2.5 s)"
    assert reasons[1] == ("not powered on by the run's horizon (run.until = 2.5 s; "
                          "power-on at 3 s)")


def hand_case() -> dict:
    """Two servers, powered on at 2 s and 3 s; each sleeps 5 s, fetches 1000 B, works 60 s."""
    return {
        "topology": {"shape": "rack", "servers": 2,
                     "server_link": {"bandwidth": "25Gbps", "latency": "1us"},
                     "hosts": [{"name": "boot1"}]},
        "services": {"http1": {"kind": "http", "host": "boot1", "model": "nginx"}},
        "images": {"kernel": {"size": "1000B"}},
        "fleet": [{"name": "g", "count": 2, "images": ["kernel"], "server": "http1",
                   "power_on": {"at": "2s", "per_second": 1},
                   "script": "#!ipxe\nsleep 5\nkernel http://http1/kernel\nboot\n",
                   "stages": [{"name": "boot", "work": "60s"}]}],
    }


def test_a_run_ending_before_the_horizon_is_unchanged(monkeypatch):
    # Server 1: on at 2 s, sleeps to 7 s, fetches the kernel: TCP handshake (RTT 4 us:
    # 1 us per link, server-ToR-boot1) + request/response (4 us) + one segment of
    # 1000 B body + 250 B headers + 90 B of TCP/IP/Ethernet over 25 Gb/s: 1340 B /
    # 3.125e9 B/s = 0.4288 us; boots, works 60 s: ready at 67.0000084288 s. Server 2
    # one second later. Times from the first power-on (2 s): 65.0000084288 and
    # 66.0000084288 s.
    ready = 5 + 8e-6 + 1340 / 3.125e9 + 60
    new = simulate_scenario(hand_case()).summary
    assert new["makespan"] == pytest.approx(ready + 1, abs=1e-12)
    assert new["p50"] == pytest.approx(ready + 0.5, abs=1e-12)
    assert new["completed"] == 2 and new["unfinished"] == 0

    def old_run(env, until, watch, tidy):  # what simulate() did before the horizon: env.run()
        env.run()
        return False, 0  # (events left past the horizon, events processed: not summarised)

    monkeypatch.setattr(fleet_simulate, "_run", old_run)
    old = simulate_scenario(hand_case()).summary
    assert new == old


def test_watch_is_called_every_n_steps_and_may_stop_the_run(monkeypatch):
    monkeypatch.setattr(fleet_simulate, "WATCH_EVERY", 5)
    seen: list[float] = []

    class Enough(Exception):
        pass

    def watch(now):
        seen.append(now)
        if len(seen) == 3:
            raise Enough

    # 20 servers at 10 per second, 100 MiB each over HTTP: hundreds of steps
    topo = rack(20, server_link=LinkSpec(1e9 / 8, 50e-6), hosts=[HostSpec("boot")])
    grp = Group("g", "ipxe", get_profile("ipxe-current"), (("image", 100 * 2**20),),
                Service("http1", "http", "boot"), per_second=10.0)
    members = [(s, "g") for s in topo.servers()]
    with pytest.raises(Enough):
        fleet_simulate.simulate(topo, [grp], members, name="w", seed=1, watch=watch)
    assert len(seen) == 3 and seen == sorted(seen)
    # without a watcher, the same run ends, all servers ready
    run = fleet_simulate.simulate(topo, [grp], members, name="w", seed=1)
    assert [s.outcome for s in run.servers] == ["ok"] * 20


def test_simulate_refuses_a_horizon_past_the_limit():
    with pytest.raises(ValueError, match="2\\*\\*22"):
        fleet_simulate.simulate(None, [], [], name="x", seed=1, until=1e8)


def test_a_reboot_loop_without_time_passing_fails_instead_of_spinning(tmp_path):
    # The script fails at once and the uncalibrated profile has no ROM start: an attempt
    # takes no simulated time, and `on_failure: reboot` with no reboot_after would start
    # the same attempt at the same instant for ever (the horizon never comes). The
    # server fails with that said instead.
    path = tmp_path / "loop.yaml"
    path.write_text(SCENARIO.replace("AT", "0s") + """\
    script: |
      #!ipxe
      exit 1
    stages:
      - {name: boot, timeout: 10s, on_failure: reboot}
""")
    r = cli("run", str(path), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "out" / "servers.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["outcome"] for row in rows] == ["failed", "failed"]
    assert all("failed in no simulated time" in row["reason"] for row in rows)
