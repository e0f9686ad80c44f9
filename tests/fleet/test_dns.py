"""Boot URIs naming hosts: resolved by the scenario's DNS servers as iPXE resolves them.

The small scenario (one rack, boot1 one hop from the server behind its ToR, 1 us links:
a round trip of 4 us) with a second nginx service ``http2`` and a DNS server ``dns1`` on
boot1 answering ``boot.example.com`` with the hosts of http1 and http2. The group's
script fetches the kernel and the initrd by that name; iPXE resolves it for each
connection it opens (no cache; a pooled HTTP connection to the name is reused without
one). A query costs the round trip and the server's 0.1 ms: 104 us.
"""

from __future__ import annotations

import pytest
from small_scenarios import scenario

from netbootsim.api import simulate_scenario
from netbootsim.errors import InputError
from netbootsim.fleet.dns import ENXIO_NO_RECORD, ETIMEDOUT_DNS
from netbootsim.ipxe import errors

SCRIPT = ("#!ipxe\ndhcp\nkernel http://{name}/kernel\ninitrd http://{name}/initrd\n"
          "boot\n")
QUERY = 4e-6 + 0.1e-3  # round trip + the server's time per query


def dns_scenario(name="boot.example.com", faults=None, **dns) -> dict:
    sc = scenario(servers=1)
    sc["services"]["http2"] = {"kind": "http", "host": "boot1", "model": "nginx"}
    sc["services"]["dns1"] = {"kind": "dns", "host": "boot1",
                              "records": {"boot.example.com": ["http1", "http2"]}, **dns}
    sc["fleet"][0]["script"] = SCRIPT.format(name=name)
    if faults is not None:
        sc["faults"] = faults
    return sc


def phases(res):
    return res.phases[["phase", "start", "end", "endpoint", "outcome", "reason"]]


def test_a_client_resolves_once_per_connection_and_cyclic_order_alternates_clients():
    # One client: the kernel's connection is resolved (104 us) and pooled, the initrd
    # reuses it (no second lookup, same mirror). Two clients: the answers rotate, so
    # one boots from http1 and the other from http2, each from one mirror only.
    res = simulate_scenario(dns_scenario())
    ph = phases(res)
    dns = ph[ph.phase == "dns"]
    assert len(dns) == 1 and dns.outcome.tolist() == ["ok"]
    assert dns.end.iloc[0] - dns.start.iloc[0] == pytest.approx(QUERY, abs=1e-12)
    fetched = ph[ph.phase.str.startswith("fetch:")]
    assert fetched.endpoint.tolist() == ["http1", "http1"]
    sc = dns_scenario()
    sc["topology"]["servers"] = sc["fleet"][0]["count"] = 2
    two = simulate_scenario(sc).phases
    got = {s: set(g[g.phase.str.startswith("fetch:")].endpoint)
           for s, g in two.groupby("server")}
    assert sorted(map(sorted, got.values())) == [["http1"], ["http2"]]
    assert (two.phase == "dns").sum() == 2
    sc["services"]["dns1"]["order"] = "fixed"
    fixed = simulate_scenario(sc).phases
    assert set(fixed[fixed.phase.str.startswith("fetch:")].endpoint) == {"http1"}
    assert res.servers.outcome.tolist() == ["ok"]


def test_tftp_resolves_for_every_transfer():
    # TFTP opens a socket (and resolves) per transfer: two lookups for two files
    sc = dns_scenario()
    sc["services"]["dns1"]["records"] = {"boot.example.com": ["tftp1"]}
    sc["fleet"][0]["script"] = SCRIPT.format(name="boot.example.com").replace("http:", "tftp:")
    ph = phases(simulate_scenario(sc))
    assert (ph.phase == "dns").sum() == 2
    assert set(ph[ph.phase.str.startswith("fetch:")].endpoint) == {"tftp1"}


def test_a_dead_first_server_costs_one_retry_timer_then_the_second_answers():
    # dns1 (first in name order) is down: the query at t0 gets no answer; iPXE resends
    # at t0 + 0.25 s to the next server, dns2, which answers 104 us later.
    sc = dns_scenario(faults=[{"kind": "service-down", "target": "dns1", "at": "0s"}])
    sc["services"]["dns2"] = dict(sc["services"]["dns1"])
    dns = phases(simulate_scenario(sc)).query("phase == 'dns'")
    assert dns.endpoint.tolist() == ["dns2"]
    assert dns.end.iloc[0] - dns.start.iloc[0] == pytest.approx(0.25 + QUERY, abs=1e-12)


