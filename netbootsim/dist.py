"""Distributions of durations, rates and sizes: what varies from server to server.

Wherever a scenario or a firmware profile gives a time, a rate or a size that differs
between real servers (POST time, ROM start, the NIC's per-block TFTP delay, a
provisioning API's response time, the OS work after boot, a port's link-up delay...),
it may give a distribution instead of a constant, units in the text as everywhere:

=============  ====================================================  ==================
``dist``       fields                                                 draws
=============  ====================================================  ==================
``constant``   ``value``                                              always ``value``
``lognormal``  ``median``, ``p95`` (> median)                         ``exp(N(mu, s))``,
                                                                      ``mu = ln median``,
                                                                      ``s = ln(p95/median)/z95``
``normal``     ``mean``, ``sd``                                       truncated at 0
``uniform``    ``low``, ``high``                                      ``U(low, high)``
``triangular`` ``low``, ``mode``, ``high``                            ``T(low, mode, high)``
``empirical``  ``file`` (CSV), ``column`` (optional if one column)    resampled values
``mix``        ``of: [{weight: w, dist: ...} | {weight: w, value: ..}]``  a part by weight
=============  ====================================================  ==================

``z95 = 1.6448536...`` is the standard normal's 95th percentile, so the lognormal's
median and 95th percentile are the ones stated. A ``normal`` is truncated at 0 (a
duration is never negative) by drawing its quantile function over ``[Φ(-mean/sd), 1)``,
which keeps one uniform draw per value; its mean is the truncated one, and
:meth:`Dist.describe` says "truncated at 0". An ``empirical`` distribution resamples a
user's measured values with replacement (a bootstrap of the sample), values in the
field's SI unit (seconds, bytes/s, bytes) unless the text gives a unit.

What is not physical is refused with the field that is wrong (:class:`DistError`):
``p95`` at or below the median, a negative bound, ``high < low``, a mode outside
``[low, high]``, weights that are not positive or do not sum to 1, an empty or
malformed empirical file.

Every distribution draws from the :class:`numpy.random.Generator` it is given (a named
stream of :mod:`netbootsim.streams`), a whole array at once: ``sample(rng, n)``.
"""

from __future__ import annotations

import csv
import io
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .units import UnitError, format_rate, format_size, format_time, parse_quantity

__all__ = ["Dist", "DistError", "Constant", "LogNormal", "Normal", "Uniform", "Triangular",
           "Empirical", "Mix", "parse_value", "is_dist", "KINDS", "Z95",
           "MAX_EMPIRICAL_BYTES"]

#: The standard normal distribution's 95th percentile (Φ⁻¹(0.95)).
Z95 = 1.6448536269514722
#: The quantity kinds a distribution may hold.
KINDS = ("time", "rate", "size")
#: Largest empirical CSV file read, bytes (as an inventory: 64 MiB).
MAX_EMPIRICAL_BYTES = 64 * 2**20
_WEIGHT_TOL = 1e-6  # weights written to 6 decimals (1/3 as 0.333333) add up


class DistError(ValueError):
    """A distribution that is not physical or not well formed.

    Attributes:
        sub: the path below the field that is wrong (``("p95",)``, ``("of", 1,
            "weight")``); empty when the mapping as a whole is wrong.
        msg: what is wrong, in the user's terms.
    """

    def __init__(self, sub: tuple, msg: str):
        super().__init__(f"{'.'.join(map(str, sub))}: {msg}" if sub else msg)
        self.sub = tuple(sub)
        self.msg = msg


def _fmt(kind: str, x: float) -> str:
    if kind == "rate":
        return format_rate(x)
    if kind == "size":
        return format_size(x)
    return format_time(x)


@dataclass(frozen=True)
class Dist(ABC):
    """A distribution of one kind of quantity (``time``, ``rate`` or ``size``), SI units."""

    kind: str

    @abstractmethod
    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws (float64), in the SI unit of :attr:`kind`."""

    @abstractmethod
    def mean(self) -> float:
        """The distribution's mean (the truncated one for a truncated normal)."""

    @abstractmethod
    def describe(self) -> str:
        """One line in the user's units (``lognormal, median 90 s, p95 150 s``)."""

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """The distribution as plain data (JSON), SI floats."""

    @property
    def constant(self) -> bool:
        """Whether every draw is the same value."""
        return False


@dataclass(frozen=True)
class Constant(Dist):
    """Always ``value``."""

    value: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # noqa: D102
        return np.full(n, self.value)

    def mean(self) -> float:  # noqa: D102
        return self.value

    def describe(self) -> str:  # noqa: D102
        return _fmt(self.kind, self.value)

    def spec(self) -> dict[str, Any]:  # noqa: D102
        return {"dist": "constant", "value": self.value}

    @property
    def constant(self) -> bool:  # noqa: D102
        return True


