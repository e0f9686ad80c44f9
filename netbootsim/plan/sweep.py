"""Where is the cliff? A scenario over values of one field (``netbootsim sweep``).

Runs the scenario once per value of one field (any ``--set`` path, e.g.
``fleet[0].count`` or ``services.tftp1.max_sessions``), each into ``DIR/<value>/`` (only
its ``summary.json`` is kept unless ``--keep-runs``), and
writes ``DIR/sweep.csv`` (one flat row per run, with every input), ``DIR/summary.json``
and ``DIR/sweep.md``. The cliff is measured as the fraction of the fleet *not ready by
the deadline* (failed, still booting, or ready later). ``summary.json`` holds:

- ``cliff``: ``{"vary": PATH, "deadline_s": ..., "crosses_1pct": X, "crosses_50pct": Y}``,
  the values of the swept field where that fraction first crosses 1 % and 50 %,
  interpolated linearly between grid points (``null`` when the sweep never crosses, or
  when the values are not numbers);
- ``points``: the table of ``sweep.csv``, one record per run;
- ``vary``, ``values``, ``deadline_s``, ``not_ready_fraction``, ``crosses_1pct``,
  ``crosses_50pct``: the same, flat.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from .. import __version__
from ..errors import InputError, Problem
from .outdir import OutputDir, atomic_write, owned
from .run import execute

__all__ = ["sweep", "parse_vary", "crossing", "code_fingerprint", "scenario_fingerprint",
           "JOURNAL"]

#: A sweep's record of the points it finished, kept only while it runs: a sweep stopped
#: at any moment (Ctrl-C, ``kill -9``) and started again with the same arguments reuses
#: them — each point's inputs and the package's code must match its fingerprint.
JOURNAL = ".netbootsim-sweep.json"


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


def _value(text: str) -> float | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def code_fingerprint() -> str:
    """A digest of the package's code and data: a resumed sweep reuses no stale point."""
    root = Path(__file__).resolve().parents[1]  # the package
    h = hashlib.sha256(__version__.encode())
    for f in sorted(root.rglob("*")):
        if f.suffix in (".py", ".yaml") and f.is_file():
            h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _point_fingerprint(code: str, path: str, overrides: list[str], deadline: float,
                       keep_runs: bool, strict: bool, max_memory: float | None) -> str:
    """What a sweep point's result depends on: code, the scenario and what it names.

    Loading each point's scenario here also checks every point before any runs.
    """
    return scenario_fingerprint(code, path, overrides, f"{deadline!r} {keep_runs}",
                                strict=strict, max_memory=max_memory)


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


def sweep(scenario: str, vary: str, grid: Sequence[str], out: str | Path, *,
          deadline: float, deadline_text: str = "", overrides: Sequence[str] = (),
          keep_runs: bool = False, force: bool = False, strict: bool = False,
          max_memory: float | None = None,
          say: Callable[[str], None] | None = None) -> Path:
    """Run ``scenario`` once per value of the field ``vary``; write the sweep into ``out``.

    Every point is checked before any runs; each point's report goes to ``OUT/<value>/``
    (its ``summary.json`` only, unless ``keep_runs``), then ``sweep.csv``,
    ``summary.json`` and ``sweep.md``. A sweep stopped and started again with the same
    arguments reuses the points it finished (:data:`JOURNAL`).

    Returns:
        The path of ``sweep.md``.
    """
    out = Path(out)
    code = code_fingerprint()
    prints = {}
    for v in grid:  # every point is loaded (validated) before the first one runs
        try:
            prints[v] = _point_fingerprint(code, scenario, [*overrides, f"{vary}={v}"],
                                           deadline, keep_runs, strict, max_memory)
        except InputError as e:  # a problem of this value names --vary, as it was given
            raise InputError([_as_vary(p, vary, grid, v) for p in e.problems]) from None
    with OutputDir(out, "sweep", force=force) as od:
        od.open_in_place()
        journal_path = out / JOURNAL
        journal = _read_journal(journal_path)
        rows = []
        for v in grid:
            done = journal.get(v)
            if done and done.get("fingerprint") == prints[v] and (out / v).is_dir() \
                    and owned(out / v)[0] and (out / v / "summary.json").is_file():
                rows.append(done["row"])  # finished before the sweep was stopped
                continue
            res = execute(scenario, [*overrides, f"{vary}={v}"], str(out / v),
                          strict=strict, max_memory=max_memory, say=say,
                          only=None if keep_runs else frozenset({"summary.json"}))
            summary, servers = res.summary, res.servers
            t0 = servers["power_on"].min()
            ready = (servers["outcome"] == "ok") & (servers["ready"] - t0 <= deadline)
            row = {vary: _value(v), "servers": summary["servers"],
                   "completed": summary["completed"], "failed": summary["failed"],
                   "unfinished": summary["unfinished"],
                   "not_ready_fraction": 1.0 - float(ready.mean()) if len(servers) else 0.0,
                   "p95": summary["p95"], "makespan": summary["makespan"],
                   "seed": summary["seed"], "scenario": summary["scenario"]}
            rows.append(row)
            journal[v] = {"fingerprint": prints[v], "row": row}
            atomic_write(journal_path, json.dumps(journal, indent=1, sort_keys=True) + "\n")
        od.mark(grid)
        _write_results(out, vary, rows, deadline, deadline_text or f"{deadline:g} s")
        od.mark(["sweep.csv", "summary.json", "sweep.md"])
        journal_path.unlink(missing_ok=True)
    return out / "sweep.md"


