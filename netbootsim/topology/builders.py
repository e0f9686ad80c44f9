"""Builders: pure functions that return the common data-center topologies.

Names are deterministic and zero-padded so they sort in build order: ToRs ``tor01``,
racks ``rack01``, servers ``r01s001`` (rack 1, server 1), spines ``spine1`` (padded to
``spine01`` from ten spines on). Padding widens when a count needs more digits.
All quantities are SI: bandwidth in bytes/s, latency in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .model import ENDPOINT_KINDS, Topology, TopologyError, check_link_values

__all__ = ["LinkSpec", "HostSpec", "WifiSpec", "rack", "leaf_spine", "remote_site",
           "multi_site", "site_names", "add_wifi", "station_rates"]


@dataclass(frozen=True)
class LinkSpec:
    """The same bandwidth, latency and loss in both directions of a link.

    Attributes:
        bandwidth: bytes per second, finite and > 0.
        latency: one-way latency in seconds, >= 0.
        loss: per-packet loss probability per direction, in [0, 1).
        jitter: the one-way delay's variation per direction (``LinkDir.jitter``).
    """

    bandwidth: float
    latency: float = 0.0
    loss: float = 0.0
    #: the ``b -> a`` direction's values where they differ (``None``: the same)
    bandwidth_ba: float | None = None
    latency_ba: float | None = None
    loss_ba: float | None = None
    jitter: float = 0.0
    jitter_ba: float | None = None

    def __post_init__(self) -> None:
        check_link_values("LinkSpec", self.bandwidth, self.latency, self.loss, self.jitter)


@dataclass(frozen=True)
class HostSpec:
    """A boot host (DHCP, TFTP, HTTP server...) to attach to a built topology.

    Attributes:
        name: unique node name, e.g. ``"tftp1"``.
        attach: node to link it to; ``None`` for the builder's default place.
        link: its link; ``None`` for the builder's ``host_link``.
        nics: parallel links to ``attach`` (two for an LACP pair).
    """

    name: str
    attach: str | None = None
    link: LinkSpec | None = None
    nics: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TopologyError(f"HostSpec: name must be a non-empty string, got {self.name!r}")
        _count(f"HostSpec {self.name!r}: nics", self.nics)


def rack(servers: int, *, server_link: LinkSpec, hosts: Sequence[HostSpec] = (),
         host_link: LinkSpec | None = None, nics: int = 1, name: str = "rack01",
         wifi: WifiSpec | None = None) -> Topology:
    """One rack: a ToR ``tor01`` with its servers and, optionally, boot hosts.

    Servers are ``r01s001``... (kind ``server``, rack and domain ``name``). Hosts attach
    to the ToR unless their ``attach`` says otherwise and join the domain of the node
    they attach to. The ToR is a plain L2 switch (no gateway).

    Args:
        servers: number of servers, >= 1.
        server_link: each server's link to the ToR.
        hosts: boot hosts to add.
        host_link: hosts' link when their spec has none; default ``server_link``.
        nics: links per server (2: two parallel links, LACP members).
        wifi: an access point on the ToR with its stations (:func:`add_wifi`).
        name: the rack's name, used as its rack label and L2 domain.

    Returns:
        The topology.

    Raises:
        TopologyError: a count below 1, a bad name or an unknown ``attach``.
    """
    _count("servers", servers)
    _count("nics", nics)
    if not isinstance(name, str) or not name:
        raise TopologyError(f"rack name must be a non-empty string, got {name!r}")
    topo = Topology()
    topo.add_node("tor01", "tor", domain=name, rack=name)
    _add_servers(topo, "tor01", "r01", name, name, servers, server_link, nics)
    if wifi is not None:  # an access point on the ToR: stations w001... (rack "wifi")
        add_wifi(topo, "tor01", name, "", "wifi", wifi)
    _add_hosts(topo, hosts, "tor01", host_link or server_link)
    return topo


def leaf_spine(racks: int, servers_per_rack: int, spines: int, *, server_link: LinkSpec,
               uplink: LinkSpec | None = None, oversubscription: float | None = None,
               hosts: Sequence[HostSpec] = (), host_link: LinkSpec | None = None,
               nics: int = 1) -> Topology:
    """A two-tier leaf-spine fabric: every ToR links to every spine.

    Rack ``i`` has ToR ``tor0i``, servers ``r0is001``..., and is its own L2 domain
    ``rack0i`` with the ToR as its L3 gateway. Spines are routed (no domain). Hosts
    without ``attach`` sit on a services leaf ``tor-svc`` (kind ``tor``, gateway, domain
    ``services``) linked to every spine with the uplink spec; the leaf exists only when
    some host uses it. A host attached elsewhere (``"spine1"``, ``"tor03"``) joins the
    domain of that node (none for a spine).

    Give exactly one of ``uplink`` and ``oversubscription``. With oversubscription
    ``X`` each ToR-spine link gets ``servers_per_rack * server_link.bandwidth * nics /
    (spines * X)`` bytes/s and the latency and loss of ``server_link``.

    Args:
        racks: number of racks (leaves), >= 1.
        servers_per_rack: servers under each ToR, >= 1.
        spines: number of spines, >= 1.
        server_link: each server's link to its ToR.
        uplink: each ToR-spine link.
        oversubscription: downlink over uplink capacity of a leaf, > 0.
        hosts: boot hosts to add.
        host_link: hosts' link when their spec has none; default ``server_link``.
        nics: links per server.

    Returns:
        The topology.

    Raises:
        TopologyError: a count below 1, not exactly one of ``uplink``/``oversubscription``,
            or an unknown ``attach``.
    """
    _count("racks", racks)
    _count("servers_per_rack", servers_per_rack)
    _count("spines", spines)
    _count("nics", nics)
    if (uplink is None) == (oversubscription is None):
        raise TopologyError("leaf_spine: give exactly one of uplink and oversubscription")
    if uplink is None:
        x = oversubscription
        if isinstance(x, bool) or not isinstance(x, int | float) or not (
                math.isfinite(x) and x > 0):
            raise TopologyError(f"oversubscription must be a finite number > 0, got {x!r}")
        bw = servers_per_rack * server_link.bandwidth * nics / (spines * x)
        uplink = LinkSpec(bw, server_link.latency, server_link.loss)
    topo = Topology()
    sw = len(str(spines))
    spine_names = [f"spine{j:0{sw}d}" for j in range(1, spines + 1)]
    for s in spine_names:
        topo.add_node(s, "spine")
    rw = max(2, len(str(racks)))
    for i in range(1, racks + 1):
        tor, rack_name = f"tor{i:0{rw}d}", f"rack{i:0{rw}d}"
        topo.add_node(tor, "tor", domain=rack_name, rack=rack_name, gateway=True)
        for s in spine_names:
            _link(topo, tor, s, uplink)
        _add_servers(topo, tor, f"r{i:0{rw}d}", rack_name, rack_name, servers_per_rack,
                     server_link, nics)
    if any(h.attach is None for h in hosts):
        topo.add_node("tor-svc", "tor", domain="services", gateway=True)
        for s in spine_names:
            _link(topo, "tor-svc", s, uplink)
    _add_hosts(topo, hosts, "tor-svc", host_link or server_link)
    return topo


def remote_site(servers: int, *, server_link: LinkSpec, wan: LinkSpec,
                hosts: Sequence[HostSpec] = (), host_link: LinkSpec | None = None,
                nics: int = 1, lan_link: LinkSpec | None = None,
                wifi: WifiSpec | None = None) -> Topology:
    """A remote site booting from a data center over a WAN link.

    Site: ToR ``tor01`` with servers ``r01s001``... (rack ``rack01``, domain ``site``)
    and router ``site-rtr`` (domain ``site``). WAN: ``site-rtr`` -- ``dc-rtr``, carrying
    the WAN latency and loss. Data center: router ``dc-rtr`` and switch ``dc-sw``
    (domain ``dc``) with the hosts attached to ``dc-sw`` unless their ``attach`` says
    otherwise.

    Args:
        servers: number of servers at the site, >= 1.
        server_link: each server's link to the ToR.
        wan: the WAN link.
        hosts: boot hosts to add.
        host_link: hosts' link when their spec has none; default ``server_link``.
        nics: links per server.
        lan_link: the ``tor01``--``site-rtr`` and ``dc-rtr``--``dc-sw`` links; default
            ``server_link``.
        wifi: an access point on ``site-rtr`` with its stations (:func:`add_wifi`).

    Returns:
        The topology.

    Raises:
        TopologyError: a count below 1 or an unknown ``attach``.
    """
    _count("servers", servers)
    _count("nics", nics)
    lan = lan_link or server_link
    topo = Topology()
    topo.add_node("tor01", "tor", domain="site", rack="rack01")
    topo.add_node("site-rtr", "router", domain="site")
    topo.add_node("dc-rtr", "router", domain="dc")
    topo.add_node("dc-sw", "switch", domain="dc")
    _link(topo, "tor01", "site-rtr", lan)
    _link(topo, "site-rtr", "dc-rtr", wan)
    _link(topo, "dc-rtr", "dc-sw", lan)
    _add_servers(topo, "tor01", "r01", "rack01", "site", servers, server_link, nics)
    if wifi is not None:  # an access point on the site router: site-ap, site-w001...
        add_wifi(topo, "site-rtr", "site", "site-", "site-wifi", wifi)
    _add_hosts(topo, hosts, "dc-sw", host_link or server_link)
    return topo


def site_names(sites: int) -> list[str]:
    """The names of a ``multi-site`` topology's sites: ``s01``... (wider past 99 sites)."""
    width = max(2, len(str(sites)))
    return [f"s{k:0{width}d}" for k in range(1, sites + 1)]


