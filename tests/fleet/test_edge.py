"""Edge caches (an http service with an origin): fills, coalescing, capacity, failure.

The small scenario (one rack; boot1 holds http1, the origin) with a host cache1 on the
same ToR running edge1, from which the servers fetch an 8 MiB kernel and a 32 MiB initrd.
"""

from __future__ import annotations

import pytest
from small_scenarios import cli_refuses, scenario

from netbootsim.api import simulate_scenario
from netbootsim.errors import InputError


def edge_scenario(servers=4, **edge) -> dict:
    sc = scenario(servers=servers)
    sc["fleet"][0]["count"] = servers
    sc["topology"]["hosts"].append({"name": "cache1"})
    sc["services"]["edge1"] = {"kind": "http", "host": "cache1", "model": "nginx",
                               "origin": "http1", **edge}
    sc["fleet"][0]["server"] = "edge1"
    return sc


def fills(res) -> dict:
    ph = res.phases
    return ph[ph.phase.str.startswith("edge-fill:")].groupby("phase").size().to_dict()


@pytest.mark.parametrize("coalesce, n", [(True, 1), (False, 4)])
def test_a_cold_edge_fills_once_for_simultaneous_misses_only_when_it_coalesces(coalesce, n):
    # four servers ask for the kernel at the same instant (then the initrd): with
    # coalescing one fill of each serves all four, without it each miss fills
    res = simulate_scenario(edge_scenario(coalesce=coalesce))
    assert fills(res) == {"edge-fill:initrd": n, "edge-fill:kernel": n}
    assert res.summary["completed"] == 4
    fill = res.phases[res.phases.phase == "edge-fill:kernel"].iloc[0]
    assert fill.endpoint == "http1" and fill.bytes == 8 * 2**20


def test_a_warm_edge_serves_later_requests_without_a_fill():
    # the second server powers on 10 s later, after the fills: two hits, no fill
    sc = edge_scenario(servers=2)
    sc["fleet"][0]["power_on"] = {"at": "0s", "per_second": 0.1}
    res = simulate_scenario(sc)
    ph = res.phases
    assert set(ph[ph.phase.str.startswith("edge-fill:")].server) == {"r01s001"}


def test_an_object_that_does_not_fit_is_fetched_for_each_request():
    # cache 10 MiB: the 8 MiB kernel is kept (one fill), the 32 MiB initrd never fits
    # (four fills, coalescing or not)
    res = simulate_scenario(edge_scenario(cache="10MiB"))
    assert fills(res) == {"edge-fill:initrd": 4, "edge-fill:kernel": 1}


def test_an_edge_of_an_edge_fills_its_origin_first():
    sc = edge_scenario()
    sc["topology"]["hosts"].append({"name": "cache2"})
    sc["services"]["edge2"] = {"kind": "http", "host": "cache2", "model": "nginx",
                               "origin": "edge1"}
    sc["fleet"][0]["server"] = "edge2"
    res = simulate_scenario(sc)
    ph = res.phases
    # edge2 from edge1 is the server's fill; edge1's from http1, on the way, lies inside
    # it (edge-origin/, nested): the same server's, for the hosts boot nothing
    fill = ph[ph.phase == "edge-fill:kernel"]
    inner = ph[ph.phase == "edge-origin/edge-fill:kernel"]
    assert fill.endpoint.tolist() == ["edge1"] and inner.endpoint.tolist() == ["http1"]
    assert inner.server.tolist() == fill.server.tolist()
    assert fill.start.iat[0] <= inner.start.iat[0] <= inner.end.iat[0] <= fill.end.iat[0]
    assert set(ph.server) <= set(res.servers.server)


@pytest.mark.parametrize("fallback, outcome", [("origin", "ok"), ("none", "failed")])
def test_a_dead_edge_sends_its_clients_to_the_origin_only_if_told(fallback, outcome):
    sc = edge_scenario(servers=1, fallback=fallback)
    sc["faults"] = [{"kind": "service-down", "target": "edge1", "at": "0s"}]
    res = simulate_scenario(sc)
    assert res.servers.outcome.tolist() == [outcome]
    ph = res.phases
    assert (ph.phase == "edge-fallback:kernel").any() == (fallback == "origin")
    assert not ph.phase.str.startswith("edge-fill:").any()


