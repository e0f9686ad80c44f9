"""Units: the one place where quantities in text become SI floats.

Sizes become bytes, rates become **bytes per second**, times become seconds.
Bits and bytes are never guessed: ``Gbps`` is bits per second, ``GB/s`` is
bytes per second. A quantity without a unit, or with an unknown one, is an
error that names the value.

Examples:
    >>> parse_size("350MiB")
    367001600.0
    >>> parse_rate("25Gbps")
    3125000000.0
    >>> parse_time("250us")
    0.00025
"""

from __future__ import annotations

import math
import re

__all__ = [
    "UnitError",
    "SIZE_UNITS",
    "RATE_UNITS",
    "TIME_UNITS",
    "parse_size",
    "parse_rate",
    "parse_time",
    "parse_quantity",
    "parse_percent",
    "format_size",
    "format_rate",
    "format_time",
]


class UnitError(ValueError):
    """A quantity in text could not be parsed; the message names the value."""


#: Sizes, in bytes. SI prefixes are powers of ten, IEC prefixes powers of two.
SIZE_UNITS: dict[str, float] = {
    "B": 1.0,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "TB": 1e12,
    "KiB": 1024.0,
    "MiB": 1024.0**2,
    "GiB": 1024.0**3,
    "TiB": 1024.0**4,
}

#: Rates, in bytes per second. ``*bps`` are bits per second (divided by 8).
RATE_UNITS: dict[str, float] = {
    "bps": 1 / 8,
    "Kbps": 1e3 / 8,
    "Mbps": 1e6 / 8,
    "Gbps": 1e9 / 8,
    "Tbps": 1e12 / 8,
    "B/s": 1.0,
    "KB/s": 1e3,
    "MB/s": 1e6,
    "GB/s": 1e9,
    "KiB/s": 1024.0,
    "MiB/s": 1024.0**2,
    "GiB/s": 1024.0**3,
}

#: Times, in seconds.
TIME_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "min": 60.0,
    "h": 3600.0,
}

_KINDS = {"size": SIZE_UNITS, "rate": RATE_UNITS, "time": TIME_UNITS}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z/]+)\s*$")


def parse_quantity(value: object, kind: str) -> float:
    """Parse ``value`` (e.g. ``"25Gbps"``) as a quantity of ``kind``.

    Args:
        value: the text, e.g. ``"1.5 MiB"``. Bare numbers are refused: a unit is
            always required, so that ``1000`` never silently means bits or bytes.
        kind: ``"size"``, ``"rate"`` or ``"time"``.

    Returns:
        The value in SI units (bytes, bytes per second, seconds).

    Raises:
        UnitError: if the value has no unit, an unknown unit, or is not finite.
    """
    table = _KINDS[kind]
    if isinstance(value, bool) or not isinstance(value, str):
        raise UnitError(
            f"{value!r} has no unit; write the {kind} with one of: {', '.join(table)}"
        )
    m = _QUANTITY.match(value)
    if not m:
        raise UnitError(f"{value!r} is not a {kind}: expected a number followed by a unit "
                        f"({', '.join(table)})")
    number, unit = m.groups()
    if unit not in table:
        raise UnitError(f"{value!r}: unknown {kind} unit {unit!r}; known: {', '.join(table)}")
    result = float(number) * table[unit]
    if not math.isfinite(result):
        raise UnitError(f"{value!r} is not a finite {kind}")
    return result


_PERCENT = re.compile(r"^\s*((?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*%\s*$")


def parse_percent(value: object) -> float:
    """Parse a percentage such as ``"2%"`` into a fraction (``0.02``), in (0, 1).

    The ``%`` is required (``"2"`` could mean 2 % or 200 %); 0 % and 100 % or more are
    refused: a relative precision of 0 is never reached, one of 100 % says nothing.

    Examples:
        >>> parse_percent("2%"), parse_percent("0.5 %")
        (0.02, 0.005)
    """
    m = _PERCENT.match(value) if isinstance(value, str) else None
    if m is None:
        raise UnitError(f"{value!r} is not a percentage: write it with %, e.g. 2%")
    result = float(m.group(1)) / 100
    if not 0 < result < 1:
        raise UnitError(f"{value!r}: must be more than 0% and less than 100%")
    return result


def parse_size(value: object) -> float:
    """Parse a size such as ``"350MiB"`` into bytes."""
    return parse_quantity(value, "size")


def parse_rate(value: object) -> float:
    """Parse a rate such as ``"25Gbps"`` or ``"100MB/s"`` into bytes per second."""
    return parse_quantity(value, "rate")


def parse_time(value: object) -> float:
    """Parse a duration such as ``"250us"`` into seconds."""
    return parse_quantity(value, "time")


def _fmt(value: float, steps: list[tuple[float, str]]) -> str:
    for scale, name in steps:
        if abs(value) >= scale:
            return f"{value / scale:.4g}{name}"
    scale, name = steps[-1]
    return f"{value / scale:.4g}{name}"


def format_size(nbytes: float) -> str:
    """Human text for a size in bytes, with IEC prefixes (``"1MiB"``)."""
    return _fmt(nbytes, [(1024.0**4, "TiB"), (1024.0**3, "GiB"), (1024.0**2, "MiB"),
                         (1024.0, "KiB"), (1.0, "B")])


def format_rate(bytes_per_s: float) -> str:
    """Human text for a rate in bytes/s, written in bits per second (``"25Gbps"``)."""
    bits = bytes_per_s * 8
    return _fmt(bits, [(1e12, "Tbps"), (1e9, "Gbps"), (1e6, "Mbps"), (1e3, "Kbps"),
                       (1.0, "bps")])


def format_time(seconds: float) -> str:
    """Human text for a duration in seconds (``"250us"``, ``"1.5s"``, ``"12min"``)."""
    if abs(seconds) >= 3600:
        return f"{seconds / 3600:.4g}h"
    if abs(seconds) >= 60:
        return f"{seconds / 60:.4g}min"
    return _fmt(seconds, [(1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")])