def multi_site(sites: int, racks: int, servers_per_rack: int, *, server_link: LinkSpec,
               wan: LinkSpec | Sequence[LinkSpec], hosts: Sequence[HostSpec] = (),
               host_link: LinkSpec | None = None, nics: int = 1,
               lan_link: LinkSpec | None = None, wifi: WifiSpec | None = None) -> Topology:
    """Sites booting from one central data center, each behind its own WAN link.

    Site ``k`` (``s01``, ``s02``...): router ``s01-rtr`` (domain ``s01``: the site's
    gateway, which relays its DHCP), ToRs ``s01-tor01``... with their servers
    ``s01r01s001``... (racks ``s01-rack01``...). WAN: ``s01-rtr`` -- ``dc-rtr``, one
    link per site with the WAN's bandwidth, latency and loss (with several WAN specs,
    site ``k`` takes spec ``(k - 1) mod`` their count). Data center: router
    ``dc-rtr`` and switch ``dc-sw`` (domain ``dc``); hosts attach to ``dc-sw`` unless
    their ``attach`` names another node (``s03-rtr``: a local server at site 3).

    Args:
        sites: number of sites, >= 1.
        racks: racks per site, >= 1.
        servers_per_rack: servers per rack, >= 1.
        server_link: each server's link to its ToR.
        wan: each site's WAN link, or the sites' WAN links in turn.
        hosts: boot hosts to add.
        host_link: hosts' link when their spec has none; default ``server_link``.
        nics: links per server.
        lan_link: ToR -- site router and ``dc-rtr`` -- ``dc-sw`` links; default
            ``server_link``.
        wifi: an access point on each site's router with its stations (:func:`add_wifi`).

    Returns:
        The topology.

    Raises:
        TopologyError: a count below 1 or an unknown ``attach``.
    """
    for what, n in (("sites", sites), ("racks", racks), ("servers_per_rack", servers_per_rack),
                    ("nics", nics)):
        _count(what, n)
    lan = lan_link or server_link
    wans = [wan] if isinstance(wan, LinkSpec) else list(wan)
    if not wans:
        raise TopologyError("multi-site needs at least one WAN link")
    topo = Topology()
    topo.add_node("dc-rtr", "router", domain="dc")
    topo.add_node("dc-sw", "switch", domain="dc")
    _link(topo, "dc-rtr", "dc-sw", lan)
    names = site_names(sites)
    for k, site in enumerate(names, 1):
        rtr = f"{site}-rtr"
        topo.add_node(rtr, "router", domain=site)
        _link(topo, rtr, "dc-rtr", wans[(k - 1) % len(wans)])
        for r in range(1, racks + 1):
            tor, rack_name = f"{site}-tor{r:02d}", f"{site}-rack{r:02d}"
            topo.add_node(tor, "tor", domain=site, rack=rack_name)
            _link(topo, tor, rtr, lan)
            _add_servers(topo, tor, f"{site}r{r:02d}", rack_name, site, servers_per_rack,
                         server_link, nics)
        if wifi is not None:  # the site's access point: s01-ap, s01-w001... (s01-wifi)
            add_wifi(topo, rtr, site, f"{site}-", f"{site}-wifi", wifi)
    _add_hosts(topo, hosts, "dc-sw", host_link or server_link)
    topo.graph.graph["sites"] = names
    return topo


