"""Tests for netbootsim.topology: model, routing, domains and builders."""

from __future__ import annotations

import hashlib
import math
import pickle
from collections import Counter

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbootsim.topology import (
    ENDPOINT_KINDS,
    HostSpec,
    LinkDir,
    LinkSpec,
    Topology,
    TopologyError,
    leaf_spine,
    rack,
    remote_site,
)

G25 = 3.125e9  # 25 Gb/s in bytes/s
G100 = 12.5e9  # 100 Gb/s in bytes/s
SERVER = LinkSpec(G25, latency=1e-6)
UPLINK = LinkSpec(G100, latency=1e-6)


def names(path):
    return [ld.name for ld in path]


def n_links(topo):
    # every full-duplex link is two directed edges
    assert topo.graph.number_of_edges() == 2 * len(topo.links())
    return len(topo.links())


def assert_chain(topo, path, src, dst):
    """The path is a connected chain of the topology's own edges from src to dst."""
    if src == dst:
        assert path == ()
        return
    assert path[0].src == src
    assert path[-1].dst == dst
    for a, b in zip(path, path[1:], strict=False):
        assert a.dst == b.src
    for ld in path:
        assert topo.graph.edges[ld.src, ld.dst, ld.name]["ld"] is ld
    for ld in path[:-1]:
        assert topo.node_kind(ld.dst) not in ENDPOINT_KINDS  # end points never forward


def reference_path(topo, src, dst, key):
    """The documented rule, spelt out with networkx: at each node, the next hops one hop
    nearer to ``dst`` (end points crossed never), sorted by (neighbour, link name), one
    picked by ``stable_pick(key, node, count)``."""
    from netbootsim.topology.routing import stable_pick

    g = nx.DiGraph(topo.graph)
    transit = [n for n in g if topo.node_kind(n) not in ENDPOINT_KINDS]

    def dist(x):
        try:
            return nx.shortest_path_length(g.subgraph({*transit, x, dst}), x, dst)
        except nx.NetworkXNoPath:
            return None

    hops, u = [], src
    while u != dst:
        d = dist(u)
        out = sorted(((v, ld) for _, v, ld in topo.graph.out_edges(u, data="ld")),
                     key=lambda e: (e[0], e[1].name))
        cands = [ld for v, ld in out
                 if (v == dst or topo.node_kind(v) not in ENDPOINT_KINDS) and dist(v) == d - 1]
        ld = cands[stable_pick(key, u, len(cands))] if len(cands) > 1 else cands[0]
        hops.append(ld)
        u = ld.dst
    return tuple(hops)


# -- builders: counts, names, domains ------------------------------------------------------


def test_rack_counts_names_domain():
    t = rack(3, server_link=SERVER, hosts=[HostSpec("tftp1")])
    # nodes: 1 ToR + 3 servers + 1 host = 5; links: 3 server links + 1 host link = 4
    assert t.graph.number_of_nodes() == 5
    assert n_links(t) == 4
    assert t.servers() == ["r01s001", "r01s002", "r01s003"]
    assert t.hosts() == ["tftp1"]
    assert t.nodes_of("tor") == ["tor01"]
    assert t.domains() == {"rack01": ["r01s001", "r01s002", "r01s003", "tftp1", "tor01"]}
    assert t.graph.nodes["r01s002"]["rack"] == "rack01"
    ab, ba = t.links()["tor01--r01s001"]
    assert (ab.name, ba.name) == ("tor01->r01s001", "r01s001->tor01")
    assert (ab.capacity, ab.latency, ab.loss) == (G25, 1e-6, 0.0)
    assert t.links()["tor01--tftp1"][0].capacity == G25  # host_link defaults to server_link
    assert t.validate() == []
    assert t.routers_between("rack01", "rack01") == []


