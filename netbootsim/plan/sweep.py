"""Pure pieces of ``netbootsim sweep`` (the sweep itself: :mod:`netbootsim.study.sweep`).

:func:`crossing` reads where a curve crosses a level; :func:`parse_vary` the ``--vary``
flag; :func:`code_fingerprint` and :func:`scenario_fingerprint` what a recorded run's
result depends on (a resumed sweep or study reuses no stale run).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .. import __version__
from ..errors import InputError

__all__ = ["parse_vary", "crossing", "code_fingerprint", "scenario_fingerprint"]


def crossing(xs: list[float], ys: list[float], level: float) -> float | None:
    """First ``x`` where ``y`` crosses ``level``, linear between grid points.

    Rising (``y`` starts below ``level``, e.g. against fleet size): where it reaches it.
    Falling (``y`` starts at or above, e.g. against the server's cap): where it drops
    below it. ``None`` when it never crosses.
    """
    if not ys:
        return None
    rising = ys[0] < level
    for i in range(1, len(ys)):
        x0, y0, x, y = xs[i - 1], ys[i - 1], xs[i], ys[i]
        if (rising and y >= level) or (not rising and y < level):
            return x0 + (level - y0) * (x - x0) / (y - y0) if y != y0 else x
    return None


def code_fingerprint() -> str:
    """A digest of the package's code and data: a resumed sweep reuses no stale point."""
    root = Path(__file__).resolve().parents[1]  # the package
    h = hashlib.sha256(__version__.encode())
    for f in sorted(root.rglob("*")):
        if f.suffix in (".py", ".yaml") and f.is_file():
            h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def scenario_fingerprint(code: str, path: str, overrides: list[str], extra: str = "", *,
                         strict: bool = False, max_memory: float | None = None) -> str:
    """A digest of the code, the validated scenario with ``overrides``, and its inventories.

    Raises:
        InputError: the scenario (with the overrides) is not valid.
    """
    from ..scenario import load_scenario

    sc = load_scenario(path, overrides=overrides, strict=strict, max_memory=max_memory)
    h = hashlib.sha256(code.encode())
    h.update(sc.model_dump_json().encode())
    h.update(extra.encode())
    base = Path(path).resolve().parent
    for svc in sorted(sc.services.values(), key=lambda x: x.host):
        inventory = getattr(svc, "inventory", None)
        if isinstance(inventory, str):
            f = Path(inventory) if Path(inventory).is_absolute() else base / inventory
            h.update(f.read_bytes() if f.is_file() else b"")
    return h.hexdigest()


def parse_vary(text: str) -> tuple[str, list[str]]:
    """``PATH=V1,V2,...`` as ``(PATH, [V1, V2, ...])``.

    Raises:
        InputError: not of that form; a value that cannot name a point's directory; a
            value given twice.
    """
    path, eq, values = text.partition("=")
    grid = [v.strip() for v in values.split(",") if v.strip()]
    if not eq or not path.strip() or not grid:
        raise InputError.single("command line", 0, "--vary",
                                f"{text!r}: expected PATH=V1,V2,...")
    bad = [v for v in grid if v in (".", "..") or "/" in v or v.startswith(".")]
    if bad:
        raise InputError.single("command line", 0, "--vary",
                                f"value {bad[0]!r} cannot name a point's directory")
    if len(set(grid)) != len(grid):
        raise InputError.single("command line", 0, "--vary", "a value is given twice")
    return path.strip(), grid
