"""What differs from server to server: a group's distributions, drawn per server.

A group's firmware profiles (its iPXE profile and, for a chainload, its PXE ROM's), its
ports' link-up faults and its stages' OS work may hold distributions
(:mod:`netbootsim.dist`) instead of constants. Before the run, :class:`GroupDraws`
draws each one for all the group's servers at once, from the run's named stream of
that value (:mod:`netbootsim.streams`):

==========================================  ============================================
value                                        stream
==========================================  ============================================
iPXE profile value ``v`` (``rom_start``...)  ``group/<name>/profile/<v>``
the PXE ROM's profile value ``v``            ``group/<name>/rom/<v>``
a mixed group's profile (which part)         ``group/<name>/profile`` (``.../rom``)
value ``v`` of part ``p`` of a mix            ``group/<name>/profile/<p>/<v>``
a port's ``lacp``, ``stp``, ``down``         ``group/<name>/link/<field>``
stage ``k``'s ``work``                       ``group/<name>/stage/<stage name>/work``
==========================================  ============================================

Server ``i`` of the group (its position in the group, in topology order) gets draw
``i`` of each: the values of one server are the same in every attempt of every stage
(the same hardware), and adding a group, a fault or a service changes no other
group's values. A provisioning API's ``service_time`` varies per request instead
(:class:`RequestDraws`, stream ``service/<name>/service_time``).
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np

from ..dist import Dist
from ..profiles import Profile
from ..streams import Streams
from .spec import Group, LinkFaults, Service

__all__ = ["GroupDraws", "RequestDraws", "profile_dists", "random_inputs"]

#: Profile values that may vary per server (the measured ones and the POST time).
_TFTP_VARYING = ("client_block_delay",)


def profile_dists(profile: Profile) -> dict[str, Dist]:
    """The values of ``profile`` given as distributions, by profile field name.

    The TFTP client's per-block delay is named ``tftp_client_block_delay``, as in
    profile files and ``tune:``.
    """
    out = {f.name: getattr(profile, f.name) for f in fields(profile)
           if isinstance(getattr(profile, f.name), Dist)}
    for name in _TFTP_VARYING:
        value = getattr(profile.tftp, name)
        if isinstance(value, Dist):
            out[f"tftp_{name}"] = value
    return out


class _ProfileDraws:
    """One profile's varying values, drawn for ``n`` servers."""

    __slots__ = ("base", "arrays")

    def __init__(self, profile: Profile, streams: Streams, key: tuple[str, ...], n: int):
        self.base = profile
        self.arrays = {name: d.sample(streams.rng(*key, name), n)
                       for name, d in sorted(profile_dists(profile).items())}

    def at(self, i: int) -> Profile:
        if not self.arrays:
            return self.base
        top: dict[str, Any] = {}
        tftp: dict[str, Any] = {}
        for name, values in self.arrays.items():
            x = float(values[i])
            if name.startswith("tftp_"):
                tftp[name.removeprefix("tftp_")] = x
            else:
                top[name] = x
        p = self.base
        return replace(p, tftp=replace(p.tftp, **tftp), **top) if tftp else replace(p, **top)


class _MixDraws:
    """A mixed group's firmware: each server's profile drawn by weight, then its values.

    Server ``i`` runs part ``which[i]`` (the stream ``group/<name>/<part>``, one draw
    per server in group order, :meth:`numpy.random.Generator.choice` with the weights),
    with draw ``i`` of that profile's own varying values (``group/<name>/<part>/<profile
    name>/<value>``): a server keeps its values whichever other parts exist.
    """

    __slots__ = ("which", "parts")

    def __init__(self, mix: tuple[tuple[float, Profile], ...], streams: Streams,
                 key: tuple[str, ...], n: int):
        w = np.asarray([weight for weight, _ in mix], dtype=float)
        self.which = streams.rng(*key).choice(len(mix), size=n, p=w / w.sum())
        self.parts = [_ProfileDraws(prof, streams, (*key, prof.name), n) for _, prof in mix]

    def at(self, i: int) -> Profile:
        return self.parts[int(self.which[i])].at(i)


def _draws(profile: Profile, mix: tuple[tuple[float, Profile], ...], streams: Streams,
           key: tuple[str, ...], n: int) -> _ProfileDraws | _MixDraws:
    return _MixDraws(mix, streams, key, n) if mix else _ProfileDraws(profile, streams, key, n)


