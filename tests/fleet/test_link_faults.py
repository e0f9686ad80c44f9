"""A link of a server's LACP pair down: the bundle hashes its transfers onto the other.

The small scenario (one rack, ``boot1``, HTTP) with ``nics: 2``: each server has two
parallel links to its ToR, ``tor01--r01s001`` and ``tor01--r01s001#2``, and a transfer
is hashed onto one of them (server ``r01s001``'s kernel and initrd land on ``#2``). With
that member down for the whole run, a LAG carries everything on the member that is up
(IEEE 802.1AX: a member whose link is down leaves the aggregation), so the server boots
as if nothing were down, over the other link. Before, the fetch hashed onto the dead
member and waited for it until the client gave up.
"""

from __future__ import annotations

import pytest
from small_scenarios import scenario

from netbootsim.api import simulate_scenario
from netbootsim.topology import Topology


def lacp_scenario(down: str | None) -> dict:
    sc = scenario(servers=2)
    sc["topology"]["nics"] = 2
    sc["fleet"][0]["count"] = 2
    if down is not None:
        sc["faults"] = [{"kind": "link-down", "target": down, "at": "0s"}]
    return sc


def test_a_transfer_hashed_onto_a_dead_lacp_member_moves_to_the_live_one():
    base = simulate_scenario(lacp_scenario(None))
    assert base.summary["completed"] == 2
    cut = simulate_scenario(lacp_scenario("tor01--r01s001#2"))
    assert cut.summary["completed"] == 2
    # nothing else differs: the other member is as fast, so every server is ready when
    # it was (same seed, same draws)
    a = base.servers.set_index("server")["ready"]
    b = cut.servers.set_index("server")["ready"]
    assert b.to_dict() == a.to_dict()


def test_with_both_members_down_dhcp_hears_nothing():
    # both links of the pair down for good: no DISCOVER reaches the DHCP server, so iPXE
    # gives up after its 4 DISCOVERs (0, 1, 3, 7 s; 15 s); the other server boots
    sc = lacp_scenario(None)
    sc["faults"] = [{"kind": "link-down", "target": f"tor01--r01s001{s}", "at": "0s"}
                    for s in ("", "#2")]
    res = simulate_scenario(sc)
    row = res.servers.set_index("server").loc["r01s001"]
    assert row["outcome"] == "failed"
    assert "no DHCPOFFER after 4 DISCOVERs (15 s)" in row["reason"]
    assert res.servers.set_index("server").loc["r01s002", "outcome"] == "ok"


def test_dhcp_waits_out_a_named_link_outage():
    # The server's link is down from 0 to 5 s: iPXE's DISCOVERs at 0, 1 and 3 s are
    # lost, the one at 7 s is answered. iPXE has then waited past its 1 s for offers, so
    # it requests at once: the exchange ends at 7 s + two exchanges (DISCOVER/OFFER,
    # REQUEST/ACK), where without the outage it ends at 1 s + one (REQUEST/ACK after
    # the 1 s wait).
    sc = scenario(servers=1)
    base = simulate_scenario(sc).phases.set_index("phase").loc["dhcp", "end"]
    one = base - 1.0
    sc["faults"] = [{"kind": "link-down", "target": "tor01--r01s001", "at": "0s",
                     "duration": "5s"}]
    res = simulate_scenario(sc)
    assert res.phases.set_index("phase").loc["dhcp", "end"] == pytest.approx(
        7.0 + 2 * one, abs=1e-9)
    assert res.servers.outcome.tolist() == ["ok"]


def test_path_hashes_over_the_members_that_are_up():
    # 2 parallel links a--b: the flow key "k" picks one of them; with that one down the
    # path takes the other; with both down it keeps the hash's choice (caller finds it
    # down); a key hashed onto the live one is not moved.
    t = Topology()
    t.add_node("a", "server", nics=2)
    t.add_node("b", "switch")
    t.add_node("c", "host")
    t.add_link("a", "b", bandwidth=1e9, latency=1e-6)
    t.add_link("a", "b", bandwidth=1e9, latency=1e-6)
    t.add_link("b", "c", bandwidth=1e9, latency=1e-6)
    links = sorted({ld.link for ld in t.link_dirs() if "c" not in ld.link})
    for key in ("k1", "k2", "k3", "k4"):
        first = t.path("c", "a", key)[-1].link
        other = next(x for x in links if x != first)
        assert t.path("c", "a", key, down={first})[-1].link == other
        assert t.path("c", "a", key, down={other})[-1].link == first
        assert t.path("c", "a", key, down=set(links))[-1].link == first
        assert t.path("a", "c", key, down={first})[0].link == other


