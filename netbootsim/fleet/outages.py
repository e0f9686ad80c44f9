"""Links that go down and servers that fall silent under running transfers (flow engine).

:class:`Cuts` knows the run's link-down and service-down windows and the running
flows that cross a link, or come from a service, with a window still to come; when the
window opens it tells each of them (:meth:`~netbootsim.net.transfer.Guard.watch`). A
:class:`TransferGuard` per transfer then says what follows
(:class:`~netbootsim.net.transfer.Detour`), by the protocol's timers
(:mod:`netbootsim.protocols.recovery`):

- a link down, and a resend gets through once a path is up: the data moves again at the
  first resend sent while a path is up (the route chosen again at that time: the same
  links when the link is back, another LAG member or ECMP next hop at once), from the
  bytes not yet moved; TCP starts again from a one-segment window;
- a link down, and the timer gives up first: TFTP fails when iPXE's timer does; a TCP
  sender drops the connection after ``tcp_retries2``, and iPXE hears of it at its next
  keep-alive once a path is up (or never);
- the server falls silent (a ``service-down`` fault: the host answers nothing, no reset
  either): its sessions are lost. TFTP fails when iPXE's timer gives up; HTTP fails
  when the build's idle watchdog fires (``http_watchdog``, 120 s since 2025-12), or at
  the first keep-alive after the service is back (a reset: the new process has no such
  connection), or never;
- iPXE's HTTP watchdog also ends a fetch whose link stays down past it.

Each cut is a record, ``outage:<file>``, from the cut to the data moving again (or the
failure), with the cause and the timer in its reason.

The packet engine needs none of this for links: a link that is down drops every packet
(:meth:`~.faults.Faults.link_drop_at`), and its TCP and TFTP resend by their own timers.
A service going down under a transfer already running is not modelled there.
"""

from __future__ import annotations

import math
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

__all__ = ["Cuts", "TransferGuard"]


#: What cut a flow: a link's name, or ``("service", name)`` for a service gone silent.
Cause = str | tuple[str, str]


class Cuts:
    """The running flows over links and from services that will go down, told when they do.

    Args:
        env: the run's environment.
        faults: the run's fault windows; each link-down and service-down window's start
            is scheduled.
    """

    def __init__(self, env: simpy.Environment, faults: Faults):
        self.env = env
        self.faults = faults
        self._on: dict[Cause, dict[Flow, simpy.Event]] = {}  # cause -> flow -> its cut
        self._keys: dict[Flow, tuple[Cause, ...]] = {}
        windows: dict[Cause, tuple] = {
            **{ln: tuple(ws) for ln, ws in faults.link_down.items()},
            **{("service", n): tuple(ws) for n, ws in faults.service_down.items()}}
        #: when each cause's last window opens (a flow started later needs no watch)
        self._last: dict[Cause, float] = {k: max(w.start for w in ws)
                                          for k, ws in windows.items() if ws}
        for key, ws in sorted(windows.items(), key=lambda kv: str(kv[0])):
            for w in ws:
                env.timeout(w.start).callbacks.append(lambda _, key=key: self._down(key))

    def _down(self, key: Cause) -> None:
        for ev in list(self._on.get(key, {}).values()):
            if not ev.triggered:
                ev.succeed(key)

    def watch(self, flow: Flow, links: Iterable[str],
              services: Iterable[str] = ()) -> simpy.Event | None:
        """An event that fires (with its :data:`Cause`) when something it crosses fails.

        That is a link of ``links`` or a service of ``services`` going down; None when
        none of them has a window still to open.
        """
        now = self.env.now
        keys = [*links, *(("service", n) for n in services)]
        last = self._last
        later = tuple(sorted({k for k in keys if last.get(k, -math.inf) >= now}, key=str))
        if not later:
            return None
        ev = self.env.event()
        for k in later:
            self._on.setdefault(k, {})[flow] = ev
        self._keys[flow] = later
        return ev

    def unwatch(self, flow: Flow) -> None:
        """Stop watching ``flow``."""
        for k in self._keys.pop(flow, ()):
            del self._on[k][flow]

    def path_up(self, route: Route, t: float) -> bool:
        """Whether every link of ``route`` (both ways) is up at ``t``."""
        down = self.faults.links_down(t)
        return not any(ld.link in down for ld in (*route.fwd, *route.back))

    def changes_after(self, t: float) -> list[float]:
        """The times after ``t`` at which some link comes back up, in order."""
        return sorted({w.end for ws in self.faults.link_down.values() for w in ws
                       if t < w.end < math.inf})