class GroupDraws:
    """A group's per-server values, drawn before the run.

    Args:
        group: the fleet group.
        streams: the run's (or replication's) named streams.
        n: servers in the group.
    """

    __slots__ = ("group", "n", "_ipxe", "_rom", "_link", "_work")

    def __init__(self, group: Group, streams: Streams, n: int):
        self.group, self.n = group, n
        key = ("group", group.name)
        self._ipxe = _draws(group.profile, group.profile_mix, streams, (*key, "profile"), n)
        self._rom = (None if group.rom is None
                     else _draws(group.rom, group.rom_mix, streams, (*key, "rom"), n))
        self._link = {f.name: getattr(group.faults, f.name).sample(
                          streams.rng(*key, "link", f.name), n)
                      for f in fields(group.faults)
                      if isinstance(getattr(group.faults, f.name), Dist)}
        self._work = {j: st.work.sample(streams.rng(*key, "stage", st.name, "work"), n)
                      for j, st in enumerate(group.stages) if isinstance(st.work, Dist)}

    def profile(self, i: int) -> Profile:
        """Server ``i``'s iPXE (or only) firmware profile, every value a constant."""
        return self._ipxe.at(i)

    def rom(self, i: int) -> Profile | None:
        """Server ``i``'s PXE ROM profile (``pxe-chainload-ipxe``), else ``None``."""
        return None if self._rom is None else self._rom.at(i)

    def faults(self, i: int) -> LinkFaults:
        """Server ``i``'s port behaviour after link-up."""
        if not self._link:
            return self.group.faults
        return replace(self.group.faults, **{k: float(v[i]) for k, v in self._link.items()})

    def work(self, stage: int, i: int) -> float:
        """Server ``i``'s OS work time in stage number ``stage``."""
        values = self._work.get(stage)
        return float(self.group.stages[stage].work) if values is None else float(values[i])


class RequestDraws:
    """A service's per-request values (a provisioning API's ``service_time``)."""

    _BATCH = 1024

    def __init__(self, dist: Dist, streams: Streams, *key: str):
        self._dist = dist
        self._rng = streams.rng(*key)
        self._buf = np.empty(0)
        self._pos = 0

    def next(self) -> float:
        """The next request's value (draws come in batches, in request order)."""
        if self._pos == self._buf.size:
            self._buf = self._dist.sample(self._rng, self._BATCH)
            self._pos = 0
        x = float(self._buf[self._pos])
        self._pos += 1
        return x


def random_inputs(groups: list[Group], services: dict[str, Service]) -> list[dict[str, str]]:
    """Every input of the run that is drawn at random: where, what, which stream."""
    out = []
    for g in groups:
        for part, prof, mix in (("profile", g.profile, g.profile_mix),
                                ("rom", g.rom, g.rom_mix)):
            if prof is None:
                continue
            stream = f"group/{g.name}/{part}"
            alts = [(prof, stream)]
            if mix:
                out.append({"input": f"{g.name}: firmware ({part})", "per": "server",
                            "dist": "mix of " + "; ".join(f"{w:.0%} {p.name}"
                                                          for w, p in mix),
                            "stream": stream})
                alts = [(p, f"{stream}/{p.name}") for _, p in mix]
            for p, key in alts:
                for name, d in sorted(profile_dists(p).items()):
                    out.append({"input": f"{g.name}: {p.name} {name}", "per": "server",
                                "dist": d.describe(), "stream": f"{key}/{name}"})
        for f in fields(g.faults):
            d = getattr(g.faults, f.name)
            if isinstance(d, Dist):
                out.append({"input": f"{g.name}: port {f.name}", "per": "server port",
                            "dist": d.describe(), "stream": f"group/{g.name}/link/{f.name}"})
        pol = g.power
        if pol is not None and pol.kind == "random":
            desc = (pol.window.describe() if isinstance(pol.window, Dist)
                    else f"uniform in a {pol.window:g} s window")
            out.append({"input": f"{g.name}: power-on instant", "per": "server",
                        "dist": f"{pol.at:g} s + {desc}", "stream": f"power_on/{g.name}"})
        for st in g.stages:
            if isinstance(st.work, Dist):
                out.append({"input": f"{g.name}: stage {st.name} work", "per": "server",
                            "dist": st.work.describe(),
                            "stream": f"group/{g.name}/stage/{st.name}/work"})
    for name, svc in sorted(services.items()):
        if isinstance(svc.service_time, Dist):
            out.append({"input": f"{name}: service_time", "per": "request",
                        "dist": svc.service_time.describe(),
                        "stream": f"service/{name}/service_time"})
    return out
