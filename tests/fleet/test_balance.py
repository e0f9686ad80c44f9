"""302 redirectors in front of HTTP mirrors: cost of a redirect, choice of mirror, health.

The small scenario (one rack; boot1 one hop from the servers: a 4 us round trip) with a
redirector lb1 on boot1 (0.1 ms per request) in front of http mirrors.
"""

from __future__ import annotations

import pytest
from small_scenarios import cli_refuses, scenario

from netbootsim.api import simulate_scenario
from netbootsim.errors import InputError
from netbootsim.fleet.balance import out_windows
from netbootsim.fleet.faults import Window

RTT = 4e-6
LB_TIME = 0.1e-3


def lb_scenario(servers=1, pool=("http1",), script=None, **lb) -> dict:
    sc = scenario(servers=servers)
    sc["fleet"][0]["count"] = servers
    sc["services"]["http2"] = {"kind": "http", "host": "boot1", "model": "nginx"}
    sc["services"]["lb1"] = {"kind": "lb", "host": "boot1", "pool": list(pool), **lb}
    sc["fleet"][0]["script"] = script or (
        "#!ipxe\ndhcp\nkernel http://lb1/kernel\ninitrd http://lb1/initrd\nboot\n")
    return sc


def test_a_redirect_costs_one_round_trip_and_one_handshake_then_a_round_trip():
    # Through lb1 (pool: http1 only) against http1 directly: the kernel's redirect opens
    # a connection to lb1 (handshake: one RTT) and asks (one RTT + 0.1 ms); the initrd's
    # reuses it (one RTT + 0.1 ms). The fetches from http1 are the same as direct ones.
    # So ready(lb) - ready(direct) = 3 RTT + 2 x 0.1 ms = 0.212 ms.
    direct = scenario(servers=1)
    direct["fleet"][0]["script"] = ("#!ipxe\ndhcp\nkernel http://http1/kernel\n"
                                    "initrd http://http1/initrd\nboot\n")
    a = float(simulate_scenario(direct).servers.ready.iloc[0])
    res = simulate_scenario(lb_scenario())
    b = float(res.servers.ready.iloc[0])
    assert b - a == pytest.approx(3 * RTT + 2 * LB_TIME, abs=1e-12)
    red = res.phases[res.phases.phase.str.startswith("redirect:")]
    assert (red.end - red.start).tolist() == pytest.approx(
        [2 * RTT + LB_TIME, RTT + LB_TIME], abs=1e-12)
    assert red.reason.tolist() == ["302 to http1", "302 to http1"]


def fast_slow(algorithm: str) -> dict:
    # Mirror "slow" on boot2 behind a 10 Mb/s link (an 8 MiB kernel: ~6.7 s), mirror
    # "fast" on boot1 (25 Gb/s: ~ms); the pool lists slow first. Four servers power on
    # 1 s apart and each fetches its kernel once, at ~1, 2, 3 and 4 s.
    # round-robin: slow, fast, slow, fast -> 2 and 2.
    # least-connections: the 1st finds both idle -> slow (the pool's order); the slow
    # transfer runs until ~7.7 s, so the 2nd, 3rd and 4th find slow busy -> fast: 1 and 3.
    sc = scenario(servers=4)
    sc["topology"]["hosts"].append({"name": "boot2", "link": {"bandwidth": "10Mbps"}})
    sc["services"]["slow"] = {"kind": "http", "host": "boot2", "model": "nginx"}
    sc["services"]["fast"] = {"kind": "http", "host": "boot1", "model": "nginx"}
    sc["services"]["lb1"] = {"kind": "lb", "host": "boot1", "pool": ["slow", "fast"],
                             "algorithm": algorithm}
    g = sc["fleet"][0]
    g.update({"count": 4, "images": ["kernel"], "power_on": {"at": "0s", "per_second": 1},
              "script": "#!ipxe\ndhcp\nkernel http://lb1/kernel\nboot\n"})
    return sc


