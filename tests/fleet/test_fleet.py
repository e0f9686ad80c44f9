"""The fleet's transfer phase: hand-summed single boots, sharing, the line-rate bound."""

import math

import pytest

from netbootsim.fleet import Group, Service, simulate
from netbootsim.plan.summary import summarize
from netbootsim.profiles import get_profile
from netbootsim.protocols import http_plan, tftp_plan
from netbootsim.records import SERVER_COLUMNS, ServerRecord, servers_frame
from netbootsim.topology import HostSpec, LinkSpec, rack

GBPS = 1e9 / 8
MIB = 2**20


def one_rack(n, host_bw=10 * GBPS, latency=50e-6):
    return rack(n, server_link=LinkSpec(GBPS, latency),
                hosts=[HostSpec("boot", link=LinkSpec(host_bw, latency))])


def test_one_server_is_the_sum_of_its_phases():
    # One server, HTTP kernel (10 MiB) then initrd (50 MiB), alone on the path:
    # ready = power-on (2 s) + law(kernel) + law(initrd); path boot -> tor01 -> r01s001,
    # RTT = 4 × 50 us, line rate = 1 Gbps (the server link). The initrd reuses the
    # keep-alive connection, whose window the 10 MiB kernel left open (warm).
    topo = one_rack(1)
    prof = get_profile("ipxe-current")
    grp = Group("g", "ipxe", prof, (("kernel", 10 * MIB), ("initrd", 50 * MIB)),
                Service("http1", "http", "boot"), power_on_at=2.0)
    run = simulate(topo, [grp], [("r01s001", "g")], name="t", seed=1)
    expect = (2.0 + http_plan(10 * MIB, prof.tcp, 200e-6, GBPS).seconds
              + http_plan(50 * MIB, prof.tcp, 200e-6, GBPS, connected=True, warm=True).seconds)
    (server,) = run.servers
    assert server.outcome == "ok"
    assert server.ready == pytest.approx(expect, rel=1e-9)
    phases = [r.phase for r in run.records]
    assert phases == ["power-on", "fetch:kernel", "fetch:initrd", "boot"]
    # records sum to the boot time
    assert sum(r.end - r.start for r in run.records) == pytest.approx(expect - 2.0, rel=1e-12)


def test_tftp_server_block_cost_and_loss_free_law():
    topo = one_rack(1)
    prof = get_profile("pxe-rom")
    grp = Group("g", "pxe", prof, (("nbp", 1 * MIB),),
                Service("tftp1", "tftp", "boot", block_cost=20e-6))
    run = simulate(topo, [grp], [("r01s001", "g")], name="t", seed=1)
    from dataclasses import replace
    plan = tftp_plan(MIB, replace(prof.tftp, server_block_cost=20e-6), 200e-6, [10 * GBPS, GBPS])
    assert run.servers[0].ready == pytest.approx(plan.seconds, rel=1e-9)


def test_storm_respects_line_rate_bound():
    # 40 servers × 100 MiB over a 10 Gbps host link, all at t=0 (1 Gbps server links, so
    # 10 servers would fill the host link): the makespan is at or above the line-rate
    # bound (wire bytes / 10 Gbps) and, with fair sharing, within 5 % of it.
    topo = one_rack(40)
    grp = Group("g", "ipxe", get_profile("ipxe-current"), (("image", 100 * MIB),),
                Service("http1", "http", "boot"))
    members = [(s, "g") for s in topo.servers()]
    run = simulate(topo, [grp], members, name="storm", seed=1)
    summary, servers, phases, _ = summarize(run, scenario="storm", question="", seed=1,
                                            mode="flow", notes=[])
    bound = summary["line_rate_bound"]
    assert bound["resource"] == "boot->tor01"
    assert summary["makespan"] >= bound["seconds"]
    assert summary["makespan"] <= 1.05 * bound["seconds"]
    assert summary["bottlenecks"][0]["resource"] == "boot->tor01"
    assert summary["completed"] == 40 and len(phases) == 120  # power-on, fetch, boot


def test_power_on_schedule_and_until():
    # 5 servers powered on at 1 per second; stop at t = 2.5: servers 4 and 5 never power on,
    # none can finish a 100 MiB fetch at 1 Gbps (0.84 s minimum) before... server 1 can.
    topo = one_rack(5)
    grp = Group("g", "ipxe", get_profile("ipxe-current"), (("image", 100 * MIB),),
                Service("http1", "http", "boot"), per_second=1.0)
    run = simulate(topo, [grp], [(s, "g") for s in topo.servers()], name="t", seed=1, until=2.5)
    outcomes = [s.outcome for s in run.servers]
    assert [s.power_on for s in run.servers] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert outcomes[0] == "ok" and outcomes[3:] == ["unfinished", "unfinished"]
    assert math.isnan(run.servers[4].ready)