def test_rack_name_and_padding_widen():
    t = rack(1000, server_link=SERVER, name="lab")
    # 1000 servers need four digits: r01s0001 .. r01s1000, sorted in build order
    assert t.servers()[0] == "r01s0001"
    assert t.servers()[-1] == "r01s1000"
    assert t.servers() == sorted(t.servers())
    assert t.domain_of("r01s0500") == "lab"


def test_rack_two_nics_parallel_links():
    t = rack(2, server_link=SERVER, nics=2, hosts=[HostSpec("tftp1", nics=2)])
    # links: 2 servers x 2 NICs + 1 host x 2 NICs = 6
    assert n_links(t) == 6
    assert "tor01--r01s001#2" in t.links()
    assert t.links()["tor01--r01s001#2"][0].name == "tor01->r01s001#2"
    assert t.validate() == []
    # both members of the pair carry traffic, and each path is 2 hops
    used = Counter()
    for k in range(200):
        p = t.path("tftp1", "r01s001", f"flow{k}")
        assert len(p) == 2
        used[(p[0].name, p[1].name)] += 1
    assert {b for _, b in used} == {"tor01->r01s001", "tor01->r01s001#2"}
    assert {a for a, _ in used} == {"tftp1->tor01", "tftp1->tor01#2"}


def test_leaf_spine_counts_names_domains():
    t = leaf_spine(3, 4, 2, server_link=SERVER, uplink=UPLINK,
                   hosts=[HostSpec("tftp1"), HostSpec("http1", attach="spine2")])
    # nodes: 3 ToRs + 3*4 servers + 2 spines + tor-svc + 2 hosts = 20
    # links: 12 server links + 3*2 ToR-spine + 2 tor-svc-spine + 2 host links = 22
    assert t.graph.number_of_nodes() == 20
    assert n_links(t) == 22
    assert t.nodes_of("tor") == ["tor-svc", "tor01", "tor02", "tor03"]
    assert t.nodes_of("spine") == ["spine1", "spine2"]
    assert t.servers()[:5] == ["r01s001", "r01s002", "r01s003", "r01s004", "r02s001"]
    doms = t.domains()
    assert list(doms) == ["rack01", "rack02", "rack03", "services"]
    assert doms["rack02"] == ["r02s001", "r02s002", "r02s003", "r02s004", "tor02"]
    assert doms["services"] == ["tftp1", "tor-svc"]
    assert t.domain_of("http1") is None  # on a routed spine port
    assert t.domain_of("spine1") is None
    assert t.links()["tor01--spine2"][0].capacity == G100
    assert t.validate() == []


def test_leaf_spine_without_default_hosts_has_no_services_leaf():
    t = leaf_spine(2, 1, 1, server_link=SERVER, uplink=UPLINK,
                   hosts=[HostSpec("h", attach="tor02")])
    # nodes: 2 ToRs + 2 servers + 1 spine + 1 host = 6; links: 2 + 2*1 + 1 = 5
    assert "tor-svc" not in t
    assert t.graph.number_of_nodes() == 6
    assert n_links(t) == 5
    assert t.domain_of("h") == "rack02"


def test_leaf_spine_spine_names_pad_from_ten():
    t = leaf_spine(1, 1, 10, server_link=SERVER, uplink=UPLINK)
    assert t.nodes_of("spine") == [f"spine{j:02d}" for j in range(1, 11)]


def test_oversubscription_bandwidth():
    t = leaf_spine(2, 40, 4, server_link=SERVER, oversubscription=2.5, nics=2)
    # per leaf: 40 servers x 3.125e9 B/s x 2 NICs = 2.5e11 B/s down;
    # up: 4 spines x bw = 2.5e11 / 2.5  ->  bw = 2.5e11 / (4 x 2.5) = 2.5e10 B/s
    up = [ld for ld in t.link_dirs() if "spine" in ld.link]
    assert len(up) == 2 * 4 * 2  # 2 ToRs x 4 spines x 2 directions
    for ld in up:
        assert ld.capacity == pytest.approx(2.5e10, rel=1e-12)
        assert ld.latency == SERVER.latency


