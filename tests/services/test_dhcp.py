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


def _discovers(n, **server):
    """``n`` DISCOVERs read by a deaf-ping server at t = 0: when each one's read ends."""
    env = simpy.Environment()
    srv = DhcpServer(env, "d", deaf_ping=True, **server)
    out = []

    def client(i):
        offered = yield from srv.discover(f"c{i}", "lan")
        out.append((i, offered, env.now))

    for i in range(n):
        env.process(client(i))
    env.run()
    return sorted(out), srv


def test_a_deaf_ping_server_checks_one_address_at_a_time():
    # Stock dnsmasq: 0.5 ms per packet, then a 3 s ping during which it reads nothing;
    # after int(0.6 x 30 s / 3 s) = 6 checks within 30 s it offers without checking. Ten
    # DISCOVERs at t = 0: client k (k < 6) offered at (k + 1) x (3 s + 0.5 ms); clients
    # 6..9 at 6 x 3.0005 + (k - 5) x 0.5 ms. The lab (lab/dnsmasq-ping, dnsmasq 2.90):
    # OFFERs at 3.005, 6.08, 9.09, 12.16, 15.17, then five at 18.24 s.
    out, srv = _discovers(10, service_time=0.5e-3, ping=3.0)
    t = [x[2] for x in out]
    want = [(k + 1) * 3.0005 for k in range(6)] + [6 * 3.0005 + (k - 5) * 0.5e-3
                                                   for k in range(6, 10)]
    assert t == pytest.approx(want, abs=1e-9)
    assert srv.pings == 6 and all(x[1] for x in out)
    lab = [3.005, 6.084, 9.088, 12.164, 15.168] + [18.241] * 5
    assert max(abs(a - b) for a, b in zip(t, lab, strict=True)) < 0.25


def test_a_deaf_servers_full_socket_drops_and_a_checked_address_is_not_checked_again():
    # queue 3: the first DISCOVER is read at once, three wait in the socket, two are
    # dropped. A client's second DISCOVER after its check is offered without a new one.
    out, srv = _discovers(6, service_time=0.5e-3, ping=3.0, queue=3)
    assert [x[1] for x in out] == [True, True, True, True, False, False]
    assert srv.dropped == 2 and srv.pings == 4
    env = simpy.Environment()
    srv = DhcpServer(env, "d", deaf_ping=True, service_time=0.5e-3, ping=3.0)
    ends = []

    def twice():
        yield from srv.discover("c0", "lan")
        ends.append(env.now)
        yield from srv.discover("c0", "lan")  # a re-sent DISCOVER, read after the offer
        ends.append(env.now)

    env.process(twice())
    env.run()
    assert ends == pytest.approx([3.0005, 3.001]) and srv.pings == 1


def test_ipxe_clients_at_once_against_a_deaf_ping_server():
    # Ten iPXE clients (DISCOVERs at 0, 1, 3, 7 s, give-up at 15 s) at once: DISCOVERs
    # and re-sent copies queue behind each 3 s check, REQUESTs behind the remaining
    # DISCOVERs; with --no-ping (control) all ten are configured at the 1 s tick.
    m = DHCP.model("dnsmasq")
    out, _ = one(n=10, ping=m.ping, deaf_ping=True, queue=m.queue, no_pxedhcp=True,
                 ipv6_ra=True)
    ok = sum(r.outcome == "ok" for r in out)
    assert 0 < ok < 10
    failed = [r for r in out if r.outcome != "ok"]
    assert all("no DHCPOFFER" in r.reason and r.end == pytest.approx(15.0) for r in failed)
    out, _ = one(n=10, ping=0.0, deaf_ping=True, queue=m.queue, no_pxedhcp=True,
                 ipv6_ra=True)
    assert all(r.outcome == "ok" and r.end < 1.01 for r in out)


