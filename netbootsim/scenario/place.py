"""Placing a scenario on its network: the topology built field by field, servers allocated.

The topology section becomes a :class:`~netbootsim.topology.Topology` through the
builders (``rack``, ``leaf_spine``, ``remote_site``), then the explicit ``nodes``,
the hosts attached to them, and the explicit ``links`` are added one by one, so each
failure names its own field. Fleet groups then take servers in topology order. Used by
validation (:mod:`.load`, which reports what only a built topology shows) and by
:func:`.build.build`.
"""

from __future__ import annotations

import fnmatch

from ..dist import Dist
from ..ipxe.sanpath import named_targets, parse_san_uri
from ..net.wifi import OFDM_RATES
from ..protocols.san import NOT_ROUTED, SAN_KINDS
from ..topology import (
    ENDPOINT_KINDS,
    HostSpec,
    LinkSpec,
    Topology,
    TopologyError,
    WifiSpec,
    leaf_spine,
    multi_site,
    rack,
    remote_site,
    station_rates,
)
from .messages import suggest
from .schema import Fault, FleetGroup, Link, TopologySection

__all__ = ["build_topology", "allocate", "fault_target_checks", "cost_target_checks", "Issue",
           "DEFAULT_SPINES"]

Issue = tuple[tuple, str]
_T = ("topology",)
#: Spines of a leaf-spine fabric when unset: the smallest layer with redundancy.
DEFAULT_SPINES = 2


def _spec(link: Link | None) -> LinkSpec | None:
    if link is None:
        return None
    r = getattr(link, "reverse", None)  # (a WAN link's other direction)
    return LinkSpec(link.bandwidth, link.latency, link.loss,
                    bandwidth_ba=r and r.bandwidth, latency_ba=r and r.latency,
                    loss_ba=r and r.loss, jitter=link.jitter, jitter_ba=r and r.jitter)


def _wifi(t: TopologySection) -> WifiSpec | None:
    """The topology's Wi-Fi as the builders take it (its mix laid out by station)."""
    w = t.wifi
    if w is None:
        return None
    mix = [(r.rate * 8 / 1e6, r.share) for r in w.rates]
    return WifiSpec(w.stations, station_rates(w.stations, mix),
                    _spec(w.uplink or t.server_link), w.latency, w.associate)


def wifi_checks(t: TopologySection) -> list[Issue]:
    """Wi-Fi: on a shape with sites, OFDM rates, shares that add up to 1."""
    w = t.wifi
    if w is None:
        return []
    p = (*_T, "wifi")
    issues: list[Issue] = []
    if t.shape not in ("rack", "remote-site", "multi-site"):
        issues.append((p, f"Wi-Fi access points are placed on rack, remote-site and "
                          f"multi-site topologies, not {t.shape}"))
    for i, r in enumerate(w.rates):
        mbps = r.rate * 8 / 1e6
        if not any(abs(mbps - x) < 1e-6 for x in OFDM_RATES):
            issues.append(((*p, "rates", i, "rate"),
                           f"{mbps:g} Mb/s is not an 802.11a/g OFDM rate "
                           f"({', '.join(f'{x:g}' for x in OFDM_RATES)} Mb/s); iPXE's 802.11 "
                           "stack has no 802.11n (src/include/ipxe/net80211.h)"))
    total = sum(r.share for r in w.rates)
    if abs(total - 1.0) > 1e-9:
        issues.append(((*p, "rates"), f"the shares add up to {total:g}, not 1"))
    return issues