@pytest.mark.parametrize("algorithm, counts", [
    ("round-robin", {"slow": 2, "fast": 2}),
    ("least-connections", {"slow": 1, "fast": 3}),
    # least-bytes: the 1st finds 0 bytes at both -> slow; slow then holds the 8 MiB
    # kernel until ~7.7 s while fast's transfers end in ms (0 bytes left at each
    # arrival) -> fast for the 2nd, 3rd and 4th: 1 and 3
    ("least-bytes", {"slow": 1, "fast": 3}),
])
def test_least_connections_sends_more_clients_to_the_faster_mirror(algorithm, counts):
    ph = simulate_scenario(fast_slow(algorithm)).phases
    got = ph[ph.phase == "fetch:kernel"].groupby("endpoint").size().to_dict()
    assert got == counts


def test_least_bytes_weighs_what_is_being_served_not_how_many():
    # http1 serves one 64 MiB initrd, http2 two 8 MiB kernels: least-connections picks
    # http1 (1 < 2), least-bytes http2 (16 MiB < 64 MiB); both out of reach -> None
    from netbootsim.fleet.balance import Balancer, LbSpec

    def lb(algorithm):
        return Balancer(LbSpec("lb1", "boot1", ("http1", "http2"), algorithm, 1e-4, 2.0,
                               3, 2), {})
    running = {"http1": 1, "http2": 2}
    left = {"http1": 64.0 * 2**20, "http2": 16.0 * 2**20}
    assert lb("least-connections").pick("s1", 0.0, running, left) == "http1"
    assert lb("least-bytes").pick("s1", 0.0, running, left) == "http2"
    gone = Balancer(LbSpec("lb1", "boot1", ("http1",), "least-bytes", 1e-4, 2.0, 1, 1),
                    {"http1": [Window(0.0, float("inf"))]})
    assert gone.pick("s1", 10.0, running, left) is None


def test_nearest_sends_every_client_to_the_mirror_with_the_shortest_round_trip():
    # "far" (listed first) sits behind a 2 ms link, "near" one hop from the servers:
    # nearest sends all four to near; least-connections sends the first to far (both
    # idle: the pool's order breaks the tie).
    sc = fast_slow("nearest")
    sc["topology"]["hosts"][-1] = {"name": "boot2", "link": {"bandwidth": "25Gbps",
                                                             "latency": "2ms"}}
    sc["services"]["lb1"]["pool"] = ["far", "near"]
    sc["services"]["far"] = sc["services"].pop("slow")
    sc["services"]["near"] = sc["services"].pop("fast")
    ph = simulate_scenario(sc).phases
    got = ph[ph.phase == "fetch:kernel"].groupby("endpoint").size().to_dict()
    assert got == {"near": 4}
    sc["services"]["lb1"]["algorithm"] = "least-connections"
    ph = simulate_scenario(sc).phases
    first = ph[(ph.phase == "fetch:kernel") & (ph.server == "r01s001")]
    assert first.endpoint.tolist() == ["far"]


def test_source_hash_keeps_a_client_on_one_mirror():
    ph = simulate_scenario(lb_scenario(servers=4, pool=("http1", "http2"),
                                       algorithm="source-hash")).phases
    fetched = ph[ph.phase.str.startswith("fetch:")]
    assert all(g.endpoint.nunique() == 1 for _, g in fetched.groupby("server"))


def test_health_checks_take_a_dead_mirror_out_after_fall_checks():
    # A refused check (timeout 0). Interval 2 s, fall 3, rise 2; down from 5 to 20 s:
    # failed checks at 6, 8, 10 s -> out from 10 s; checks pass from 20 s -> back at
    # 22 s. Down 5 to 9 s: only 2 failed checks (6, 8): never out. Down for good from
    # 0.5 s: out from 2 + 2 x 2 = 6 s.
    assert out_windows([Window(5.0, 20.0)], 2.0, 3, 2) == [Window(10.0, 22.0)]
    assert out_windows([Window(5.0, 9.0)], 2.0, 3, 2) == []
    assert out_windows([Window(0.5, float("inf"))], 2.0, 3, 2) == [Window(6.0, float("inf"))]


