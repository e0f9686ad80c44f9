"""The fleet: servers that power on, boot over the network and get installed.

Layers, one module each: :mod:`.spec` (what a run is given), :mod:`.world` (network,
services with their limits, records), :mod:`.transport` (how bytes move: one transport
per engine, :mod:`.flow_transport` and :mod:`.packet_transport`), :mod:`.faults` (fault
windows on links, services and images), :mod:`.machine` (one server: identity, state,
records), :mod:`.lifecycle` (its stages, attempts, timeouts and on-failure policies),
:mod:`.boot` (the boot paths), :mod:`.link` (link faults and a DHCP exchange),
:mod:`.ipxe_world` (the iPXE interpreter's world), :mod:`.results` (what a run
produced, the bottleneck observer), :mod:`.simulate` (the entry point).
"""

from .faults import Window
from .results import FleetRun, Observer
from .simulate import power_on_times, simulate
from .spec import (
    DEFAULT_STAGE,
    LINUX_RWND,
    DhcpSpec,
    FaultWindows,
    Group,
    Install,
    LinkFaults,
    Service,
    Stage,
)
from .variation import random_inputs
from .world import World

__all__ = ["DEFAULT_STAGE", "LINUX_RWND", "DhcpSpec", "FaultWindows", "FleetRun", "Group",
           "Install", "LinkFaults", "Observer", "Service", "Stage", "Window", "World",
           "power_on_times", "random_inputs", "simulate"]