def _shape(t: TopologySection, hosts: list[HostSpec]) -> Topology:
    server_link, host_link = _spec(t.server_link), _spec(t.host_link)
    wifi = _wifi(t)
    if t.shape == "rack":
        return rack(t.servers, server_link=server_link, hosts=hosts, host_link=host_link,
                    nics=t.nics, wifi=wifi)
    if t.shape == "leaf-spine":
        return leaf_spine(t.racks, t.servers_per_rack, t.spines or DEFAULT_SPINES,
                          server_link=server_link, uplink=_spec(t.uplink),
                          oversubscription=t.oversubscription, hosts=hosts,
                          host_link=host_link, nics=t.nics)
    if t.shape == "remote-site":
        return remote_site(t.servers, server_link=server_link, wan=_spec(t.wan), hosts=hosts,
                           host_link=host_link, nics=t.nics, wifi=wifi)
    if t.shape == "multi-site":
        wan = [_spec(w) for w in t.wans] if t.wans else _spec(t.wan)
        return multi_site(t.sites, t.racks, t.servers_per_rack, server_link=server_link,
                          wan=wan, hosts=hosts, host_link=host_link, nics=t.nics,
                          wifi=wifi)
    return Topology()


def _attach_issue(topo: Topology, path: tuple, attach: str) -> Issue | None:
    if attach not in topo:
        return path, f"unknown node {attach!r}{suggest(attach, list(topo.graph))}"
    if topo.node_kind(attach) in ENDPOINT_KINDS:
        return path, (f"cannot attach to {attach!r}, a {topo.node_kind(attach)}; attach to a "
                      "switch or router")
    return None


def _diagnose(t: TopologySection, early: list[tuple[int, HostSpec]],
              error: TopologyError) -> list[Issue]:
    """Which early host made the builder fail (it stops at the first problem)."""
    try:
        bare = _shape(t, [])
    except TopologyError as e:
        return [(_T, str(e))]
    issues = []
    for i, h in early:
        p = (*_T, "hosts", i)
        if h.name in bare:
            issues.append(((*p, "name"), f"{h.name!r} is already a node of the "
                           f"{t.shape} topology"))
        elif h.attach is not None and (issue := _attach_issue(bare, (*p, "attach"), h.attach)):
            issues.append(issue)
    return issues or [(_T, str(error))]


def build_topology(t: TopologySection) -> tuple[Topology | None, list[Issue]]:
    """Build the topology section, collecting every problem with its field path.

    Returns:
        ``(topology, [])``, or ``(None, issues)`` when anything failed.
    """
    if issues := wifi_checks(t):
        return None, issues
    extra = {n.name for n in t.nodes}
    hosts = list(enumerate(t.hosts))
    late = [(i, h) for i, h in hosts if t.shape == "custom" or h.attach in extra]
    late_index = {i for i, _ in late}
    early = [(i, HostSpec(h.name, h.attach, _spec(h.link), h.nics)) for i, h in hosts
             if i not in late_index]
    try:
        topo = _shape(t, [h for _, h in early])
    except TopologyError as e:
        return None, _diagnose(t, early, e)
    issues: list[Issue] = []
    for i, n in enumerate(t.nodes):
        p = (*_T, "nodes", i)
        if n.name in topo:
            issues.append(((*p, "name"), f"{n.name!r} is already a node of the {t.shape} "
                           "topology"))
            continue
        try:
            topo.add_node(n.name, n.kind, domain=n.domain, rack=n.rack, nics=n.nics,
                          gateway=n.gateway)
        except TopologyError as e:
            issues.append((p, str(e)))
    default_link = t.host_link or t.server_link
    for i, h in late:
        p = (*_T, "hosts", i)
        if h.attach is None:
            continue  # reported by the static checks (custom shape needs attach)
        if issue := _attach_issue(topo, (*p, "attach"), h.attach):
            issues.append(issue)
            continue
        link = h.link or default_link
        try:
            topo.add_node(h.name, "host", domain=topo.domain_of(h.attach), nics=h.nics)
            for _ in range(h.nics):
                topo.add_link(h.attach, h.name, link.bandwidth, link.latency, link.loss,
                              jitter=link.jitter)
        except TopologyError as e:
            issues.append((p, str(e)))
    for i, lk in enumerate(t.links):
        p = (*_T, "links", i)
        missing = [(end, getattr(lk, end)) for end in ("a", "b") if getattr(lk, end) not in topo]
        for end, name in missing:
            issues.append(((*p, end), f"unknown node {name!r}{suggest(name, list(topo.graph))}"))
        if missing:
            continue
        r = lk.reverse
        try:
            topo.add_link(lk.a, lk.b, lk.bandwidth, lk.latency, lk.loss,
                          bandwidth_ba=r and r.bandwidth, latency_ba=r and r.latency,
                          loss_ba=r and r.loss, name=lk.name, jitter=lk.jitter,
                          jitter_ba=r and r.jitter)
        except TopologyError as e:
            issues.append((p, str(e)))
    if not issues:
        issues = [(_T, msg) for msg in topo.validate()]
    return (None if issues else topo), issues