def test_remote_site_counts_rtt_and_wan():
    t = remote_site(2, server_link=SERVER, wan=LinkSpec(1.25e8, 0.015, 0.001),
                    lan_link=LinkSpec(1.25e9, 5e-6),
                    hosts=[HostSpec("tftp1", link=LinkSpec(1.25e9, 2e-6))])
    # nodes: 2 servers + tor01, site-rtr, dc-rtr, dc-sw + 1 host = 7
    # links: 2 server links + tor01-site-rtr, WAN, dc-rtr-dc-sw + 1 host link = 6
    assert t.graph.number_of_nodes() == 7
    assert n_links(t) == 6
    fwd, back, rtt = t.round_trip("r01s001", "tftp1")
    assert names(fwd) == ["r01s001->tor01", "tor01->site-rtr", "site-rtr->dc-rtr",
                          "dc-rtr->dc-sw", "dc-sw->tftp1"]
    assert names(back) == ["tftp1->dc-sw", "dc-sw->dc-rtr", "dc-rtr->site-rtr",
                           "site-rtr->tor01", "tor01->r01s001"]
    # one way: server 1 us + LAN 5 us + WAN 15 ms + LAN 5 us + host 2 us = 0.015013 s
    assert rtt == pytest.approx(2 * 0.015013, rel=1e-12)
    assert t.rtt(fwd, ()) == pytest.approx(0.015013, rel=1e-12)
    wan = t.links()["site-rtr--dc-rtr"]
    assert [(ld.capacity, ld.loss) for ld in wan] == [(1.25e8, 0.001)] * 2
    assert t.domains() == {"dc": ["dc-rtr", "dc-sw", "tftp1"],
                           "site": ["r01s001", "r01s002", "site-rtr", "tor01"]}
    assert t.routers_between("site", "dc") == ["site-rtr"]
    assert t.routers_between("dc", "site") == ["dc-rtr"]
    assert t.validate() == []


def test_multi_site_counts_paths_and_domains():
    from netbootsim.topology import multi_site

    t = multi_site(2, 2, 3, server_link=SERVER, wan=LinkSpec(1.25e8, 0.02, 0.0),
                   lan_link=LinkSpec(1.25e9, 5e-6),
                   hosts=[HostSpec("central", link=LinkSpec(1.25e9, 2e-6)),
                          HostSpec("s02-boot", attach="s02-rtr",
                                   link=LinkSpec(1.25e9, 2e-6))])
    # nodes: dc-rtr, dc-sw + per site (router + 2 ToRs + 6 servers = 9) x 2 + 2 hosts = 22
    # links: dc-rtr--dc-sw + per site (WAN + 2 ToR uplinks + 6 server links = 9) x 2 + 2
    assert t.graph.number_of_nodes() == 22
    assert n_links(t) == 21
    fwd, back, rtt = t.round_trip("s01r02s003", "central")
    assert names(fwd) == ["s01r02s003->s01-tor02", "s01-tor02->s01-rtr", "s01-rtr->dc-rtr",
                          "dc-rtr->dc-sw", "dc-sw->central"]
    # one way: server 1 us + LAN 5 us + WAN 20 ms + LAN 5 us + host 2 us = 0.020013 s
    assert rtt == pytest.approx(2 * 0.020013, rel=1e-12)
    # a site's local server: no WAN on the way (server 1 + LAN 5 + host 2 us)
    fwd, _, rtt = t.round_trip("s02r01s001", "s02-boot")
    assert "s02-rtr->dc-rtr" not in names(fwd) and rtt == pytest.approx(2 * 8e-6, rel=1e-12)
    assert sorted(t.domains()) == ["dc", "s01", "s02"]
    assert t.routers_between("s01", "dc") == ["s01-rtr"]
    assert t.graph.nodes["s02r02s001"]["rack"] == "s02-rack02"
    assert t.validate() == []
    # an asymmetric WAN: site -> center 20 ms at 1 Gb/s, center -> site 30 ms at 50 Mb/s
    t = multi_site(1, 1, 1, server_link=SERVER, lan_link=LinkSpec(1.25e9, 5e-6),
                   wan=LinkSpec(1.25e8, 0.02, bandwidth_ba=6.25e6, latency_ba=0.03),
                   hosts=[HostSpec("central", link=LinkSpec(1.25e9, 2e-6))])
    _, back, rtt = t.round_trip("s01r01s001", "central")
    assert rtt == pytest.approx(0.020013 + 0.030013, rel=1e-12)
    (down,) = [ld for ld in back if ld.name == "dc-rtr->s01-rtr"]
    assert (down.capacity, down.latency) == (6.25e6, 0.03)
    # the sites' WAN links in turn: sites 1 and 3 take the first, site 2 the second
    slow, fast = LinkSpec(1.25e7, 0.04), LinkSpec(1.25e8, 0.01)
    t = multi_site(3, 1, 1, server_link=SERVER, lan_link=LinkSpec(1.25e9, 5e-6),
                   wan=[slow, fast], hosts=[HostSpec("central", link=LinkSpec(1.25e9, 2e-6))])
    wan = {ld.name: (ld.capacity, ld.latency) for ld in t.link_dirs() if "dc-rtr" in ld.name
           and "dc-sw" not in ld.name}
    assert wan["s01-rtr->dc-rtr"] == wan["s03-rtr->dc-rtr"] == (1.25e7, 0.04)
    assert wan["dc-rtr->s02-rtr"] == (1.25e8, 0.01)