def test_server_records_make_the_servers_frame():
    # One row per ServerRecord, in the fleet's order, the columns of servers.csv;
    # seconds = ready - power_on (NaN for a server never ready).
    recs = [ServerRecord("s1", "g", "r01", 1.0, 3.5, "ok", "", 10.0),
            ServerRecord("s2", "g", "", 2.0, math.nan, "failed", "dhcp: no offer", 0.0)]
    frame = servers_frame(recs)
    assert list(frame.columns) == SERVER_COLUMNS == [
        "server", "group", "rack", "power_on", "ready", "seconds", "outcome", "reason",
        "bytes"]
    assert list(frame.server) == ["s1", "s2"] and frame.seconds.iloc[0] == 2.5
    assert recs[0].seconds == 2.5 and math.isnan(frame.seconds.iloc[1])
    assert list(frame.reason) == ["", "dhcp: no offer"]
    assert servers_frame([]).columns.tolist() == SERVER_COLUMNS


@pytest.mark.parametrize("n", [3, 30])
def test_full_recompute_gives_identical_records(n):
    topo = one_rack(n)
    grp = Group("g", "pxe", get_profile("pxe-rom"), (("k", 5 * MIB), ("i", 20 * MIB)),
                Service("tftp1", "tftp", "boot"), per_second=7.0)
    members = [(s, "g") for s in topo.servers()]
    a = simulate(topo, [grp], members, name="t", seed=1)
    b = simulate(topo, [grp], members, name="t", seed=1, full_recompute=True)
    ra = sorted((r.server, r.phase, r.start, r.end) for r in a.records)
    rb = sorted((r.server, r.phase, r.start, r.end) for r in b.records)
    for x, y in zip(ra, rb, strict=True):
        assert x[:2] == y[:2]
        assert x[2] == pytest.approx(y[2], abs=1e-9) and x[3] == pytest.approx(y[3], abs=1e-9)


def test_calibrated_profile_adds_its_rom_start():
    # ipxe-2019-qemu carries rom_start fitted in the lab (QEMU start -> first DHCPDISCOVER);
    # the boot is that much longer than with the uncalibrated ipxe-current (rom_start 0).
    topo = one_rack(1)
    svc = Service("http1", "http", "boot")
    times = {}
    for name in ("ipxe-2019-qemu", "ipxe-current"):
        prof = get_profile(name)
        grp = Group("g", "ipxe", prof, (("k", 1000),), svc)
        run = simulate(topo, [grp], [("r01s001", "g")], name="t", seed=1)
        times[name] = (run.servers[0].ready, [r.phase for r in run.records])
    qemu = get_profile("ipxe-2019-qemu")
    assert qemu.rom_start > 1.0
    assert times["ipxe-2019-qemu"][1] == ["power-on", "firmware", "fetch:k", "boot"]
    assert times["ipxe-current"][1] == ["power-on", "fetch:k", "boot"]
    assert times["ipxe-2019-qemu"][0] > times["ipxe-current"][0] + qemu.rom_start - 0.01


def test_utilisation_timeline_shows_a_saturation_without_solves():
    # dc-boot-storm-2000 with 200 servers and no TFTP cap: all 200 lock-step flows start
    # within the observer's thinning interval (DHCP ends within ~0.1 s) and then share
    # boot1->tor-svc in one rate group, so the engine does not solve again for ~5 s. The
    # timeline must still show that link at 100 % for as long as the bottleneck
    # attribution says it was saturated (the observer wakes itself at the interval's
    # end), within one thinning interval (0.5 % of 18 s ≈ 0.1 s) at the start of each of
    # the two saturated phases (kernel, initrd). Before the wake-up, the timeline held
    # the first flow's 0.6 % for the whole storm.
    from pathlib import Path

    from netbootsim.api import simulate_scenario

    root = Path(__file__).resolve().parents[2]
    r = simulate_scenario(root / "scenarios/dc-boot-storm-2000.yaml",
                          overrides=["fleet[0].count=200", "services.tftp1.max_sessions=4096",
                                     "services.dhcp1.ping=false"])
    top = r.summary["bottlenecks"][0]
    assert top["resource"] == "boot1->tor-svc"
    t = r.timeline[r.timeline.resource == top["resource"]].sort_values("time")
    times, util = t.time.to_numpy(), t.utilisation.to_numpy()
    full = sum(b - a for a, b, u in zip(times[:-1], times[1:], util[:-1], strict=True)
               if u > 0.999)
    assert full == pytest.approx(top["saturated_seconds"], abs=0.2)


def test_fleet_run_settle_keeps_its_totals_in_fresh_objects():
    # settle() copies the totals that outlive the loop (same values, new objects), so
    # the loop's memory can be handed back (FleetRun.settle).
    from netbootsim.fleet.results import FleetRun

    run = FleetRun()
    total = 1.5e9 + 0.25
    run.wire_bytes["tor1->spine1"] = total
    run.capacity["tor1->spine1"] = 3.125e9
    run.first_last["tor1->spine1"] = [0.5, 7.25]
    run.settle()
    assert run.wire_bytes == {"tor1->spine1": 1.5e9 + 0.25}
    assert run.wire_bytes["tor1->spine1"] is not total
    assert run.capacity == {"tor1->spine1": 3.125e9}
    assert run.first_last == {"tor1->spine1": [0.5, 7.25]}
