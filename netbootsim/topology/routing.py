"""Routing internals: hop distances to a destination, stable ECMP choice, L3 relays.

Pure functions over the :class:`networkx.MultiDiGraph` of a
:class:`~netbootsim.topology.model.Topology` (node attribute ``kind``, edge attribute
``ld``). Nodes of :data:`ENDPOINT_KINDS` end traffic and never forward it: a route may
start or end at them but not pass through.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable

import networkx as nx

__all__ = ["ENDPOINT_KINDS", "chain_to", "hops_between", "reach", "relays_toward", "stable_pick"]

#: Kinds that end traffic and never forward it (routes do not pass through them).
ENDPOINT_KINDS: frozenset[str] = frozenset({"server", "host"})


def stable_pick(flow_key: str, node: str, n: int) -> int:
    """ECMP choice in ``range(n)`` for a flow at a node, identical on every run and machine.

    Args:
        flow_key: identifies the flow.
        node: the node choosing among its equal-cost next hops.
        n: how many there are.

    Returns:
        ``blake2b-64(f"{flow_key}|{node}") mod n``.
    """
    digest = hashlib.blake2b(f"{flow_key}|{node}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


def chain_to(graph: nx.MultiDiGraph, t: str, transit: dict[str, bool] | None = None
             ) -> list[str]:
    """``t`` and the run of single, forwarding predecessors behind it, nearest first.

    Every route to ``t`` from outside the run enters it at its far end (the last node):
    a server's ToR, say. ``chain[k]`` is the node ``k`` hops from ``t``. ``transit``
    (node -> whether it forwards) saves looking the kinds up: a route is asked for per
    transfer.
    """
    if transit is None:
        transit = {n: k not in ENDPOINT_KINDS for n, k in graph.nodes(data="kind")}
    chain = [t]
    pred = graph._pred  # the raw adjacency: its length is O(1), not O(in-degree)
    while True:
        preds = pred[chain[-1]]
        if len(preds) != 1:
            break
        p = next(iter(preds))
        if p in chain or not transit[p]:
            break
        chain.append(p)
    return chain


def hops_between(graph: nx.MultiDiGraph, v: str, c: str, transit: dict[str, bool]
                 ) -> int | None:
    """Hops of the shortest route from ``v`` to ``c`` through forwarding nodes only.

    ``v`` and ``c`` themselves may be of any kind; every node between them must forward
    (``transit[node]``). A bidirectional BFS that always grows the side whose frontier
    has fewer links to follow, so a query between two ToRs of a leaf-spine looks at the
    two ToRs and their spines, never at the other racks: the cost depends on the
    fabric around the two ends, not on the size of the fleet.

    Args:
        graph: the topology's graph.
        v: where the route starts.
        c: where it ends.
        transit: node -> whether it forwards.

    Returns:
        The hop count, or ``None`` when no such route exists.
    """
    if v == c:
        return 0
    succ, pred = graph._succ, graph._pred
    fdist = {v: 0}
    bdist = {c: 0}
    ffront = [v]
    bfront = [c]
    fcost = len(succ[v])
    bcost = len(pred[c])
    while ffront and bfront:
        if fcost <= bcost:
            ffront, fcost, best = _grow(ffront, succ, fdist, bdist, c, transit)
        else:
            bfront, bcost, best = _grow(bfront, pred, bdist, fdist, v, transit)
        # After a whole level, the first meeting is the shortest: every route of length
        # <= (forward depth + backward depth) crosses both searched sets.
        if best is not None:
            return best
    return None


def _grow(front: list[str], adj: dict, mine: dict[str, int], other: dict[str, int],
          far: str, transit: dict[str, bool]) -> tuple[list[str], int, int | None]:
    """One level of one side of :func:`hops_between`.

    Returns the next front, its links to follow, and the shortest route through a node
    both sides reached (one it may cross: forwarding, or the other side's start ``far``).
    """
    best: int | None = None
    nxt: list[str] = []
    for x in front:
        dx = mine[x] + 1
        for y in adj[x]:
            if y in mine:
                continue
            mine[y] = dx
            if (y == far or transit[y]) and y in other:
                total = dx + other[y]
                if best is None or total < best:
                    best = total
            if transit[y]:
                nxt.append(y)
    return nxt, sum(len(adj[x]) for x in nxt), best


def reach(graph: nx.MultiDiGraph, ends: Iterable[str], backward: bool = False
          ) -> set[str]:
    """Every node that some node of ``ends`` can send to over forwarding nodes.

    A multi-source BFS: a node is in the set when a path from one of ``ends`` reaches it
    through nodes that forward (not :data:`ENDPOINT_KINDS`); the ``ends`` start their
    paths whatever their kind. ``backward``: every node that can send to one of
    ``ends`` instead (the same search over the links reversed). One search for all the
    ends gives what one each would, joined: a boot host's reach is the whole fabric,
    so one each grew with hosts x nodes (50 hosts of a 100,000-server storm: 2.7 s of
    its validation).
    """
    adj = graph._pred if backward else graph._succ  # the raw adjacency (O(1) lookups)
    kinds = graph._node
    seen = set(ends)
    queue = deque(seen)
    while queue:
        x = queue.popleft()
        for v in adj[x]:
            if v not in seen:
                seen.add(v)
                if kinds[v]["kind"] not in ENDPOINT_KINDS:
                    queue.append(v)
    return seen


def relays_toward(graph: nx.MultiDiGraph, members_a: list[str], domain_b: str) -> list[str]:
    """The L3 members of a domain that reach ``domain_b`` without re-entering it.

    Args:
        graph: the topology's graph (node attributes ``gateway``, ``domains``, ``kind``).
        members_a: the sorted members of the starting domain.
        domain_b: the domain to reach.

    Returns:
        Sorted names of the gateways of ``members_a`` that are members of ``domain_b`` or
        reach one of its members through nodes outside the starting domain.
    """
    nodes = graph.nodes
    inside_a = set(members_a)
    found = []
    for r in members_a:
        if not nodes[r]["gateway"]:
            continue
        seen = {r}
        queue = deque([r])
        while queue:
            u = queue.popleft()
            if domain_b in nodes[u]["domains"]:
                found.append(r)
                break
            for v in graph.successors(u):
                if v in seen or v in inside_a:
                    continue
                seen.add(v)
                # end points are visited (they may be members of domain_b) but not crossed
                if nodes[v]["kind"] not in ENDPOINT_KINDS or domain_b in nodes[v]["domains"]:
                    queue.append(v)
    return found