def two_edges(fallback1: str, fallback2: str = "none") -> dict:
    sc = edge_scenario(servers=1, fallback=fallback1)
    sc["topology"]["hosts"].append({"name": "cache2"})
    sc["services"]["edge2"] = {"kind": "http", "host": "cache2", "model": "nginx",
                               "origin": "http1", "fallback": fallback2}
    return sc


def test_a_dead_edge_sends_its_clients_to_the_next_edge():
    # edge1 is down and names edge2: the client is served as edge2's own client would
    # be (the fallback record takes no time), so it is ready exactly when a client of
    # edge2 is; edge2 fills from the origin as for any miss
    sc = two_edges("edge2")
    sc["faults"] = [{"kind": "service-down", "target": "edge1", "at": "0s"}]
    res = simulate_scenario(sc)
    direct = two_edges("edge2")
    direct["fleet"][0]["server"] = "edge2"
    ref = simulate_scenario(direct)
    assert res.servers.ready.tolist() == ref.servers.ready.tolist()
    ph = res.phases
    hop = ph[ph.phase == "edge-fallback:kernel"].iloc[0]
    assert (hop.endpoint, hop.reason) == ("edge2", "edge1 down: to edge2")
    fill = ph[ph.phase == "edge-fill:kernel"].iloc[0]
    assert fill.endpoint == "http1"


def test_a_chain_of_dead_edges_ends_at_the_origin():
    # edge1 -> edge2 (down too) -> its origin: two fallbacks, no fill, and ready exactly
    # when a client of the origin is
    sc = two_edges("edge2", "origin")
    sc["faults"] = [{"kind": "service-down", "target": t, "at": "0s"}
                    for t in ("edge1", "edge2")]
    res = simulate_scenario(sc)
    ref_sc = two_edges("edge2")
    ref_sc["fleet"][0]["server"] = "http1"
    assert res.servers.ready.tolist() == simulate_scenario(ref_sc).servers.ready.tolist()
    hops = res.phases[res.phases.phase == "edge-fallback:kernel"]
    assert hops.reason.tolist() == ["edge1 down: to edge2", "edge2 down: to its origin"]
    assert not res.phases.phase.str.startswith("edge-fill:").any()


def test_fallbacks_that_loop_or_name_nothing_are_refused():
    with pytest.raises(InputError) as e:
        simulate_scenario(two_edges("edge2", "edge1"))
    text = " ".join(str(p) for p in e.value.problems)
    assert "services.edge1.fallback: fallbacks loop: edge1 -> edge2 -> edge1" in text
    with pytest.raises(InputError) as e:
        simulate_scenario(edge_scenario(fallback="edge9"))
    assert "unknown service 'edge9'" in " ".join(str(p) for p in e.value.problems)


@pytest.mark.parametrize("edge, field, words", [
    ({"origin": "http9"}, "services.edge1.origin", "unknown service 'http9'"),
    ({"origin": "edge1"}, "services.edge1.origin", "origins loop: edge1 -> edge1"),
    ({"origin": "dhcp1"}, "services.edge1.origin", "dhcp service"),
])
def test_bad_edges_are_refused(edge, field, words):
    sc = edge_scenario(**edge)
    with pytest.raises(InputError) as e:
        simulate_scenario(sc)
    text = " ".join(str(p) for p in e.value.problems)
    assert field in text and words in text


def test_a_loop_of_two_edges_and_a_cache_without_origin_are_refused():
    sc = edge_scenario()
    sc["topology"]["hosts"].append({"name": "cache2"})
    sc["services"]["edge2"] = {"kind": "http", "host": "cache2", "model": "nginx",
                               "origin": "edge1"}
    sc["services"]["edge1"]["origin"] = "edge2"
    sc["services"]["http1"]["cache"] = "1GiB"
    with pytest.raises(InputError) as e:
        simulate_scenario(sc)
    text = " ".join(str(p) for p in e.value.problems)
    assert "origins loop: edge1 -> edge2 -> edge1" in text
    assert "services.http1.cache: only for an edge cache" in text