@dataclass(frozen=True)
class LogNormal(Dist):
    """Lognormal with the stated median and 95th percentile."""

    median: float
    p95: float

    @property
    def sigma(self) -> float:
        """The underlying normal's standard deviation, ``ln(p95 / median) / z95``."""
        return math.log(self.p95 / self.median) / Z95

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # noqa: D102
        return rng.lognormal(math.log(self.median), self.sigma, n)

    def mean(self) -> float:  # noqa: D102
        return self.median * math.exp(self.sigma ** 2 / 2)

    def describe(self) -> str:  # noqa: D102
        return (f"lognormal, median {_fmt(self.kind, self.median)}, "
                f"p95 {_fmt(self.kind, self.p95)}")

    def spec(self) -> dict[str, Any]:  # noqa: D102
        return {"dist": "lognormal", "median": self.median, "p95": self.p95}


@dataclass(frozen=True)
class Normal(Dist):
    """Normal with ``mean`` and ``sd``, truncated at 0."""

    mu: float
    sd: float

    def _lower(self) -> float:
        from scipy.special import ndtr

        return 0.0 if self.sd == 0 else float(ndtr(-self.mu / self.sd))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # noqa: D102
        if self.sd == 0:
            return np.full(n, max(self.mu, 0.0))
        from scipy.special import ndtri

        u = rng.uniform(self._lower(), 1.0, n)
        return np.maximum(self.mu + self.sd * ndtri(u), 0.0)

    def mean(self) -> float:  # noqa: D102
        if self.sd == 0:
            return max(self.mu, 0.0)
        # E[X | X > 0] = mu + sd * phi(a) / (1 - Phi(a)), a = -mu / sd
        a = -self.mu / self.sd
        phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
        return self.mu + self.sd * phi / (1.0 - self._lower())

    def describe(self) -> str:  # noqa: D102
        return (f"normal, mean {_fmt(self.kind, self.mu)}, sd {_fmt(self.kind, self.sd)}, "
                "truncated at 0")

    def spec(self) -> dict[str, Any]:  # noqa: D102
        return {"dist": "normal", "mean": self.mu, "sd": self.sd, "truncated_at": 0.0}


@dataclass(frozen=True)
class Uniform(Dist):
    """Uniform on ``[low, high]``."""

    low: float
    high: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # noqa: D102
        return rng.uniform(self.low, self.high, n)

    def mean(self) -> float:  # noqa: D102
        return (self.low + self.high) / 2

    def describe(self) -> str:  # noqa: D102
        return f"uniform, {_fmt(self.kind, self.low)} to {_fmt(self.kind, self.high)}"

    def spec(self) -> dict[str, Any]:  # noqa: D102
        return {"dist": "uniform", "low": self.low, "high": self.high}

    @property
    def constant(self) -> bool:  # noqa: D102
        return self.low == self.high


@dataclass(frozen=True)
class Triangular(Dist):
    """Triangular on ``[low, high]`` with its peak at ``mode``."""

    low: float
    mode: float
    high: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # noqa: D102
        if self.low == self.high:
            return np.full(n, self.low)
        return rng.triangular(self.low, self.mode, self.high, n)

    def mean(self) -> float:  # noqa: D102
        return (self.low + self.mode + self.high) / 3

    def describe(self) -> str:  # noqa: D102
        return (f"triangular, {_fmt(self.kind, self.low)} to {_fmt(self.kind, self.high)}, "
                f"mode {_fmt(self.kind, self.mode)}")

    def spec(self) -> dict[str, Any]:  # noqa: D102
        return {"dist": "triangular", "low": self.low, "mode": self.mode, "high": self.high}

    @property
    def constant(self) -> bool:  # noqa: D102
        return self.low == self.high


@dataclass(frozen=True)
class Empirical(Dist):
    """A user's measured values, resampled with replacement."""

    values: tuple[float, ...]
    source: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # noqa: D102
        return np.asarray(self.values, dtype=float)[rng.integers(0, len(self.values), n)]

    def mean(self) -> float:  # noqa: D102
        return float(np.mean(self.values))

    def describe(self) -> str:  # noqa: D102
        v = np.asarray(self.values)
        return (f"empirical, {len(v):,} values from {self.source or 'data'} "
                f"(median {_fmt(self.kind, float(np.median(v)))}, "
                f"{_fmt(self.kind, float(v.min()))} to {_fmt(self.kind, float(v.max()))})")

    def spec(self) -> dict[str, Any]:  # noqa: D102
        return {"dist": "empirical", "source": self.source, "n": len(self.values),
                "mean": self.mean()}

    @property
    def constant(self) -> bool:  # noqa: D102
        return len(set(self.values)) == 1