# ---------------------------------------------------------------- server-fail faults
def two_servers(faults=None) -> dict:
    sc = scenario(servers=2)
    sc["fleet"][0]["count"] = 2
    if faults is not None:
        sc["faults"] = faults
    return sc


def test_a_server_that_fails_mid_transfer_frees_its_share():
    # Two servers fetch the same images from boot1 at once, sharing its link. r01s001
    # fails 0.5 s into the run (during the transfers: each takes seconds at half of
    # boot1's 10 Gb/s... the base run's ready times say when); its flow is cut, so
    # r01s002 gets the whole link sooner and is ready earlier than in the base run.
    base = simulate_scenario(two_servers()).servers.set_index("server")
    t_fail = 0.5 * float(base.loc["r01s002", "ready"])
    res = simulate_scenario(two_servers(
        [{"kind": "server-fail", "target": "r01s001", "at": f"{t_fail}s"}]))
    srv = res.servers.set_index("server")
    assert srv.loc["r01s001", "outcome"] == "failed"
    assert srv.loc["r01s001", "reason"] == f"server failed at {t_fail:g} s (server-fail fault)"
    assert srv.loc["r01s002", "outcome"] == "ok"
    assert srv.loc["r01s002", "ready"] < base.loc["r01s002", "ready"]
    ph = res.phases[res.phases.server == "r01s001"]
    row = ph[ph.phase == "server-fail"].iloc[0]
    assert row.start == row.end == t_fail and row.outcome == "failed"
    assert ph.end.max() <= t_fail + 1e-12  # nothing of it goes on after the failure


def test_a_server_that_fails_before_its_power_on_never_boots():
    sc = two_servers([{"kind": "server-fail", "target": "r01s002", "at": "0s"}])
    sc["fleet"][0]["power_on"] = {"at": "1s"}
    res = simulate_scenario(sc)
    srv = res.servers.set_index("server")
    assert srv.loc["r01s002", "outcome"] == "failed"
    assert set(res.phases[res.phases.server == "r01s002"].phase) == {"server-fail"}
    assert srv.loc["r01s001", "outcome"] == "ok"


def test_a_ready_server_is_not_affected_and_a_group_target_fails_all():
    base = simulate_scenario(two_servers()).servers
    late = float(base.ready.max()) + 1.0
    res = simulate_scenario(two_servers(
        [{"kind": "server-fail", "target": "g", "at": f"{late}s"}]))
    assert res.servers.outcome.tolist() == ["ok", "ok"]
    assert res.servers.ready.tolist() == base.ready.tolist()
    res = simulate_scenario(two_servers([{"kind": "server-fail", "target": "g", "at": "0.01s"}]))
    assert res.servers.outcome.tolist() == ["failed", "failed"]


def test_bad_server_fail_faults_are_refused(tmp_path):
    import pytest

    from netbootsim.errors import InputError

    with pytest.raises(InputError) as e:
        simulate_scenario(two_servers([{"kind": "server-fail", "target": "r01s009"}]))
    assert "faults[0].target" in str(e.value.problems[0]) and "r01s00" in str(e.value)
    with pytest.raises(InputError) as e:
        simulate_scenario(two_servers([{"kind": "server-fail", "target": "r01s001",
                                        "duration": "5s"}]))
    assert "faults[0].duration" in str(e.value.problems[0])


