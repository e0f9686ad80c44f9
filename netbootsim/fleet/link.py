"""A server's link coming up, and one DHCP exchange over it.

The link faults of the server's group count from the last link-up (power-on or power
cycle): no carrier for ``down`` seconds, STP blocking for ``stp`` (iPXE defers its
DHCP, a PXE ROM's frames are dropped), LACP not bundled for ``lacp``. Then the DHCP
client of the firmware running now (:mod:`netbootsim.services.dhcp`) asks the DHCP
servers that hear it: every one in its own L2 domain (its broadcast reaches them), and
beyond it its group's DHCP server and any ProxyDHCP server, the addresses its router's
relay forwards to (a relay's helper addresses, RFC 1542 [rfc1542]: a site's relay points
at its own DHCP server, not at every site's). Its frames are packets on the packet engine
(flooded, relayed), a broadcast count on the flow engine. A named link that is down cuts
off the servers whose path crosses it: on the flow engine a DISCOVER or REQUEST sent
then does not reach them (the others still answer); when it cuts off every one, no
frame is sent until one is reachable again. The path is the one routed at the
exchange's start.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy

from ..services.dhcp import EDK2_WAITS, REQUEST_WAITS, DhcpClient, DhcpResult, dhcp_client
from .machine import Failed, Machine

__all__ = ["dhcp", "STP_MAX_DEFERRALS", "LINK_WAIT"]

#: iPXE defers DHCP while the link is blocked (STP): 1 s per deferral, at most 180
#: (DHCP_DISC_MAX_DEFERRALS, config/dhcp.h:32 [ipxe-src]).
STP_MAX_DEFERRALS = 180
#: iPXE waits this long for link-up before DHCP (LINK_WAIT_TIMEOUT, usr/ifmgmt.c:47
#: [ipxe-src]).
LINK_WAIT = 15.0


def dhcp(m: Machine, ipxe_client: bool, script: bool | None = None
         ) -> Generator[simpy.Event, Any, DhcpResult]:
    """One DHCP exchange of ``m``, with the link faults after link-up; records it.

    ``ipxe_client``: iPXE's timers (else the PXE ROM's); ``script``: the server
    serves it as iPXE wanting its script (default ``ipxe_client``; ``False`` for
    the first, PXE, stage of a chainload even when that ROM is iPXE).
    """
    env = m.env
    world = m.world
    f = m.faults
    t0 = env.now
    if f.down and env.now < m.link_up + f.down:  # no carrier yet
        up = m.link_up + f.down
        if ipxe_client and up - env.now > LINK_WAIT:
            yield env.timeout(LINK_WAIT)
            raise Failed(f"dhcp: link down (no carrier within {LINK_WAIT:g} s)")
        yield env.timeout(up - env.now)
    if ipxe_client and f.stp and env.now < m.link_up + f.stp:  # iPXE defers DHCP
        wait = math.ceil(m.link_up + f.stp - env.now)  # 1 s steps
        yield env.timeout(min(wait, STP_MAX_DEFERRALS))
    blackout = m.link_up + f.lacp
    if not ipxe_client:
        blackout = max(blackout, m.link_up + f.stp)  # the ROM's frames are dropped
    domain = world.topology.domain_of(m.server) or ""
    servers = []
    heard_from = math.inf  # when some DHCP server's path is up (named link-down faults)
    hosts = {}  # the DHCP servers that hear the client, by name -> their node
    paths = {}  # their paths both ways (links), when a named link can go down
    helper = m.group.dhcp.name if m.group.dhcp is not None else None
    faults = world.faults
    for name, srv in sorted(world.dhcp.items()):
        host = world.dhcp_hosts[name]
        relayed = (world.topology.domain_of(host) or "") != domain
        if relayed and helper is not None and name != helper and not srv.proxy:
            continue  # the relay forwards to the group's DHCP server, not to every one
        hosts[name] = host
        fwd, back, rtt = world.topology.round_trip(m.server, host, f"{m.server}/dhcp",
                                                   faults.links_down(env.now))
        servers.append((srv, rtt, relayed))
        if faults.link_down:
            paths[name] = (*fwd, *back)
            heard_from = min(heard_from, faults.path_down_until(paths[name], env.now))
    if servers and paths and heard_from > env.now:
        # every server's path crosses a link that is down: the client's frames are lost
        # until one is up again (for ever when the outage has no end)
        blackout = max(blackout, heard_from)
    carrier = world.transport.dhcp_carrier(m.server, domain, hosts)
    reaches = None
    if paths and carrier is None:  # some of them may be cut off: they do not answer
        def reaches(name: str, t: float) -> bool:
            return faults.path_down_until(paths[name], t) <= t
    # a PXE client that collects offers is EDK2's: its REQUEST timer is EDK2's too
    edk2 = None if ipxe_client or not m.profile.dhcp_offer_wait else m.profile.dhcp_offer_wait
    client = DhcpClient(m.mac, domain, servers, ipxe=ipxe_client, arch=m.arch,
                        boot_files=dict(m.group.boot_files),
                        ipv6=m.profile.ipv6, discover_end=m.profile.dhcp_discover_end,
                        blackout_until=blackout, broadcasts=world.run.broadcasts,
                        script_client=script, carrier=carrier, reaches=reaches,
                        offer_wait=0.0 if edk2 is None else edk2,
                        request_waits=EDK2_WAITS if edk2 else REQUEST_WAITS,
                        at_once=ipxe_client and m.profile.dhcp_offer_at_once)
    d = yield from dhcp_client(env, client)
    if d.outcome == "ok":
        m.record("dhcp-exchange", d.start, d.exchange_end, 0.0, "dhcp", d.server)
    m.record("dhcp", t0, d.end, 0.0, "dhcp", d.server, d.outcome, d.reason)
    return d
