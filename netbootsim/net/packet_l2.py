"""Broadcasts in the packet engine: DHCP and ARP frames flooded within an L2 domain.

A broadcast frame leaves its sender and is flooded over the domain's spanning tree:
every switch forwards it on each of its ports in the domain except the one it came in
on, so every member of the domain — servers, hosts, switches, the gateway — receives
one copy, each copy crossing one link direction of the tree (store-and-forward, queued
like any packet). The tree is a breadth-first one over the domain's members rooted at
the sender (one link of a parallel bundle: a LAG floods on one member port). Every copy
delivered is counted per domain: the "broadcast leakage" of flat networks
(``frames_seen``).

A DHCP server outside the sender's domain hears the frame through a relay: the gateway
of the domain toward the server's domain (``Topology.routers_between``) forwards it as
one unicast packet along the routed path (a relay agent: RFC 1542 [rfc1542], RFC 3046
[rfc3046]). Replies are unicast from the server to the client.

ARP (RFC 826 [rfc826]): before iPXE's first packet to a boot host it resolves the next hop —
the host itself in the same domain, else the domain's gateway toward it — with a
broadcast request and a unicast reply, resent on iPXE's generic retry timer (0.25 s
doubling to 10 s, then the fetch fails: net/retry.c [ipxe-src]); iPXE keeps the answer (its
neighbour cache) until the client's next DHCP, which the fleet model takes as a new
boot (:meth:`Broadcasts.forget`).

Wire sizes: a DHCP message is about 300 bytes (RFC 2131 §2 [rfc2131]: a 236-byte
fixed BOOTP part, the 4-byte magic cookie and the options a PXE client sends), + UDP 8 + IPv4 20
+ Ethernet 38 = 366; an ARP frame is Ethernet's minimum 64 bytes (28 of ARP padded)
+ preamble and gap 20 = 84.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Generator

import simpy

from ..protocols.retry import retry_waits
from ..protocols.wire import ETHERNET_OVERHEAD, IPV4_HEADER, UDP_HEADER
from .packet import Packet, PacketNetwork, PacketPath, resend_until_answered

__all__ = ["ARP_WIRE", "Broadcasts", "DHCP_WIRE", "DhcpCarrier"]

#: A DHCP message on the wire (module docstring).
DHCP_WIRE = 300 + UDP_HEADER + IPV4_HEADER + ETHERNET_OVERHEAD
#: An ARP request or reply on the wire: minimum Ethernet frame 64 + preamble/SFD 8 + gap 12.
ARP_WIRE = 64 + 8 + 12
#: iPXE resends an ARP request on its generic retry timer (retry.h:16,19 [ipxe-src]): 0.25 s
#: doubling until the doubled wait passes 10 s — 6 requests, 15.75 s.
ARP_WAITS = tuple(retry_waits(0.25, 10.0))


class Broadcasts:
    """Floods, relays and unicasts of DHCP and ARP over a :class:`PacketNetwork`.

    Args:
        env: the simulation environment.
        topology: the network (domains, paths, relays).
        net: the packet links.
        frames_seen: counter of broadcast copies delivered per domain (the run's).
    """

    def __init__(self, env: simpy.Environment, topology, net: PacketNetwork,
                 frames_seen: Counter) -> None:
        """Nothing is flooded until asked."""
        self.env = env
        self.topology = topology
        self.net = net
        self.frames_seen = frames_seen
        self._members = {d: frozenset(m) for d, m in topology.domains().items()}
        self._trees: dict[tuple[str, str], dict[str, list]] = {}
        self._relays: dict[tuple[str, str], list[str]] = {}
        self._resolved: set[tuple[str, str]] = set()

    # -- flooding --------------------------------------------------------------------
    def _tree(self, domain: str, root: str) -> dict[str, list]:
        """Children link directions of each node in the domain's BFS tree from ``root``."""
        key = (domain, root)
        tree = self._trees.get(key)
        if tree is None:
            members = self._members[domain]
            tree, seen, todo = {}, {root}, deque([root])
            graph = self.topology.graph
            while todo:
                u = todo.popleft()
                kids = []
                for _, v, ld in sorted(graph.out_edges(u, data="ld"), key=lambda e: e[2].name):
                    if v in members and v not in seen:
                        seen.add(v)
                        kids.append(ld)
                        todo.append(v)
                tree[u] = kids
            self._trees[key] = tree
        return tree

    def flood(self, domain: str, root: str, size: float, heard) -> None:
        """Flood one broadcast frame from ``root``; ``heard(node)`` at each delivery."""
        tree = self._tree(domain, root)

        def at(node: str) -> None:
            for ld in tree.get(node, ()):
                link = self.net.links((ld,))[0]
                link.send(Packet(size, ld.dst, self.env.now, 0, self), arrived)

        def arrived(packet: Packet) -> None:
            node = packet.payload
            self.frames_seen[domain] += 1
            heard(node)
            at(node)

        at(root)

    def unicast(self, src: str, dst: str, size: float) -> simpy.Event:
        """One packet ``src`` → ``dst`` along the routed path; the event fires on arrival."""
        done = self.env.event()
        links = self.net.links(self.topology.path(src, dst, f"{src}/l2"))
        if not links:
            done.succeed()
            return done
        PacketPath(self.env, links, lambda _p: done.succeed()).send(size, None)
        return done

    # -- DHCP ------------------------------------------------------------------------
    def relays(self, domain: str, host: str) -> list[str]:
        """Nodes that relay the domain's broadcasts toward ``host`` (none if inside)."""
        key = (domain, host)
        out = self._relays.get(key)
        if out is None:
            hd = self.topology.domain_of(host)
            out = ([] if host in self._members.get(domain, ()) or hd is None
                   else self.topology.routers_between(domain, hd))
            self._relays[key] = out
        return out

    def dhcp_broadcast(self, client: str, domain: str, hosts: dict[str, str]
                       ) -> dict[str, simpy.Event]:
        """Flood a DHCP broadcast from ``client``; an event per server name (at its host)."""
        events = {name: self.env.event() for name in hosts}
        relay_for: dict[str, list[str]] = {}
        for name, host in hosts.items():
            for r in self.relays(domain, host)[:1]:  # the first relay forwards (giaddr)
                relay_for.setdefault(r, []).append(name)

        def heard(node: str) -> None:
            for name, host in hosts.items():
                if node == host and not events[name].triggered:
                    events[name].succeed()
            for name in relay_for.get(node, ()):
                ev = events[name]
                arrived = self.unicast(node, hosts[name], DHCP_WIRE)
                arrived.callbacks.append(lambda _e, ev=ev: ev.triggered or ev.succeed())

        self.flood(domain, client, DHCP_WIRE, heard)
        return events

    def dhcp_reply(self, host: str, client: str) -> simpy.Event:
        """The server's answer, unicast to the client (through its relay)."""
        return self.unicast(host, client, DHCP_WIRE)

    # -- ARP -------------------------------------------------------------------------
    def next_hop(self, client: str, host: str) -> str:
        """Whom ``client`` ARPs for to reach ``host``: the host, or its domain's gateway."""
        domain = self.topology.domain_of(client)
        if domain is None or host in self._members.get(domain, ()):
            return host
        relays = self.relays(domain, host)
        return relays[0] if relays else host

    def forget(self, client: str) -> None:
        """Drop ``client``'s neighbour cache (a new boot)."""
        self._resolved = {k for k in self._resolved if k[0] != client}

    def arp(self, client: str, host: str) -> Generator[simpy.Event, object, str]:
        """Resolve the next hop toward ``host`` (once, then cached).

        Returns ``""``, or why it failed (no reply after the retry schedule).
        """
        hop = self.next_hop(client, host)
        domain = self.topology.domain_of(client)
        if (client, hop) in self._resolved or domain is None:
            return ""
        env = self.env

        def exchange():
            heard_hop = env.event()

            def heard(node: str) -> None:
                if node == hop and not heard_hop.triggered:
                    heard_hop.succeed()

            self.flood(domain, client, ARP_WIRE, heard)
            yield heard_hop
            yield self.unicast(hop, client, ARP_WIRE)

        if (yield from resend_until_answered(env, exchange, ARP_WAITS)):
            self._resolved.add((client, hop))
            return ""
        return f"ARP: no reply from {hop} to {len(ARP_WAITS)} requests"


class DhcpCarrier:
    """How one client's DHCP messages travel in the packet engine (for ``dhcp_client``).

    Args:
        l2: the run's :class:`Broadcasts`.
        client: the client's node.
        domain: its L2 domain.
        hosts: DHCP server name → the node it runs on.
    """

    def __init__(self, l2: Broadcasts, client: str, domain: str, hosts: dict[str, str]
                 ) -> None:
        """Bind a client to the run's broadcasts."""
        self.l2 = l2
        self.client = client
        self.domain = domain
        self.hosts = hosts

    def broadcast(self) -> dict[str, simpy.Event]:
        """DISCOVER or REQUEST: flooded, relayed; an arrival event per server."""
        return self.l2.dhcp_broadcast(self.client, self.domain, self.hosts)

    def unicast(self, server: str) -> simpy.Event:
        """A unicast request to ``server`` (the PXE ROM's port-4011 ProxyDHCP request)."""
        return self.l2.unicast(self.client, self.hosts[server], DHCP_WIRE)

    def reply(self, server: str) -> simpy.Event:
        """The server's answer reaching the client."""
        return self.l2.dhcp_reply(self.hosts[server], self.client)