def test_checks_of_a_mirror_that_does_not_answer_wait_their_timeout():
    # HAProxy's defaults: interval 2 s, timeout 2 s (timeout check unset: inter), fall 3,
    # rise 2; the next check starts 2 s after the previous one ended.
    # Down 5-20 s: checks start at 6, 10, 14 s and fail at 8, 12, 16 s -> out from
    # 16 = first + fall x timeout + (fall - 1) x interval = 6 + 6 + 4; the check of 18 s
    # fails at 20 s; 22 and 24 s pass -> back at 24 s.
    assert out_windows([Window(5.0, 20.0)], 2.0, 3, 2, 2.0) == [Window(16.0, 24.0)]
    # down for good from 0.5 s: checks of 2, 6, 10 s fail at 4, 8, 12 s
    assert out_windows([Window(0.5, float("inf"))], 2.0, 3, 2, 2.0) == \
        [Window(12.0, float("inf"))]
    # down 5-13 s: checks of 6 and 10 s fail; 14 s passes: never out
    assert out_windows([Window(5.0, 13.0)], 2.0, 3, 2, 2.0) == []
    # back between two outages for one passing check only (22 s; 24 s is down again):
    # it stays out until two checks pass in a row, at 40 and 42 s
    assert out_windows([Window(5.0, 20.0), Window(23.0, 40.0)], 2.0, 3, 2, 2.0) == \
        [Window(16.0, 42.0)]


def test_fast_and_down_intervals_as_keepalived_and_haproxy_use_them():
    # keepalived (model lvs): interval 60 s, timeout 5 s, fall 2, rise 1, retry after
    # 1 s, 60 s while out. Down 100-300 s: checks of 0 and 60 s pass; 120 s fails at
    # 125 s, its retry at 126 s fails at 131 s -> out from 131 s; checks of 191 and
    # 256 s fail; 321 s passes -> back at 321 s.
    assert out_windows([Window(100.0, 300.0)], 60.0, 2, 1, 5.0, fast=1.0, down=60.0) == \
        [Window(131.0, 321.0)]
    # HAProxy with fastinter 1 s, downinter 5 s (inter 2, timeout 2, fall 3, rise 2);
    # down 5-20 s: 6 s fails at 8, 9 s at 11, 12 s at 14 -> out from 14 s; 19 s fails at
    # 21 s; 26 s passes, then 27 s (fastinter) -> back at 27 s.
    assert out_windows([Window(5.0, 20.0)], 2.0, 3, 2, 2.0, fast=1.0, down=5.0) == \
        [Window(14.0, 27.0)]


def test_lvs_balances_connections_only():
    sc = lb_scenario(model="lvs")
    with pytest.raises(InputError) as e:
        simulate_scenario(sc)
    assert "services.lb1.mode: model lvs (IPVS) balances connections" in \
        " ".join(str(p) for p in e.value.problems)
    sc["services"]["lb1"]["mode"] = "l4"
    res = simulate_scenario(sc)
    assert res.servers.outcome.tolist() == ["ok"]
    note = next(n for n in res.summary["notes"] if n.startswith("Load balancer"))
    assert "l4, least-connections" in note and "every 60 s" in note
    assert "IPVS and keepalived's defaults" in note


def test_clients_sent_to_a_dead_mirror_fall_back_and_late_ones_are_not_sent_there():
    # http1 down from 0.5 s for good: until the checks take it out (12 s: checks of 2,
    # 6 and 10 s, each failing 2 s later, HAProxy's timeout) round-robin
    # still sends every other request there; the script's || retries through lb1 and
    # gets http2. A server powered on at 20 s is only ever sent to http2.
    script = ("#!ipxe\ndhcp\nkernel http://lb1/kernel || kernel http://lb1/kernel\n"
              "boot\n")
    sc = lb_scenario(servers=2, pool=("http1", "http2"), script=script)
    sc["fleet"][0]["images"] = ["kernel"]
    sc["faults"] = [{"kind": "service-down", "target": "http1", "at": "0.5s"}]
    sc["fleet"][0]["power_on"] = {"at": "0s", "per_second": 0.05}  # 0 s and 20 s
    res = simulate_scenario(sc)
    ph = res.phases
    first = ph[ph.server == "r01s001"]
    red = first[first.phase == "redirect:kernel"].reason.tolist()
    assert red == ["302 to http1", "302 to http2"]
    fetch = first[first.phase == "fetch:kernel"]
    assert fetch.outcome.tolist() == ["failed", "ok"]
    late = ph[(ph.server == "r01s002") & (ph.phase == "redirect:kernel")]
    assert late.reason.tolist() == ["302 to http2"]
    assert res.servers.outcome.tolist() == ["ok", "ok"]
    # the failed fetch is no failure of the fleet, and the summary counts it
    (why, rec), = res.summary["recovered"].items()
    assert why == fetch.reason.iloc[0] and rec["attempts"] == 1 and rec["servers"] == 1
    assert rec["seconds"] == pytest.approx(float(fetch.seconds.iloc[0]))