@dataclass(frozen=True)
class Mix(Dist):
    """A mixture: each draw comes from part ``j`` with probability ``weights[j]``."""

    weights: tuple[float, ...]
    parts: tuple[Dist, ...]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # noqa: D102
        w = np.asarray(self.weights, dtype=float)
        which = rng.choice(len(self.parts), size=n, p=w / w.sum())
        out = np.empty(n)
        for j, part in enumerate(self.parts):  # each part's draws in server order
            idx = np.flatnonzero(which == j)
            if idx.size:
                out[idx] = part.sample(rng, idx.size)
        return out

    def mean(self) -> float:  # noqa: D102
        return float(sum(w * p.mean() for w, p in zip(self.weights, self.parts, strict=True)))

    def describe(self) -> str:  # noqa: D102
        inner = "; ".join(f"{w:.0%} {p.describe()}"
                          for w, p in zip(self.weights, self.parts, strict=True))
        return f"mix of {inner}"

    def spec(self) -> dict[str, Any]:  # noqa: D102
        return {"dist": "mix", "of": [{"weight": w, **p.spec()}
                                      for w, p in zip(self.weights, self.parts, strict=True)]}

    @property
    def constant(self) -> bool:  # noqa: D102
        return all(p.constant for p in self.parts) and len(
            {p.mean() for p in self.parts}) == 1


def is_dist(value: object) -> bool:
    """Whether ``value`` is a distribution (not a constant)."""
    return isinstance(value, Dist)


# ------------------------------------------------------------------------ parsing
_FIELDS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "lognormal": ("median", "p95"),
    "normal": ("mean", "sd"),
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "empirical": ("file",),
    "mix": ("of",),
}
_OPTIONAL = {"empirical": ("column",)}


def _quantity(raw: object, kind: str, sub: tuple, *, positive: bool = False) -> float:
    if isinstance(raw, bool):
        raise DistError(sub, f"expected a {kind} with its unit, got {raw!r}")
    try:
        x = parse_quantity(raw, kind)
    except UnitError as e:
        raise DistError(sub, str(e)) from None
    if not math.isfinite(x):
        raise DistError(sub, f"{raw!r} must be finite")
    if x < 0 or (positive and x == 0):
        raise DistError(sub, f"{raw!r} must be {'> 0' if positive else '>= 0'}")
    return x


def parse_value(raw: object, kind: str, *, base: Path | None = None,
                positive: bool = False) -> float | Dist:
    """A constant (``"90s"``) or a distribution mapping (``{dist: lognormal, ...}``).

    Args:
        raw: the value as written.
        kind: ``time``, ``rate`` or ``size`` (:data:`KINDS`).
        base: the directory an empirical distribution's ``file`` is relative to (the
            scenario's; ``None``: the current directory).
        positive: the quantity must be > 0 (a rate, a size), not only >= 0.

    Returns:
        A float (SI) for a constant; a :class:`Dist` for a mapping.

    Raises:
        DistError: the value is malformed or not physical (``sub`` names the part).
    """
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: one of {', '.join(KINDS)}")
    if isinstance(raw, Dist):
        return raw
    if not isinstance(raw, Mapping):
        return _quantity(raw, kind, (), positive=positive)
    return _parse_dist(raw, kind, (), base, positive)


def _parse_dist(raw: Mapping, kind: str, sub: tuple, base: Path | None,
                positive: bool) -> Dist:
    name = raw.get("dist")
    if name is None:
        raise DistError(sub, "a distribution needs 'dist:' (one of: "
                             f"{', '.join(_FIELDS)}), or give a constant")
    if name not in _FIELDS:
        raise DistError((*sub, "dist"), f"unknown distribution {name!r}; one of: "
                                        f"{', '.join(_FIELDS)}")
    need, opt = _FIELDS[name], _OPTIONAL.get(name, ())
    extra = [k for k in raw if k not in ("dist", *need, *opt)]
    if extra:
        raise DistError((*sub, extra[0]), f"unknown field {extra[0]!r} of a {name} "
                                          f"distribution; its fields: {', '.join(need + opt)}")
    missing = [k for k in need if k not in raw]
    if missing:
        raise DistError(sub, f"a {name} distribution needs {', '.join(need)}; "
                             f"missing {', '.join(missing)}")

    def q(field: str, pos: bool = positive) -> float:
        return _quantity(raw[field], kind, (*sub, field), positive=pos)

    if name == "constant":
        return Constant(kind, q("value"))
    if name == "lognormal":
        median, p95 = q("median", True), q("p95", True)
        if not p95 > median:
            raise DistError((*sub, "p95"), f"{raw['p95']!r} must be above the median "
                                           f"({raw['median']!r}); for no spread give a "
                                           "constant")
        return LogNormal(kind, median, p95)
    if name == "normal":
        try:
            mu = parse_quantity(raw["mean"], kind)
        except UnitError as e:
            raise DistError((*sub, "mean"), str(e)) from None
        if not math.isfinite(mu) or mu <= 0:
            raise DistError((*sub, "mean"), f"{raw['mean']!r} must be > 0")
        return Normal(kind, mu, q("sd", False))
    if name == "uniform":
        low, high = q("low"), q("high")
        if high < low:
            raise DistError((*sub, "high"), f"{raw['high']!r} is below low ({raw['low']!r})")
        return Uniform(kind, low, high)
    if name == "triangular":
        low, mode, high = q("low"), q("mode"), q("high")
        if high < low:
            raise DistError((*sub, "high"), f"{raw['high']!r} is below low ({raw['low']!r})")
        if not low <= mode <= high:
            raise DistError((*sub, "mode"), f"{raw['mode']!r} is outside "
                                            f"[{raw['low']!r}, {raw['high']!r}]")
        return Triangular(kind, low, mode, high)
    if name == "empirical":
        return _empirical(raw, kind, sub, base, positive)
    return _mix(raw["of"], kind, sub, base, positive)


