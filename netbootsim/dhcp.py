"""DHCP as iPXE does it against a dnsmasq-like server, timed as the lab measured it.

Server (:class:`DhcpServer`): one process answering packets one at a time
(``service_time`` each: 0.5 ms, the DISCOVER→OFFER time of dnsmasq in
lab/traces/http-rtt0-r1); before offering a fresh address dnsmasq pings it and waits
for silence (``ping``: 3.0 s, DISCOVER→OFFER 3.005 s in tests/data/lab/traces/tftp with
stock dnsmasq; ``--no-ping`` turns it off).

Client (:func:`ipxe_dhcp`), iPXE's ``dhcp`` command (IPXE-FACTS §1, dhcp.c):

* DHCPDISCOVER at t = 0, 1, 3, 7 s (timer 1 s doubling to 10 s); no usable OFFER by
  15 s → ``-ETIMEDOUT`` ("No configuration methods succeeded").
* An OFFER is acted on once iPXE stops waiting for a ProxyDHCP offer: at once if more
  than 2 s have passed; otherwise at the next discovery timer tick, if the offer carries
  175.176 ``no-pxedhcp`` (lab: REQUEST 0.93–0.99 s after DISCOVER although the OFFER came
  after 0.5 ms), else at the first tick after 2 s (the t = 3 s tick).
* DHCPREQUEST → DHCPACK: one more server packet and a round trip.
* The whole ``dhcp`` step also waits for IPv6 autoconfiguration when the build has IPv6
  and nobody sends a router advertisement: it ends 16.08 s after it began in the lab
  (stock dnsmasq, no RA); with an RA it ends with the DHCPv4 exchange (1.02 s).

No packet loss is modelled here yet (the retry timers are, for lost DISCOVERs use
``loss``), nor relays' broadcast counting (fleet issue).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import simpy

from .protocols import retry_waits

__all__ = ["DhcpServer", "DhcpResult", "ipxe_dhcp", "discover_schedule", "DISCOVER_TICKS",
           "IPV6_WAIT"]

#: iPXE's DHCPDISCOVER times and give-up (dhcp.c:1304-1312; DHCP_DISC_START/END 1 s/10 s).
DISCOVER_TICKS = (0.0, 1.0, 3.0, 7.0)
DISCOVER_GIVE_UP = 15.0
#: ProxyDHCP wait after the first OFFER (DHCP_DISC_PROXY_TIMEOUT_SEC, config/dhcp.h:40).
PROXY_WAIT = 2.0
#: Whole ``dhcp`` step when IPv6 is built in and no router advertises: 16.08 s measured
#: (tests/data/lab/traces/tftp, console "Configuring" → next line).
IPV6_WAIT = 16.08
#: dnsmasq's ping check before offering a fresh address (lab: OFFER 3.005 s after DISCOVER).
DNSMASQ_PING = 3.0
#: dnsmasq's time per DHCP packet (lab: DISCOVER→OFFER 0.48 ms with --no-ping).
DNSMASQ_SERVICE_TIME = 0.5e-3


@dataclass
class DhcpResult:
    """One client's ``dhcp`` step.

    Attributes:
        start: when the step began.
        exchange_end: DHCPACK received (``nan`` if none).
        end: the step ended (IPv6 wait included).
        discovers: DISCOVERs sent.
        outcome: ``ok`` or ``failed``; reason says why.
    """

    start: float
    exchange_end: float
    end: float
    discovers: int
    outcome: str
    reason: str = ""


class DhcpServer:
    """A DHCP server that answers one packet at a time.

    Args:
        env: the SimPy environment.
        name: service name.
        service_time: time per packet (s).
        ping: delay before an OFFER of a fresh address (s; 0 = ``--no-ping``).
        no_pxedhcp: its OFFERs carry 175.176, so iPXE skips the ProxyDHCP wait.
        ipv6_ra: a router advertises on the clients' network (no IPv6 wait).
    """

    def __init__(self, env: simpy.Environment, name: str, *,
                 service_time: float = DNSMASQ_SERVICE_TIME, ping: float = DNSMASQ_PING,
                 no_pxedhcp: bool = False, ipv6_ra: bool = False):
        self.env = env
        self.name = name
        self.service_time = service_time
        self.ping = ping
        self.no_pxedhcp = no_pxedhcp
        self.ipv6_ra = ipv6_ra
        self.cpu = simpy.Resource(env, capacity=1)
        self.packets = 0

    def handle(self, delay_after: float = 0.0) -> Generator[simpy.Event, object, None]:
        """Serve one packet (queueing behind the others), then wait ``delay_after``."""
        with self.cpu.request() as req:
            yield req
            yield self.env.timeout(self.service_time)
            self.packets += 1
        if delay_after:
            yield self.env.timeout(delay_after)


def discover_schedule(end_timeout: float = 10.0, start_timeout: float = 1.0
                      ) -> tuple[tuple[float, ...], float]:
    """DISCOVER send times and the give-up time of iPXE's discovery timer.

    ``DHCP_DISC_START_TIMEOUT_SEC`` 1 s doubling up to ``DHCP_DISC_END_TIMEOUT_SEC``
    (10 s by default; 32 s in builds that follow the PXE spec, e.g. the one
    TritonDataCenter/sdcboot#2 needed for LAG ports): 0, 1, 3, 7 s and 15 s by default;
    0, 1, 3, 7, 15, 31 s and 63 s with 32 s.
    """
    waits = retry_waits(start_timeout, end_timeout)
    sends, t = [0.0], 0.0
    for w in waits[:-1]:
        t += w
        sends.append(t)
    return tuple(sends), t + waits[-1]


def ipxe_dhcp(env: simpy.Environment, server: DhcpServer, rtt: float, *, ipv6: bool,
              discover_end: float = 10.0, blackout_until: float = 0.0
              ) -> Generator[simpy.Event, object, DhcpResult]:
    """The ``dhcp`` command of iPXE against ``server`` over a round trip ``rtt``.

    Args:
        env: the SimPy environment.
        server: the DHCP server.
        rtt: round trip between client and server (s).
        ipv6: the client's build has IPv6 (waits for autoconfiguration without an RA).
        discover_end: the build's ``DHCP_DISC_END_TIMEOUT_SEC`` (10 s default).
        blackout_until: frames sent before this time are lost (a LAG port that drops
            frames until LACP converges, a link still blocked by STP).
    """
    start = env.now
    offer = env.event()
    ticks_list, give_up = discover_schedule(discover_end)

    def answer_discover():
        if env.now < blackout_until:
            return  # lost on the link: no answer
        yield env.timeout(rtt / 2)
        yield from server.handle(server.ping)
        yield env.timeout(rtt / 2)
        if not offer.triggered:
            offer.succeed(env.now)

    discovers = 0
    for tick in ticks_list:
        if offer.triggered:
            break
        if env.now < start + tick:
            yield offer | env.timeout(start + tick - env.now)
            if offer.triggered:
                break
        discovers += 1
        env.process(answer_discover())
    if not offer.triggered:
        yield offer | env.timeout(start + give_up - env.now)
    if not offer.triggered:
        return DhcpResult(start, float("nan"), env.now, discovers, "failed",
                          f"no DHCPOFFER after {discovers} DISCOVERs ({give_up:g} s)")
    got = offer.value - start
    # when iPXE acts on the offer (see the module docstring)
    if got <= PROXY_WAIT:
        ticks = [t for t in (*ticks_list, give_up) if t >= got]
        act = ticks[0] if server.no_pxedhcp else next(t for t in ticks if t > PROXY_WAIT)
        if start + act > env.now:
            yield env.timeout(start + act - env.now)
    yield env.timeout(rtt / 2)
    yield from server.handle()
    yield env.timeout(rtt / 2)
    exchange_end = env.now
    if ipv6 and not server.ipv6_ra and env.now < start + IPV6_WAIT:
        yield env.timeout(start + IPV6_WAIT - env.now)
    return DhcpResult(start, exchange_end, env.now, discovers, "ok")