def test_every_mirror_out_is_a_503():
    # http1 down from 0 s: checks of 0, 4 and 8 s fail 2 s later, out from 10 s; the
    # request comes after DHCP and 12 s of sleep
    sc = lb_scenario(script="#!ipxe\ndhcp\nsleep 12\nkernel http://lb1/kernel\nboot\n")
    sc["fleet"][0]["images"] = ["kernel"]
    sc["faults"] = [{"kind": "service-down", "target": "http1", "at": "0s"}]
    res = simulate_scenario(sc)
    red = res.phases[res.phases.phase == "redirect:kernel"].iloc[0]
    assert red.outcome == "failed" and "HTTP 503 from lb1" in red.reason
    assert res.servers.outcome.tolist() == ["failed"]


@pytest.mark.parametrize("pool, words", [
    (["http9"], "unknown service 'http9'"),
    (["dhcp1"], "dhcp service"),
    (["lb2"], "is a load balancer"),
])
def test_bad_pools_are_refused(pool, words):
    sc = lb_scenario()
    sc["services"]["lb2"] = {"kind": "lb", "host": "boot1", "pool": ["lb1"]}
    sc["services"]["lb1"]["pool"] = pool
    with pytest.raises(InputError) as e:
        simulate_scenario(sc)
    text = " ".join(str(p) for p in e.value.problems)
    assert "services.lb1.pool[0]" in text and words in text


@pytest.mark.parametrize("pool, words", [
    (["http9"], "services.lb1.pool[0]: unknown service 'http9'"),
    # two redirectors naming each other: a pool may not name a balancer, so no loop
    (["lb2"], "services.lb1.pool[0]: 'lb2' is a load balancer"),
])
def test_bad_pools_exit_2_at_their_line_with_nothing_written(tmp_path, pool, words):
    sc = lb_scenario()
    sc["services"]["lb2"] = {"kind": "lb", "host": "boot1", "pool": ["lb1"]}
    sc["services"]["lb1"]["pool"] = pool
    assert words in cli_refuses(sc, tmp_path)


# ------------------------------------------------------------------------ mode: l4
def direct_ready() -> float:
    sc = scenario(servers=1)
    sc["fleet"][0]["script"] = ("#!ipxe\ndhcp\nkernel http://http1/kernel\n"
                                "initrd http://http1/initrd\nboot\n")
    return float(simulate_scenario(sc).servers.ready.iloc[0])


def test_l4_on_the_mirrors_host_adds_its_time_per_request_only():
    # lb1 runs on boot1, http1's host: the mirror -> balancer leg is empty, the balancer
    # -> client leg is the direct path; each of the two requests takes its 0.1 ms more
    res = simulate_scenario(lb_scenario(mode="l4"))
    assert float(res.servers.ready.iloc[0]) - direct_ready() == pytest.approx(
        2 * LB_TIME, abs=1e-12)
    assert not res.phases.phase.str.startswith("redirect:").any()


def test_l4_on_its_own_host_carries_the_bytes_through_it():
    # lb1 on a host of its own behind the ToR: the data crosses boot1 -> tor01 ->
    # lbhost -> tor01 -> client, so the balancer's link carries the bytes both ways
    sc = lb_scenario(mode="l4")
    sc["topology"]["hosts"].append({"name": "lbhost"})
    sc["services"]["lb1"]["host"] = "lbhost"
    res = simulate_scenario(sc)
    assert float(res.servers.ready.iloc[0]) > direct_ready() + 2 * LB_TIME
    bound = res.summary["line_rate_bound"]
    assert bound["bytes"] > 40 * 2**20  # one link carried both images (the bound's)


