"""Human-friendly text for the numbers a report shows.

Every formatter accepts ``None`` and NaN (what a summary holds when nothing
completed) and returns an em dash for them, so templates never print ``nan``.
"""

from __future__ import annotations

import math

__all__ = ["DASH", "number", "duration", "size", "bit_rate", "percent", "ratio", "count"]

#: Shown for a missing value (``None`` or NaN).
DASH = "—"


def number(value: object) -> float | None:
    """The value as a finite float, or ``None`` when it is missing, NaN or infinite."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def duration(seconds: object) -> str:
    """A duration in the unit a planner reads best: ``ms``, ``s``, ``min`` or ``h``.

    Examples:
        >>> duration(0.25), duration(42), duration(754), duration(9000), duration(None)
        ('250 ms', '42.0 s', '12.6 min', '2.50 h', '—')
    """
    x = number(seconds)
    if x is None:
        return DASH
    a = abs(x)
    if a == 0:
        return "0 s"
    if a < 1e-3:
        return f"{x * 1e6:.0f} µs"
    if a < 1:
        return f"{x * 1e3:.0f} ms"
    if a < 60:
        return f"{x:.1f} s"
    if a < 3600:
        return f"{x / 60:.1f} min"
    return f"{x / 3600:.2f} h"


def size(nbytes: object) -> str:
    """A size in bytes with IEC prefixes.

    Examples:
        >>> size(512), size(3 * 2**20), size(1.5 * 2**30)
        ('512 B', '3.0 MiB', '1.50 GiB')
    """
    x = number(nbytes)
    if x is None:
        return DASH
    for scale, unit, digits in ((2.0**40, "TiB", 2), (2.0**30, "GiB", 2), (2.0**20, "MiB", 1),
                                (2.0**10, "KiB", 1)):
        if abs(x) >= scale:
            return f"{x / scale:.{digits}f} {unit}"
    return f"{x:.0f} B"


def bit_rate(bits_per_second: object) -> str:
    """A link rate given in **bits** per second (``"25 Gbps"``)."""
    x = number(bits_per_second)
    if x is None:
        return DASH
    for scale, unit in ((1e12, "Tbps"), (1e9, "Gbps"), (1e6, "Mbps"), (1e3, "Kbps")):
        if abs(x) >= scale:
            return f"{x / scale:.4g} {unit}"
    return f"{x:.4g} bps"


def percent(fraction: object) -> str:
    """A fraction as a percentage (``0.625`` → ``"62.5 %"``)."""
    x = number(fraction)
    return DASH if x is None else f"{x * 100:.1f} %"


def ratio(value: object) -> str:
    """A dimensionless ratio (``1.337`` → ``"1.34×"``)."""
    x = number(value)
    return DASH if x is None else f"{x:.2f}×"


def count(value: object) -> str:
    """An integer count with thousands separators."""
    x = number(value)
    return DASH if x is None else f"{int(round(x)):,}"