# ------------------------------------------------------------ repeated fault windows
def test_a_flapping_service_holds_each_fetch_that_meets_a_window():
    # One server; http1 down 0.5 s every 0.502 s from t = 1 s: windows [1, 1.5),
    # [1.502, 2.002), [2.004, 2.504). The base run's DHCP ends at ~1.0005 s (inside the
    # first window): the kernel fetch waits to 1.5 and takes what it took in the base
    # run (k). One window only (times: 1): ready = 1.5 + k + i.
    base = simulate_scenario(scenario(servers=1))
    ph = base.phases.set_index("phase")
    k = ph.loc["fetch:kernel", "end"] - ph.loc["fetch:kernel", "start"]
    i = ph.loc["fetch:initrd", "end"] - ph.loc["fetch:initrd", "start"]
    assert 1.0 < ph.loc["dhcp", "end"] < 1.5 and 1.502 < 1.5 + k < 2.002

    def run(times):
        sc = scenario(servers=1)
        sc["faults"] = [{"kind": "service-down", "target": "http1", "at": "1s",
                         "duration": "0.5s", "every": "0.502s", "times": times}]
        return simulate_scenario(sc)

    assert abs(float(run(1).servers.ready.iloc[0]) - (1.5 + k + i)) < 1e-9
    # Three windows: the kernel's data (1.5 to 1.5 + k) is still moving when the second
    # window opens at 1.502: the mirror dies under it and the connection with it. The
    # server is silent (no reset); it is back at 2.002 with no such connection, so
    # iPXE's next keep-alive (every 15 s from 1.502) is answered by a reset: the fetch
    # fails at 16.502 s (before ipxe-current's 120 s HTTP watchdog), and the default
    # script has no retry
    res = run(3)
    srv = res.servers.iloc[0]
    assert srv.outcome == "failed"
    assert "fetch:kernel: connection reset: http1 down at 1.502 s, back at 2.002 s" in \
        srv.reason
    end = res.phases.set_index("phase").loc["fetch:kernel", "end"]
    assert abs(end - 16.502) < 1e-9


def test_bad_repeated_faults_are_refused():
    import pytest

    from netbootsim.errors import InputError

    def problems(**f):
        sc = scenario(servers=1)
        sc["faults"] = [{"kind": "link-down", "target": "tor01--r01s001", "at": "1s", **f}]
        with pytest.raises(InputError) as e:
            simulate_scenario(sc)
        return [str(p) for p in e.value.problems]

    assert "faults[0].times: required with every" in problems(every="2s", duration="1s")[0]
    assert "faults[0].every: required with times" in problems(times=3, duration="1s")[0]
    assert "not shorter than every" in problems(every="1s", times=2, duration="1s")[0]
    assert "faults[0].duration: required with every" in problems(every="1s", times=2)[0]


# ------------------------------------------------------------------ multi-site topology
def multi(**topo) -> dict:
    return {"topology": {"shape": "multi-site", "sites": 2, "racks": 1,
                         "servers_per_rack": 2, "wan": {"bandwidth": "1Gbps",
                                                        "latency": "20ms"},
                         "hosts": [{"name": "central"}], **topo},
            "services": {"dhcp1": {"kind": "dhcp", "host": "central", "ping": False},
                         "http1": {"kind": "http", "host": "central", "model": "nginx"}},
            "images": {"kernel": {"size": "8MiB"}},
            "fleet": [{"name": "g", "count": 4, "boot": "ipxe", "images": ["kernel"],
                       "server": "http1"}]}


def test_a_multi_site_fleet_boots_over_its_wan_links():
    res = simulate_scenario(multi())
    assert res.summary["completed"] == 4
    # every server's DHCP is relayed by its site's router across the WAN: the exchange
    # takes at least two WAN round trips (DISCOVER/OFFER, REQUEST/ACK) of 40 ms
    ex = res.phases[res.phases.phase == "dhcp-exchange"]
    assert ((ex.end - ex.start) >= 0.08).all()


def test_a_multi_site_without_its_wan_or_with_servers_is_refused():
    import pytest

    from netbootsim.errors import InputError

    sc = multi()
    del sc["topology"]["wan"]
    sc["topology"]["servers"] = 4
    with pytest.raises(InputError) as e:
        simulate_scenario(sc)
    text = [str(p) for p in e.value.problems]
    assert any("topology.wan: required for shape 'multi-site'" in t for t in text)
    assert any("topology.servers: not used by shape 'multi-site'" in t for t in text)


def test_a_multi_site_without_its_wan_exits_2_at_its_line_with_nothing_written(tmp_path):
    from small_scenarios import cli_refuses

    sc = multi()
    del sc["topology"]["wan"]
    assert "topology.wan: required for shape 'multi-site'" in cli_refuses(sc, tmp_path)