def test_l4_max_connections_holds_the_extra_clients_until_a_slot_frees():
    # 4 clients, 2 connections at a time (freed when a client boots): the 3rd and 4th
    # start their kernel when the 1st and 2nd are ready
    res = simulate_scenario(lb_scenario(servers=4, pool=("http1", "http2"), mode="l4",
                                        max_connections=2))
    srv = res.servers.set_index("server")
    ph = res.phases
    starts = ph[ph.phase == "fetch:kernel"].set_index("server").start
    ready = sorted(srv.ready)[:2]
    assert sorted(starts[["r01s003", "r01s004"]]) == pytest.approx(ready, abs=1e-9)
    assert (ph.phase == "lb-wait:kernel").sum() == 2
    fetched = ph[ph.phase.str.startswith("fetch:")]
    assert all(g.endpoint.nunique() == 1 for _, g in fetched.groupby("server"))


def test_a_redirector_that_is_down_fails_the_redirect_after_the_syn_retries():
    # lb1 down for good from 0 s: the kernel's redirect gets no SYN-ACK, so the fetch
    # fails after the client's SYN retries (SYN_GIVE_UP s from its start) with lb1 named
    # in the reason, and the script's || fetches from http1 directly. Everything after is
    # the direct boot's, so the server is ready exactly SYN_GIVE_UP later than a direct
    # boot. Down only from 0 to 1 s (before its DHCP ends): nothing changes (as the
    # redirect in the healthy scenario: 3 RTT + 2 x 0.1 ms on a direct boot).
    from netbootsim.services.slots import SYN_GIVE_UP

    direct = scenario(servers=1)
    direct["fleet"][0]["script"] = ("#!ipxe\ndhcp\nkernel http://http1/kernel\n"
                                    "initrd http://http1/initrd\nboot\n")
    a = float(simulate_scenario(direct).servers.ready.iloc[0])
    script = ("#!ipxe\ndhcp\nkernel http://lb1/kernel || kernel http://http1/kernel\n"
              "initrd http://http1/initrd\nboot\n")
    sc = lb_scenario(script=script)
    sc["faults"] = [{"kind": "service-down", "target": "lb1", "at": "0s"}]
    res = simulate_scenario(sc)
    red = res.phases[res.phases.phase == "redirect:kernel"].iloc[0]
    assert red.outcome == "failed" and "no answer from lb1: service lb1 down" in red.reason
    assert red.end - red.start == pytest.approx(SYN_GIVE_UP, abs=1e-12)
    assert float(res.servers.ready.iloc[0]) - a == pytest.approx(SYN_GIVE_UP, abs=1e-9)
    b = float(simulate_scenario(lb_scenario()).servers.ready.iloc[0])
    brief = simulate_scenario({**lb_scenario(), "faults": [
        {"kind": "service-down", "target": "lb1", "at": "0s", "duration": "1s"}]})
    assert float(brief.servers.ready.iloc[0]) == pytest.approx(b, abs=1e-12)


# ------------------------------------------------------- passive health: the nginx model
def _nginx(pool=("m1", "m2")):
    from netbootsim.fleet.balance import Balancer, LbSpec

    spec = LbSpec("lb1", "boot1", tuple(pool), "round-robin", LB_TIME, 10.0, 1, 1,
                  mode="l4", model="nginx", health="passive", max_fails=1,
                  fail_timeout=10.0, connect_timeout=60.0)
    return Balancer(spec, {})


def test_nginx_holds_a_failed_mirror_out_for_fail_timeout_then_tries_it_once():
    # nginx's defaults: max_fails 1, fail_timeout 10 s, round-robin in turn.
    b = _nginx()
    assert b.pick("c1", 0.0, {}) == "m1"             # m1's turn
    b.failed("m1", 60.0)                             # its connection timed out at 60 s
    assert b.pick("c1", 60.0, {}, tried=["m1"]) == "m2"  # the same connection: next one
    assert b.pick("c2", 65.0, {}) == "m2"            # m1 held out from 60 s ...
    assert b.pick("c3", 70.0, {}) == "m2"            # ... for 10 s, 70 s included
    assert b.pick("c4", 70.5, {}) == "m1"            # past it: one connection retries m1
    assert b.pick("c5", 71.0, {}) == "m2"            # and while it does, no other goes there
    b.connected("m1")                                # the retry answered: m1 is live
    assert b.pick("c6", 72.0, {}) == "m1"
    assert b.pick("c7", 72.0, {}) == "m2"            # in turn again


def test_nginx_never_holds_out_the_only_mirror_of_its_pool():
    b = _nginx(pool=("m1",))
    b.failed("m1", 60.0)
    assert b.pick("c1", 61.0, {}) == "m1"
    assert b.pick("c1", 61.0, {}, tried=["m1"]) is None  # (tried by this connection)


