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
