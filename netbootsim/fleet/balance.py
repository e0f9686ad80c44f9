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
  ``source``): a client keeps its mirror while the set does not change.

Health checks (HAProxy's ``inter``, ``fall``, ``rise`` [haproxy-conf]): the balancer
checks every mirror every ``check_interval`` from t = 0; a mirror that is down (a
``service-down`` fault) fails the checks made while it is; ``fall`` failed checks in a
row take it out, ``rise`` passed ones put it back (:func:`out_windows`, exact and
computed before the run). Until the checks take a dead mirror out, clients are sent to
it and their fetch fails as any fetch from a dead server does (the script's ``||``
fallback, or the attempt fails). With every mirror out the redirector answers ``503``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
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


def out_windows(downs: Sequence[Window], interval: float, fall: int, rise: int
                ) -> list[Window]:
    """When the health checks hold a mirror out, given when it is down.

    Checks run at ``k × interval`` (k = 0, 1, ...). For each outage ``[a, b)``: the
    checks at ``a ≤ t < b`` fail; the ``fall``-th of them takes the mirror out (if the
    outage lasts that long), and it is back at the ``rise``-th check at or after ``b``
    (the first ones pass). Outages closer than the checks can tell apart merge.

    Example (interval 2 s, fall 3, rise 2; down from 5 to 20 s): failed checks at 6, 8,
    10 s: out at 10 s; checks pass from 20 s: back at 22 s.
    """
    out: list[Window] = []
    for w in sorted(downs, key=lambda w: w.start):
        first = math.ceil(w.start / interval) * interval  # first check inside the outage
        gone = first + (fall - 1) * interval
        if not gone < w.end:
            continue  # the outage ended before enough checks failed
        if math.isinf(w.end):
            back = math.inf
        else:
            back = math.ceil(w.end / interval) * interval + (rise - 1) * interval
        if out and gone <= out[-1].end:
            out[-1] = Window(out[-1].start, max(out[-1].end, back))
        else:
            out.append(Window(gone, back))
    return out


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
        self.out = {m: out_windows(outages.get(m, ()), spec.check_interval, spec.fall,
                                   spec.rise) for m in spec.pool}
        self._turn = 0

    def up(self, now: float) -> list[str]:
        """The pool's mirrors the checks hold in at ``now``, in the pool's order."""
        return [m for m in self.spec.pool if not any(w.covers(now) for w in self.out[m])]

    def pick(self, client: str, now: float, running: dict[str, int]) -> str | None:
        """The mirror a request from ``client`` is sent to now (``None``: every one out).

        ``running``: HTTP transfers running now per service (least-connections).
        """
        live = self.up(now)
        if not live:
            return None
        algo = self.spec.algorithm
        if algo == "least-connections":
            mirror = min(live, key=lambda m: (running.get(m, 0), live.index(m)))
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
        return mirror
