"""Plausible magnitudes: a quantity far outside what the world has is almost surely a typo.

An image of 1 EiB, a link of 1 Pbps, a one-way latency of a day, a loss of 0.5 meant as
0.5 %: each is valid to the schema, and each would give a report of confident nonsense.
Every quantity of a scenario is checked against the range in :data:`RANGES` (by field
name, else by the kind of quantity); a value outside is a *warning* — printed as
``FILE:LINE: field: warning: ...`` on stderr and listed in the report — and an error
under ``--strict``. The ranges are wide on purpose: they catch a wrong unit or a
misplaced digit, not an unusual design. ``docs/limits.md`` tabulates them with their
sources (``docs/sources.md``).
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ..errors import Problem
from ..units import format_rate, format_size, format_time
from . import schema
from .source import Origin

__all__ = ["Range", "RANGES", "plausibility_warnings"]


@dataclass(frozen=True)
class Range:
    """The plausible values of one kind of field.

    Attributes:
        low: smallest plausible value (SI: bytes, bytes/s, s, or a plain number).
        high: largest plausible value.
        what: the field in words, for the message.
        low_why: what the smallest value is (``""``: no lower bound worth a word).
        high_why: what the largest value is.
        kind: the unit kind for printing (``size``, ``rate``, ``time``, ``count``,
            ``fraction``).
    """

    low: float
    high: float
    what: str
    low_why: str
    high_why: str
    kind: str


# 64 kbps, one ISDN B channel, ITU-T I.430 [itu-i430]; 1.6 Tbps, IEEE P802.3dj [ieee-8023dj]
_LINK = Range(8e3, 1.6e12 / 8, "a link's bandwidth", "one ISDN channel",
              "the fastest Ethernet, IEEE 802.3dj", "rate")
# a geostationary hop adds ~0.25-0.28 s one way, ITU-T G.114 [itu-g114]
_LATENCY = Range(0.0, 1.0, "a one-way latency", "",
                 "a geostationary satellite hop takes ~0.27 s one way", "time")
_LOSS = Range(0.0, 0.1, "a loss probability", "",
              "a fraction: 0.01 is 1 %; 10 % stops TFTP and TCP alike — was a percentage "
              "meant?", "fraction")
_DAY = 86400.0

#: Ranges by field name (the last step of the path); a field of the same name but
#: another kind of quantity is not checked.
RANGES: dict[str, Range] = {
    "bandwidth": _LINK,
    "latency": _LATENCY,
    "loss": _LOSS,
    "value": _LOSS,  # a loss fault's probability
    "size": Range(1.0, 2**40, "an image size", "", "OS images are MiB to tens of GiB",
                  "size"),
    "buffer": Range(2**10, 4 * 2**30, "a switch port's buffer", "an Ethernet frame",
                    "deep-buffer switches hold a few GiB in all", "size"),
    "disk_rate": Range(1e6, 1e12, "a disk rate", "an SD card", "a large NVMe array", "rate"),
    "block_cost": Range(0.0, 1.0, "a per-block cost", "",
                        "real servers spend microseconds per TFTP block", "time"),
    "service_time": Range(0.0, 60.0, "a service time", "",
                          "real servers answer in milliseconds", "time"),
    "count": Range(1, 1_000_000, "a fleet group's size", "",
                   "the largest fleets booted at once are tens of thousands", "count"),
    "workers": Range(1, 1_000_000, "a worker count", "",
                     "Apache and nginx run hundreds to tens of thousands", "count"),
    "concurrency": Range(1, 1_000_000, "a concurrency limit", "",
                         "real APIs take hundreds to thousands at once", "count"),
    "max_sessions": Range(1, 65_535, "a TFTP session cap", "",
                          "each session holds one UDP port of the server", "count"),
    # one small datagram's truesize (832 B, lab/udp-rcvbuf [lab-rcvbuf]); Linux keeps a
    # socket's buffer in an int (sk_rcvbuf, include/net/sock.h [linux-rmem])
    "recv_buffer": Range(832.0, 2**31 - 1, "a socket receive buffer",
                         "one small datagram takes 832 B of it",
                         "Linux keeps a socket's buffer size in an int", "size"),
    "per_second": Range(1e-3, 1e6, "a power-on rate", "one server in ~17 minutes",
                        "a BMC or PDU powers on a few servers per second", "count"),
    "reboot_after": Range(0.0, 3600.0, "a reboot time", "", "POST takes seconds to "
                          "minutes", "time"),
    "timeout": Range(0.0, 7 * _DAY, "a stage timeout", "", "MAAS waits 20 min to commission",
                     "time"),
    "work": Range(0.0, 7 * _DAY, "a stage's work time", "", "installers run minutes to hours",
                  "time"),
}


def _kind_of(annotation: Any) -> str | None:
    """``size``, ``rate`` or ``time`` for a quantity annotation of the schema, else None."""
    validators = {id(a.__metadata__[0]): kind for a, kind in (
        (schema.Size, "size"), (schema.Rate, "rate"), (schema.OptRate, "rate"),
        (schema.Time, "time"), (schema.OptTime, "time"))}
    todo = [annotation]
    while todo:
        ann = todo.pop()
        for meta in getattr(ann, "__metadata__", ()):
            if id(meta) in validators:
                return validators[id(meta)]
        todo += list(typing.get_args(ann))
    return None


def _values(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, str | None, Any]]:
    """Every value a scenario states (not defaults): ``(path, quantity kind or None, value)``."""
    if isinstance(node, BaseModel):
        for name, info in type(node).model_fields.items():
            if name not in node.model_fields_set:
                continue  # a default, not something the scenario says
            value = getattr(node, name)
            if isinstance(value, BaseModel | list | dict):
                yield from _values(value, (*path, name))
            else:
                yield (*path, name), _kind_of(info.annotation), value
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _values(v, (*path, i))
    elif isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, BaseModel):
                yield from _values(v, (*path, k))


def _show(x: float, kind: str) -> str:
    if kind == "size":
        return format_size(x)
    if kind == "rate":
        return format_rate(x)
    if kind == "time":
        return format_time(x)
    return f"{x:g}"


def plausibility_warnings(model: schema.ScenarioModel, origin: Origin) -> list[Problem]:
    """A warning for every quantity of ``model`` outside its plausible range.

    Only values the scenario states are checked (the file, the dict or ``--set``), not
    defaults (pydantic's ``model_fields_set``).
    """
    out = []
    for path, kind, value in _values(model):
        rng = RANGES.get(str(path[-1]))
        if rng is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if kind is not None and kind != rng.kind:
            continue  # same name, another kind of quantity
        if rng.low <= value <= rng.high:
            continue
        above = value > rng.high
        bound, why = (rng.high, rng.high_why) if above else (rng.low, rng.low_why)
        out.append(origin.problem(path, (
            f"warning: {_show(value, rng.kind)} is {'above' if above else 'below'} the "
            f"plausible {'maximum' if above else 'minimum'} for {rng.what}, "
            f"{_show(bound, rng.kind)} ({why}): a typo? (--strict makes this an error)")))
    return out
