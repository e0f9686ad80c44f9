"""Edge caches: HTTP services that fill their objects from an origin.

A CDN edge or a site's caching proxy is an ``http`` service with an ``origin``; it holds
no image at the start of the run. A request for an object it holds is served at once
(a *hit*); a *miss* makes the edge fetch the object from its origin first (an HTTP
transfer from the origin's host to the edge's host, over whatever links lie between,
a site's WAN say, by the edge's own TCP: Linux's window, :data:`~.spec.LINUX_RWND`),
then serves it. Images are few and large, so the
cache is modelled by object, not by a hit ratio: a cold edge misses until the first
fill of an object has completed.

* ``coalesce: true`` (nginx's ``proxy_cache_lock``, Varnish's request coalescing): the
  misses of an object while its fill is in progress wait for that one fill; ``false``:
  each miss fetches the object from the origin itself (a thundering herd of N fills for
  N simultaneous misses).
* ``cache``: the edge's capacity in bytes. A filled object that does not fit what is
  left makes room by evicting the least recently used objects (a hit counts as a use),
  as nginx's cache manager does past ``proxy_cache_path ... max_size``
  [nginx-proxy-cache]; an object larger than the whole cache is fetched from the origin
  for each request and never kept. Objects being sent when evicted are still sent (an
  open file outlives its cache entry).
* ``inactive``: an object nobody asked for this long is removed, however fresh (nginx's
  ``proxy_cache_path ... inactive``, 10 min by default [nginx-proxy-cache]); the next
  request misses. Checked when the edge is next asked (nginx's cache manager removes
  it in the background; what a request sees is the same).
* An edge whose origin is an edge fills that one first.
* ``fallback: origin``: while the edge is down (a ``service-down`` fault) its clients
  are sent to the origin (a CDN steering around a dead edge); ``fallback: <service>``:
  to that one, the next edge say, which serves them as its own clients (a fill if it
  misses; if it is down too, its own fallback); ``none``: they fail as from any dead
  server.

A fill cut short (the server whose request started it failed) fails the requests waiting
on it with the edge's ``504``; the next miss starts a new fill.

A fill is recorded as an ``edge-fill:<file>`` phase of the server whose request caused
it (endpoint: the origin); a coalesced request's wait for that fill as
``edge-wait:<file>`` (endpoint: the edge); a fallback as ``edge-fallback:<file>``. So a
server's phases cover its whole boot. What the edge's own request to its origin meets
(a wait for a worker, a down origin, a link outage, the origin's own fill when it is an
edge) is that server's too, named :data:`ORIGIN` + the phase (``edge-origin/http-wait:
<file>``, ``edge-origin/edge-fill:<file>``; twice the prefix one edge further): they lie
inside the ``edge-fill`` record (nested, :data:`netbootsim.report.spread.NESTED_PREFIXES`),
so the edge's host, which boots nothing, has no records.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import simpy

from ..protocols.result import TransferResult
from .spec import Service

__all__ = ["EdgeState", "Edges", "ORIGIN"]

#: The prefix of the records of an edge's request to its origin, made on behalf of the
#: server whose miss caused the fill (nested in its ``edge-fill:<file>``).
ORIGIN = "edge-origin/"


@dataclass
class EdgeState:
    """What one edge holds.

    Objects filled (least recently used first, with their sizes), when each was last
    asked for, bytes used, fills in progress, objects evicted (for room) and expired
    (unused for ``inactive``) so far.
    """

    held: OrderedDict[str, float] = field(default_factory=OrderedDict)
    used_at: dict[str, float] = field(default_factory=dict)
    used: float = 0.0
    fills: dict[str, simpy.Event] = field(default_factory=dict)
    evicted: int = 0
    expired: int = 0

    def expire(self, now: float, inactive: float) -> list[str]:
        """Remove the objects nobody asked for in the last ``inactive`` seconds."""
        gone = []
        while self.held:
            old = next(iter(self.held))  # the least recently used first
            if now - self.used_at[old] <= inactive:
                break
            self.used -= self.held.pop(old)
            del self.used_at[old]
            gone.append(old)
        self.expired += len(gone)
        if not self.held:
            self.used = 0.0
        return gone

    def keep(self, file: str, size: float, cache: float, now: float = 0.0) -> list[str]:
        """Hold ``file``, evicting the least recently used objects to make room.

        ``now``: when it was asked for. Returns what was evicted. (``size`` must not
        exceed ``cache``.)
        """
        gone = []
        while self.held and self.used + size > cache:
            old, old_size = self.held.popitem(last=False)
            self.used -= old_size
            del self.used_at[old]
            gone.append(old)
        self.evicted += len(gone)
        if not self.held:
            self.used = 0.0  # exact, no float residue
        self.held[file] = size
        self.used_at[file] = now
        self.used += size
        return gone


class Edges:
    """The run's edge caches.

    Args:
        env: the simulation environment.
        services: every service by name (the edges' origins among them).
        http: the world's HTTP transfer (``World.http``), for the fills.
        record: the world's phase record (``World.record``).
    """

    def __init__(self, env: simpy.Environment, services: dict[str, Service],
                 http: Callable[..., Generator], record: Callable[..., None]):
        self.env = env
        self.services = services
        self.http = http
        self.record = record
        self.state = {n: EdgeState() for n, s in services.items() if s.origin is not None}

    def fill(self, edge: Service, file: str, size: float, who: tuple
             ) -> Generator[simpy.Event, object, TransferResult | None]:
        """Make ``file`` ready at ``edge`` for one request: ``None``, or the failed fill.

        ``who``: ``(server, group, rack, stage, attempt, nest)`` of the request, for the
        record (``nest``: the prefix of its phase names, ``""`` or :data:`ORIGIN` once or
        more).
        """
        st = self.state[edge.name]
        st.expire(self.env.now, edge.inactive)
        if file in st.held:
            st.held.move_to_end(file)  # a use: the most recently used now
            st.used_at[file] = self.env.now
            return None  # a hit
        pending = st.fills.get(file)
        if pending is not None:  # coalesced: wait for the fill in progress
            start = self.env.now
            res = yield pending
            server, group, rack, stage, attempt, nest = who
            self.record(server, group, rack, stage, f"{nest}edge-wait:{file}", attempt, start,
                        self.env.now, 0.0, "http", edge.name, res.outcome,
                        res.reason or f"for {edge.name}'s fill from {edge.origin}")
            return None if res.outcome == "ok" else res
        origin = self.services[edge.origin]
        keep = size <= edge.cache  # (kept by evicting others if need be)
        done = self.env.event()
        if edge.coalesce and keep:
            st.fills[file] = done  # (before anything waits: later misses join this fill)
        server, group, rack, stage, attempt, nest = who
        began = self.env.now  # the record covers the whole fill: the origin's waits too
        # an origin that is an edge itself fills first (World.http does, asked by us)
        try:
            # (its waits and outages: this server's records, nested in the fill's)
            res = yield from self.http(edge.host, group, rack, stage, attempt, None, origin,
                                       file, size, record_as=(server, nest + ORIGIN))
        except simpy.Interrupt:  # the request that started it went away (its server did)
            st.fills.pop(file, None)  # the next miss starts a new fill; waiters fail now
            done.succeed(TransferResult("http", self.env.now, self.env.now, 0.0, 0.0,
                                        "failed", "the fill was cut short"))
            raise
        gone = st.keep(file, size, edge.cache, self.env.now) \
            if res.outcome == "ok" and keep else []
        evicted = f", evicting {', '.join(gone)}" if gone else ""
        self.record(server, group, rack, stage, f"{nest}edge-fill:{file}", attempt, began,
                    res.end, res.bytes, "http", origin.name, res.outcome,
                    res.reason or f"into {edge.name}{evicted}")
        st.fills.pop(file, None)
        done.succeed(res)
        return None if res.outcome == "ok" else res