class TransferGuard:
    """One transfer's answer to a link going down under it, or its server going silent.

    Args:
        cuts: the run's :class:`Cuts`.
        route: the transfer's route when it started.
        reroute: the route at a time ``t``, chosen again around the links down then.
        kind: ``"tftp"`` or ``"http"``.
        waits: the resending side's timer (iPXE's for TFTP, Linux's RTO for HTTP).
        restart: for HTTP, ``(tcp, loss, rate_cap, client_delay, cc)``: the window
            after a timeout (the client's delay adds to the round trip; ``cc`` the
            sender's congestion control);
            for TFTP, the lock-step bound it goes on at (wire bytes/s).
        note: ``note(phase_start, phase_end, outcome, reason)`` writes the
            ``outage`` record.
        services: the services the transfer's data comes through (the mirror, an L4
            balancer); one that goes down takes the connection with it.
        watchdog: iPXE's HTTP idle watchdog (``inf``: none in the build).

    The transport that runs the transfer gives its flow hook for a route
    (:meth:`bind`).
    """

    def __init__(self, cuts: Cuts, route: Route, reroute: Callable[[float], Route],
                 kind: str, waits: list[float],
                 restart: tuple[TcpParams, float, float, float, str] | float,
                 note: Callable[[float, float, str, str], None],
                 services: tuple[str, ...] = (), watchdog: float = math.inf):
        self.cuts, self.route, self.reroute = cuts, route, reroute
        self.make_on_flow: Callable[[Route], Callable | None] = lambda route: None
        self.kind, self.waits, self.restart, self.note = kind, waits, restart, note
        self.services, self.watchdog = services, watchdog
        #: (route, wire bytes moved on it) of each stretch cut short
        self.legs: list[tuple[Route, float]] = []

    def bind(self, on_flow: Callable[[Route], Callable | None]) -> TransferGuard:
        """Take the transport's flow hook for a route (the engine's corrections)."""
        self.make_on_flow = on_flow
        return self

    def watch(self, flow: Flow) -> simpy.Event | None:
        """An event that fires when a link of the route (either way) or a service goes down."""
        r = self.route
        return self.cuts.watch(flow, [ld.link for ld in (*r.fwd, *r.back)], self.services)

    def unwatch(self, flow: Flow) -> None:
        """Stop watching ``flow``."""
        self.cuts.unwatch(flow)

    def detour(self, flow: Flow, cause: Cause, moved: float, rate: float) -> Detour:
        """What follows the cut of ``flow`` by ``cause`` (written as a record)."""
        t_down = self.cuts.env.now
        self.legs.append((self.route, moved))
        if isinstance(cause, tuple):
            return self._silent(cause[1], t_down)
        return self._link_down(flow, cause, t_down, rate)

    def _fail(self, t_down: float, end: float | None, why: str) -> Detour:
        self.note(t_down, end if end is not None else t_down, "failed", why)
        return Detour(None, end=end, reason=why)

    def _watchdog(self, t_down: float, what: str) -> tuple[float, str] | None:
        """When and why the build's HTTP watchdog ends the fetch (None: no watchdog)."""
        if self.kind != "http" or not math.isfinite(self.watchdog):
            return None
        return (t_down + self.watchdog,
                f"no data for {self.watchdog:g} s (iPXE's HTTP watchdog): {what}")

    def _tftp_timeout(self, t_down: float, what: str) -> Detour:
        """The failed transfer once iPXE's TFTP timer has resent and given up."""
        sends, gave_up = resends(t_down, self.waits)
        return self._fail(t_down, gave_up, f"TFTP timeout: {what}, {len(sends)} resends "
                                           f"unanswered in {gave_up - t_down:g} s")

    def _silent(self, service: str, t_down: float) -> Detour:
        """The server went silent (a service-down fault): its sessions are lost.

        TFTP: iPXE resends until its timer gives up. HTTP: nothing answers, no reset
        either; the build's watchdog ends the fetch, else the first keep-alive after the
        service is back (a new process: no such connection) is answered by a reset,
        else iPXE waits for ever.
        """
        what = f"{service} down at {t_down:g} s"
        if self.kind == "tftp":
            return self._tftp_timeout(t_down, what)
        ends = []
        if (w := self._watchdog(t_down, what)) is not None:
            ends.append(w)
        window = self.cuts.faults.down(service, t_down)
        back = window.end if window is not None else t_down
        if math.isfinite(back):
            ends.append((tcp_reset_at(t_down, back, back),
                         f"connection reset: {what}, back at {back:g} s without the "
                         "connection"))
        if not ends:
            return self._fail(t_down, None, f"{what} for good: no answer, and this iPXE "
                                            "build (no HTTP watchdog) waits for ever")
        end, why = min(ends)
        return self._fail(t_down, end, why)

    def _link_down(self, flow: Flow, link: str, t_down: float, rate: float) -> Detour:
        def up(t: float) -> bool:
            return self.cuts.path_up(self.reroute(t), t)

        what = f"link {link} down at {t_down:g} s"
        resume = first_resend(t_down, self.waits, up)
        sends, gave_up = resends(t_down, self.waits)
        timer = "TFTP retry timer" if self.kind == "tftp" else "TCP retransmission"
        watchdog = self._watchdog(t_down, what)
        if resume is not None and (watchdog is None or resume <= watchdog[0]):
            route = self.reroute(resume)
            same = [ld.link for ld in route.fwd] == [ld.link for ld in self.route.fwd]
            n = sends.index(resume) + 1
            self.note(t_down, resume, "ok",
                      f"{what}: data again at {resume:g} s, resend {n} of the {timer}, "
                      + ("same path" if same else "on another path"))
            self.route = route
            if self.kind == "tftp":
                bound, schedule = float(self.restart), ()
            else:
                tcp, loss, cap, extra, cc = self.restart
                rtt = route.rtt + extra
                flight = min(flow.bound, rate) * rtt / tcp.wire_factor
                line = min(min((ld.capacity for ld in route.fwd), default=math.inf), cap)
                bound, schedule = tcp_restart_schedule(tcp, rtt, line, flight, loss, cc)
                bound = min(bound, cap)
                schedule = tuple((t, min(b, cap)) for t, b in schedule)
            return Detour(resume, route.path, bound, schedule, self.make_on_flow(route))
        if self.kind == "tftp":
            return self._tftp_timeout(t_down, what)
        ends = [watchdog] if watchdog is not None else []
        if resume is None:  # the sender dropped the connection first
            up_from = next((t for t in [gave_up, *self.cuts.changes_after(gave_up)]
                            if up(t)), None)
            reset = tcp_reset_at(t_down, gave_up, up_from)
            if reset is not None:
                ends.append((reset, f"connection reset: {what}, the sender dropped it after "
                                    f"{TCP_RETRIES2} retransmissions "
                                    f"({gave_up - t_down:g} s)"))
        if not ends:
            return self._fail(t_down, None, f"{what} for good: the sender dropped the "
                                            f"connection after {TCP_RETRIES2} "
                                            "retransmissions and iPXE waits for ever")
        end, why = min(ends)
        return self._fail(t_down, end, why)