def allocate(topo: Topology, fleet: list[tuple[int, FleetGroup]]
             ) -> tuple[list[tuple[str, str]], list[Issue]]:
    """Give each group its servers: the first free ones in topology order.

    Args:
        topo: the built topology.
        fleet: groups with their index in ``fleet``.

    Returns:
        ``(server, group)`` pairs and the problems (unknown rack, too few servers).
    """
    order = topo.servers()
    rack_of = {s: topo.graph.nodes[s].get("rack") for s in order}
    racks = sorted({r for r in rack_of.values() if r is not None})
    taken: set[str] = set()
    out: list[tuple[str, str]] = []
    issues: list[Issue] = []
    first = 0  # every server of ``order`` before it is taken
    for i, g in fleet:
        pool = order
        where = ""
        if g.racks is not None:
            wanted = set()
            for j, r in enumerate(g.racks):
                if any(c in r for c in "*?["):  # a pattern: every rack it matches
                    hits = fnmatch.filter(racks, r)
                    wanted.update(hits)
                    if hits:
                        continue
                    what = f"no rack matches {r!r}"
                elif r in racks:
                    wanted.add(r)
                    continue
                else:
                    what = f"unknown rack {r!r}{suggest(r, racks)}"
                issues.append((("fleet", i, "racks", j), f"{what}; racks: {', '.join(racks[:12])}"
                               f"{', ...' if len(racks) > 12 else ''}"))
            pool = [s for s in order if rack_of[s] in wanted]
            where = f" in racks {', '.join(g.racks)}"
        if pool is order:  # (not from the start each time: 50 groups of 100,000 servers)
            while first < len(order) and order[first] in taken:
                first += 1
            pool = order[first:]
        chosen = []  # the first g.count free ones; all of them if fewer
        for s in pool if g.count > 0 else ():
            if s not in taken:
                chosen.append(s)
                if len(chosen) == g.count:
                    break
        if g.count > len(chosen):
            issues.append((("fleet", i, "count"),
                           f"asks for {g.count} servers but only {len(chosen)} are free"
                           f"{where} (the topology has {len(order)}; earlier groups took "
                           f"{len(taken)})"))
        taken.update(chosen)
        out.extend((s, g.name) for s in chosen)
    return out, issues


def fault_target_checks(topo: Topology, faults: list[tuple[int, Fault]],
                        groups: frozenset[str] = frozenset()) -> list[Issue]:
    """Faults must name a link (or, link-down, a group) or server (or group) that exists."""
    links = list(topo.links())
    issues = []
    for i, f in faults:
        if f.kind in ("link-down", "loss") and f.target not in links and \
                f.target not in groups:
            example = links[0] if links else "a--b"
            issues.append((("faults", i, "target"), f"unknown link {f.target!r}"
                           f"{suggest(f.target, links)}; links are named like {example!r}"))
        if f.kind == "server-fail" and f.target not in groups and (
                f.target not in topo.graph or
                topo.graph.nodes[f.target].get("kind") != "server"):
            servers = topo.servers()
            issues.append((("faults", i, "target"), f"a server-fail fault names a server or "
                           f"a fleet group; {f.target!r} is neither"
                           f"{suggest(f.target, servers + sorted(groups))}"))
        per_port = f.kind in ("lacp", "stp") or (f.kind == "link-down" and f.target in groups)
        if isinstance(f.duration, Dist) and not per_port:
            issues.append((("faults", i, "duration"), (
                "a distribution varies per server port: only for a group's lacp, stp or "
                "link-down; this fault is one window of the run: give a duration")))
    return issues


