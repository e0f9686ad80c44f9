"""The fleet: servers that power on, boot over the network and get installed.

Layers, one module each: :mod:`.spec` (what a run is given), :mod:`.world` (network,
services with their limits, records), :mod:`.machine` (one server's lifecycle and boot
paths, and the iPXE interpreter's world), :mod:`.results` (what a run produced, the
bottleneck observer), :mod:`.simulate` (the entry point).
"""

from .results import FleetRun, Observer
from .simulate import power_on_times, simulate
from .spec import (
    API_CONCURRENCY,
    API_SERVICE_TIME,
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
from .world import Window, World

#: dnsmasq's TFTP ignores duplicate ACKs and resends a lost DATA block on its own timer:
#: 1.95 s fitted on lab runs with 1 % loss (docs/calibration.md; lost-DATA gaps of
#: 1.56–2.07 s in lab/traces/tftp-loss1-*).
DNSMASQ_TFTP_RETRANSMIT = 1.95

__all__ = ["API_CONCURRENCY", "API_SERVICE_TIME", "DEFAULT_STAGE", "DNSMASQ_TFTP_RETRANSMIT",
           "LINUX_RWND", "DhcpSpec", "FaultWindows", "FleetRun", "Group", "Install", "LinkFaults",
           "Observer", "Service", "Stage", "Window", "World", "power_on_times", "simulate"]