def _as_vary(problem: Problem, vary: str, grid: Sequence[str], value: str) -> Problem:
    """A problem of the override ``--set VARY=VALUE`` the sweep made, told as ``--vary``.

    ``--vary PATH=V1,V2,V3: PATH: value 'V3': message``: the flag as given, the value.
    """
    if problem.file == f"--set {vary}={value}":
        return replace(problem, file=f"--vary {vary}={','.join(grid)}",
                       message=f"value {value!r}: {problem.message}")
    return problem


def _read_journal(path: Path) -> dict:
    """Points a stopped sweep finished: ``{value: {"fingerprint", "row"}}`` (or ``{}``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_results(out: Path, path: str, rows: list[dict], deadline: float,
                   deadline_text: str) -> None:
    """``sweep.csv``, ``summary.json`` and ``sweep.md``, each renamed into place."""
    frame = pd.DataFrame(rows)
    atomic_write(out / "sweep.csv", frame.to_csv(index=False, float_format="%.9g"))
    numeric = all(isinstance(r[path], (int, float)) for r in rows)
    xs = [float(r[path]) for r in rows] if numeric else list(range(len(rows)))
    ys = [r["not_ready_fraction"] for r in rows]
    cliff = {"vary": path, "deadline_s": deadline,
             "crosses_1pct": crossing(xs, ys, 0.01) if numeric else None,
             "crosses_50pct": crossing(xs, ys, 0.5) if numeric else None}
    result = {**cliff, "values": [r[path] for r in rows], "not_ready_fraction": ys,
              "cliff": cliff, "points": rows}
    atomic_write(out / "summary.json", json.dumps(result, indent=2, sort_keys=True) + "\n")
    lines = [f"# Sweep of `{path}` — {rows[0]['scenario']}", "",
             f"Not ready by the deadline ({deadline_text}): failed, still booting, or later.",
             "", f"| {path} | ready | failed | not ready by deadline | p95 | makespan |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        p95 = "—" if r["p95"] is None or not math.isfinite(r["p95"]) else f"{r['p95']:.1f} s"
        mk = ("—" if r["makespan"] is None or not math.isfinite(r["makespan"])
              else f"{r['makespan']:.1f} s")
        lines.append(f"| {r[path]} | {r['completed']}/{r['servers']} | {r['failed']} | "
                     f"{100 * r['not_ready_fraction']:.1f} % | {p95} | {mk} |")
    lines += ["", f"Crosses 1 %: {result['crosses_1pct']}; crosses 50 %: "
              f"{result['crosses_50pct']} (linear between grid points; `cliff` in "
              "`summary.json`).", ""]
    atomic_write(out / "sweep.md", "\n".join(lines))