def test_a_cache_without_origin_exits_2_at_its_line_with_nothing_written(tmp_path):
    sc = edge_scenario()
    sc["services"]["http1"]["cache"] = "1GiB"
    assert "services.http1.cache: only for an edge cache" in cli_refuses(sc, tmp_path)


def test_a_fill_cut_short_by_its_server_failing_does_not_hang_the_others():
    # r01s001 starts the fills and fails mid-kernel-fill; the three waiting on that fill
    # get a 504 and fail their fetch; nothing hangs (the run ends, every server decided)
    sc = edge_scenario()
    sc["faults"] = [{"kind": "server-fail", "target": "r01s001", "at": "1.0012s"}]
    res = simulate_scenario(sc)
    assert "unfinished" not in set(res.servers.outcome)


def test_a_full_edge_evicts_the_least_recently_used_object():
    # cache 35 MiB, two servers 100 s apart, each fetching the 8 MiB kernel then the
    # 32 MiB initrd. Server 1: kernel filled (8 MiB held), initrd filled: 8 + 32 > 35,
    # so the kernel (least recently used) is evicted. Server 2: kernel missed and
    # filled, evicting the initrd; initrd missed and filled, evicting the kernel.
    # Four fills (without eviction: 3, the initrd fetched for each request) and the
    # edge ends holding the initrd alone.
    sc = edge_scenario(servers=2, cache="35MiB")
    sc["fleet"][0]["power_on"] = {"at": "0s", "per_second": 0.01}
    res = simulate_scenario(sc)
    assert fills(res) == {"edge-fill:initrd": 2, "edge-fill:kernel": 2}
    ph = res.phases[res.phases.phase.str.startswith("edge-fill:")].sort_values("start")
    assert ph.reason.tolist() == ["into edge1", "into edge1, evicting kernel",
                                  "into edge1, evicting initrd",
                                  "into edge1, evicting kernel"]
    assert res.summary["completed"] == 2


def test_a_hit_makes_an_object_the_most_recently_used():
    # cache 40 MiB holds kernel (8) and initrd (32) exactly; a third object, os (8 MiB),
    # fetched after a hit on the kernel evicts the initrd, not the kernel
    sc = edge_scenario(servers=2, cache="40MiB")
    sc["images"]["os"] = {"size": "8MiB"}
    sc["fleet"][0]["power_on"] = {"at": "0s", "per_second": 0.01}
    sc["fleet"][0]["count"] = 1
    sc["fleet"].append({**sc["fleet"][0], "name": "late", "power_on": {"at": "100s"},
                        "script": "#!ipxe\ndhcp\nkernel http://edge1/kernel\n"
                                  "initrd http://edge1/os\nboot\n"})
    res = simulate_scenario(sc)
    late = res.phases[(res.phases.server == "r01s002")
                      & res.phases.phase.str.startswith("edge-fill:")]
    assert late.phase.tolist() == ["edge-fill:os"]
    assert late.reason.tolist() == ["into edge1, evicting initrd"]


@pytest.mark.parametrize(("gap", "inactive", "fills_of_second"), [
    # two servers `gap` apart, each fetching the kernel then the initrd. The first's
    # fills end a few tenths of a second after it starts; the second asks ~gap later.
    # Unused for longer than `inactive` (nginx's default 10 min), the objects are gone:
    # the second fills both again; within it, it hits both
    (100.0, None, 0), (700.0, None, 2), (100.0, "60s", 2), (700.0, "1h", 0)])
def test_an_object_unused_for_inactive_is_removed(gap, inactive, fills_of_second):
    sc = edge_scenario(servers=2, **({"inactive": inactive} if inactive else {}))
    sc["fleet"][0]["power_on"] = {"at": "0s", "per_second": 1.0 / gap}
    res = simulate_scenario(sc)
    ph = res.phases[res.phases.phase.str.startswith("edge-fill:")]
    assert (ph.server == "r01s002").sum() == fills_of_second
    assert (ph.server == "r01s001").sum() == 2
    assert res.summary["completed"] == 2
