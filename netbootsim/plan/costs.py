"""What a design costs at the user's own prices (the scenario's ``costs:`` section).

:func:`cost_block` turns the prices of :class:`~netbootsim.scenario.schema.Costs` and
one run's records into ``summary["costs"]``: one item per priced thing (a group's
servers, a service instance, a link, the GB a service served or a link carried) with
its quantity, price and amount, and their total. Nothing is priced by default: an item
exists only where the scenario gives a price. Pure: no simulation here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ..topology import Topology

__all__ = ["cost_block", "mean_costs", "GB"]

#: Bytes in a GB of egress: 10^9 (the decimal gigabyte cloud and transit egress is billed in).
GB = 1e9


def cost_block(costs, servers: pd.DataFrame, phases: pd.DataFrame,
               wire_bytes: Mapping[str, float], topology: Topology) -> dict:
    """``summary["costs"]``: the priced items of one run and their total.

    Args:
        costs: the scenario's ``costs:`` section.
        servers: the run's servers frame (a group's servers are counted, booted or not).
        phases: the run's phases frame (bytes a service delivered: its records' bytes).
        wire_bytes: bytes each link direction carried (``FleetRun.wire_bytes``).
        topology: to name the link a direction belongs to.
    """
    items: list[dict] = []

    def add(what: str, name: str, unit: str, quantity: float, price: float) -> None:
        items.append({"what": what, "name": name, "unit": unit, "quantity": quantity,
                      "price": price, "amount": quantity * price})

    count = servers.groupby("group").size() if len(servers) else pd.Series(dtype=int)
    for group, price in costs.servers.items():
        add("servers", group, "servers", float(count.get(group, 0)), price)
    for name, price in costs.services.items():
        add("service", name, "instances", 1.0, price)
    for name, price in costs.links.items():
        add("link", name, "links", 1.0, price)
    for name, price in costs.sites.items():
        add("site", name, "sites", 1.0, price)
    if costs.each_site is not None:
        add("sites", "each site", "sites", float(len(topology.sites())), costs.each_site)
    served = (phases.loc[phases["bytes"] > 0].groupby("endpoint")["bytes"].sum()
              if len(phases) else pd.Series(dtype=float))
    link_of = {ld.name: ld.link for ld in topology.link_dirs()}
    carried: dict[str, float] = {}
    for direction, nbytes in wire_bytes.items():
        link = link_of.get(direction)
        if link is not None:
            carried[link] = carried.get(link, 0.0) + nbytes
    for name, price in costs.egress_gb.items():
        if name in carried or name in link_of.values():
            add("egress", name, "GB carried", carried.get(name, 0.0) / GB, price)
        else:
            add("egress", name, "GB served", float(served.get(name, 0.0)) / GB, price)
    return {"currency": costs.currency, "items": items,
            "total": sum(i["amount"] for i in items)}


def mean_costs(blocks: Sequence[dict]) -> dict:
    """The replications' costs: each item's quantity and amount, and the total, averaged."""
    first = blocks[0]
    n = len(blocks)
    items = []
    for k, item in enumerate(first["items"]):
        q = sum(b["items"][k]["quantity"] for b in blocks) / n
        items.append({**item, "quantity": q, "amount": q * item["price"]})
    return {"currency": first["currency"], "items": items,
            "total": sum(i["amount"] for i in items)}