def test_no_answer_fails_the_fetch_after_the_retry_timer():
    # Sends at 0, 0.25, 0.75, 1.75, 3.75, 7.75 s; ETIMEDOUT at 15.75 s.
    res = simulate_scenario(dns_scenario(
        faults=[{"kind": "service-down", "target": "dns1", "at": "0s"}]))
    dns = phases(res).query("phase == 'dns'").iloc[0]
    assert dns.end - dns.start == pytest.approx(15.75, abs=1e-12)
    assert dns.outcome == "failed" and "15.75 s of retries" in dns.reason
    assert res.servers.outcome.tolist() == ["failed"]
    assert errors.strerror(ETIMEDOUT_DNS).startswith("Connection timed out")


def test_a_name_the_server_does_not_know_costs_two_round_trips():
    # an answer without the A record, then the CNAME query: "DNS name does not exist"
    res = simulate_scenario(dns_scenario(name="nope.example.com"))
    dns = phases(res).query("phase == 'dns'").iloc[0]
    assert dns.end - dns.start == pytest.approx(2 * QUERY, abs=1e-12)
    assert dns.outcome == "failed" and "does not exist" in dns.reason
    assert res.servers.outcome.tolist() == ["failed"]
    assert f"{ENXIO_NO_RECORD:08x}" == "3e11613b"  # ipxe.org/3e11613b


def test_without_dns_servers_service_names_are_used_as_before():
    sc = scenario(servers=1)
    sc["fleet"][0]["script"] = SCRIPT.format(name="http1")
    res = simulate_scenario(sc)
    assert "dns" not in set(res.phases.phase)
    assert res.servers.outcome.tolist() == ["ok"]


@pytest.mark.parametrize("records, field, words", [
    ({"boot": ["http1"]}, "records.boot", "not a full DNS name"),
    ({"boot.example.com": ["http9"]}, "records.boot.example.com[0]", "unknown service"),
    ({"boot.example.com": ["dhcp1"]}, "records.boot.example.com[0]", "dhcp service"),
    ({"HTTP1": ["http1"]}, "records.HTTP1", "not a full DNS name"),
])
def test_bad_records_are_refused(records, field, words):
    sc = dns_scenario()
    sc["services"]["dns1"]["records"] = records
    with pytest.raises(InputError) as e:
        simulate_scenario(sc)
    text = str(e.value.problems[0])
    assert f"services.dns1.{field}" in text and words in text


# -- caching resolvers ------------------------------------------------------------------
#
# A resolver ``res1`` on boot1 (2 us from a server, as dns1 was) forwards to the
# authoritative ``auth`` on host ``far``, 5 ms from the ToR: boot1 -> ToR -> far is
# 1 us + 5 ms each way, a round trip of 10.002 ms. DHCP hands the clients res1 only.
# A miss: 2 us to res1, its 0.1 ms, the forward (10.002 ms round trip + auth's 0.1 ms),
# 2 us back = 10.206 ms. A hit: 2 us + 0.1 ms + 2 us = 104 us (QUERY).
FAR = 2 * (1e-6 + 5e-3)
MISS = 4e-6 + 0.1e-3 + FAR + 0.1e-3


def resolver_scenario(servers=1, ttl="25s", per_second=None) -> dict:
    sc = dns_scenario()
    sc["topology"]["servers"] = sc["fleet"][0]["count"] = servers
    sc["topology"]["hosts"].append({"name": "far", "link": {"bandwidth": "10Gbps",
                                                            "latency": "5ms"}})
    auth = sc["services"].pop("dns1")
    sc["services"]["auth"] = {**auth, "host": "far", "ttl": ttl}
    sc["services"]["res1"] = {"kind": "dns", "host": "boot1", "forward": "auth"}
    sc["services"]["dhcp1"]["dns"] = ["res1"]
    if per_second is not None:
        sc["fleet"][0]["power_on"] = {"per_second": per_second}
    return sc


