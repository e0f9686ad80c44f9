"""DHCP as iPXE does it against a dnsmasq-like server, timed as the lab measured it.

Server (:class:`DhcpServer`): one process answering packets one at a time
(``service_time`` each); before offering a fresh address it pings it and waits for
silence (``ping``; dnsmasq's ``--no-ping`` turns it off). Both are its model's
(:data:`netbootsim.services.registry.DHCP`), dnsmasq's by default, as the lab measured them.

Client (:func:`ipxe_dhcp`), iPXE's ``dhcp`` command (net/udp/dhcp.c, config/dhcp.h [ipxe-src]):

* DHCPDISCOVER at t = 0, 1, 3, 7 s (timer 1 s doubling to 10 s); no usable OFFER by
  15 s → ``-ETIMEDOUT`` ("No configuration methods succeeded").
* An OFFER is acted on once iPXE stops waiting for a ProxyDHCP offer: at once if more
  than 2 s have passed; otherwise at the next discovery timer tick, if the offer carries
  175.176 ``no-pxedhcp`` (lab: REQUEST 0.93–0.99 s after DISCOVER although the OFFER came
  after 0.5 ms: the ROMs and undionly.kpxe, opening their NIC), or at once where the
  profile says so (``dhcp_offer_at_once``: ipxe.efi chained over EDK2's SNP, 2–11 ms in
  the lab; net/udp/dhcp.c:438-441 acts on such an OFFER as it arrives), else at the
  first tick after 2 s (the t = 3 s tick).
* DHCPREQUEST → DHCPACK: one more server packet and a round trip.
* The whole ``dhcp`` step also waits for IPv6 autoconfiguration when the build has IPv6
  and nobody sends a router advertisement: it ends 16.08 s after it began in the lab
  (stock dnsmasq, no RA); with an RA it ends with the DHCPv4 exchange (1.02 s).

Legacy PXE ROM (:func:`dhcp_client` with ``PXE_SCHEDULE``): DISCOVERs on the PXE
spec's timeouts 4, 8, 16, 32 s (at t = 0, 4, 12, 28 s), giving up at t = 60 s (PXE spec
2.1 §2.2.1; "PXE ... keep sending DISCOVERs for a minute", raspberrypi/firmware#991). The
ROM needs a boot file name: from the DHCP server's offer, or from a ProxyDHCP server;
without one it fails with PXE-E53 (no boot filename received). A UEFI PXE client
(EDK2's) collects offers and chooses only when a DISCOVER times out (``offer_wait``,
3.68 s after the first in the lab: OVMF, lab/traces3); a legacy ROM is taken to act on
the first offer that names a boot file (not measured).

Pools and relays: a server leases addresses per L2 domain of the client (the relay's
giaddr picks the pool, RFC 3046 [rfc3046], RFC 2131 §4.3.1 [rfc2131]); a client that
already holds a lease (a reboot) is offered it again without dnsmasq's ping check; a
pool with no free address makes no offer, so the client's DISCOVERs go unanswered until
it gives up. Clients broadcast DISCOVER and REQUEST in their own domain; a relay on the
router between the client's domain and the server's forwards them as unicast, so the
broadcasts are counted in the client's domain only. A relay's forwarding cost is the
path latency the topology already has (no extra delay is added: no measured figure).

A ProxyDHCP server (``proxy``) gives no address, only the boot file: its offer carries
option 60 ``PXEClient``, so iPXE leaves discovery as soon as it holds it and an address
offer (net/udp/dhcp.c:418-424 [ipxe-src]); a PXE ROM then asks it again on port 4011 (one more round
trip, PXE spec §2.2.6).

iPXE's second DHCP of a chainload: a server that checks the user class (option 77
``iPXE``) hands iPXE the script URL; one that does not hands it the NBP again, and the
chainload loops (the caller detects it).

No packet loss is modelled here (a lost DISCOVER: use a blackout window).
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import simpy

from ..net.packet import resend_until_answered
from ..protocols.retry import retry_waits
from .registry import DHCP
from .slots import FifoReader, FifoResource

__all__ = ["DhcpServer", "DhcpResult", "DhcpClient", "dhcp_client", "ipxe_dhcp",
           "discover_schedule", "DISCOVER_TICKS", "IPV6_WAIT", "PXE_SCHEDULE", "EDK2_WAITS"]

#: iPXE's DHCPDISCOVER times and give-up (dhcp.c:1304-1312; DHCP_DISC_START/END 1 s/10 s).
DISCOVER_TICKS = (0.0, 1.0, 3.0, 7.0)
DISCOVER_GIVE_UP = 15.0
#: ProxyDHCP wait after the first OFFER (DHCP_DISC_PROXY_TIMEOUT_SEC, config/dhcp.h:40
#: [ipxe-src]).
PROXY_WAIT = 2.0
#: Whole ``dhcp`` step when IPv6 is built in and no router advertises: 16.08 s measured
#: (tests/data/lab/traces/tftp, console "Configuring" → next line).
IPV6_WAIT = 16.08
#: The server's defaults: dnsmasq's (the default model).
_DNSMASQ = DHCP.model()


_EPS = 1e-9  # float slack when comparing timer instants (not a model value)
#: PXE ROM DISCOVER times and give-up: timeouts 4, 8, 16, 32 s (PXE spec 2.1 §2.2.1).
PXE_SCHEDULE = ((0.0, 4.0, 12.0, 28.0), 60.0)


@dataclass
class DhcpResult:
    """One client's DHCP step.

    Attributes:
        start: when the step began.
        exchange_end: DHCPACK received (``nan`` if none).
        end: the step ended (IPv6 wait and ProxyDHCP request included).
        discovers: DISCOVERs sent.
        outcome: ``ok`` or ``failed``; reason says why.
        server: the server that gave the address (``""`` if none).
        boot_file: the boot file name the client was given (``""`` if none).
        relayed: the exchange went through a relay (client and server in different
            domains).
    """

    start: float
    exchange_end: float
    end: float
    discovers: int
    outcome: str
    reason: str = ""
    server: str = ""
    boot_file: str = ""
    relayed: bool = False


class DhcpServer:
    """A DHCP server that answers one packet at a time.

    Args:
        env: the SimPy environment.
        name: service name.
        service_time: time per packet (s).
        ping: delay before an OFFER of a fresh address (s; 0 = ``--no-ping``).
        deaf_ping: it reads no DHCP packet while it waits for a ping (dnsmasq): one
            check at a time, the others' packets wait in its socket (``queue``);
            ``False``: checks run beside its other work.
        ping_window, ping_share: a ``deaf_ping`` server checks a fresh address only while
            fewer than ``int(ping_share × ping_window / ping)`` checks started in the
            last ``ping_window`` seconds (dnsmasq's "high-load mode"); an address it
            checked within ``ping_window`` is offered again without a check.
        queue: packets its socket holds while it is busy (``None``: no limit); a packet
            arriving to a full socket is dropped (the client re-sends on its timer).
        no_pxedhcp: its OFFERs carry 175.176, so iPXE skips the ProxyDHCP wait.
        ipv6_ra: a router advertises on the clients' network (no IPv6 wait).
        pool: addresses per client domain (``None``: never runs out).
        proxy: a ProxyDHCP server: boot file only, no address.
        boot_files: boot file per client architecture (``bios``, ``uefi``,
            ``uefi-arm64``) for PXE clients (option 93); ``{}``: it gives none.
        script: what it gives a client whose user class is ``iPXE`` (a script URL);
            ``""``: nothing (iPXE runs its embedded script).
        user_class_check: it tells iPXE from the PXE ROM by option 77; ``False`` hands
            iPXE the PXE boot file again (the chainload loop).

    Attributes:
        packets: packets served.
        pings: ping checks made; ``dropped``: packets its full socket dropped.
        exhausted: DISCOVERs left unanswered because the pool was empty.
        leases: leased clients per domain.
    """

    def __init__(self, env: simpy.Environment, name: str, *,
                 service_time: float = _DNSMASQ.service_time, ping: float = _DNSMASQ.ping,
                 deaf_ping: bool = False, ping_window: float = _DNSMASQ.ping_window,
                 ping_share: float = _DNSMASQ.ping_share, queue: int | None = None,
                 no_pxedhcp: bool = False, ipv6_ra: bool = False, pool: int | None = None,
                 proxy: bool = False, boot_files: dict[str, str] | None = None,
                 script: str = "", user_class_check: bool = True):
        self.env = env
        self.name = name
        self.service_time = service_time
        self.ping = ping
        self.deaf_ping = deaf_ping
        self.ping_window = ping_window
        self.ping_limit = int(ping_share * ping_window / ping) if ping > 0 else 0
        self.queue = queue
        self.pings = 0
        self.dropped = 0
        self._ping_times: deque[float] = deque()
        self._checked: dict[str, float] = {}
        self.no_pxedhcp = no_pxedhcp
        self.ipv6_ra = ipv6_ra
        self.pool = pool
        self.proxy = proxy
        self.boot_files = dict(boot_files or {})
        self.script = script
        self.user_class_check = user_class_check
        self.cpu = FifoResource(env, capacity=1)  # a deaf-ping server's reader
        self.reader = FifoReader(env, service_time)  # any other's (:meth:`handle`)
        self.packets = 0
        self.exhausted = 0
        self.leases: dict[str, set[str]] = {}
        self.bound: set[str] = set()
        self.pinging: set[str] = set()

    def handle(self, delay_after: float = 0.0) -> Generator[simpy.Event, object, bool]:
        """Serve one packet (queueing behind the others), then wait ``delay_after``.

        Returns whether it was served: ``False`` when its socket was full (``queue``).
        A server that never goes deaf reads every packet in the same fixed time, so its
        reader is a :class:`~.slots.FifoReader` (the same times, fewer events); a
        deaf-ping server's reader is held for its checks too (:meth:`discover`).
        """
        if self._full():
            return False
        if self.deaf_ping:
            with self.cpu.request() as req:
                yield from self._read(req)
        else:
            yield self.reader.take()
            self.packets += 1
        if delay_after:
            yield self.env.timeout(delay_after)
        return True

    def _full(self) -> bool:
        """Whether a packet arriving now is dropped (its socket holds ``queue``)."""
        if self.queue is not None and (len(self.cpu.queue) if self.deaf_ping
                                       else self.reader.waiting()) >= self.queue:
            self.dropped += 1
            return True
        return False

    def _read(self, req: simpy.Event) -> Generator[simpy.Event, object, None]:
        """Wait for the reader (``req``), then read and process one packet."""
        yield req
        yield self.env.timeout(self.service_time)
        self.packets += 1

    def discover(self, client: str, domain: str) -> Generator[simpy.Event, object, bool]:
        """A deaf-ping server reads a DISCOVER: lease, check, offer; whether it offers.

        The lease is decided when the packet is read (after the packets before it); a
        fresh address is pinged with the server deaf (holding its one reader) unless it
        was checked within ``ping_window`` or the window's checks reached
        ``ping_limit``.
        """
        if self._full():
            return False
        with self.cpu.request() as req:
            yield from self._read(req)
            leased, fresh = self.lease(client, domain)
            if not leased:
                return False
            now = self.env.now
            times = self._ping_times
            while times and now - times[0] >= self.ping_window:
                times.popleft()
            checked = self._checked.get(client)
            if (fresh and self.ping > 0 and len(times) < self.ping_limit
                    and (checked is None or now - checked >= self.ping_window)):
                times.append(now)
                self._checked[client] = now
                self.pings += 1
                yield self.env.timeout(self.ping)  # deaf: the reader waits for the echo
        return True

    def lease(self, client: str, domain: str) -> tuple[bool, bool]:
        """Find ``client`` an address in ``domain``'s pool: ``(offer, fresh)``.

        ``fresh``: the client holds no acknowledged lease, so dnsmasq pings the address
        first. A DISCOVER that arrives while its client's address is being pinged is
        dropped (the check is already under way), so it makes no second offer.
        """
        held = self.leases.setdefault(domain, set())
        if client in self.pinging:
            return False, False
        if client not in held:
            if self.pool is not None and len(held) >= self.pool:
                self.exhausted += 1
                return False, False
            held.add(client)
        return True, client not in self.bound

    def ack(self, client: str) -> None:
        """The client's REQUEST was acknowledged: its lease is bound."""
        self.bound.add(client)

    def boot_file_for(self, arch: str, ipxe: bool) -> str:
        """The boot file (or script URL) it gives: by user class, then by architecture."""
        if ipxe and self.user_class_check:
            return self.script
        return self.boot_files.get(arch, "")


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


@dataclass
class DhcpClient:
    """Who is asking, and how.

    Attributes:
        name: the client (its MAC, in effect).
        domain: its L2 domain (the pool its relay's giaddr picks).
        servers: ``(server, round trip, relayed)`` for every DHCP server it can reach.
        ipxe: iPXE (user class ``iPXE``, its timers) rather than a PXE ROM.
        arch: ``bios``, ``uefi`` or ``uefi-arm64`` (option 93: 0, 7, 11; RFC 4578 §2.1
            [rfc4578], IANA's architecture types [iana-pxe-arch]).
        boot_files: the boot file per architecture configured for this client's group
            (a dnsmasq tag on its hosts, in effect): given to a PXE client of that
            architecture before any server's own ``boot_files``; ``{}``: none.
        ipv6: the build waits for IPv6 autoconfiguration when no router advertises.
        discover_end: iPXE's ``DHCP_DISC_END_TIMEOUT_SEC``.
        blackout_until: frames sent before this time are lost (LACP, STP, link down).
        broadcasts: counter of broadcast packets per domain, shared by the fleet.
        script_client: the server tells it apart as iPXE wanting its script (default:
            ``ipxe``).
        carrier: how messages travel: ``None`` for half a round trip each way (the flow
            engine); the packet engine's :class:`~netbootsim.net.packet_l2.DhcpCarrier`
            floods broadcasts in the domain, relays and unicasts them as packets (a
            REQUEST or its ACK lost there is resent on iPXE's REQUEST timer).
        offer_wait: a PXE client that collects offers (EDK2's) chooses one only when a
            DISCOVER times out: the first time ``offer_wait`` after its first DISCOVER,
            each later timeout as much before its schedule's; 0: a PXE client acts on
            the first offer naming a boot file. Unused by iPXE.
        request_waits: the REQUEST's resend timer (default iPXE's :data:`REQUEST_WAITS`;
            EDK2's :data:`EDK2_WAITS` for its PXE client).
        at_once: iPXE acts on a ``no-pxedhcp`` OFFER as it arrives, not at its next
            discovery tick (the profile's ``dhcp_offer_at_once``: ipxe.efi over SNP).
        reaches: on the flow engine, ``reaches(server name, t)``: whether a DISCOVER
            sent at ``t`` reaches that server and its OFFER comes back (its path's links
            up); a server it does not reach makes no offer for that DISCOVER. ``None``:
            every server is reached. (The packet engine drops the frames on a link that
            is down by itself.)
    """

    name: str
    domain: str
    servers: Sequence[tuple[DhcpServer, float, bool]]
    ipxe: bool = True
    arch: str = "bios"
    boot_files: Mapping[str, str] = field(default_factory=dict)
    ipv6: bool = False
    discover_end: float = 10.0
    blackout_until: float = 0.0
    broadcasts: Counter = field(default_factory=Counter)
    script_client: bool | None = None
    offer_wait: float = 0.0
    request_waits: tuple[float, ...] = ()
    at_once: bool = False

    def __post_init__(self) -> None:
        if not self.request_waits:
            self.request_waits = REQUEST_WAITS
    carrier: Any = None
    reaches: Callable[[str, float], bool] | None = None

    @property
    def wants_script(self) -> bool:
        """Whether the server should hand it the iPXE script.

        ``script_client`` if set, else ``ipxe``: an iPXE ROM that starts a chainload
        is served as a PXE client.
        """
        return self.ipxe if self.script_client is None else self.script_client


def dhcp_client(env: simpy.Environment, c: DhcpClient
                ) -> Generator[simpy.Event, object, DhcpResult]:
    """DHCP as ``c`` does it (iPXE's ``dhcp`` or a PXE ROM's), against ``c.servers``."""
    start = env.now
    changed = env.event()
    offers: dict[str, tuple[DhcpServer, float, bool]] = {}  # address offers by server
    proxies: list[tuple[DhcpServer, float]] = []
    ticks, give_up = discover_schedule(c.discover_end) if c.ipxe else PXE_SCHEDULE

    carrier = c.carrier

    def answer(server: DhcpServer, rtt: float, relayed: bool,
               arrived: simpy.Event | None = None):
        nonlocal changed
        yield env.timeout(rtt / 2) if arrived is None else arrived
        if server.proxy:
            if not (yield from server.handle()):
                return  # dropped by a full socket
        else:
            if server.deaf_ping:  # dnsmasq: reads, checks and offers one at a time
                if not (yield from server.discover(c.name, c.domain)):
                    return  # dropped by a full socket, or the pool is exhausted
            else:
                leased, fresh = server.lease(c.name, c.domain)
                if not leased:
                    return  # pool exhausted (or a ping check already running): no offer
                if fresh and server.ping:
                    server.pinging.add(c.name)
                    try:
                        yield from server.handle(server.ping)
                    finally:
                        server.pinging.discard(c.name)
                elif not (yield from server.handle()):
                    return  # dropped by a full socket
        yield env.timeout(rtt / 2) if carrier is None else carrier.reply(server.name)
        if server.proxy:
            proxies.append((server, rtt))
        elif server.name not in offers:
            offers[server.name] = (server, rtt, relayed)
        ev, changed = changed, env.event()
        ev.succeed()

    def chosen():
        """The address offer acted on: the first server by name (deterministic)."""
        return min(offers.values(), key=lambda o: o[0].name)

    def boot_file(server: DhcpServer) -> str:
        if not c.wants_script and (f := c.boot_files.get(c.arch)):
            return f  # the group's own file for its architecture
        for px, _ in proxies:
            if f := px.boot_file_for(c.arch, c.wants_script):
                return f
        return server.boot_file_for(c.arch, c.wants_script)

    # EDK2 (Dhcp4Io.c DhcpOnTimerTick) chooses among the offers it holds only when the
    # DISCOVER's retransmission timer runs out, on a 1 s tick: the instants it chooses
    choices: tuple[float, ...] = ()
    if not c.ipxe and c.offer_wait > 0:
        shift = ticks[1] - c.offer_wait
        choices = tuple(t - shift for t in (*ticks[1:], give_up))

    def ready(elapsed: float, at_tick: bool, at_choice: bool) -> bool:
        if not offers:
            return False
        if c.ipxe:  # dhcp.c: leave discovery on 175.176, a PXEClient offer, or > 2 s
            server = chosen()[0]
            return (bool(proxies) or elapsed > PROXY_WAIT
                    or (server.no_pxedhcp and (at_tick or c.at_once)))
        if choices:  # it collects offers until its timer runs out
            return at_choice
        server = chosen()[0]  # a PXE ROM takes an offer that names a boot file
        return bool(boot_file(server)) or bool(proxies) or at_tick

    discovers = 0
    k = j = 0
    while True:
        elapsed = env.now - start + _EPS  # timer instants are sums of floats
        at_tick = k < len(ticks) and elapsed >= ticks[k]
        at_choice = j < len(choices) and elapsed >= choices[j]
        j += at_choice
        if ready(elapsed - _EPS, at_tick or elapsed >= give_up, at_choice):
            break
        if elapsed >= give_up:
            return DhcpResult(start, float("nan"), env.now, discovers, "failed",
                              _no_offer_reason(c, discovers, give_up))
        if at_tick:
            discovers += 1
            k += 1
            if env.now >= c.blackout_until:
                c.broadcasts[c.domain] += 1
                heard = carrier.broadcast() if carrier is not None else {}
                for server, rtt, relayed in c.servers:
                    if c.reaches is None or c.reaches(server.name, env.now):
                        env.process(answer(server, rtt, relayed, heard.get(server.name)))
            continue
        nxt = ticks[k] if k < len(ticks) else give_up
        if j < len(choices):
            nxt = min(nxt, choices[j])
        yield changed | env.timeout(start + nxt - env.now)
    server, rtt, relayed = chosen()
    bf = boot_file(server)
    if not c.ipxe and not bf:
        return DhcpResult(start, float("nan"), env.now, discovers, "failed",
                          "PXE-E53: no boot filename received", server.name)
    # DHCPREQUEST (broadcast again) -> DHCPACK
    if carrier is None:
        acked = yield from _request(env, c, server, rtt)
        if not acked:
            return DhcpResult(start, float("nan"), env.now, discovers, "failed",
                              f"no DHCPACK after {len(c.request_waits)} DHCPREQUESTs",
                              server.name)
    else:
        acked = yield from _request_over_packets(env, c, server)
        if not acked:
            return DhcpResult(start, float("nan"), env.now, discovers, "failed",
                              f"no DHCPACK after {len(c.request_waits)} DHCPREQUESTs",
                              server.name)
    exchange_end = env.now
    if proxies and not c.ipxe:  # the ROM asks the ProxyDHCP server again on port 4011
        px, prtt = proxies[0]
        if carrier is None:
            yield env.timeout(prtt / 2)
            yield from px.handle()
            yield env.timeout(prtt / 2)
        else:
            answered = yield from _over_packets(env, lambda: carrier.unicast(px.name), px,
                                                lambda: carrier.reply(px.name), BOOT_WAITS)
            if not answered:
                return DhcpResult(start, float("nan"), env.now, discovers, "failed",
                                  f"no answer from ProxyDHCP {px.name} on port 4011 after "
                                  f"{len(BOOT_WAITS)} requests", server.name)
    if c.ipxe and c.ipv6 and not server.ipv6_ra and env.now < start + IPV6_WAIT:
        yield env.timeout(start + IPV6_WAIT - env.now)
    return DhcpResult(start, exchange_end, env.now, discovers, "ok", "", server.name, bf,
                      relayed)


#: iPXE's DHCPREQUEST timer: ``DHCP_REQ_START/END_TIMEOUT_SEC`` 0 / 10 (config/dhcp.h:
#: 52-53 [ipxe-src]; 0 → the 0.25 s default minimum): resends after 0.25, 0.5, ... 8 s,
#: then fails.
REQUEST_WAITS = tuple(retry_waits(0.25, 10.0))

#: EDK2's DHCP timer for a REQUEST (Dhcp4Io.c ``mDhcp4DefaultTimeout``; the PXE client
#: sets only its DISCOVER timeouts, PxeBcDhcp4.c ``PxeBcDhcp4Dora`` [edk2]): resends
#: after 4, 8 and 16 s, gives up 32 s after the fourth.
EDK2_WAITS = (4.0, 8.0, 16.0, 32.0)


#: The PXE ROM's boot-server request (port 4011) timer: ``PXEBS_START/END_TIMEOUT_SEC``
#: 1 / 10 s (config/dhcp.h:80-81 [ipxe-src]): 1, 2, 4, 8 s.
BOOT_WAITS = tuple(retry_waits(1.0, 10.0))


def _over_packets(env: simpy.Environment, send, server: DhcpServer, reply, waits,
                  on_send=None) -> Generator[simpy.Event, object, bool]:
    """One request → answer as packets, resent after each of ``waits``; ``True`` if answered.

    ``send()`` and ``reply()`` return the events of the request reaching the server and
    the answer reaching the client; the server handles each request that arrives.
    """
    def exchange():
        yield send()
        if not (yield from server.handle()):
            yield env.event()  # dropped by a full socket: never answered (stays blocked)
        if on_send is not None:
            on_send()
        yield reply()

    return (yield from resend_until_answered(env, exchange, waits))


def _request(env: simpy.Environment, c: DhcpClient, server: DhcpServer, rtt: float
             ) -> Generator[simpy.Event, object, bool]:
    """REQUEST → ACK over the flow engine's round trip; ``True`` once acked.

    Each copy is a packet the server reads in turn (behind what its socket holds, or
    dropped when it is full); iPXE re-sends on its REQUEST timer and gives up after it.
    A copy sent while the server's path is down (``c.reaches``) is lost.
    """
    def send():
        c.broadcasts[c.domain] += 1
        if c.reaches is not None and not c.reaches(server.name, env.now):
            return env.event()  # lost on a link that is down: never arrives
        return env.timeout(rtt / 2)

    return (yield from _over_packets(env, send, server, lambda: env.timeout(rtt / 2),
                                     c.request_waits, on_send=lambda: server.ack(c.name)))


def _request_over_packets(env: simpy.Environment, c: DhcpClient, server: DhcpServer
                          ) -> Generator[simpy.Event, object, bool]:
    """REQUEST → ACK as packets, resent on iPXE's REQUEST timer; ``True`` once acked."""

    def send():
        c.broadcasts[c.domain] += 1
        return c.carrier.broadcast()[server.name]

    return (yield from _over_packets(env, send, server, lambda: c.carrier.reply(server.name),
                                     c.request_waits, on_send=lambda: server.ack(c.name)))


def _no_offer_reason(c: DhcpClient, discovers: int, give_up: float) -> str:
    empty = [s.name for s, _, _ in c.servers
             if not s.proxy and s.pool is not None
             and len(s.leases.get(c.domain, ())) >= s.pool]
    why = f"no DHCPOFFER after {discovers} DISCOVERs ({give_up:g} s)"
    if empty and len(empty) == sum(1 for s, _, _ in c.servers if not s.proxy):
        why += f": address pool exhausted ({', '.join(empty)}, domain {c.domain})"
    return why


_ANONYMOUS = itertools.count()  # names of clients that ipxe_dhcp's callers do not name


def ipxe_dhcp(env: simpy.Environment, server: DhcpServer, rtt: float, *, ipv6: bool,
              discover_end: float = 10.0, blackout_until: float = 0.0
              ) -> Generator[simpy.Event, object, DhcpResult]:
    """The ``dhcp`` command of iPXE against one ``server`` over a round trip ``rtt``.

    Args:
        env: the SimPy environment.
        server: the DHCP server.
        rtt: round trip between client and server (s).
        ipv6: the client's build has IPv6 (waits for autoconfiguration without an RA).
        discover_end: the build's ``DHCP_DISC_END_TIMEOUT_SEC`` (10 s default).
        blackout_until: frames sent before this time are lost (a LAG port that drops
            frames until LACP converges, a link still blocked by STP).
    """
    client = DhcpClient(f"client{next(_ANONYMOUS)}", "lan", [(server, rtt, False)], ipxe=True,
                        ipv6=ipv6, discover_end=discover_end, blackout_until=blackout_until)
    return (yield from dhcp_client(env, client))