def cost_target_checks(topo: Topology, costs, services: set[str]) -> list[Issue]:
    """Priced links, sites and egress must be parts of the built topology.

    Links (and egress not of a service) are its links; sites are a multi-site topology's.
    """
    if costs is None:
        return []
    links = list(topo.links())
    example = links[0] if links else "a--b"
    issues: list[Issue] = []
    named = [("links", n) for n in costs.links] + [
        ("egress_gb", n) for n in costs.egress_gb if n not in services]
    for section, name in named:
        if name not in links:
            what = "link" if section == "links" else "service or link"
            issues.append((("costs", section, name), f"unknown {what} {name!r}"
                           f"{suggest(name, links)}; links are named like {example!r}"))
    sites = topo.sites()
    if not sites and (costs.sites or costs.each_site is not None):
        field = "each_site" if costs.each_site is not None else "sites"
        issues.append((("costs", field), "the topology has no sites: only a multi-site "
                                         "topology (shape: multi-site) has them"))
    elif sites:
        for name in costs.sites:
            if name not in sites:
                issues.append((("costs", "sites", name), f"unknown site {name!r}"
                               f"{suggest(name, sites)}; sites: {', '.join(sites)}"))
    return issues


def san_target_checks(topo: Topology, placed: list[tuple[str, str]],
                      fleet: list[tuple[int, FleetGroup]], services: dict) -> list[Issue]:
    """The SAN root paths a group's script writes out must reach a target.

    ``sanboot``/``sanhook`` arguments of the form ``iscsi:...``, ``aoe:...`` or
    ``fcp:...`` without ``${...}`` in them (a computed one is known only when it runs):
    an iSCSI path names the host (or service) of an ``iscsi`` target, with its ``iqn``
    if it has one; an AoE path names a target's ``e<shelf>.<slot>``, an FCoE path a
    target's ``wwn``, in an L2 domain of each of the group's servers: AoE and FCoE are
    Ethernet, no router forwards them (AoE r11 [aoe-r11], FC-BB-5 [fc-bb-5]). Several
    paths on one line are one drive's (multipath): the line is refused when none of
    them reaches a target.
    """
    targets = {n: s for n, s in services.items() if getattr(s, "kind", "") in SAN_KINDS}
    members: dict[str, list[str]] = {}
    for server, group in placed:
        members.setdefault(group, []).append(server)
    issues: list[Issue] = []
    for i, g in fleet:
        if g.script is None:
            continue
        for line in g.script.splitlines():
            words = line.split()
            if not words or words[0] not in ("sanboot", "sanhook"):
                continue
            paths = [(u, parse_san_uri(u)) for u in words[1:] if not u.startswith("-")]
            if not paths or any("${" in u or p is None for u, p in paths):
                continue  # computed, or not a SAN root path: the run will tell
            whys = [(u, _san_problem(topo, p, targets, members.get(g.name, [])))
                    for u, p in paths]
            if all(why for _, why in whys):  # one good path is a drive (multipath)
                issues.append((("fleet", i, "script"), "; ".join(
                    f"{words[0]} {u}: {why}" for u, why in whys)))
    return issues


def _san_problem(topo: Topology, parsed: tuple, targets: dict, servers: list[str]) -> str:
    named, why = named_targets(parsed, sorted(targets.items()))
    kind = parsed[0]
    if not named or kind not in NOT_ROUTED:
        return why
    far = [s for s in servers if not any(
        set(topo.domains_of(s)) & set(topo.domains_of(t.host)) for _, t in named)]
    if far:
        name, t = named[0]
        what = "AoE" if kind == "aoe" else "FCoE"
        return (f"{what} is not routed: {len(far)} of the group's {len(servers)} servers "
                f"(first {far[0]}, in {', '.join(topo.domains_of(far[0])) or 'no domain'}) "
                f"share no L2 domain with {name} on {t.host} "
                f"({', '.join(topo.domains_of(t.host)) or 'no domain'})")
    return ""
