"""Faults that hold for a window of simulated time: links, services, images.

:class:`Faults` answers what the scenario's fault windows
(:class:`~.spec.FaultWindows`) mean at a time ``t``: whether a link carries nothing
or loses more, whether a service answers nothing, answers slower or answers HTTP 500,
whether an image is served tampered with. Both engines ask the same questions: the
flow laws plan a transfer with the loss in force when it starts, the packet engine
drops each packet with the loss in force when it crosses the link.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass

import simpy

from ..protocols.result import TransferResult
from .spec import FaultWindows, Service

__all__ = ["Faults", "Window"]


@dataclass(frozen=True)
class Window:
    """A fault window ``[start, end)`` on a link or a service."""

    start: float
    end: float

    def covers(self, t: float) -> bool:
        """Whether ``t`` is inside the window."""
        return self.start <= t < self.end


class Faults:
    """The fault windows of one run, asked about a time.

    Args:
        windows: the run's fault windows (None: no faults).

    Attributes:
        link_down, link_loss, service_down, service_slow, service_error, tamper,
            server_fail: as :class:`~.spec.FaultWindows` has them.
    """

    def __init__(self, windows: FaultWindows | None = None):
        f = windows or FaultWindows()
        self.link_down, self.service_down, self.link_loss = f.link_down, f.service_down, \
            f.link_loss
        self.tamper, self.service_slow, self.service_error = f.tamper, f.service_slow, \
            f.service_error
        self.server_fail = f.server_fail

    # ---------------------------------------------------------------------- services
    def tampered_at(self, service: str, image: str, t: float) -> bool:
        """Whether ``image`` on ``service`` was served tampered with at ``t``."""
        return any(w.covers(t) for key in (image, f"{service}:{image}")
                   for w in self.tamper.get(key, ()))

    def erroring(self, service: str, t: float) -> bool:
        """Whether ``service`` answers HTTP 500 at ``t`` (a service-error fault)."""
        return any(w.covers(t) for w in self.service_error.get(service, ()))

    def slowdown(self, service: str, t: float) -> float:
        """How many times slower ``service`` serves a request at ``t``."""
        f = 1.0
        for w, factor in self.service_slow.get(service, ()):
            if w.covers(t):
                f *= factor
        return f

    def down(self, service: str, t: float) -> Window | None:
        """The outage window of ``service`` covering ``t``, if any."""
        return next((w for w in self.service_down.get(service, ()) if w.covers(t)), None)

    # ------------------------------------------------------------------------- links
    def links_down(self, t: float) -> frozenset[str]:
        """Names of the links down at ``t``.

        Routes hash around them (:meth:`~netbootsim.topology.Topology.path`).
        """
        if not self.link_down:
            return frozenset()
        return frozenset(name for name, ws in self.link_down.items()
                         if any(w.covers(t) for w in ws))

    def path_down_until(self, links: Sequence, t: float) -> float:
        """When every link of ``links`` is up again (``t`` if none is down at ``t``)."""
        end = t
        for ld in links:
            for w in self.link_down.get(ld.link, ()):
                if w.covers(t):
                    end = max(end, w.end)
        return end

    def path_loss(self, links: Sequence, t: float) -> float:
        """Loss of a path: its links' own, and any loss fault covering time ``t``."""
        keep = 1.0
        for ld in links:
            keep *= 1.0 - ld.loss
            for w, p in self.link_loss.get(ld.link, ()):
                if w.covers(t):
                    keep *= 1.0 - p
        return 1.0 - keep

    def link_loss_at(self, link: str, t: float) -> float:
        """Loss that fault windows add on ``link`` at time ``t`` (the packet engine's)."""
        keep = 1.0
        for w, p in self.link_loss.get(link, ()):
            if w.covers(t):
                keep *= 1.0 - p
        return 1.0 - keep

    def link_drop_at(self, link: str, t: float) -> float:
        """Share of packets ``link`` drops at ``t``: all while it is down, else its loss.

        The packet engine's: a link down under a running transfer loses what it
        carries, and TCP and TFTP resend by their own timers.
        """
        if any(w.covers(t) for w in self.link_down.get(link, ())):
            return 1.0
        return self.link_loss_at(link, t)

    def unreachable(self, env: simpy.Environment, proto: str, svc: Service, fwd: Sequence,
                    start: float, give_up: float
                    ) -> Generator[simpy.Event, object, TransferResult | None]:
        """Wait out a service or link outage as a client's retries would, or fail.

        Returns None once ``svc`` answers over ``fwd``, else (after ``give_up``
        seconds from ``start``) the failed transfer.
        """
        while True:
            w = self.down(svc.name, env.now)
            up = max(w.end if w else env.now, self.path_down_until(fwd, env.now))
            if up <= env.now:
                return None
            if up - start > give_up:
                yield env.timeout(max(start + give_up - env.now, 0.0))
                what = f"service {svc.name} down" if w else "link down on the path"
                return TransferResult(proto, start, env.now, 0.0, 0.0, "failed",
                                      f"no answer from {svc.name}: {what} "
                                      f"({give_up:g} s of retries)")
            yield env.timeout(up - env.now)
