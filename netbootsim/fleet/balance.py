"""Load balancers in front of HTTP mirrors: the 302 redirector and its health checks.

A redirector (``kind: lb, mode: redirect``) answers each request with ``302 Found`` and
the URI of the file on one mirror of its pool; iPXE follows the ``Location`` as it
follows any redirect (net/tcp/httpcore.c ``http_redirect`` [ipxe-src]): it opens (or
reuses, if pooled) a connection to the mirror and fetches the file there. So a fetch
through a redirector costs, on top of the fetch from the mirror, one request round trip
to the redirector and its time per request, plus a TCP handshake when no connection to
it is pooled.

Which mirror (:meth:`Balancer.pick`):

* ``round-robin``: the next mirror of the pool in turn (HAProxy's ``balance roundrobin``
  [haproxy-conf]), skipping those out;
* ``least-connections``: the mirror with the fewest HTTP transfers running now, the
  pool's order breaking ties (HAProxy's ``leastconn``);
* ``source-hash``: the client's name hashed over the mirrors that are in (HAProxy's
  ``source``): a client keeps its mirror while the set does not change;
* ``least-bytes``: the mirror with the fewest bytes in flight, the sizes of the
  transfers it is serving counted whole until each ends (a large initrd weighs more
  than a script), the pool's order breaking ties;
* ``nearest``: the mirror with the shortest round trip from the client (a site's own
  mirror before a central one, as a global balancer steering by site does), then the
  fewest transfers running, then the pool's order.

Health checks (HAProxy's ``inter``, ``timeout check``, ``fall``, ``rise``
[haproxy-conf]): the balancer checks every mirror, one check after another
``check_interval`` apart; a mirror that is down (a ``service-down`` fault) does not
answer the checks made while it is, each failing after ``check_timeout``; ``fall``
failed checks in a row take it out, ``rise`` passed ones put it back (:func:`out_windows`,
exact and computed before the run). Until the checks take a dead mirror out, clients are sent to
it and their fetch fails as any fetch from a dead server does (the script's ``||``
fallback, or the attempt fails). With every mirror out the redirector answers ``503``.

Passive health (the ``nginx`` model: open-source nginx has no checks of its own
[nginx-upstream]): nothing checks the mirrors; an ``l4`` balancer learns that one is
dead from the connections it makes to it (:meth:`Balancer.pick` with ``tried``,
:meth:`Balancer.failed`). A connection to a mirror that does not answer fails after
``connect_timeout`` (nginx's ``proxy_connect_timeout``, 60 s [nginx-proxy]) and the
client's connection goes to the next mirror not yet tried (``proxy_next_upstream``);
``max_fails`` failures hold the mirror out for ``fail_timeout`` (10 s), after which the
first connection picked for it tries it again, and while that one waits no other is
sent there (its ``checked`` time is moved on). A success after such a retry forgets the
failures. A pool of one mirror is never held out. As nginx's stream round-robin
(ngx_stream_upstream_round_robin.c [nginx-src]), except that time is not rounded to
whole seconds and a success is counted when the connection is made (nginx: when it
ends). With every mirror tried or held out the client's connection is closed. A
``redirect`` balancer with passive health never connects to its mirrors, so it never
learns: clients keep being sent to a dead one.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .faults import Window
from .spec import Service, TlsSpec

__all__ = ["LbSpec", "Balancer", "out_windows"]


@dataclass(frozen=True)
class LbSpec:
    """A redirector (:class:`~netbootsim.scenario.schema.LbService`)."""

    name: str
    host: str
    pool: tuple[str, ...]
    algorithm: str
    service_time: float
    check_interval: float
    fall: int
    rise: int
    mode: str = "redirect"
    max_connections: int | None = None
    tls: TlsSpec | None = None
    check_timeout: float = 0.0
    fast_interval: float | None = None
    down_interval: float | None = None
    model: str = "haproxy"
    health: str = "active"
    max_fails: int | None = None
    fail_timeout: float | None = None
    connect_timeout: float | None = None


def out_windows(downs: Sequence[Window], interval: float, fall: int, rise: int,
                timeout: float = 0.0, fast: float | None = None,
                down: float | None = None) -> list[Window]:
    """When the health checks hold a mirror out, given when it is down.

    HAProxy's checks of a server run one after the other (src/check.c, ``process_chk``
    [haproxy-src]): the next starts ``interval`` after the previous one ended. A check
    of a mirror that answers ends at once (a round trip, taken as 0), so a live
    mirror is checked at ``k × interval`` from t = 0. A check that starts while the
    mirror is down gets no answer (a dead host, as a ``service-down`` fault is to a
    client) and fails after ``timeout`` (HAProxy: ``timeout check``, ``inter`` when not
    set [haproxy-conf]); the ``fall``-th failure in a row takes the mirror out as it
    ends, and checks go on every ``timeout + interval``; the ``rise``-th pass in a row
    puts it back. An outage that ends before ``fall`` checks failed leaves the mirror
    in (the failures are forgotten at the next pass).

    ``fast`` (HAProxy's ``fastinter``, keepalived's ``delay_before_retry``) is the wait
    after a check while the mirror is between states (failed but still in, or passed
    but still out), ``down`` (``downinter``) the wait after a failed check while it is
    out; both default to ``interval``.

    Example (interval 2 s, timeout 2 s, fall 3, rise 2; down from 5 to 20 s): checks
    start at 6, 10, 14 s and fail 2 s later: out at 16 s; the check of 18 s fails at
    20 s; those of 22 and 24 s pass: back at 24 s. With timeout 0 (a refused
    connection): failed at 6, 8, 10 s, out at 10 s; passes at 20 and 22 s: back at 22 s.
    """
    fast = interval if fast is None else fast
    down = interval if down is None else down
    downs = sorted(downs, key=lambda w: w.start)
    out: list[Window] = []
    t, fails, passes, gone = 0.0, 0, 0, None
    i, n = 0, len(downs)  # downs[i]: the first outage not over at t
    while True:
        while i < n and downs[i].end <= t:
            i += 1
        if i == n and gone is None:
            return out
        if gone is None and fails == 0 and t < downs[i].start:
            # passing checks until the next outage: jump to the first one inside it
            t += math.ceil((downs[i].start - t) / interval) * interval
            continue
        if i < n and downs[i].start <= t:  # down at t: no answer
            fails, passes = fails + 1, 0
            ended = t + timeout
            if gone is None and fails >= fall:
                gone = ended
                if math.isinf(downs[i].end):
                    out.append(Window(gone, math.inf))
                    return out
            t = ended + (down if gone is not None else fast)
        else:  # it answers
            fails = 0
            if gone is not None:
                passes += 1
                if passes >= rise:
                    if out and gone <= out[-1].end:
                        out[-1] = Window(out[-1].start, t)
                    else:
                        out.append(Window(gone, t))
                    gone, passes = None, 0
            t += interval if gone is None else fast


class Balancer:
    """One redirector at run time: its turn, its view of the mirrors' health.

    Args:
        spec: the redirector.
        outages: each pool mirror's ``service-down`` windows.
    """

    def __init__(self, spec: LbSpec, outages: dict[str, list[Window]]):
        self.spec = spec
        #: the balancer as a service on its host (for the world's outage and route checks)
        self.service = Service(spec.name, "http", spec.host)
        self.passive = spec.health == "passive"
        self.out = {m: [] if self.passive else out_windows(
            outages.get(m, ()), spec.check_interval, spec.fall, spec.rise, spec.check_timeout,
            spec.fast_interval, spec.down_interval) for m in spec.pool}
        self._turn = 0
        #: passive health, per mirror: failures counted, when the last one was
        #: (``accessed``), when it was last failed or retried (``checked``)
        self.fails = dict.fromkeys(spec.pool, 0)
        self.accessed = dict.fromkeys(spec.pool, -math.inf)
        self.checked = dict.fromkeys(spec.pool, -math.inf)

    def up(self, now: float) -> list[str]:
        """The pool's mirrors held in at ``now`` (checks or failures), in the pool's order."""
        if self.passive:
            return [m for m in self.spec.pool if not self._held_out(m, now)]
        return [m for m in self.spec.pool if not any(w.covers(now) for w in self.out[m])]

    def _held_out(self, mirror: str, now: float) -> bool:
        s = self.spec
        return (len(s.pool) > 1 and self.fails[mirror] >= s.max_fails
                and now - self.checked[mirror] <= s.fail_timeout)

    def failed(self, mirror: str, now: float) -> None:
        """Passive health: a connection to ``mirror`` failed at ``now``."""
        self.fails[mirror] += 1
        self.accessed[mirror] = self.checked[mirror] = now

    def connected(self, mirror: str) -> None:
        """Passive health: a connection to ``mirror`` was made (after a retry: it is live)."""
        if self.accessed[mirror] < self.checked[mirror]:
            self.fails[mirror] = 0

    def pick(self, client: str, now: float, running: dict[str, int],
             bytes_left: dict[str, float] | None = None,
             rtt: Callable[[str], float] | None = None,
             tried: Sequence[str] = ()) -> str | None:
        """The mirror a request from ``client`` is sent to now (``None``: every one out).

        ``running``: HTTP transfers running now per service (least-connections);
        ``bytes_left``: bytes of the transfers running now per service, counted whole
        until each ends (least-bytes); ``rtt(mirror)``: the client's round trip to a
        mirror (nearest); ``tried``: mirrors this connection already failed on (passive
        health: not tried again).
        """
        live = [m for m in self.up(now) if m not in tried]
        if not live:
            return None
        algo = self.spec.algorithm
        if algo == "least-connections":
            mirror = min(live, key=lambda m: (running.get(m, 0), live.index(m)))
        elif algo == "least-bytes":
            left = bytes_left or {}
            mirror = min(live, key=lambda m: (left.get(m, 0.0), live.index(m)))
        elif algo == "nearest":
            assert rtt is not None
            mirror = min(live, key=lambda m: (rtt(m), running.get(m, 0), live.index(m)))
        elif algo == "source-hash":
            digest = hashlib.blake2b(client.encode(), digest_size=8).digest()
            mirror = live[int.from_bytes(digest, "big") % len(live)]
        else:  # round-robin over the pool, skipping mirrors that are out
            pool = self.spec.pool
            for k in range(len(pool)):
                cand = pool[(self._turn + k) % len(pool)]
                if cand in live:
                    self._turn = (self._turn + k + 1) % len(pool)
                    mirror = cand
                    break
        if self.passive and now - self.checked[mirror] > self.spec.fail_timeout:
            self.checked[mirror] = now  # (a held-out mirror's retry: one at a time)
        return mirror
