"""Topology: the network a boot storm runs over (nodes, full-duplex links, routes, VLANs).

:mod:`.model` holds the graph and routing; :mod:`.builders` makes common shapes.
"""

from .builders import (
    HostSpec,
    LinkSpec,
    WifiSpec,
    add_wifi,
    leaf_spine,
    multi_site,
    rack,
    remote_site,
    site_names,
    station_rates,
)
from .model import ENDPOINT_KINDS, NODE_KINDS, LinkDir, Topology, TopologyError

__all__ = [
    "ENDPOINT_KINDS",
    "NODE_KINDS",
    "HostSpec",
    "LinkDir",
    "LinkSpec",
    "Topology",
    "TopologyError",
    "WifiSpec",
    "add_wifi",
    "station_rates",
    "leaf_spine",
    "rack",
    "multi_site",
    "remote_site",
    "site_names",
]