def nginx_l4(servers: int, *down: str) -> dict:
    sc = lb_scenario(servers=servers, pool=("http1", "http2"), mode="l4", model="nginx")
    sc["faults"] = [{"kind": "service-down", "target": t, "at": "0s"} for t in down]
    return sc


def test_nginx_l4_clients_wait_its_connect_timeout_on_a_dead_mirror_then_get_the_next():
    # http1 dead from 0 s. Four identical servers ask in turn: round-robin sends the 1st
    # and 3rd to http1 (nothing has failed yet: a failure is known only when the 60 s
    # proxy_connect_timeout ends), the 2nd and 4th to http2. The 1st and 3rd each wait
    # exactly 60 s, then their connection goes to http2; their initrd reuses it. All
    # boot; the two that waited are ready ~60 s after the two that did not.
    res = simulate_scenario(nginx_l4(4, "http1"))
    ph = res.phases
    wait = ph[ph.phase == "upstream-wait:kernel"]
    assert sorted(wait.server) == ["r01s001", "r01s003"]
    assert (wait.end - wait.start).tolist() == pytest.approx([60.0, 60.0], abs=1e-9)
    assert all(r.startswith("http1 did not answer lb1's connection in 60 s") for r in wait.reason)
    assert not (ph.phase == "upstream-wait:initrd").any()
    assert res.servers.outcome.tolist() == ["ok"] * 4
    ready = res.servers.set_index("server").ready
    for slow, fast in (("r01s001", "r01s002"), ("r01s003", "r01s004")):
        assert ready[slow] - ready[fast] == pytest.approx(60.0, abs=0.5)
    note = " ".join(res.summary["notes"])
    assert "no health checks (passive)" in note and "after 60 s" in note


def test_nginx_l4_with_every_mirror_dead_closes_the_connection_after_trying_each():
    # both dead: 60 s on http1, 60 s on http2, then no mirror is left to try: the
    # connection is closed, 120 s after it was asked for, and the boot fails
    res = simulate_scenario(nginx_l4(1, "http1", "http2"))
    ph = res.phases
    wait = ph[ph.phase == "upstream-wait:kernel"]
    assert (wait.end - wait.start).tolist() == pytest.approx([60.0, 60.0], abs=1e-9)
    fail = ph[(ph.phase == "fetch:kernel") & (ph.outcome == "failed")].iloc[0]
    assert fail.start == pytest.approx(wait.start.iloc[0] + 120.0, abs=1e-9)
    assert "lb1 closed the connection" in fail.reason
    assert res.servers.outcome.tolist() == ["failed"]


def test_nginx_as_a_redirector_never_learns_that_a_mirror_died():
    # A 302 redirector never connects to its mirrors: with passive health nothing tells
    # it that http1 is dead, so round-robin keeps naming it (HAProxy's checks take it out
    # at 12 s: test_clients_sent_to_a_dead_mirror_fall_back_and_late_ones_are_not_sent_there)
    script = ("#!ipxe\ndhcp\nkernel http://lb1/kernel || kernel http://lb1/kernel\n"
              "boot\n")
    sc = lb_scenario(servers=2, pool=("http1", "http2"), script=script, model="nginx")
    sc["fleet"][0]["images"] = ["kernel"]
    sc["faults"] = [{"kind": "service-down", "target": "http1", "at": "0.5s"}]
    sc["fleet"][0]["power_on"] = {"at": "0s", "per_second": 0.05}  # 0 s and 20 s
    ph = simulate_scenario(sc).phases
    late = ph[(ph.server == "r01s002") & (ph.phase == "redirect:kernel")]
    assert late.reason.tolist()[0] == "302 to http1"


@pytest.mark.parametrize("model, field, words", [
    ("nginx", {"fall": 2}, "nginx's health is passive: no health checks; fall do not apply"),
    ("haproxy", {"max_fails": 2}, "haproxy's health is active"),
])
def test_health_fields_of_the_other_kind_are_refused(model, field, words):
    sc = lb_scenario(pool=("http1", "http2"), model=model, **field)
    with pytest.raises(InputError, match=words):
        simulate_scenario(sc)