# -- links and paths -----------------------------------------------------------------------


def test_asymmetric_directions():
    t = Topology()
    t.add_node("h", "host")
    t.add_node("s", "server", domain="v")
    ab, ba = t.add_link("h", "s", 1e9, 1e-3, 0.01, bandwidth_ba=1e8, latency_ba=2e-3,
                        loss_ba=0.0)
    assert ab == LinkDir("h->s", "h", "s", 1e9, 1e-3, 0.01, "h--s")
    assert ba == LinkDir("s->h", "s", "h", 1e8, 2e-3, 0.0, "h--s")
    fwd, back, rtt = t.round_trip("h", "s")
    assert fwd == (ab,) and back == (ba,)
    assert rtt == pytest.approx(3e-3, rel=1e-12)  # 1 ms there + 2 ms back


def test_parallel_link_names_in_either_order():
    t = Topology()
    t.add_node("a", "switch")
    t.add_node("b", "switch")
    t.add_link("a", "b", 1.0)
    ab2, ba2 = t.add_link("b", "a", 2.0)
    assert (ab2.name, ba2.name, ab2.link) == ("b->a#2", "a->b#2", "b--a#2")
    third = t.add_link("a", "b", 3.0, name="lag-c")
    assert third[0].name == "a->b#3" and third[0].link == "lag-c"
    assert list(t.links()) == ["a--b", "b--a#2", "lag-c"]
    assert [ld.name for ld in t.link_dirs()] == ["a->b", "a->b#2", "a->b#3",
                                                "b->a", "b->a#2", "b->a#3"]


def test_same_node_path_is_empty():
    t = rack(1, server_link=SERVER)
    assert t.path("r01s001", "r01s001") == ()
    assert t.round_trip("tor01", "tor01") == ((), (), 0.0)


def _fabric():
    return leaf_spine(4, 8, 4, server_link=SERVER, uplink=UPLINK, hosts=[HostSpec("tftp1")])


def test_ecmp_same_key_same_path_across_builds():
    a, b = _fabric(), _fabric()
    for k in range(100):
        key = f"r02s00{k % 8 + 1}:tftp:{k}"
        assert a.path("r02s003", "tftp1", key) == b.path("r02s003", "tftp1", key)
        assert a.path("tftp1", "r04s008", key) == b.path("tftp1", "r04s008", key)