@dataclass(frozen=True)
class WifiSpec:
    """Wi-Fi at a site: one access point with its stations (kiosks, edge devices).

    Attributes:
        stations: stations per access point.
        rates: each station's PHY rate (Mb/s), by station index (the mix already laid
            out: see :func:`station_rates`).
        uplink: the access point's wired link to the site's switch or router.
        latency: the wireless hop's one-way latency (s).
        associate: a station's scan and association before its first packet (s).
    """

    stations: int
    rates: tuple[float, ...]
    uplink: LinkSpec
    latency: float = 0.0
    associate: float = 0.0


def station_rates(stations: int, mix: Sequence[tuple[float, float]]) -> tuple[float, ...]:
    """Each station's rate from a ``(rate, share)`` mix, by index, with no draw.

    Station ``i`` takes the rate whose cumulative share first exceeds ``(i + 0.5) / n``
    (the mix in its given order): 4 stations of ``[(54, 0.5), (24, 0.5)]`` are 54, 54,
    24, 24.
    """
    out = []
    for i in range(stations):
        at, acc = (i + 0.5) / stations, 0.0
        rate = mix[-1][0]
        for r, share in mix:
            acc += share
            if at < acc:
                rate = r
                break
        out.append(rate)
    return tuple(out)


def add_wifi(topo: Topology, attach: str, domain: str, prefix: str, rack_name: str,
             spec: WifiSpec) -> str:
    """An access point ``<prefix>ap`` on ``attach`` with stations ``<prefix>w001``...

    The stations are servers of rack ``rack_name`` and of ``domain`` (the access point
    bridges them to the site's LAN); each has a wireless link to the access point at
    its PHY rate, and is listed in :attr:`Topology.stations`. Returns the access point.
    """
    _count("wifi stations", spec.stations)
    ap = f"{prefix}ap"
    topo.add_node(ap, "switch", domain=domain)
    _link(topo, ap, attach, spec.uplink)
    for i in range(spec.stations):
        name = f"{prefix}w{i + 1:03d}"
        rate = spec.rates[i]
        topo.add_node(name, "server", domain=domain, rack=rack_name)
        topo.add_link(name, ap, rate * 1e6 / 8, spec.latency)
        topo.stations[name] = (ap, rate)
    topo.associate = spec.associate
    return ap