def test_a_sites_relay_forwards_to_its_own_dhcp_server_only():
    # Two sites, each with a DHCP server on a host at its router (s01-boot, s02-boot),
    # each site's group naming its own. Site 2's relay forwards to dhcp2 (its helper),
    # not to dhcp1 across two WAN links: every server's lease comes from its own site's
    # server, and its exchange crosses no WAN (about 1 ms, against ≥ 80 ms over a WAN
    # round trip of 40 ms each way twice). Before, every DHCP server heard every client
    # and the first by name (dhcp1) served both sites over the WAN.
    sc = multi(hosts=[{"name": "central"},
                      {"name": "s01-boot", "attach": "s01-rtr"},
                      {"name": "s02-boot", "attach": "s02-rtr"}])
    sc["services"] = {
        "dhcp1": {"kind": "dhcp", "host": "s01-boot", "ping": False, "no_pxedhcp": True},
        "dhcp2": {"kind": "dhcp", "host": "s02-boot", "ping": False, "no_pxedhcp": True},
        "http1": {"kind": "http", "host": "central", "model": "nginx"}}
    sc["fleet"] = [{"name": f"site{k}", "count": 2, "racks": [f"s0{k}-rack01"],
                    "boot": "ipxe", "images": ["kernel"], "server": "http1",
                    "dhcp": f"dhcp{k}"} for k in (1, 2)]
    res = simulate_scenario(sc)
    assert res.summary["completed"] == 4
    ex = res.phases[res.phases.phase == "dhcp-exchange"].set_index("server")
    assert ex.endpoint.to_dict() == {"s01r01s001": "dhcp1", "s01r01s002": "dhcp1",
                                     "s02r01s001": "dhcp2", "s02r01s002": "dhcp2"}
    # REQUEST at the 1 s tick (no-pxedhcp), then a LAN round trip and the server's
    # 0.5 ms per packet, the second client's after the first's: 1.0005 and 1.0010 s
    assert ((ex.end - 1.0) < 2e-3).all()
    assert res.summary["dhcp"]["servers"]["dhcp1"]["leases"] == 2


def two_dhcp_servers() -> dict:
    # boot2 beside boot1 on the ToR, with a second DHCP server of the same model: both
    # hear the client's DISCOVER in its one L2 domain, and iPXE acts on the offer of the
    # first by name (dhcp1)
    sc = scenario(servers=1)
    sc["topology"]["hosts"].append({"name": "boot2"})
    sc["services"]["dhcp2"] = {**sc["services"]["dhcp1"], "host": "boot2"}
    return sc


def test_a_dhcp_server_cut_off_by_a_link_down_does_not_answer():
    # boot1's link is down from 0 to 3 s: dhcp1 hears no DISCOVER while it is, so only
    # dhcp2's offer comes back and iPXE takes it. Same model and same round trip as
    # dhcp1, so the exchange ends exactly when it ends with no fault (then with dhcp1).
    # The kernel and initrd come from boot1 after its link is back at 3 s. Before, a
    # server cut off still answered, and the exchange was dhcp1's.
    base = simulate_scenario(two_dhcp_servers())
    b = base.phases.set_index("phase").loc["dhcp"]
    assert b["endpoint"] == "dhcp1"
    sc = two_dhcp_servers()
    sc["faults"] = [{"kind": "link-down", "target": "tor01--boot1", "at": "0s",
                     "duration": "3s"}]
    res = simulate_scenario(sc)
    d = res.phases.set_index("phase").loc["dhcp"]
    assert d["endpoint"] == "dhcp2"
    assert d["end"] == pytest.approx(b["end"], abs=1e-12)
    assert res.servers.outcome.tolist() == ["ok"]


def test_dhcp_servers_all_cut_off_wait_for_the_first_back():
    # both hosts' links down, boot1's until 5 s, boot2's until 2 s: the DISCOVERs at 0
    # and 1 s reach nobody and the one at 3 s reaches dhcp2 only (boot1 still down), so
    # dhcp2 answers. Its offer arrives after 3 s, iPXE has waited past its first 1 s,
    # so the exchange ends at 3 s + (DISCOVER/OFFER) + (REQUEST/ACK), as in
    # test_dhcp_waits_out_a_named_link_outage with 7 s.
    sc = two_dhcp_servers()
    base = simulate_scenario(sc).phases.set_index("phase").loc["dhcp", "end"]
    one = base - 1.0  # one exchange's round trip and service times
    sc["faults"] = [{"kind": "link-down", "target": "tor01--boot1", "at": "0s",
                     "duration": "5s"},
                    {"kind": "link-down", "target": "tor01--boot2", "at": "0s",
                     "duration": "2s"}]
    d = simulate_scenario(sc).phases.set_index("phase").loc["dhcp"]
    assert d["endpoint"] == "dhcp2"
    assert d["end"] == pytest.approx(3.0 + 2 * one, abs=1e-9)