def _mix(of: object, kind: str, sub: tuple, base: Path | None, positive: bool) -> Mix:
    where = (*sub, "of")
    if not isinstance(of, list) or not of:
        raise DistError(where, "give a non-empty list of parts, each {weight: w, ...}")
    weights, parts = [], []
    for j, part in enumerate(of):
        psub = (*where, j)
        if not isinstance(part, Mapping) or "weight" not in part:
            raise DistError(psub, "each part is a mapping with a 'weight' and a "
                                  "distribution ('dist: ...') or a 'value'")
        w = part["weight"]
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) \
                or w <= 0:
            raise DistError((*psub, "weight"), f"{w!r} must be a number > 0")
        rest = {k: v for k, v in part.items() if k != "weight"}
        if "value" in rest and "dist" not in rest:
            if len(rest) != 1:
                extra = next(k for k in rest if k != "value")
                raise DistError((*psub, extra), f"unknown field {extra!r} beside 'value'")
            parts.append(Constant(kind, _quantity(rest["value"], kind, (*psub, "value"),
                                                  positive=positive)))
        else:
            parts.append(_parse_dist(rest, kind, psub, base, positive))
        weights.append(float(w))
    total = math.fsum(weights)
    if abs(total - 1.0) > _WEIGHT_TOL:
        raise DistError(where, f"the weights sum to {total:g}, not 1")
    return Mix(kind, tuple(weights), tuple(parts))


def _empirical(raw: Mapping, kind: str, sub: tuple, base: Path | None,
               positive: bool) -> Empirical:
    file = raw["file"]
    if not isinstance(file, str) or not file:
        raise DistError((*sub, "file"), "give the CSV file's path")
    path = Path(file) if Path(file).is_absolute() or base is None else Path(base) / file
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise DistError((*sub, "file"), f"{file}: not a file")
        if size > MAX_EMPIRICAL_BYTES:
            raise DistError((*sub, "file"), f"{file}: {size:,} bytes, over the "
                                            f"{MAX_EMPIRICAL_BYTES // 2**20} MiB limit")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DistError((*sub, "file"), f"{file}: not UTF-8 text") from None
    except OSError as e:
        raise DistError((*sub, "file"), f"{file}: cannot read it ({e.strerror})") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise DistError((*sub, "file"), f"{file}: not CSV ({e})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise DistError((*sub, "file"), f"{file}: no values (a header row, then one value "
                                        "per row)")
    header = [h.strip() for h in rows[0]]
    column = raw.get("column")
    if column is None:
        if len(header) != 1:
            raise DistError((*sub, "column"), f"{file} has {len(header)} columns "
                                              f"({', '.join(header)}): name one")
        col = 0
    elif not isinstance(column, str) or column not in header:
        raise DistError((*sub, "column"), f"{column!r} is not a column of {file}; its "
                                          f"columns: {', '.join(header)}")
    else:
        col = header.index(column)
    values = []
    for n, row in enumerate(rows[1:], start=2):
        cell = row[col].strip() if col < len(row) else ""
        if not cell:
            raise DistError((*sub, "file"), f"{file}: row {n}: empty {header[col]!r}")
        try:
            x = float(cell)  # a bare number: the field's SI unit (s, bytes/s, bytes)
        except ValueError:
            try:
                x = _quantity(cell, kind, (), positive=positive)  # with its unit: "92s"
            except DistError as e:
                raise DistError((*sub, "file"), f"{file}: row {n}: {e.msg}") from None
        if not math.isfinite(x) or x < 0 or (positive and x == 0):
            raise DistError((*sub, "file"), f"{file}: row {n}: {cell!r} must be a finite "
                                            f"value {'> 0' if positive else '>= 0'}")
        values.append(x)
    return Empirical(kind, tuple(values), source=file)