def _count(what: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TopologyError(f"{what} must be an integer >= 1, got {value!r}")


def _link(topo: Topology, a: str, b: str, spec: LinkSpec) -> None:
    topo.add_link(a, b, spec.bandwidth, spec.latency, spec.loss,
                  bandwidth_ba=spec.bandwidth_ba, latency_ba=spec.latency_ba,
                  loss_ba=spec.loss_ba, jitter=spec.jitter, jitter_ba=spec.jitter_ba)


def _add_servers(topo: Topology, tor: str, prefix: str, rack_name: str, domain: str,
                 count: int, link: LinkSpec, nics: int) -> None:
    width = max(3, len(str(count)))
    for i in range(1, count + 1):
        s = f"{prefix}s{i:0{width}d}"
        topo.add_node(s, "server", domain=domain, rack=rack_name, nics=nics)
        for _ in range(nics):
            _link(topo, tor, s, link)


def _add_hosts(topo: Topology, hosts: Sequence[HostSpec], default: str,
               default_link: LinkSpec) -> None:
    for h in hosts:
        attach = default if h.attach is None else h.attach
        if attach not in topo:
            raise TopologyError(f"host {h.name!r}: attach to unknown node {attach!r}")
        if topo.node_kind(attach) in ENDPOINT_KINDS:
            raise TopologyError(f"host {h.name!r}: cannot attach to {attach!r}, a "
                                f"{topo.node_kind(attach)}; attach to a switch or router")
        topo.add_node(h.name, "host", domain=topo.domain_of(attach), nics=h.nics)
        for _ in range(h.nics):
            _link(topo, attach, h.name, h.link or default_link)