def test_ecmp_choice_is_the_documented_stable_hash():
    t = _fabric()
    # At tor01 the equal-cost next hops, sorted by (neighbour, link), are spine1..spine4;
    # the pick is blake2b-64("r01s001:tftp|tor01") mod 4. Pinned: must never change.
    h = hashlib.blake2b(b"r01s001:tftp|tor01", digest_size=8).digest()
    spine = f"spine{int.from_bytes(h, 'big') % 4 + 1}"
    p = t.path("r01s001", "tftp1", "r01s001:tftp")
    assert p[1].dst == spine == "spine1"
    assert names(p) == ["r01s001->tor01", "tor01->spine1", "spine1->tor-svc",
                        "tor-svc->tftp1"]


def test_ecmp_spreads_over_spines():
    t = _fabric()
    count = Counter(t.path("r01s001", "tftp1", f"flow-{k}")[1].dst for k in range(1000))
    assert sorted(count) == ["spine1", "spine2", "spine3", "spine4"]
    for spine, n in count.items():
        assert 150 <= n <= 350, (spine, n)  # 15-35 % of 1000


HYPO_TOPO = leaf_spine(3, 3, 3, server_link=SERVER, uplink=UPLINK, nics=2,
                       hosts=[HostSpec("tftp1", nics=2), HostSpec("http1", attach="spine3")])
HYPO_NODES = sorted(HYPO_TOPO.graph)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(HYPO_NODES), st.sampled_from(HYPO_NODES), st.text(max_size=20))
def test_every_path_is_a_shortest_chain(src, dst, key):
    t = HYPO_TOPO
    p = t.path(src, dst, key)
    assert_chain(t, p, src, dst)
    # servers and hosts are leaves here, so networkx's plain hop count is the reference
    assert len(p) == nx.shortest_path_length(t.graph, src, dst)
    assert t.path(src, dst, key) == p
    assert p == reference_path(t, src, dst, key)  # the same ECMP choices, hop by hop


@st.composite
def random_graphs(draw):
    """Switches and servers joined at random: multi-homed servers, chains, parallel links."""
    sw = [f"sw{i}" for i in range(draw(st.integers(1, 6)))]
    srv = [f"s{i}" for i in range(draw(st.integers(1, 4)))]
    nodes = sw + srv
    edges = draw(st.lists(st.tuples(st.sampled_from(nodes), st.sampled_from(nodes)),
                          max_size=14))
    src, dst = draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes))
    return sw, srv, [(a, b) for a, b in edges if a != b], src, dst


@settings(max_examples=300, deadline=None)
@given(random_graphs(), st.text(max_size=8))
def test_paths_match_reference_on_random_graphs(graph, key):
    sw, srv, edges, src, dst = graph
    t = Topology()
    for n in sw:
        t.add_node(n, "switch")
    for n in srv:
        t.add_node(n, "server", domain="v")
    for a, b in edges:
        t.add_link(a, b, 1.0)
    # reference: servers do not forward, so only the switches plus the two ends count
    ref = nx.Graph([(a, b) for a, b in edges])
    ref.add_nodes_from(sw + srv)
    ref = ref.subgraph(sw + [src, dst])
    try:
        want = nx.shortest_path_length(ref, src, dst)
    except nx.NetworkXNoPath:
        with pytest.raises(TopologyError, match="no path"):
            t.path(src, dst, key)
        return
    p = t.path(src, dst, key)
    assert len(p) == want
    assert_chain(t, p, src, dst)
    assert p == reference_path(t, src, dst, key)


