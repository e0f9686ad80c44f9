"""iPXE's dhcp against a dnsmasq-like server, checked against the lab's measured timings."""

import math

import pytest
import simpy

from netbootsim.fleet import DhcpSpec, Group, LinkFaults, Service, simulate
from netbootsim.profiles import get_profile
from netbootsim.services.dhcp import IPV6_WAIT, DhcpServer, ipxe_dhcp
from netbootsim.services.registry import DHCP
from netbootsim.topology import HostSpec, LinkSpec, rack


def one(rtt=0.0, n=1, **server):
    env = simpy.Environment()
    srv = DhcpServer(env, "d", **server)
    out = []

    def client():
        out.append((yield from ipxe_dhcp(env, srv, rtt, ipv6=True)))

    for _ in range(n):
        env.process(client())
    env.run()
    return out, srv


def test_stock_dnsmasq_no_router_advertisement():
    # dnsmasq pings before offering: OFFER at 3 s + 0.5 ms; by then iPXE's 2 s ProxyDHCP
    # wait is over, so it REQUESTs at once: ACK at 3.001 s. The step then waits for IPv6
    # autoconfiguration to time out: 16.08 s. Lab (tests/data/lab/traces/tftp):
    # dhcp-exchange 3.007 s, dhcp 16.076 s.
    (r,), _ = one(service_time=0.5e-3, ping=DHCP.model("dnsmasq").ping)
    assert r.exchange_end == pytest.approx(3.0 + 2 * 0.5e-3, abs=1e-12)
    assert r.end == pytest.approx(IPV6_WAIT)
    assert abs(r.exchange_end - 3.007) / 3.007 < 0.01
    assert r.discovers == 3  # t = 0, 1, 3 (the lab saw 2: its guest clock runs 1.6 % slow)


def test_fast_config():
    # --no-ping, 175.176 and an RA: OFFER after 0.5 ms, but iPXE acts on it at its 1 s
    # timer tick; ACK 0.5 ms later. Lab (lab/traces/http-rtt0-r1): 0.990 s / 1.023 s.
    (r,), _ = one(ping=0.0, no_pxedhcp=True, ipv6_ra=True)
    assert r.exchange_end == pytest.approx(1.0005, abs=1e-12)
    assert r.end == r.exchange_end
    assert abs(r.end - 1.02) / 1.02 < 0.03


def test_plain_server_ends_at_the_3s_tick():
    # No ping, no 175.176: iPXE holds the offer for the ProxyDHCP wait and REQUESTs at the
    # first timer tick after 2 s, t = 3 s (net/udp/dhcp.c:438-446 [ipxe-src]).
    (r,), _ = one(ping=0.0, ipv6_ra=True)
    assert r.exchange_end == pytest.approx(3.0005, abs=1e-12)


def test_server_queue_in_a_storm():
    # 4,000 clients at once, 0.5 ms per packet: the last DISCOVER is answered after 2 s of
    # queueing; clients re-send DISCOVERs at 1 and 3 s (more packets, longer queue), and all
    # still finish (before iPXE's 15 s give-up).
    out, srv = one(n=4000, ping=0.0, no_pxedhcp=True, ipv6_ra=True)
    assert all(r.outcome == "ok" for r in out)
    assert max(r.end for r in out) > 2.0
    assert srv.packets > 2 * 4000  # duplicate DISCOVERs were served too


def test_unreachable_server_fails_at_15s():
    (r,), _ = one(ping=100.0)
    assert r.outcome == "failed" and r.end == pytest.approx(15.0)
    assert math.isnan(r.exchange_end) and r.discovers == 4


def test_fleet_runs_dhcp_before_fetching():
    topo = rack(2, server_link=LinkSpec(1e9 / 8, 50e-6),
                hosts=[HostSpec("boot", link=LinkSpec(1e9 / 8, 50e-6))])
    grp = Group("g", "ipxe", get_profile("ipxe-2019-qemu"), (("k", 1000),),
                Service("http1", "http", "boot"),
                dhcp=DhcpSpec("d", "boot", ping=0.0, no_pxedhcp=True, ipv6_ra=True))
    run = simulate(topo, [grp], [(s, "g") for s in topo.servers()], name="t", seed=1)
    phases = [r.phase for r in run.records if r.server == "r01s001"]
    assert phases == ["power-on", "firmware", "dhcp-exchange", "dhcp", "fetch:k", "boot"]


def test_lacp_outage_fails_stock_ipxe_and_the_32s_build_survives():
    # A LAG port drops frames for 20 s after link-up (TritonDataCenter/sdcboot#2). Stock
    # iPXE sends DISCOVERs at 0, 1, 3, 7 s — all lost — and gives up at 15 s. A build with
    # DHCP_DISC_END_TIMEOUT_SEC 32 also sends at 15 and 31 s: the 31 s one gets through.
    from dataclasses import replace

    topo = rack(1, server_link=LinkSpec(1e9 / 8, 50e-6),
                hosts=[HostSpec("boot", link=LinkSpec(1e9 / 8, 50e-6))])
    stock = get_profile("ipxe-2019-qemu")
    spec_build = replace(stock, dhcp_discover_end=32.0)
    dhcp = DhcpSpec("d", "boot", ping=0.0, no_pxedhcp=True, ipv6_ra=True)
    out = {}
    for name, prof in (("stock", stock), ("32s", spec_build)):
        grp = Group("g", "ipxe", prof, (("k", 1000),), Service("http1", "http", "boot"),
                    dhcp=dhcp, faults=LinkFaults(lacp=20.0))
        run = simulate(topo, [grp], [("r01s001", "g")], name="t", seed=1)
        dh = next(r for r in run.records if r.phase == "dhcp")
        out[name] = (run.servers[0].outcome, dh.outcome, round(dh.end - dh.start, 3), dh.reason)
    assert out["stock"][:3] == ("failed", "failed", 15.0)
    assert "after 4 DISCOVERs" in out["stock"][3]
    # the 31 s DISCOVER is answered after 0.5 ms + RTT; iPXE requests at once (> 2 s)
    assert out["32s"][:2] == ("ok", "ok") and 31.0 < out["32s"][2] < 31.01
