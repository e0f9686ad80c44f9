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

The DNS servers a client knows are the ones its DHCP server hands out (option 6: the
DHCP service's ``dns`` list), else the scenario's, in name order. A server answers
after the round trip and its time per query, with no queue: a query is a few hundred
bytes, and its capacity is not what a boot storm tests (left out, said here). A server
that is down (a ``service-down`` fault) or behind a link that is down answers nothing.

A caching resolver (``forward``) holds no records: a query that reaches it (after the
one-way latency from the client, plus its time per query) is answered from its cache
while the cached answer is younger than the authoritative server's TTL (RFC 1035
§3.2.1 and §7.4 [rfc1035]: a cached RR may be used until its TTL runs out); otherwise it forwards
the query (one round trip to the authoritative server and that server's time per
query) and answers when the reply comes. Clients asking for a name while the forwarded
query is out wait for it instead of forwarding again, as BIND joins identical
recursive queries (``clients-per-query``, [bind-arm]): one forwarded query per TTL per
resolver and name. At most ``clients_per_query`` clients wait on one forward (BIND's
``max-clients-per-query``, 100); a query past that is dropped, and its client resends
on its retry timer. The cached records keep the order the authoritative server gave
them, and the resolver applies its own ``order`` to each answer. Not modelled: negative
caching (RFC 2308 [rfc2308]: a name the server lacks is forwarded every time), prefetch, serving
stale answers, the resolver's own retries to a silent server (it answers nothing, and
the client's timer moves on, as when a server is down).
"""

from __future__ import annotations

import math
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
        self.by_name = dict(specs)
        self.names = frozenset(n for s in self.servers for n in s.records)
        self.topology = topology
        self.faults = faults
        self.rng = rng
        self._answers: dict[tuple[str, str], int] = {}  # (server, name): answers given
        #: (resolver, name) -> (asked at, answer due, cached until, records or None)
        self._cache: dict[tuple[str, str], tuple[float, float, float,
                                                 tuple[str, ...] | None]] = {}
        #: queries each server received and answered (a resolver's hits included)
        self.answered: dict[str, int] = {s.name: 0 for s in self.servers}
        #: a resolver's queries forwarded to its authoritative server
        self.forwarded: dict[str, int] = {s.name: 0 for s in self.servers if s.forward}
        #: a resolver's queries answered from its cache (joined ones included)
        self.hits: dict[str, int] = {s.name: 0 for s in self.servers if s.forward}
        #: a resolver's queries dropped: too many clients waiting on one forward
        self.dropped: dict[str, int] = {s.name: 0 for s in self.servers if s.forward}
        self._waiting: dict[tuple[str, str], int] = {}  # clients on the forward out

    def _ordered(self, spec: DnsSpec, name: str, records: tuple[str, ...]
                 ) -> tuple[str, ...]:
        """``records`` in the order of ``spec``'s answer now (its ``order`` applied)."""
        k = self._answers.get((spec.name, name), 0)
        self._answers[(spec.name, name)] = k + 1
        if spec.order == "cyclic":
            k %= len(records)
            return records[k:] + records[:k]
        if spec.order == "random":
            k = int(self.rng.integers(len(records)))
            return records[k:] + records[:k]
        return records

    def _reach(self, a: str, b: DnsSpec, now: float) -> tuple[tuple, tuple, float] | None:
        """The paths ``a`` → ``b``'s host and back and the round trip (None: unheard)."""
        if self.faults.down(b.name, now) is not None:
            return None
        down = self.faults.links_down(now)
        fwd, back, rtt = self.topology.round_trip(a, b.host, f"{a}/dns", down)
        if self.faults.path_down_until(fwd, now) > now or \
                self.faults.path_down_until(back, now) > now:
            return None
        return fwd, back, rtt

    def _answer(self, spec: DnsSpec, client: str, now: float, name: str
                ) -> tuple[float, tuple[str, ...] | None] | None:
        """``spec``'s answer to a query sent now: ``(arrival at client, records)``.

        ``records`` None: the name has no A record there. None: no answer comes.
        """
        ways = self._reach(client, spec, now)
        if ways is None:
            return None
        fwd, back, rtt = ways
        if spec.forward is None:
            self.answered[spec.name] += 1
            return now + (rtt + spec.service_time), spec.records.get(name)
        # a resolver: the query read and the cache looked at, one way in
        ready = now + math.fsum(ld.latency for ld in fwd) + spec.service_time
        got = self._resolve(spec, name, ready)
        if got is None:
            return None
        due, records = got
        self.answered[spec.name] += 1
        return max(due, ready) + math.fsum(ld.latency for ld in back), records

    def _resolve(self, spec: DnsSpec, name: str, at: float
                 ) -> tuple[float, tuple[str, ...] | None] | None:
        """A resolver's answer to ``name`` looked up at ``at``: cache, join, or forward."""
        key = (spec.name, name)
        entry = self._cache.get(key)
        if entry is not None:
            asked, due, until, records = entry
            if due <= at < until:  # cached
                self.hits[spec.name] += 1
                return due, records
            if asked <= at < due:  # its query is out: wait for it, if there is room
                if self._waiting[key] >= spec.clients_per_query:
                    self.dropped[spec.name] += 1
                    return None
                self._waiting[key] += 1
                self.hits[spec.name] += 1
                return due, records
        up = self.by_name[spec.forward]
        ways = self._reach(spec.host, up, at)
        if ways is None:  # the authoritative server hears nothing: no answer
            return None
        due = at + (ways[2] + up.service_time)
        self.forwarded[spec.name] += 1
        self.answered[up.name] += 1
        found = up.records.get(name)
        records = None if found is None else self._ordered(up, name, found)
        # cached for the TTL from when the answer arrives; no negative caching
        until = due + (up.ttl or 0.0) if records is not None else due
        self._cache[key] = (at, due, until, records)
        self._waiting[key] = 1  # the client whose query is forwarded
        return due, records

    def _ask(self, servers: list[DnsSpec], client: str, t0: float, first: int, name: str
             ) -> tuple[float, DnsSpec, tuple[str, ...] | None, int, int] | None:
        """One query sent at ``t0`` on the retry timer, from server ``first`` on.

        Returns ``(answer's arrival, server that answered, its records, sends, next
        server index)``, or ``None`` if no answer comes before the timer gives up
        (``t0`` + 15.75 s). Every server asked is asked at a send that happens (the
        loop stops at the first answer due before the next send).
        """
        best: tuple[float, DnsSpec, tuple[str, ...] | None] | None = None
        t = t0
        n = len(servers)
        for k, wait in enumerate(WAITS):  # a send at t, then the timer's wait
            spec = servers[(first + k) % n]
            got = self._answer(spec, client, t, name)
            if got is not None and (best is None or got[0] < best[0]):
                best = (got[0], spec, got[1])
            if best is not None and best[0] <= t + wait:
                return best[0], best[1], best[2], k + 1, first + k
            t += wait
        return None

    def servers_for(self, names: tuple[str, ...] | None) -> list[DnsSpec]:
        """The DNS servers a client was handed (DHCP option 6), in order; None: all."""
        return self.servers if names is None else [self.by_name[n] for n in names]

    def lookup(self, env: simpy.Environment, client: str, name: str,
               servers: tuple[str, ...] | None = None) -> Generator[simpy.Event, Any, Lookup]:
        """Resolve ``name`` (lower case) for ``client`` as iPXE would.

        ``servers``: the DNS servers its DHCP server named (None: all, in name order).
        """
        start = env.now
        asked = self.servers_for(servers)
        if not asked:
            return Lookup(start, start, "", "", ENXIO_NO_NAMESERVER,
                          f"cannot resolve {name!r}: no DNS servers available", 0)
        sent = 0
        index = 0
        for query in ("A", "CNAME"):
            got = self._ask(asked, client, env.now, index, name)
            if got is None:
                yield env.timeout(sum(WAITS))
                return Lookup(start, env.now, "", "", ETIMEDOUT_DNS,
                              f"no answer from DNS ({', '.join(s.name for s in asked)})"
                              f" for {name!r} ({sum(WAITS):g} s of retries)",
                              sent + len(WAITS))
            arrive, spec, records, sends, index = got
            sent += sends
            yield env.timeout(arrive - env.now)
            if records:
                first = self._ordered(spec, name, records)[0]
                return Lookup(start, env.now, first, spec.name, 0, "", sent)
            if query == "CNAME":  # no A record, no CNAME: iPXE gives up
                return Lookup(start, env.now, "", spec.name, ENXIO_NO_RECORD,
                              f"DNS name {name!r} does not exist (on {spec.name})", sent)
        raise AssertionError("unreachable")  # (the loop returns)