def test_servers_do_not_forward():
    t = Topology()
    for n in ("tor1", "tor2"):
        t.add_node(n, "tor", domain="v")
    t.add_node("dual", "server", domain="v", nics=2)
    t.add_node("s", "server", domain="v")
    t.add_node("h", "host", domain="v")
    t.add_link("tor1", "dual", 1.0)
    t.add_link("tor2", "dual", 1.0)
    t.add_link("tor1", "s", 1.0)
    t.add_link("tor2", "h", 1.0)
    assert names(t.path("dual", "h")) == ["dual->tor2", "tor2->h"]
    with pytest.raises(TopologyError, match="no path from 's' to 'h'"):
        t.path("s", "h")
    assert t.validate() == ["server 's' cannot exchange traffic with any boot host"]


@settings(max_examples=200, deadline=None)
@given(kinds=st.lists(st.sampled_from(["tor", "server", "host"]), min_size=2, max_size=9),
       links=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), max_size=14))
def test_validate_finds_the_servers_no_host_reaches_as_paths_do(kinds, links):
    # validate's two searches (from all hosts, to all hosts) against networkx: a server
    # is fine when some host has a path to it and it has one to some host, each through
    # forwarding nodes only (servers and hosts end traffic). Random small graphs: nodes
    # of random kinds, random full-duplex links (parallel ones too; none to itself).
    t = Topology()
    names_ = [f"{k}{i}" for i, k in enumerate(kinds)]
    for n, k in zip(names_, kinds, strict=True):
        t.add_node(n, k, domain="v")
    pairs = {(a, b) for a, b in links if a != b and a < len(kinds) and b < len(kinds)}
    for a, b in sorted(pairs):
        t.add_link(names_[a], names_[b], 1.0)
    g = t.graph
    hosts = [n for n, k in zip(names_, kinds, strict=True) if k == "host"]

    def linked(a: str, b: str) -> bool:
        forwarding = [n for n in g if g.nodes[n]["kind"] not in ("server", "host")]
        return nx.has_path(g.subgraph([*forwarding, a, b]), a, b)

    want = sorted(f"server {s!r} cannot exchange traffic with any boot host"
                  for s, k in zip(names_, kinds, strict=True) if k == "server" and hosts
                  and not (any(linked(h, s) for h in hosts) and any(linked(s, h) for h in hosts)))
    got = sorted(m for m in t.validate() if "cannot exchange traffic" in m)
    assert got == want


def test_pickle_round_trip_keeps_paths():
    t = _fabric()
    before = t.path("r03s002", "tftp1", "k")
    u = pickle.loads(pickle.dumps(t))
    assert u.path("r03s002", "tftp1", "k") == before


def test_forget_routes_drops_the_tables_and_paths_stay():
    t = _fabric()
    pairs = [("r03s002", "tftp1"), ("tftp1", "r01s001"), ("r02s003", "r03s001")]
    before = [t.path(a, b, "k") for a, b in pairs]
    assert t._out
    t.forget_routes()
    assert t._out is None and not t._hops_from
    assert [t.path(a, b, "k") for a, b in pairs] == before


# -- domains and routers -------------------------------------------------------------------


def test_leaf_spine_gateways_are_routers_between():
    t = _fabric()
    assert t.routers_between("rack01", "services") == ["tor01"]
    assert t.routers_between("services", "rack03") == ["tor-svc"]
    assert t.routers_between("rack02", "rack04") == ["tor02"]
    with pytest.raises(TopologyError, match="unknown domain 'rack9'"):
        t.routers_between("rack01", "rack9")


