"""Human-friendly text for the numbers a report shows.

Every formatter accepts ``None`` and NaN (what a summary holds when nothing
completed) and returns an em dash for them, so templates never print ``nan``.
"""

from __future__ import annotations

import math

__all__ = ["DASH", "number", "duration", "duration_interval", "percent_interval",
           "count_interval", "size", "bit_rate", "percent", "ratio", "count"]

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


def _time_unit(a: float) -> tuple[float, str, int]:
    """Scale, unit and decimals :func:`duration` shows a magnitude ``a`` (> 0) in."""
    if a < 1e-3:
        return 1e-6, "µs", 0
    if a < 1:
        return 1e-3, "ms", 0
    if a < 60:
        return 1.0, "s", 1
    if a < 3600:
        return 60.0, "min", 1
    return 3600.0, "h", 2


def duration(seconds: object) -> str:
    """A duration in the unit a planner reads best: ``ms``, ``s``, ``min`` or ``h``.

    Examples:
        >>> duration(0.25), duration(42), duration(754), duration(9000), duration(None)
        ('250 ms', '42.0 s', '12.6 min', '2.50 h', '—')
    """
    x = number(seconds)
    if x is None:
        return DASH
    if x == 0:
        return "0 s"
    scale, unit, digits = _time_unit(abs(x))
    return f"{x / scale:.{digits}f} {unit}"


def duration_interval(value: object, lo: object, hi: object) -> str:
    """A duration with its confidence interval, bounds in the value's unit.

    Examples:
        >>> duration_interval(412, 398, 431), duration_interval(42, None, 43)
        ('6.9 min [6.6, 7.2]', '42.0 s')
    """
    x, a, b = number(value), number(lo), number(hi)
    if x is None or a is None or b is None:
        return duration(value)
    scale, unit, digits = _time_unit(abs(x) or max(abs(a), abs(b)) or 1.0)
    return f"{x / scale:.{digits}f} {unit} [{a / scale:.{digits}f}, {b / scale:.{digits}f}]"


def percent_interval(value: object, lo: object, hi: object) -> str:
    """A fraction as a percentage with its interval (``"97.5 % [96.1, 98.9]"``)."""
    x, a, b = number(value), number(lo), number(hi)
    if x is None or a is None or b is None:
        return percent(value)
    return f"{x * 100:.1f} % [{a * 100:.1f}, {b * 100:.1f}]"


def count_interval(value: object, lo: object, hi: object) -> str:
    """A mean count with its interval, one decimal (``"1,987.4 [1,980.2, 1,994.6]"``)."""
    x, a, b = number(value), number(lo), number(hi)
    if x is None or a is None or b is None:
        return count(value)
    return f"{x:,.1f} [{a:,.1f}, {b:,.1f}]"


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