def test_a_resolver_forwards_a_miss_and_answers_from_its_cache_for_the_ttl():
    # Four servers powered on 10 s apart; TTL 25 s. The first lookup (t ~ 0 + boot)
    # misses and forwards; the answer is cached for 25 s from its arrival, so the
    # lookups ~10 s and ~20 s later hit; the one ~30 s later misses and forwards again:
    # 2 forwarded queries, 2 hits, and the lookups take MISS, QUERY, QUERY, MISS.
    res = simulate_scenario(resolver_scenario(servers=4, per_second=0.1))
    dns = phases(res).query("phase == 'dns'").sort_values("start")
    assert dns.endpoint.tolist() == ["res1"] * 4
    took = (dns.end - dns.start).tolist()
    assert took == pytest.approx([MISS, QUERY, QUERY, MISS], abs=1e-12)
    svc = res.summary["services"]
    assert (svc["res1"]["forwarded"], svc["res1"]["cache_hits"]) == (2, 2)
    assert svc["res1"]["answered"] == 4 and svc["auth"]["answered"] == 2
    assert res.servers.outcome.tolist() == ["ok"] * 4


def test_clients_asking_while_the_forward_is_out_join_it():
    # Three servers powered on together: their lookups start within the DHCP server's
    # few ms of one another, all inside the first forward's 10 ms: one forwarded query;
    # each later client waits for that answer, so all three lookups end together.
    res = simulate_scenario(resolver_scenario(servers=3))
    dns = phases(res).query("phase == 'dns'").sort_values("start")
    assert (dns.start.iloc[-1] - dns.start.iloc[0]) < FAR  # (the premise)
    svc = res.summary["services"]["res1"]
    assert (svc["forwarded"], svc["cache_hits"]) == (1, 2)
    assert dns.end.tolist() == pytest.approx([dns.start.iloc[0] + MISS] * 3, abs=1e-12)


def test_without_a_dhcp_dns_list_clients_ask_every_server_in_name_order():
    # no option 6 list: auth comes first in name order, so clients ask it directly:
    # server -> ToR -> far is 1 us + 5 ms each way (FAR), plus auth's 0.1 ms
    sc = resolver_scenario()
    del sc["services"]["dhcp1"]["dns"]
    res = simulate_scenario(sc)
    dns = phases(res).query("phase == 'dns'")
    assert dns.endpoint.tolist() == ["auth"]
    assert (dns.end - dns.start).iloc[0] == pytest.approx(FAR + 0.1e-3, abs=1e-12)
    assert res.summary["services"]["res1"]["forwarded"] == 0


@pytest.mark.parametrize("change, field, words", [
    (lambda s: s["services"]["auth"].pop("ttl"), "services.res1.forward", "has no ttl"),
    (lambda s: s["services"]["res1"].update(forward="res1"), "services.res1.forward",
     "itself"),
    (lambda s: s["services"].update(res2={"kind": "dns", "host": "boot1", "forward": "res1"}),
     "services.res2.forward", "a resolver itself"),
    (lambda s: s["services"]["res1"].update(forward="http1"), "services.res1.forward",
     "http service"),
    (lambda s: s["services"]["res1"].update(records={"a.example.com": ["http1"]}),
     "services.res1.forward", "one of the two"),
    (lambda s: s["services"]["res1"].pop("forward"), "services.res1", "one of the two"),
    (lambda s: s["services"]["dhcp1"].update(dns=["dns9"]), "services.dhcp1.dns[0]",
     "unknown service"),
])
def test_bad_resolvers_are_refused(change, field, words):
    sc = resolver_scenario()
    change(sc)
    with pytest.raises(InputError) as e:
        simulate_scenario(sc)
    text = str(e.value.problems[0])
    assert field in text and words in text, text


def test_clients_past_clients_per_query_are_dropped_and_resend_on_the_retry_timer():
    # Three servers together, at most 2 clients per forward: the first forwards, the
    # second joins, the third is dropped; its resend 0.25 s later (iPXE's retry timer,
    # to the only server it knows) hits the cache: 0.25 s + 104 us.
    sc = resolver_scenario(servers=3)
    sc["services"]["res1"]["clients_per_query"] = 2
    res = simulate_scenario(sc)
    dns = phases(res).query("phase == 'dns'").sort_values("start")
    took = (dns.end - dns.start).tolist()
    assert took[2] == pytest.approx(0.25 + QUERY, abs=1e-12)
    svc = res.summary["services"]["res1"]
    assert (svc["forwarded"], svc["cache_hits"], svc["dropped"]) == (1, 2, 1)
    assert res.servers.outcome.tolist() == ["ok"] * 3