def test_router_with_feet_in_several_domains():
    t = Topology()
    t.add_node("sw-a", "switch", domain="a")
    t.add_node("r1", "router", domain=["a", "b"])
    t.add_node("r2", "router", domain=("a", "c"))
    t.add_node("sw-b", "switch", domain="b")
    t.add_node("sw-c", "switch", domain="c")
    for x, y in [("sw-a", "r1"), ("sw-a", "r2"), ("r1", "sw-b"), ("r2", "sw-c")]:
        t.add_link(x, y, 1.0)
    assert t.domains() == {"a": ["r1", "r2", "sw-a"], "b": ["r1", "sw-b"], "c": ["r2", "sw-c"]}
    assert t.domain_of("r2") == "a"
    assert t.domains_of("r2") == ["a", "c"]
    # r2 reaches b only back through domain a, so it is not a relay toward b
    assert t.routers_between("a", "b") == ["r1"]
    assert t.routers_between("a", "c") == ["r2"]
    assert t.routers_between("b", "a") == ["r1"]
    assert t.routers_between("b", "c") == ["r1"]  # r1 -> sw-a -> r2, which has a foot in c
    t.add_link("sw-b", "sw-c", 1.0)
    assert t.routers_between("a", "b") == ["r1", "r2"]  # now r2 -> sw-c -> sw-b


# -- validation messages -------------------------------------------------------------------


def test_validate_reports_every_problem():
    t = Topology()
    t.add_node("tor", "tor")
    t.add_node("s1", "server", nics=2)
    t.add_node("lonely", "switch")
    t.add_link("tor", "s1", 1.0)
    assert t.validate() == [
        "node 'lonely' (switch) has no links",
        "server 's1' declares 2 NIC(s) but has 1 link(s)",
        "server 's1' has no L2 domain (DHCP broadcasts need one)",
        "no boot hosts (nodes of kind 'host')",
    ]


# -- errors --------------------------------------------------------------------------------


def _two_nodes():
    t = Topology()
    t.add_node("a", "switch")
    t.add_node("b", "switch")
    return t


def test_unknown_endpoint_is_named():
    t = _two_nodes()
    with pytest.raises(TopologyError, match="unknown node 'nope'"):
        t.add_link("a", "nope", 1.0)
    with pytest.raises(TopologyError, match="unknown node 'nope'"):
        t.path("a", "nope")
    with pytest.raises(TopologyError, match="unknown node 'x'"):
        t.node_kind("x")


def test_duplicate_node_and_bad_node_args():
    t = _two_nodes()
    with pytest.raises(TopologyError, match="duplicate node 'a'"):
        t.add_node("a", "server")
    with pytest.raises(TopologyError, match="unknown kind 'blade'"):
        t.add_node("c", "blade")
    with pytest.raises(TopologyError, match="nics"):
        t.add_node("c", "server", nics=0)
    with pytest.raises(TopologyError, match="non-empty"):
        t.add_node("", "server")
    with pytest.raises(TopologyError, match="unknown node kind"):
        t.nodes_of("blade")


def test_no_path():
    t = _two_nodes()
    with pytest.raises(TopologyError, match="no path from 'a' to 'b'"):
        t.path("a", "b")


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((0.0,), {}, "bandwidth"),
        ((-1.0,), {}, "bandwidth"),
        ((math.inf,), {}, "bandwidth"),
        ((math.nan,), {}, "bandwidth"),
        ((1.0, -1e-6), {}, "latency"),
        ((1.0, 0.0, 1.0), {}, "loss"),
        ((1.0, 0.0, -0.1), {}, "loss"),
        ((1.0,), {"bandwidth_ba": 0.0}, "direction 'b->a'.*bandwidth"),
        ((1.0,), {"loss_ba": 1.5}, "loss"),
        (("fast",), {}, "bandwidth"),
    ],
)
def test_bad_link_values(args, kwargs, match):
    t = _two_nodes()
    with pytest.raises(TopologyError, match=match):
        t.add_link("a", "b", *args, **kwargs)
    assert t.links() == {}


def test_self_loop_and_duplicate_link_name():
    t = _two_nodes()
    with pytest.raises(TopologyError, match="two different nodes"):
        t.add_link("a", "a", 1.0)
    t.add_link("a", "b", 1.0, name="uplink")
    with pytest.raises(TopologyError, match="'uplink': a link with this name already exists"):
        t.add_link("a", "b", 1.0, name="uplink")



