"""The network graph: nodes, full-duplex links, L2 domains and the routes flows take.

A :class:`Topology` holds a :class:`networkx.MultiDiGraph`. Every full-duplex link
is two directed edges, one :class:`LinkDir` each; a ``LinkDir`` is what the flow
engine treats as one resource (capacity in bytes/s, one-way latency in seconds,
per-packet loss probability).

Routing is shortest path by hop count. Where several next hops (other switches, or
parallel links such as LACP members) are equally short, one is chosen per hop by a
stable hash of ``f"{flow_key}|{node}"`` (BLAKE2b, never Python's salted ``hash``),
the way a switch hashes a flow's 5-tuple: the same key takes the same path on every
run and machine, different keys spread over the members. Servers and hosts are end
points: a route starts or ends at them but never passes through them.

L2 domains (VLANs) are plain labels on nodes. A node has a home domain and may
belong to more (a router with a leg in several VLANs). L3 nodes are routers and
switches flagged ``gateway=True`` (a ToR acting as the rack's gateway); a DHCP
broadcast stays inside its domain and is relayed by the L3 nodes of that domain,
see :meth:`Topology.routers_between`.

Mutate a topology only through :meth:`Topology.add_node` and
:meth:`Topology.add_link`; they keep the routing caches consistent.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

from .routing import (
    ENDPOINT_KINDS,
    chain_to,
    hops_between,
    reach,
    relays_toward,
    stable_pick,
)

__all__ = ["NODE_KINDS", "ENDPOINT_KINDS", "LinkDir", "Topology", "TopologyError"]

#: Every kind of node a topology may hold.
NODE_KINDS: tuple[str, ...] = ("server", "tor", "spine", "router", "host", "switch", "wan")


class TopologyError(ValueError):
    """A topology cannot be built or queried as asked; the message names the culprit."""


@dataclass(frozen=True, slots=True)
class LinkDir:
    """One direction of a full-duplex link: one resource for the flow engine.

    Attributes:
        name: unique name, ``"src->dst"``, with ``"#2"``, ``"#3"``... for parallel links.
        src: node the bytes leave.
        dst: node the bytes arrive at.
        capacity: bytes per second, finite and > 0.
        latency: one-way delay in seconds (propagation plus switching), >= 0.
        loss: per-packet loss probability in this direction, in [0, 1).
        link: name of the full-duplex link this direction belongs to.
        jitter: each packet's one-way delay is drawn uniformly in ``latency ± jitter``
            (netem's ``delay TIME JITTER`` [netem]), order kept; ``0 <= jitter <=
            latency``.
    """

    name: str
    src: str
    dst: str
    capacity: float
    latency: float
    loss: float
    link: str
    jitter: float = 0.0


def check_link_values(where: str, bandwidth: float, latency: float, loss: float,
                      jitter: float = 0.0) -> None:
    """Raise :class:`TopologyError` unless the values make a valid link direction.

    Args:
        where: what is being checked, for the message (e.g. ``"link 'a--b'"``).
        bandwidth: bytes/s; must be finite and > 0.
        latency: seconds; must be finite and >= 0.
        loss: probability; must be in [0, 1).
        jitter: seconds; must be in [0, latency] (a delay never below 0).
    """
    if not _is_number(bandwidth) or not (math.isfinite(bandwidth) and bandwidth > 0):
        raise TopologyError(f"{where}: bandwidth must be a finite number > 0 bytes/s, "
                            f"got {bandwidth!r}")
    if not _is_number(latency) or not (math.isfinite(latency) and latency >= 0):
        raise TopologyError(f"{where}: latency must be a finite number >= 0 s, got {latency!r}")
    if not _is_number(loss) or not 0 <= loss < 1:
        raise TopologyError(f"{where}: loss must be a probability in [0, 1), got {loss!r}")
    if not _is_number(jitter) or not 0 <= jitter <= latency:
        raise TopologyError(f"{where}: jitter must be between 0 and the latency "
                            f"({latency:g} s), got {jitter!r}")


def _is_number(x: object) -> bool:
    t = type(x)
    if t is float or t is int:  # (the common case first: a link check per direction)
        return True
    return isinstance(x, int | float) and not isinstance(x, bool)


# A fleet's servers are most of a topology's nodes and links, and networkx keeps a dict
# for each node's attributes, its neighbours each way, each (node, neighbour) pair's
# links and each link direction's attributes: ~1,900 B a server in a leaf-spine fleet,
# more than any other part of a storm's built state (benchmarks/storm_memory.py). The
# two mappings below take the place of the last two (MultiDiGraph's factories,
# :class:`_Graph`) and of a server's neighbours, and servers that share their attributes
# share one dict (:meth:`Topology.add_node`).
class _LinkData(MutableMapping):
    """A link direction's attributes in the graph: its :class:`LinkDir` as ``ld``, no more.

    ~40 bytes against a dict's ~200; any other attribute is refused.
    """

    __slots__ = ("ld",)

    def __init__(self) -> None:
        self.ld: LinkDir | None = None

    def __getitem__(self, key: str) -> LinkDir:
        if key != "ld" or self.ld is None:
            raise KeyError(key)
        return self.ld

    def __setitem__(self, key: str, value: LinkDir) -> None:
        if key != "ld":
            raise KeyError(f"a link direction's only attribute is 'ld', not {key!r}")
        self.ld = value

    def __delitem__(self, key: str) -> None:
        self[key]  # KeyError if absent
        self.ld = None

    def __iter__(self) -> Iterator[str]:
        if self.ld is not None:
            yield "ld"

    def __len__(self) -> int:
        return 0 if self.ld is None else 1

    def update(self, other: Any = (), /, **kwds: LinkDir) -> None:
        """As a dict's (networkx sets an edge's data so; Mapping's own is slower)."""
        if type(other) is dict and not kwds:
            for key, value in other.items():
                self[key] = value
        else:
            super().update(other, **kwds)

    def copy(self) -> dict[str, LinkDir]:
        """A plain dict of the attributes (as networkx copies edge data)."""
        return dict(self)


_NONE = object()  # (an empty :class:`_Small`)


class _Small(MutableMapping):
    """A mapping that holds one entry inline and more in a dict.

    For the graph's tables that mostly hold one: the link directions from one node to
    another, by name, and a server's neighbours (its switch) each way.

    The one-entry case costs ~72 bytes against a dict's ~250; order is insertion
    order, as a dict's.
    """

    __slots__ = ("_key", "_value", "_more")

    def __init__(self) -> None:
        self._key: object = _NONE
        self._value: object = None
        self._more: dict | None = None

    def __getitem__(self, key: object) -> object:
        if self._more is not None:
            return self._more[key]
        if self._key is _NONE or self._key != key:
            raise KeyError(key)
        return self._value

    def __setitem__(self, key: object, value: object) -> None:
        if self._more is not None:
            self._more[key] = value
        elif self._key is _NONE or self._key == key:
            self._key, self._value = key, value
        else:
            self._more = {self._key: self._value, key: value}
            self._key, self._value = _NONE, None

    def __delitem__(self, key: object) -> None:
        if self._more is not None:
            del self._more[key]
        elif self._key is _NONE or self._key != key:
            raise KeyError(key)
        else:
            self._key, self._value = _NONE, None

    def __iter__(self) -> Iterator[object]:
        if self._more is not None:
            yield from self._more
        elif self._key is not _NONE:
            yield self._key

    def __len__(self) -> int:
        if self._more is not None:
            return len(self._more)
        return 0 if self._key is _NONE else 1

    # (Mapping's own ``in`` and ``get`` raise and catch a KeyError for a key not held:
    # building a 100,000-server leaf-spine asked ``in`` 220,000 times, 10 % of its time)
    def __contains__(self, key: object) -> bool:
        if self._more is not None:
            return key in self._more
        return self._key is not _NONE and self._key == key

    def get(self, key: object, default: object = None) -> object:
        """The value held for ``key``, else ``default``."""
        if self._more is not None:
            return self._more.get(key, default)
        if self._key is not _NONE and self._key == key:
            return self._value
        return default

    def copy(self) -> dict:
        """A plain dict of the entries."""
        return dict(self.items())


def _only(table: MutableMapping) -> tuple[Any, Any] | None:
    """``(key, value)`` of a table that holds exactly one entry, else ``None``.

    For the graph's tables, without Mapping's views: a route looks at its ends' (a
    :class:`_Small` each, for a server) every time it is asked for.
    """
    if type(table) is _Small:
        if table._more is None:
            return None if table._key is _NONE else (table._key, table._value)
        table = table._more
    return next(iter(table.items())) if len(table) == 1 else None


class _Graph(nx.MultiDiGraph):
    """networkx's MultiDiGraph with compact link tables (:class:`_Small`, :class:`_LinkData`)."""

    edge_key_dict_factory = _Small
    edge_attr_dict_factory = _LinkData


class Topology:
    """A network: typed nodes, full-duplex links, L2 domains and routes.

    Attributes:
        graph: the directed multigraph. Nodes carry ``kind``, ``domain`` (home domain or
            ``None``), ``domains`` (list of all), ``rack``, ``nics`` and ``gateway``;
            each edge has key ``LinkDir.name`` and attribute ``ld`` (the :class:`LinkDir`).
    """

    def __init__(self) -> None:
        self.graph: nx.MultiDiGraph = _Graph()
        #: servers' attribute dicts, one per distinct set of values (a rack's servers
        #: share one; nothing changes a node's attributes once it is added)
        self._shared_attrs: dict[tuple, dict] = {}
        self._links: dict[str, tuple[LinkDir, LinkDir]] = {}
        #: every direction's name, kept once a node's name could make two alike: while
        #: no node name holds "->" or "#", ``"a->b#n"`` names its link's ends and number,
        #: so names are unique as (pair, n) are (a set of them was ~200 B a server)
        self._dir_names: set[str] | None = None
        #: Wi-Fi stations (:func:`~.builders.add_wifi`): station -> (its access point,
        #: its PHY rate in Mb/s)
        self.stations: dict[str, tuple[str, float]] = {}
        #: a Wi-Fi station's scan and association before its first packet (s)
        self.associate = 0.0
        self._invalidate()

    def __repr__(self) -> str:
        return f"Topology({self.graph.number_of_nodes()} nodes, {len(self._links)} links)"

    def __contains__(self, node: object) -> bool:
        return node in self.graph

    # -- building -------------------------------------------------------------------------

    def add_node(self, name: str, kind: str, *, domain: str | Sequence[str] | None = None,
                 rack: str | None = None, nics: int = 1, gateway: bool = False) -> None:
        """Add a node.

        Args:
            name: unique, non-empty node name.
            kind: one of :data:`NODE_KINDS`.
            domain: the L2 domain (VLAN) name, or a sequence of names for a node with a leg
                in several (the first is its home domain), or ``None``.
            rack: rack label, for reports.
            nics: network interfaces the node has (servers and hosts; checked by
                :meth:`validate` against their links).
            gateway: the node routes between its domain and the rest (a ToR acting as the
                L3 gateway). Always true for kind ``"router"``.

        Raises:
            TopologyError: duplicate or empty name, unknown kind, bad domain or nics.
        """
        if not isinstance(name, str) or not name:
            raise TopologyError(f"node name must be a non-empty string, got {name!r}")
        if name in self.graph:
            raise TopologyError(f"duplicate node {name!r}")
        if kind not in NODE_KINDS:
            raise TopologyError(f"node {name!r}: unknown kind {kind!r}; expected one of "
                                f"{', '.join(NODE_KINDS)}")
        doms = [domain] if isinstance(domain, str) else list(domain or ())
        if any(not isinstance(d, str) or not d for d in doms):
            raise TopologyError(f"node {name!r}: domain names must be non-empty strings, "
                                f"got {domain!r}")
        doms = list(dict.fromkeys(doms))
        if not isinstance(nics, int) or isinstance(nics, bool) or nics < 1:
            raise TopologyError(f"node {name!r}: nics must be an integer >= 1, got {nics!r}")
        attrs = {"kind": kind, "domain": doms[0] if doms else None, "domains": doms,
                 "rack": rack, "nics": nics, "gateway": kind == "router" or bool(gateway)}
        if kind == "server":
            attrs = self._shared_attrs.setdefault((kind, tuple(doms), rack, nics,
                                                   attrs["gateway"]), attrs)
            g = self.graph  # as networkx's add_node does, with the shared dict (and
            g._succ[name] = _Small()  # a server's one neighbour held inline)
            g._pred[name] = _Small()
            g._node[name] = attrs
            nx._clear_cache(g)
        else:
            self.graph.add_node(name, **attrs)
        if self._dir_names is None and ("->" in name or "#" in name):
            self._dir_names = {ld.name for pair in self._links.values() for ld in pair}
        self._invalidate()

    def add_link(self, a: str, b: str, bandwidth: float, latency: float = 0.0,
                 loss: float = 0.0, *, bandwidth_ba: float | None = None,
                 latency_ba: float | None = None, loss_ba: float | None = None,
                 name: str | None = None, jitter: float = 0.0,
                 jitter_ba: float | None = None) -> tuple[LinkDir, LinkDir]:
        """Add a full-duplex link between two existing nodes.

        The ``*_ba`` values set the direction ``b -> a``; each defaults to its ``a -> b``
        counterpart. Parallel links between the same pair are allowed: the first is named
        ``"a--b"`` with directions ``"a->b"``/``"b->a"``, the second ``"a--b#2"`` with
        ``"a->b#2"``/``"b->a#2"``, and so on.

        Args:
            a: one end.
            b: the other end.
            bandwidth: capacity ``a -> b`` in bytes/s.
            latency: one-way latency ``a -> b`` in seconds.
            loss: per-packet loss probability ``a -> b``.
            bandwidth_ba: capacity ``b -> a``.
            latency_ba: latency ``b -> a``.
            loss_ba: loss probability ``b -> a``.
            name: the link's name instead of the default.
            jitter: the one-way delay's variation ``a -> b`` (:class:`LinkDir`).
            jitter_ba: the same ``b -> a``.

        Returns:
            The two directions ``(a -> b, b -> a)``.

        Raises:
            TopologyError: unknown endpoint, a self-loop, a name already used, or a value
                out of range.
        """
        for end in (a, b):
            if end not in self.graph:
                raise TopologyError(f"link {a!r}--{b!r}: unknown node {end!r}")
        if a == b:
            raise TopologyError(f"link {a!r}--{b!r}: a link needs two different nodes")
        nth = len(self.graph._succ[a].get(b, ())) + 1  # (links are never removed)
        suffix = "" if nth == 1 else f"#{nth}"
        link = f"{a}--{b}{suffix}" if name is None else name
        where = f"link {link!r}"
        if not isinstance(link, str) or not link:
            raise TopologyError(f"link {a!r}--{b!r}: name must be a non-empty string")
        if link in self._links:
            raise TopologyError(f"{where}: a link with this name already exists")
        values = {
            (a, b): (bandwidth, latency, loss, jitter),
            (b, a): (
                bandwidth if bandwidth_ba is None else bandwidth_ba,
                latency if latency_ba is None else latency_ba,
                loss if loss_ba is None else loss_ba,
                jitter if jitter_ba is None else jitter_ba,
            ),
        }
        dirs = []
        for (x, y), (bw, lat, p, jit) in values.items():
            dir_name = f"{x}->{y}{suffix}"
            check_link_values(f"{where} direction {dir_name!r}", bw, lat, p, jit)
            if self._dir_names is not None and dir_name in self._dir_names:
                raise TopologyError(f"{where}: direction name {dir_name!r} already in use")
            dirs.append(LinkDir(dir_name, x, y, float(bw), float(lat), float(p), link,
                                float(jit)))
        ab, ba = dirs
        self.graph.add_edge(a, b, key=ab.name, ld=ab)
        self.graph.add_edge(b, a, key=ba.name, ld=ba)
        self._links[link] = (ab, ba)
        if self._dir_names is not None:
            self._dir_names.update((ab.name, ba.name))
        self._invalidate()
        return ab, ba

    # -- queries --------------------------------------------------------------------------

    def node_kind(self, name: str) -> str:
        """The kind of a node (one of :data:`NODE_KINDS`)."""
        return self._attrs(name)["kind"]

    def nodes_of(self, kind: str) -> list[str]:
        """Names of all nodes of a kind, sorted."""
        if kind not in NODE_KINDS:
            raise TopologyError(f"unknown node kind {kind!r}")
        return sorted(n for n, k in self.graph.nodes(data="kind") if k == kind)

    def servers(self) -> list[str]:
        """Names of all servers, sorted."""
        return self.nodes_of("server")

    def sites(self) -> list[str]:
        """The sites of a ``multi-site`` topology (``s01``...), in order; else none."""
        return list(self.graph.graph.get("sites", ()))

    def hosts(self) -> list[str]:
        """Names of all boot hosts (kind ``"host"``), sorted."""
        return self.nodes_of("host")

    def links(self) -> dict[str, tuple[LinkDir, LinkDir]]:
        """Every full-duplex link by name, as ``(a -> b, b -> a)``, in insertion order."""
        return dict(self._links)

    def link_dirs(self) -> list[LinkDir]:
        """Every link direction (every flow-engine resource), sorted by name."""
        return sorted((ld for pair in self._links.values() for ld in pair), key=_name)

    def path(self, src: str, dst: str, flow_key: str = "",
             down: Container[str] = ()) -> tuple[LinkDir, ...]:
        """The link directions a flow from ``src`` to ``dst`` crosses, in order.

        Shortest by hop count; among equally short next hops (parallel links included)
        one is chosen at each node by a stable hash of ``f"{flow_key}|{node}"``. Links
        named in ``down`` are left out of that choice while another next hop is up: a
        LAG hashes over its members that are up, an ECMP group over its live next hops
        (the hash over the survivors moves other flows too, as without resilient
        hashing); when every next hop is down the choice is made among all of them (the
        caller finds the path down). Hop counts do not change: no detour.

        Args:
            src: first node.
            dst: last node.
            flow_key: identifies the flow for ECMP hashing (e.g. ``"r01s001:tftp"``).
            down: names of full-duplex links (:attr:`LinkDir.link`) that are down.

        Returns:
            The path, empty when ``src == dst``.

        Raises:
            TopologyError: unknown node, or no path.
        """
        transit = self._transit
        if transit is None:
            transit = self._transit_map()
        if src not in transit:
            raise TopologyError(f"unknown node {src!r}")
        if dst not in transit:
            raise TopologyError(f"unknown node {dst!r}")
        if src == dst:
            return ()
        # Every route into dst ends with its chain (dst and the single forwarding nodes
        # behind it, a server's ToR say), entered at the far end c: within the chain the
        # next node is fixed; before it, a next hop is a neighbour one hop nearer to c.
        # (Asked for per transfer: the common steps are written out, not called.)
        chain = self._chain(dst, transit)
        offset = len(chain) - 1
        c = chain[offset]
        if src in chain:
            d = chain.index(src)
        else:
            h = self._hops(src, c)
            if h is None:
                raise TopologyError(f"no path from {src!r} to {dst!r}")
            d = h + offset
        hops_from = self._hops_from
        out_to = None
        hops: list[LinkDir] = []
        u = src
        while d:
            d -= 1
            if d <= offset:
                if out_to is None:
                    out_to = self._links_to()
                cands = out_to[u][chain[d]]
            else:
                # Next-hop sets are cached per (node, chain end): at most (switches x
                # racks) entries; a source's few links are looked at each time.
                cands = hops_from.get((u, c))
                if cands is None and (one := self._sole_link(u)) is not None:
                    cands = (one,)  # a server's one link: the way out
                elif cands is None:
                    left = d - offset
                    cands = tuple(ld for v, ld, fwd in self._adjacency()[u]
                                  if fwd and self._hops(v, c) == left)
                    if u != src:
                        hops_from[(u, c)] = cands
            if len(cands) > 1:
                if down:
                    cands = tuple(ld for ld in cands if ld.link not in down) or cands
                ld = cands[stable_pick(flow_key, u, len(cands))] if len(cands) > 1 \
                    else cands[0]
            else:
                ld = cands[0]
            hops.append(ld)
            u = ld.dst
        return tuple(hops)

    def rtt(self, fwd: Sequence[LinkDir], back: Sequence[LinkDir]) -> float:
        """Round-trip time in seconds: the sum of the latencies of both paths."""
        return math.fsum(ld.latency for ld in fwd) + math.fsum(ld.latency for ld in back)

    def round_trip(self, a: str, b: str, flow_key: str = "", down: Container[str] = ()
                   ) -> tuple[tuple[LinkDir, ...], tuple[LinkDir, ...], float]:
        """Both paths of a conversation and its RTT.

        Args:
            a: the node that opens the conversation.
            b: the other node.
            flow_key: ECMP key, used for both directions.
            down: links that are down (:meth:`path`).

        Returns:
            ``(path a -> b, path b -> a, rtt in seconds)``.
        """
        fwd = self.path(a, b, flow_key, down)
        back = self.path(b, a, flow_key, down)
        return fwd, back, self.rtt(fwd, back)

    # -- L2 domains -----------------------------------------------------------------------

    def domains(self) -> dict[str, list[str]]:
        """Each L2 domain (VLAN) name, sorted, with its sorted member nodes."""
        members: dict[str, list[str]] = {}
        for n in sorted(self.graph):
            for d in self.graph.nodes[n]["domains"]:
                members.setdefault(d, []).append(n)
        return dict(sorted(members.items()))

    def domain_of(self, node: str) -> str | None:
        """A node's home domain (the first it was given), or ``None``."""
        return self._attrs(node)["domain"]

    def domains_of(self, node: str) -> list[str]:
        """Every domain a node belongs to (home domain first)."""
        return list(self._attrs(node)["domains"])

    def routers_between(self, domain_a: str, domain_b: str) -> list[str]:
        """The L3 nodes that carry traffic from ``domain_a`` toward ``domain_b``.

        These are where a DHCP relay for clients in ``domain_a`` and servers in
        ``domain_b`` sits: the routers and gateway switches that are members of
        ``domain_a`` and either are members of ``domain_b`` too, or reach a member of
        ``domain_b`` without re-entering ``domain_a``. Not symmetric: in a leaf-spine
        fabric ``routers_between("rack01", "services")`` is ``["tor01"]``.

        Args:
            domain_a: the domain the traffic (broadcast) starts in.
            domain_b: the domain it must reach.

        Returns:
            Sorted node names; empty when the domains are the same.

        Raises:
            TopologyError: a domain no node belongs to.
        """
        doms = self.domains()
        for d in (domain_a, domain_b):
            if d not in doms:
                raise TopologyError(f"unknown domain {d!r}; known: {', '.join(doms) or 'none'}")
        if domain_a == domain_b:
            return []
        return relays_toward(self.graph, doms[domain_a], domain_b)

    # -- checks ---------------------------------------------------------------------------

    def validate(self) -> list[str]:
        """Problems a person should fix before simulating, one message each.

        Reports nodes without links, servers without an L2 domain, servers and hosts
        whose link count differs from their ``nics``, a topology without boot hosts, and
        servers that cannot exchange traffic with any boot host.

        Returns:
            Messages in a stable order; empty when the topology looks sound.
        """
        problems: list[str] = []
        nodes = self.graph.nodes
        hosts = self.hosts()
        for n in sorted(self.graph):
            attrs = nodes[n]
            links = self.graph.out_degree(n)
            if links == 0:
                problems.append(f"node {n!r} ({attrs['kind']}) has no links")
            elif attrs["kind"] in ENDPOINT_KINDS and links != attrs["nics"]:
                problems.append(f"{attrs['kind']} {n!r} declares {attrs['nics']} NIC(s) "
                                f"but has {links} link(s)")
            if attrs["kind"] == "server" and attrs["domain"] is None:
                problems.append(f"server {n!r} has no L2 domain (DHCP broadcasts need one)")
        if not hosts:
            problems.append("no boot hosts (nodes of kind 'host')")
            return problems
        # one search from all the hosts and one to them (not one per server: that grew
        # with the square of the fleet, 67 s for 50,000 servers; nor one per host)
        from_hosts = reach(self.graph, hosts)
        to_hosts = reach(self.graph, hosts, backward=True)
        for s in self.servers():
            if not (s in from_hosts and s in to_hosts):
                problems.append(f"server {s!r} cannot exchange traffic with any boot host")
        return problems

    # -- internals ------------------------------------------------------------------------

    def _attrs(self, node: str) -> dict:
        try:
            return self.graph.nodes[node]
        except KeyError:
            raise TopologyError(f"unknown node {node!r}") from None

    def __getstate__(self) -> dict:
        """Pickled without the per-node tables made on demand (they hold closures)."""
        state = dict(self.__dict__)
        state["_out"] = state["_out_to"] = None
        return state

    def forget_routes(self) -> None:
        """Drop the route tables made on demand (they are made again when asked for).

        A fleet's event loop makes them as servers first route: small tuples and dicts
        spread through the allocator's arenas of the whole run, which then cannot go
        back to the system when the run's objects are freed (:meth:`FleetRun.settle
        <netbootsim.fleet.results.FleetRun.settle>` says why that matters).
        """
        self._invalidate()

    def _invalidate(self) -> None:
        self._out: dict[str, tuple[tuple[str, LinkDir, bool], ...]] | None = None
        self._out_to: dict[str, dict[str, tuple[LinkDir, ...]]] | None = None
        self._transit: dict[str, bool] | None = None
        self._hops_from: dict[tuple[str, str], tuple[LinkDir, ...]] = {}
        self._hops_cache: dict[tuple[str, str], int | None] = {}
        self._chains: dict[str, tuple[str, ...]] = {}

    def _adjacency(self) -> dict[str, tuple[tuple[str, LinkDir, bool], ...]]:
        """Per node: its out-links as ``(neighbour, LinkDir, neighbour forwards)``, sorted.

        Made per node when first asked for (:class:`_PerNode`): a route asks for the
        nodes it leaves from, so a fleet's servers cost an entry only as sources.
        """
        if self._out is None:
            g = self.graph
            transit = self._transit_map()

            def out(u: str) -> tuple[tuple[str, LinkDir, bool], ...]:
                return tuple(sorted(((v, ld, transit[v])
                                     for _, v, ld in g.out_edges(u, data="ld")),
                                    key=lambda e: (e[0], e[1].name)))
            self._out = _PerNode(out)
        return self._out

    def _links_to(self) -> dict[str, dict[str, tuple[LinkDir, ...]]]:
        """Per node: its out-links grouped by neighbour, in :meth:`_adjacency`'s order.

        Made per node when first asked for, as :meth:`_adjacency`.
        """
        if self._out_to is None:
            adjacency = self._adjacency()

            def grouped(u: str) -> dict[str, tuple[LinkDir, ...]]:
                by: dict[str, list[LinkDir]] = {}
                for v, ld, _ in adjacency[u]:
                    by.setdefault(v, []).append(ld)
                return {v: tuple(lds) for v, lds in by.items()}
            self._out_to = _PerNode(grouped)
        return self._out_to

    def _sole_link(self, u: str) -> LinkDir | None:
        """``u``'s out-link if it has exactly one, else ``None``.

        Read from the graph, not from :meth:`_adjacency`'s table: a fleet's servers, each
        a route's source once, would each leave an entry there.
        """
        one = _only(self.graph._succ[u])
        if one is None:
            return None
        one = _only(one[1])
        return None if one is None else one[1]["ld"]

    def _chain(self, t: str, transit: dict[str, bool]) -> tuple[str, ...]:
        """:func:`chain_to` ``t``, kept per forwarding node (an end point's is made anew).

        An end point behind a single forwarding node ``p`` (a server behind its ToR) has
        ``(t, *chain of p)``: its chain goes on as ``p``'s does, and an end point never
        joins one. So a fleet's servers add no entries, only its switches do.
        """
        chain = self._chains.get(t)
        if chain is not None:
            return chain
        if transit[t]:
            chain = self._chains[t] = tuple(chain_to(self.graph, t, transit))
            return chain
        one = _only(self.graph._pred[t])
        if one is not None and transit[one[0]]:
            return (t, *self._chain(one[0], transit))
        return (t,)

    def _hops(self, v: str, c: str) -> int | None:
        """Hops from ``v`` to ``c`` through forwarding nodes (cached per pair).

        An end point with one link (a server) asks its neighbour: the answer is cached
        per (neighbour, ``c``), so a fleet adds no entries, only its racks do.
        """
        key = (v, c)
        h = self._hops_cache.get(key, _NONE)
        if h is not _NONE:
            return h
        transit = self._transit_map()
        if v != c and not transit[v]:
            one = _only(self.graph._succ[v])
            if one is not None:
                w = one[0]
                if w == c:
                    return 1
                if not transit[w]:  # another end point: no route may cross it
                    return None
                h = self._hops(w, c)
                return None if h is None else h + 1
        h = self._hops_cache[key] = hops_between(self.graph, v, c, transit)
        return h

    def _transit_map(self) -> dict[str, bool]:
        """Every node: whether it forwards (not one of :data:`ENDPOINT_KINDS`)."""
        if self._transit is None:
            self._transit = {n: k not in ENDPOINT_KINDS for n, k in self.graph.nodes(data="kind")}
        return self._transit


def _name(ld: LinkDir) -> str:
    return ld.name


class _PerNode(dict):
    """A per-node table whose entries are made on first lookup by ``make(node)``.

    Callers look up nodes of the graph only (:meth:`Topology.path` checks its ends).
    """

    __slots__ = ("_make",)

    def __init__(self, make):
        super().__init__()
        self._make = make

    def __missing__(self, node: str):
        value = self[node] = self._make(node)
        return value
