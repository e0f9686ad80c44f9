"""Resolving a boot URI's host name, as iPXE's DNS client does (src/net/udp/dns.c [ipxe-src]).

A URI may name a host by a DNS name (``http://boot.example.com/kernel``) when the
scenario has DNS servers (:class:`~.spec.DnsSpec`). iPXE, at ipxe/ipxe 0ab2277
(src/net/udp/dns.c):

* keeps no cache: every connection it opens resolves its name again (``dns_resolv``),
  but an HTTP request reuses a pooled connection to the same scheme, host name and port
  without opening one (net/tcp/httpconn.c ``http_connect``): a client resolves a
  mirror's name once for its kernel and initrd, and stays on the mirror it got
  (:class:`~.ipxe_world.IpxeWorld` keeps that; iPXE's 10 s expiry of an idle pooled
  connection, ``HTTP_CONN_EXPIRY``, is not modelled, as for the world's keep-alive);
* with no DNS server configured, fails at once, ``ENXIO`` "No DNS servers available"
  (dns.c:991-996);
* asks for an A record (an AAAA first only when it has IPv6 DNS servers, dns.c:1018-1019;
  the simulated DHCP hands out IPv4 servers only), and takes the first A record of the
  answer that matches the name (dns.c:787-799): a server that rotates its records
  (round-robin DNS) sends successive clients to successive mirrors;
* resends on the generic retry timer (defaults 0.25 s to 10 s, net/retry.c): sends at
  0, 0.25, 0.75, 1.75, 3.75 and 7.75 s, ``ETIMEDOUT`` at 15.75 s (dns.c:643-657); each
  resend goes to the next configured server (``dns->index++``, dns.c:652-653), and an
  answer to any send counts (the query keeps its ID);
* on an answer without the record asks again for a CNAME (dns.c:862-868), and when that
  has none either fails with ``ENXIO`` "DNS name does not exist" (dns.c:884-889): two
  round trips for a name the server does not know.

The DNS servers the clients know are the scenario's, in name order (DHCP option 6). A
server answers after the round trip and its time per query, with no queue: a query is a
few hundred bytes, and its capacity is not what a boot storm tests (left out, said
here). A server that is down (a ``service-down`` fault) or behind a link that is down
answers nothing.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from ..ipxe import errors
from ..protocols.retry import retry_waits
from ..topology import Topology
from .faults import Faults
from .spec import DnsSpec

__all__ = ["Dns", "Lookup", "ENXIO_NO_RECORD", "ENXIO_NO_NAMESERVER", "ETIMEDOUT_DNS"]

#: "DNS name does not exist" (dns.c EINFO_ENXIO_NO_RECORD).
ENXIO_NO_RECORD = errors.einfo("ENXIO", "dns", 0x01)
#: "No DNS servers available" (dns.c EINFO_ENXIO_NO_NAMESERVER).
ENXIO_NO_NAMESERVER = errors.einfo("ENXIO", "dns", 0x02)
#: The retry timer ran out (dns.c dns_timer_expired).
ETIMEDOUT_DNS = errors.einfo("ETIMEDOUT", "dns")
#: iPXE's generic retry timer, the defaults DNS uses (include/ipxe/retry.h:16-19).
WAITS = tuple(retry_waits(0.25, 10.0))


@dataclass(frozen=True)
class Lookup:
    """One resolution: its outcome and what to record.

    Attributes:
        start, end: when the lookup began and ended (s).
        service: the service the first A record names (``""`` if it failed).
        server: the DNS server that answered (or was asked last).
        status: iPXE's status (0, or one of the errors above).
        reason: why it failed, in the words of its record (``""`` if it did not).
        queries: queries sent (resends and the CNAME query included).
    """

    start: float
    end: float
    service: str
    server: str
    status: int
    reason: str
    queries: int


class Dns:
    """The scenario's DNS servers, as the clients see them.

    Args:
        specs: the DNS servers by name.
        topology: for the round trips.
        faults: for servers and links that are down.
        rng: draws the order of a ``random`` server's answers.
    """

    def __init__(self, specs: dict[str, DnsSpec], topology: Topology, faults: Faults,
                 rng: np.random.Generator):
        self.servers = [specs[n] for n in sorted(specs)]
        self.names = frozenset(n for s in self.servers for n in s.records)
        self.topology = topology
        self.faults = faults
        self.rng = rng
        self._answers: dict[tuple[str, str], int] = {}  # (server, name): answers given

    def _first(self, spec: DnsSpec, name: str) -> str:
        """The first record of ``spec``'s answer for ``name`` now (its order applied)."""
        records = spec.records[name]
        k = self._answers.get((spec.name, name), 0)
        self._answers[(spec.name, name)] = k + 1
        if spec.order == "cyclic":
            return records[k % len(records)]
        if spec.order == "random":
            return records[int(self.rng.integers(len(records)))]
        return records[0]

    def _answer_in(self, spec: DnsSpec, client: str, now: float) -> float | None:
        """How long until ``spec``'s answer to a query sent now reaches ``client``."""
        if self.faults.down(spec.name, now) is not None:
            return None
        down = self.faults.links_down(now)
        fwd, back, rtt = self.topology.round_trip(client, spec.host, f"{client}/dns", down)
        if self.faults.path_down_until(fwd, now) > now or \
                self.faults.path_down_until(back, now) > now:
            return None
        return rtt + spec.service_time

    def _ask(self, client: str, t0: float, first: int
             ) -> tuple[float, DnsSpec, int, int] | None:
        """One query sent at ``t0`` on the retry timer, from server ``first`` on.

        Returns ``(answer's arrival, server that answered, sends, next server index)``,
        or ``None`` if no answer comes before the timer gives up (``t0`` + 15.75 s).
        """
        best: tuple[float, DnsSpec] | None = None
        t = t0
        n = len(self.servers)
        for k, wait in enumerate(WAITS):  # a send at t, then the timer's wait
            spec = self.servers[(first + k) % n]
            took = self._answer_in(spec, client, t)
            if took is not None and (best is None or t + took < best[0]):
                best = (t + took, spec)
            if best is not None and best[0] <= t + wait:
                return best[0], best[1], k + 1, first + k
            t += wait
        return None

    def lookup(self, env: simpy.Environment, client: str, name: str
               ) -> Generator[simpy.Event, Any, Lookup]:
        """Resolve ``name`` (lower case) for ``client`` as iPXE would."""
        start = env.now
        if not self.servers:
            return Lookup(start, start, "", "", ENXIO_NO_NAMESERVER,
                          f"cannot resolve {name!r}: no DNS servers available", 0)
        sent = 0
        index = 0
        for query in ("A", "CNAME"):
            got = self._ask(client, env.now, index)
            if got is None:
                yield env.timeout(sum(WAITS))
                return Lookup(start, env.now, "", "", ETIMEDOUT_DNS,
                              f"no answer from DNS ({', '.join(s.name for s in self.servers)})"
                              f" for {name!r} ({sum(WAITS):g} s of retries)",
                              sent + len(WAITS))
            arrive, spec, sends, index = got
            sent += sends
            yield env.timeout(arrive - env.now)
            if name in spec.records:
                return Lookup(start, env.now, self._first(spec, name), spec.name, 0, "", sent)
            if query == "CNAME":  # no A record, no CNAME: iPXE gives up
                return Lookup(start, env.now, "", spec.name, ENXIO_NO_RECORD,
                              f"DNS name {name!r} does not exist (on {spec.name})", sent)
        raise AssertionError("unreachable")  # (the loop returns)
