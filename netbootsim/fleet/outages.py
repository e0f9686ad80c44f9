"""Links that go down under running transfers, in the flow engine.

:class:`LinkCuts` knows the run's link-down windows and the running flows that cross
a link with a window still to come; when the window opens it tells each of them
(:meth:`~netbootsim.net.transfer.Guard.watch`). A :class:`TransferGuard` per transfer
then says what follows (:class:`~netbootsim.net.transfer.Detour`), by the protocol's
timers (:mod:`netbootsim.protocols.recovery`):

- a resend gets through once a path is up: the data moves again at the first resend
  sent while a path is up (the route chosen again at that time: the same links when
  the link is back, another LAG member or ECMP next hop at once), from the bytes not
  yet moved; TCP starts again from a one-segment window;
- the timer gives up first: TFTP fails when iPXE's timer does; a TCP sender drops the
  connection after ``tcp_retries2``, and iPXE hears of it at its next keep-alive once
  a path is up (or never).

Each cut is a record, ``outage:<file>``, from the link going down to the data moving
again (or the failure), with the link and the timer in its reason.

The packet engine needs none of this: a link that is down drops every packet
(:meth:`~.faults.Faults.link_drop_at`), and its TCP and TFTP resend by their own timers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import simpy

from ..net import Flow
from ..net.transfer import Detour
from ..protocols import TcpParams
from ..protocols.recovery import (
    TCP_RETRIES2,
    first_resend,
    resends,
    tcp_reset_at,
    tcp_restart_schedule,
)
from .faults import Faults
from .transport import Route

__all__ = ["LinkCuts", "TransferGuard"]


class LinkCuts:
    """The running flows over links that will go down, told when they do.

    Args:
        env: the run's environment.
        faults: the run's fault windows; each link-down window's start is scheduled.
    """

    def __init__(self, env: simpy.Environment, faults: Faults):
        self.env = env
        self.faults = faults
        self._on: dict[str, dict[Flow, simpy.Event]] = {}  # link -> flow -> its cut
        self._links: dict[Flow, tuple[str, ...]] = {}
        for link, windows in sorted(faults.link_down.items()):
            for w in windows:
                env.timeout(w.start).callbacks.append(lambda _, link=link: self._down(link))

    def __bool__(self) -> bool:
        return bool(self.faults.link_down)

    def _down(self, link: str) -> None:
        for ev in list(self._on.get(link, {}).values()):
            if not ev.triggered:
                ev.succeed(link)

    def watch(self, flow: Flow, links: Iterable[str]) -> simpy.Event | None:
        """An event that fires (with the link's name) when one of ``links`` goes down.

        None when none of them has a window still to open.
        """
        now = self.env.now
        later = tuple(sorted({ln for ln in links
                              if any(w.start >= now for w in self.faults.link_down.get(ln, ()))}))
        if not later:
            return None
        ev = self.env.event()
        for ln in later:
            self._on.setdefault(ln, {})[flow] = ev
        self._links[flow] = later
        return ev

    def unwatch(self, flow: Flow) -> None:
        """Stop watching ``flow``."""
        for ln in self._links.pop(flow, ()):
            del self._on[ln][flow]

    def path_up(self, route: Route, t: float) -> bool:
        """Whether every link of ``route`` (both ways) is up at ``t``."""
        down = self.faults.links_down(t)
        return not any(ld.link in down for ld in (*route.fwd, *route.back))

    def changes_after(self, t: float) -> list[float]:
        """The times after ``t`` at which some link comes back up, in order."""
        return sorted({w.end for ws in self.faults.link_down.values() for w in ws
                       if t < w.end < float("inf")})


class TransferGuard:
    """One transfer's answer to a link going down under it.

    Args:
        cuts: the run's :class:`LinkCuts`.
        route: the transfer's route when it started.
        reroute: the route at a time ``t``, chosen again around the links down then.
        kind: ``"tftp"`` or ``"http"``.
        waits: the resending side's timer (iPXE's for TFTP, Linux's RTO for HTTP).
        restart: for HTTP, ``(tcp, loss, rate_cap, client_delay)``: the window after
            a timeout (the client's delay adds to the round trip);
            for TFTP, the lock-step bound it goes on at (wire bytes/s).
        note: ``note(phase_start, phase_end, outcome, reason)`` writes the
            ``outage`` record.

    The transport that runs the transfer gives its flow hook for a route
    (:meth:`bind`).
    """

    def __init__(self, cuts: LinkCuts, route: Route, reroute: Callable[[float], Route],
                 kind: str, waits: list[float],
                 restart: tuple[TcpParams, float, float, float] | float,
                 note: Callable[[float, float, str, str], None]):
        self.cuts, self.route, self.reroute = cuts, route, reroute
        self.make_on_flow: Callable[[Route], Callable | None] = lambda route: None
        self.kind, self.waits, self.restart, self.note = kind, waits, restart, note
        #: (route, wire bytes moved on it) of each stretch cut short
        self.legs: list[tuple[Route, float]] = []

    def bind(self, on_flow: Callable[[Route], Callable | None]) -> TransferGuard:
        """Take the transport's flow hook for a route (the engine's corrections)."""
        self.make_on_flow = on_flow
        return self

    def watch(self, flow: Flow) -> simpy.Event | None:
        """An event that fires when a link of the route (either way) goes down."""
        r = self.route
        return self.cuts.watch(flow, [ld.link for ld in (*r.fwd, *r.back)])

    def unwatch(self, flow: Flow) -> None:
        """Stop watching ``flow``."""
        self.cuts.unwatch(flow)

    def detour(self, flow: Flow, cause: object, moved: float, rate: float) -> Detour:
        """What follows the cut of ``flow`` by link ``cause`` (written as a record)."""
        env = self.cuts.env
        t_down = env.now
        self.legs.append((self.route, moved))

        def up(t: float) -> bool:
            return self.cuts.path_up(self.reroute(t), t)

        resume = first_resend(t_down, self.waits, up)
        sends, gave_up = resends(t_down, self.waits)
        what = "TFTP retry timer" if self.kind == "tftp" else "TCP retransmission"
        if resume is not None:
            route = self.reroute(resume)
            same = [ld.link for ld in route.fwd] == [ld.link for ld in self.route.fwd]
            n = sends.index(resume) + 1
            self.note(t_down, resume, "ok",
                      f"link {cause} down at {t_down:g} s: data again at {resume:g} s, "
                      f"resend {n} of the {what}, "
                      + ("same path" if same else "on another path"))
            self.route = route
            if self.kind == "tftp":
                bound, schedule = float(self.restart), ()
            else:
                tcp, loss, cap, extra = self.restart
                rtt = route.rtt + extra
                flight = min(flow.bound, rate) * rtt / tcp.wire_factor
                line = min(min((ld.capacity for ld in route.fwd), default=float("inf")), cap)
                bound, schedule = tcp_restart_schedule(tcp, rtt, line, flight, loss)
                bound = min(bound, cap)
                schedule = tuple((t, min(b, cap)) for t, b in schedule)
            return Detour(resume, route.path, bound, schedule, self.make_on_flow(route))
        if self.kind == "tftp":
            why = (f"TFTP timeout: link {cause} down at {t_down:g} s, "
                   f"{len(sends)} resends unanswered in {gave_up - t_down:g} s")
            self.note(t_down, gave_up, "failed", why)
            return Detour(None, end=gave_up, reason=why)
        up_from = next((t for t in [gave_up, *self.cuts.changes_after(gave_up)] if up(t)),
                       None)
        end = tcp_reset_at(t_down, gave_up, up_from)
        why = (f"connection reset: link {cause} down at {t_down:g} s, the sender dropped "
               f"it after {TCP_RETRIES2} retransmissions ({gave_up - t_down:g} s)")
        if end is None:
            why = (f"link {cause} down at {t_down:g} s for good: the sender dropped the "
                   f"connection after {TCP_RETRIES2} retransmissions and iPXE waits for ever")
        self.note(t_down, end if end is not None else gave_up, "failed", why)
        return Detour(None, end=end, reason=why)