def test_a_lossy_wan_slows_http_by_the_tcp_law_and_tftp_by_its_timer():
    # Two sites, the image server central behind each site's 1 Gb/s, 20 ms WAN link
    # (RTT 40.008 ms to a server, rack links included), one server fetching 8 MiB.
    # HTTP: the fetch is the handshake's RTT, the request's and response's half RTTs and
    # the data time by the TCP law: without loss tcp_data_time (slow start, then the
    # window), 0.49 s; with 1 % loss on the WAN the rounds drawn from the run's law stream
    # (tcp_loss_rounds, the mirror's default CUBIC; the only transfer, so its first
    # draws): 11.61 s in this draw (52 segments lost, 37 window cuts: a loss inside the
    # recovery episode of the one before it cuts nothing; 11.24 s, 48 and 35 before
    # episodes reached into the next round, whose head is now drawn apart; Mathis et
    # al.'s expected value would be 19.0 s).
    # TFTP: the lock-step law with the loss, each block's retries drawn
    # from the run's law stream (the only transfer, so its first draws), with the
    # server's own resend timer (dnsmasq's, the default model; no block cost): 234.5 s
    # clean (5,858 blocks of 1,432 B, a round trip each), 362.1 s with the 1 % loss.
    from dataclasses import replace

    from netbootsim.profiles import get_profile
    from netbootsim.protocols import tftp_plan
    from netbootsim.protocols.tcp import (
        RESPONSE_HEADER_BYTES,
        tcp_data_time,
        tcp_loss_rounds,
        tcp_wire_bytes,
    )
    from netbootsim.scenario import Scenario
    from netbootsim.scenario.build import build
    from netbootsim.services.registry import TFTP
    from netbootsim.streams import Streams

    def lossy(loss, server):
        sc = multi(wan={"bandwidth": "1Gbps", "latency": "20ms", "loss": loss})
        sc["services"]["tftp1"] = {"kind": "tftp", "host": "central"}
        sc["fleet"][0].update(count=1, server=server)
        return sc

    built = build(Scenario.from_dict(lossy(0.0, "http1")))
    fwd, _, rtt = built.topology.round_trip("central", "s01r01s001")
    assert rtt == pytest.approx(0.040008, abs=1e-12)
    prof = get_profile(built.groups["g"].profile)
    line = min(min(ld.capacity for ld in fwd), prof.http_client_rate)
    wire = tcp_wire_bytes(8 * 2**20 + RESPONSE_HEADER_BYTES, prof.tcp.mss)
    got = {}
    for loss in (0.0, 0.01):
        res = simulate_scenario(lossy(loss, "http1"))
        (got[loss],) = res.phases[res.phases.phase == "fetch:kernel"].seconds
        r = rtt + prof.tcp_client_delay
        if loss:
            drawn = tcp_loss_rounds(wire, prof.tcp, r, line, loss,
                                    Streams(res.summary["seed"]).rng("net", "laws"))
            law = 2 * rtt + drawn.data_time + drawn.tail
            assert (drawn.lost, drawn.cuts) == (52, 37)
        else:
            law = 2 * rtt + tcp_data_time(wire, prof.tcp, r, line)
        assert got[loss] == pytest.approx(law, rel=1e-9)
    assert got[0.0] == pytest.approx(0.4897, abs=1e-4) and got[0.01] > 20 * got[0.0]

    caps = [ld.capacity for ld in fwd]
    tftp = replace(prof.tftp, server_block_cost=0.0, server_retransmit=TFTP.model().retransmit)
    took = {}
    for loss in (0.0, 0.01):
        res = simulate_scenario(lossy(loss, "tftp1"))
        (took[loss],) = res.phases[res.phases.phase == "fetch:kernel"].seconds
        law = tftp_plan(8 * 2**20, tftp, rtt, caps, loss, loss,
                        rng=Streams(res.summary["seed"]).rng("net", "laws") if loss else None)
        assert took[loss] == pytest.approx(law.seconds, rel=1e-9)
    assert took[0.01] > 1.2 * took[0.0]
