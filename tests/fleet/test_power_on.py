"""Power-on policies, admission control and the orchestrator as a resource.

Each policy's instants are checked against a hand computation on a fleet of six servers
in two racks; admission control against its rule (the next server powers on when one is
ready or has failed) and, as a property, against its cap; the orchestrator's caps and
latencies against hand-computed delays.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbootsim.fleet import Group, Service, Stage, simulate
from netbootsim.fleet.power import planned_instants
from netbootsim.fleet.spec import OrchestratorSpec, PowerPolicy
from netbootsim.plan.summary import summarize
from netbootsim.profiles import get_profile
from netbootsim.streams import Streams
from netbootsim.topology import HostSpec, LinkSpec, leaf_spine, rack

GBPS = 1e9 / 8
MIB = 2**20
HTTP = Service("http1", "http", "boot")


def two_racks():
    """2 racks × 3 servers (r01s001..r01s003, r02s001..r02s003), a boot host."""
    return leaf_spine(2, 3, 1, server_link=LinkSpec(GBPS, 50e-6), oversubscription=1.0,
                      hosts=[HostSpec("boot", link=LinkSpec(10 * GBPS, 50e-6))])


def group(policy, name="g", work=0.0, **kw):
    stages = (Stage("boot", work=work),)
    return Group(name, "ipxe", get_profile("ipxe-current"), (("kernel", 1 * MIB),), HTTP,
                 stages=stages, power=policy, **kw)


def powered(run, grp="g"):
    return [s.power_on for s in run.servers if s.group == grp]


def run_policy(policy, members=None, **kw):
    topo = two_racks()
    members = members or [(s, "g") for s in topo.servers()]
    return simulate(topo, [group(policy)], members, name="t", seed=1, **kw)


def test_all_at_once():
    # every server at `at` = 3 s
    assert powered(run_policy(PowerPolicy("all-at-once", at=3.0))) == [3.0] * 6


def test_stagger():
    # server i at at + i × interval = 1 + 2i: 1, 3, 5, 7, 9, 11
    assert powered(run_policy(PowerPolicy("stagger", at=1.0, interval=2.0))) == \
        [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]


def test_batches():
    # 4 servers every 10 s from 2 s: servers 0-3 at 2, servers 4-5 at 12 (⌊i/4⌋ × 10 + 2)
    assert powered(run_policy(PowerPolicy("batches", at=2.0, batch=4, every=10.0))) == \
        [2.0, 2.0, 2.0, 2.0, 12.0, 12.0]


def test_per_rack_in_the_order_the_group_meets_the_racks():
    # the group lists rack 2's servers first: rack r02 is its rack 0 (at 5 s), r01 its
    # rack 1 (at 5 + 30 = 35 s), whatever their names
    members = [("r02s001", "g"), ("r01s001", "g"), ("r02s002", "g"), ("r01s002", "g"),
               ("r02s003", "g"), ("r01s003", "g")]
    run = run_policy(PowerPolicy("per-rack", at=5.0, interval=30.0), members)
    assert {s.server: s.power_on for s in run.servers} == {
        "r02s001": 5.0, "r02s002": 5.0, "r02s003": 5.0,
        "r01s001": 35.0, "r01s002": 35.0, "r01s003": 35.0}


def test_no_policy_keeps_the_groups_own_schedule():
    # Group.power None: at + i / per_second + rack index × rack_interval, as before
    topo = two_racks()
    g = Group("g", "ipxe", get_profile("ipxe-current"), (("kernel", MIB),), HTTP,
              power_on_at=1.0, per_second=2.0, rack_interval=10.0)
    run = simulate(topo, [g], [(s, "g") for s in topo.servers()], name="t", seed=1)
    # r01: 1 + i/2 for i = 0..2; r02: 1 + i/2 + 10 for i = 3..5
    assert powered(run) == [1.0, 1.5, 2.0, 12.5, 13.0, 13.5]
    assert [r.phase for r in run.records if r.server == "r01s001"][0] == "power-on"


# -- random within a window -------------------------------------------------------------


def test_random_window_is_the_named_stream_and_in_the_window():
    # server i at at + U_i, U_i = draw i of uniform(0, window) from stream power_on/<group>
    pol = PowerPolicy("random", at=10.0, window=60.0)
    run = run_policy(pol)
    u = Streams(1).rng("power_on", "g").uniform(0.0, 60.0, size=6)
    assert powered(run) == [10.0 + float(x) for x in u]
    assert all(10.0 <= t < 70.0 for t in powered(run))
    assert len(set(powered(run))) == 6


def test_random_window_is_deterministic_and_depends_on_the_seed():
    pol = PowerPolicy("random", window=60.0)
    racks = ["r1"] * 20
    a = planned_instants(pol, "g", racks, Streams(7))
    assert a == planned_instants(pol, "g", racks, Streams(7))
    assert a != planned_instants(pol, "g", racks, Streams(8))
    assert a != planned_instants(pol, "h", racks, Streams(7))  # each group its own stream


def test_a_second_group_does_not_move_the_first_groups_instants():
    topo = two_racks()
    pol = PowerPolicy("random", window=60.0)
    alone = simulate(topo, [group(pol)], [(s, "g") for s in topo.servers()[:3]],
                     name="t", seed=3)
    both = simulate(topo, [group(pol), group(pol, name="h")],
                    [(s, "g") for s in topo.servers()[:3]]
                    + [(s, "h") for s in topo.servers()[3:]], name="t", seed=3)
    assert powered(alone) == powered(both, "g")
    assert powered(both, "h") != powered(both, "g")


# -- admission control ------------------------------------------------------------------


def test_admission_powers_the_next_on_when_one_is_ready():
    # K = 2 of 6 servers at once, each booting alike (1 MiB kernel, then 5 s of work):
    # servers 0 and 1 at 0; servers 2 and 3 exactly when 0 and 1 are ready (T); 4 and 5
    # at 2T. The pairs never overlap, so each pair boots in the same time T.
    topo = two_racks()
    run = simulate(topo, [group(PowerPolicy("admission", max_booting=2), work=5.0)],
                   [(s, "g") for s in topo.servers()], name="t", seed=1)
    s = run.servers
    assert all(x.outcome == "ok" for x in s)
    t = s[0].ready
    assert t > 5.0 and s[1].ready == t
    assert [x.power_on for x in s] == pytest.approx([0.0, 0.0, t, t, 2 * t, 2 * t],
                                                    rel=1e-12)
    waits = [r for r in run.records if r.phase == "admission"]
    assert [r.server for r in waits] == [x.server for x in s[2:]]
    assert "at most 2 booting at once (in the group)" in waits[0].reason


def test_admission_frees_a_place_when_a_server_fails():
    # K = 1; every boot fails: the group's script sleeps 4 s and exits 1 (ipxe-current
    # starts its ROM in 0 s, uncalibrated), so server k fails 4 s after its power-on and
    # server k + 1 powers on then: 0, 4, 8.
    topo = rack(3, server_link=LinkSpec(GBPS, 50e-6),
                hosts=[HostSpec("boot", link=LinkSpec(10 * GBPS, 50e-6))])
    g = Group("g", "ipxe", get_profile("ipxe-current"), (), HTTP,
              stages=(Stage("boot", work=0.0),), script="#!ipxe\nsleep 4\nexit 1\n",
              power=PowerPolicy("admission", max_booting=1))
    run = simulate(topo, [g], [(s, "g") for s in topo.servers()], name="t", seed=1)
    assert [s.outcome for s in run.servers] == ["failed"] * 3
    assert [s.power_on for s in run.servers] == [0.0, 4.0, 8.0]


def _booting_peak(run) -> int:
    """Most servers booting at once: each from its power-on to its end (ready or fail)."""
    events = []
    for s in run.servers:
        end = s.ready if s.outcome == "ok" else max(r.end for r in run.records
                                                    if r.server == s.server)
        events += [(s.power_on, 1), (end, -1)]
    peak = now = 0
    for _, d in sorted(events):  # at one instant, ends (-1) before starts (+1)
        now += d
        peak = max(peak, now)
    return peak


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 10), k=st.integers(1, 4), fleet_wide=st.booleans(),
       split=st.integers(0, 10), works=st.lists(st.sampled_from([0.0, 1.0, 2.5, 7.0]),
                                                min_size=10, max_size=10))
def test_admission_never_has_more_than_k_booting(n, k, fleet_wide, split, works):
    # One or two groups (the first `split` servers in g, the rest in h), each stage's
    # work time picked per group; with scope fleet the groups share one cap of K, else
    # each has its own.
    topo = rack(10, server_link=LinkSpec(GBPS, 50e-6),
                hosts=[HostSpec("boot", link=LinkSpec(10 * GBPS, 50e-6))])
    scope = "fleet" if fleet_wide else "group"
    pol = PowerPolicy("admission", max_booting=k, scope=scope)
    servers = topo.servers()[:n]
    split = min(split, n)
    members = [(s, "g") for s in servers[:split]] + [(s, "h") for s in servers[split:]]
    groups = [group(pol, name="g", work=works[0]), group(pol, name="h", work=works[1])]
    run = simulate(topo, groups, members, name="t", seed=1)
    assert all(s.outcome == "ok" for s in run.servers)  # liveness: everyone got a turn
    if fleet_wide:
        assert _booting_peak(run) == min(k, n)
    else:
        for gname in ("g", "h"):
            sub = type(run)(records=run.records,
                            servers=[s for s in run.servers if s.group == gname])
            assert _booting_peak(sub) == min(k, len(sub.servers))


# -- the orchestrator -------------------------------------------------------------------


def orch_run(spec, n=5, stages=None, policy=None):
    topo = rack(n, server_link=LinkSpec(GBPS, 50e-6),
                hosts=[HostSpec("boot", link=LinkSpec(10 * GBPS, 50e-6))])
    pol = policy or PowerPolicy("all-at-once", orchestrator="o")
    g = Group("g", "ipxe", get_profile("ipxe-current"), (("kernel", MIB),), HTTP,
              stages=stages or (Stage("boot"),), power=pol)
    return simulate(topo, [g], [(s, "g") for s in topo.servers()], name="t", seed=1,
                    orchestrators={"o": spec})


def test_orchestrator_power_workers_and_latency():
    # 2 power workers, the power on 5 s after a command starts, a worker held 10 s:
    # commands 1-2 start at 0 (on at 5, free at 10), 3-4 at 10 (on 15, free 20), 5 at 20
    # (on 25)
    run = orch_run(OrchestratorSpec("o", 2, 5.0, 10.0, None, 0.0))
    assert powered(run) == [5.0, 5.0, 15.0, 15.0, 25.0]
    power = [r for r in run.records if r.phase == "power"]
    assert [(r.start, r.end) for r in power] == [(0.0, 5.0)] * 2 + [(0.0, 15.0)] * 2 + \
        [(0.0, 25.0)]
    assert power[4].reason == "waited 20 s for one of the orchestrator's 2 power workers"
    assert power[0].endpoint == "o"


def test_orchestrator_steps_then_power_commands():
    # 1 step worker, 2 s per stage start: steps end at 2, 4, 6, 8, 10. Then 2 power
    # workers (on 5 s after start, held 10 s): s1 starts its command at 2 (on 7, free
    # 12), s2 at 4 (on 9, free 14); s3 asks at 6, gets the worker s1 frees at 12 (on 17,
    # free 22); s4 asks at 8, gets s2's at 14 (on 19, free 24); s5 asks at 10, gets
    # s3's at 22 (on 27).
    run = orch_run(OrchestratorSpec("o", 2, 5.0, 10.0, 1, 2.0))
    assert powered(run) == [7.0, 9.0, 17.0, 19.0, 27.0]
    steps = [(r.start, r.end) for r in run.records if r.phase == "step"]
    assert steps == [(0.0, 2.0), (0.0, 4.0), (0.0, 6.0), (0.0, 8.0), (0.0, 10.0)]


def test_orchestrator_starts_each_later_stage_with_a_step_and_a_power_cycle():
    # two stages; no caps: each stage start costs the step (1 s) and the power latency
    # (5 s) — the first stage's before the first power-on, the second's after the first
    # stage ends.
    stages = (Stage("commissioning", work=3.0), Stage("deploy", work=3.0))
    run = orch_run(OrchestratorSpec("o", None, 5.0, 5.0, None, 1.0), n=1, stages=stages)
    recs = run.records
    phases = [(r.stage, r.phase) for r in recs]
    assert phases[:3] == [("commissioning", "step"), ("commissioning", "power"),
                          ("commissioning", "power-on")]
    deploy = [r for r in recs if r.stage == "deploy"]
    assert [r.phase for r in deploy[:2]] == ["step", "power"]
    end_of_commissioning = max(r.end for r in recs if r.stage == "commissioning")
    assert deploy[0].start == end_of_commissioning
    assert deploy[1].end == end_of_commissioning + 1.0 + 5.0  # the power is on again
    assert run.servers[0].power_on == 6.0  # the first power-on: step 1 s + latency 5 s


def test_orchestrator_retries_go_through_it():
    # a stage that fails, retried once by the orchestrator after its 10 s timeout: the
    # retry is a step and a power cycle, recorded with attempt 2
    topo = rack(1, server_link=LinkSpec(GBPS, 50e-6),
                hosts=[HostSpec("boot", link=LinkSpec(10 * GBPS, 50e-6))])
    g = Group("g", "ipxe", get_profile("ipxe-current"), (), HTTP,
              stages=(Stage("boot", timeout=10.0, on_failure="retry", retries=1),),
              script="#!ipxe\nexit 1\n", power=PowerPolicy(None, orchestrator="o"))
    run = simulate(topo, [g], [("r01s001", "g")], name="t", seed=1,
                   orchestrators={"o": OrchestratorSpec("o", 1, 2.0, 2.0, 1, 1.0)})
    second = [(r.phase, r.start, r.end) for r in run.records if r.attempt == 2]
    # attempt 1: step 0-1, power 1-3 (on at 3); it fails; the orchestrator notices at
    # its timeout, 3 + 10 = 13: step 13-14, power 14-16
    assert second[:2] == [("step", 13.0, 14.0), ("power", 14.0, 16.0)]
    assert run.servers[0].outcome == "failed"


def test_the_orchestrator_is_named_as_the_bottleneck_when_it_is_the_limit():
    run = orch_run(OrchestratorSpec("o", 2, 5.0, 10.0, None, 0.0))
    summary, *_ = summarize(run, scenario="t", question="", seed=1, mode="flow", notes=[])
    top = summary["bottlenecks"][0]
    # commands wait from 0 until the fifth gets a worker at 20
    assert (top["resource"], top["saturated_seconds"], top["max_flows"]) == \
        ("o:power-workers", 20.0, 2)
    svc = summary["services"]["o"]
    assert svc["kind"] == "orchestrator" and svc["max_queued"] == 3
    assert svc["limit"] == "2 power commands, no cap on stage starts at once"
    assert "power" in summary["phases"]


def test_no_orchestrator_and_no_policy_changes_nothing():
    # the same group without power: no power or step records, power-on at 0
    run = orch_run(OrchestratorSpec("o", 1, 5.0, 5.0, None, 0.0),
                   policy=PowerPolicy("all-at-once"))
    assert powered(run) == [0.0] * 5
    assert not [r for r in run.records if r.phase in ("power", "step", "admission")]
    assert math.isfinite(run.servers[0].ready)