def test_eight_real_ipxe_guests_against_stock_dnsmasq_match_the_model():
    # lab/dnsmasq-ping/guests-result.json: 8 QEMU iPXE guests (Debian's 2019 ROM) powered
    # on together against dnsmasq 2.90; with its ping check 4 of 8 got a lease in each
    # run, 18.3-19.0 s after their first DISCOVER; with --no-ping 8 of 8, 3.02-3.09 s.
    # The model (lab/dnsmasq-ping/model-k8.yaml): the same counts; DHCP ends within
    # 1.5 s of the lab's (its checks take exactly 3 s, the lab's 3.0-3.3 s) and within
    # 0.1 s with --no-ping (the 3 s tick).
    import json
    from pathlib import Path

    from netbootsim.api import simulate_scenario

    lab = Path(__file__).resolve().parents[2] / "lab" / "dnsmasq-ping"
    runs = json.loads((lab / "guests-result.json").read_text())["runs"]
    for ping in (True, False):
        res = simulate_scenario(lab / "model-k8.yaml",
                                overrides=[f"services.dhcp1.ping={str(ping).lower()}"])
        ex = res.phases[res.phases.phase == "dhcp-exchange"]
        ok = ex[ex.outcome == "ok"]
        for run in (r for r in runs if r["dnsmasq_ping"] == ping):
            assert len(ok) == run["leases"]
            seen = [g["lease_s_since_first_discover"] for g in run["per_guest"] if g["lease"]]
            tol = 1.5 if ping else 0.1
            assert abs(ok.seconds.mean() - sum(seen) / len(seen)) < tol


def _uefi_pxe(offer_wait: float, blackout: float = 0.0, rtt: float = 1e-3, reaches=None):
    from netbootsim.services.dhcp import EDK2_WAITS, DhcpClient, dhcp_client

    env = simpy.Environment()
    srv = DhcpServer(env, "d", service_time=0.5e-3, ping=0.0,
                     boot_files={"uefi": "ipxe.efi"})
    c = DhcpClient("m", "rack01", [(srv, rtt, False)], ipxe=False, arch="uefi",
                   blackout_until=blackout, offer_wait=offer_wait, reaches=reaches,
                   request_waits=EDK2_WAITS)
    out = []

    def run():
        out.append((yield from dhcp_client(env, c)))

    env.process(run())
    env.run()
    return out[0]


def test_an_edk2_pxe_client_chooses_its_offer_only_when_a_discover_times_out():
    # The OFFER is back at 1.5 ms (RTT 1 ms + 0.5 ms server time): a PXE ROM that acts at
    # once sends its REQUEST then and holds the ACK at 3 ms. EDK2 (offer_wait 3.68 s)
    # REQUESTs at 3.68 s: ACK at 3.68 s + 1.5 ms.
    eager, edk2 = _uefi_pxe(0.0), _uefi_pxe(3.68)
    assert eager.exchange_end == pytest.approx(3.0e-3, abs=1e-12)
    assert edk2.exchange_end == pytest.approx(3.68 + 1.5e-3, abs=1e-12)
    assert edk2.boot_file == "ipxe.efi" and edk2.discovers == 1
    # DISCOVERs at 0 and 4 s lost (frames dropped until 5 s): the one of 12 s is offered
    # at once, but EDK2 chooses at its next timeout, 28 s less the same 0.32 s: 27.68 s
    late = _uefi_pxe(3.68, blackout=5.0)
    assert late.discovers == 3
    assert late.exchange_end == pytest.approx(27.68 + 1.5e-3, abs=1e-9)
    # its REQUESTs (3.68, 7.68, 15.68, 31.68 s) all lost: EDK2 gives up 32 s after the
    # fourth, at 63.68 s (iPXE's timer would have given up after 15.75 s)
    lost = _uefi_pxe(3.68, reaches=lambda name, t: t < 1.0)
    assert lost.outcome == "failed" and lost.reason == "no DHCPACK after 4 DHCPREQUESTs"
    assert lost.end == pytest.approx(63.68, abs=1e-9)