@pytest.mark.parametrize("odd_first", [True, False])
def test_direction_names_stay_unique_with_odd_node_names(odd_first):
    # "a->b#2" is both the first direction a -> "b#2" and the second link's a -> b: the
    # set of direction names is kept from the first node named with "#" or "->", whether
    # it comes before the links or after them (while no name has those, the names are
    # unique by construction and no set is kept)
    t = Topology()
    for n in ("a", "b", "b#2") if odd_first else ("a", "b"):
        t.add_node(n, "switch")
    if odd_first:
        t.add_link("a", "b#2", 1.0)
        t.add_link("a", "b", 1.0)
        with pytest.raises(TopologyError, match="direction name 'a->b#2' already in use"):
            t.add_link("a", "b", 1.0, name="second")
    else:
        t.add_link("a", "b", 1.0)
        t.add_link("a", "b", 1.0)
        t.add_node("b#2", "switch")
        with pytest.raises(TopologyError, match="direction name 'a->b#2' already in use"):
            t.add_link("a", "b#2", 1.0, name="other")
    assert [ld.name for ld in t.link_dirs()] == ["a->b", "a->b#2", "b->a", "b->a#2"] \
        if not odd_first else ["a->b", "a->b#2", "b#2->a", "b->a"]


def test_servers_share_attributes_and_links_keep_their_data():
    # a rack's servers share one attribute dict; every direction's data is its LinkDir
    t = rack(3, server_link=SERVER)
    s1, s2 = t.servers()[:2]
    assert t.graph.nodes[s1] is t.graph.nodes[s2]
    assert t.graph.nodes[s1]["kind"] == "server"
    for u, v, key, ld in t.graph.edges(keys=True, data="ld"):
        assert (ld.src, ld.dst, ld.name) == (u, v, key)
    copy = t.graph.copy()
    assert sorted(copy.edges(keys=True)) == sorted(t.graph.edges(keys=True))

@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: rack(0, server_link=SERVER), "servers must be an integer >= 1, got 0"),
        (lambda: rack(True, server_link=SERVER), "servers"),
        (lambda: rack(2, server_link=SERVER, nics=0), "nics"),
        (lambda: leaf_spine(0, 1, 1, server_link=SERVER, uplink=UPLINK), "racks"),
        (lambda: leaf_spine(1, 0, 1, server_link=SERVER, uplink=UPLINK), "servers_per_rack"),
        (lambda: leaf_spine(1, 1, 0, server_link=SERVER, uplink=UPLINK), "spines"),
        (lambda: leaf_spine(1, 1, 1, server_link=SERVER), "exactly one"),
        (lambda: leaf_spine(1, 1, 1, server_link=SERVER, uplink=UPLINK, oversubscription=2),
         "exactly one"),
        (lambda: leaf_spine(1, 1, 1, server_link=SERVER, oversubscription=0),
         "oversubscription"),
        (lambda: leaf_spine(1, 1, 1, server_link=SERVER, uplink=UPLINK,
                            hosts=[HostSpec("h", attach="spine7")]),
         "host 'h': attach to unknown node 'spine7'"),
        (lambda: rack(1, server_link=SERVER, hosts=[HostSpec("h", attach="r01s001")]),
         "cannot attach to 'r01s001'"),
        (lambda: rack(1, server_link=SERVER, hosts=[HostSpec("h"), HostSpec("h")]),
         "duplicate node 'h'"),
        (lambda: remote_site(0, server_link=SERVER, wan=UPLINK), "servers"),
        (lambda: LinkSpec(0.0), "bandwidth"),
        (lambda: LinkSpec(1.0, loss=1.0), "loss"),
        (lambda: HostSpec("h", nics=0), "nics"),
        (lambda: HostSpec(""), "name"),
    ],
)
def test_builder_argument_errors(build, match):
    with pytest.raises(TopologyError, match=match):
        build()
