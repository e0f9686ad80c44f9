"""Scenarios side by side (``netbootsim compare A.yaml B.yaml ...``).

One scenario with a ``variants:`` section (name -> field overrides) compares its
variants instead: ``netbootsim compare scenarios/rack-tftp-vs-http.yaml --out DIR``.

Runs each scenario (its own report goes to ``OUT/<stem>/``; where two files share a
stem, ``OUT/<folder>-<stem>/``), then writes ``OUT/compare.md`` (with
``OUT/compare.png``) and a self-contained ``OUT/compare.html``
(:func:`netbootsim.report.write_compare_report`): the answer in one sentence, the
scenarios' shared question once, one table of headline numbers with each makespan as a
ratio to the first scenario's and what held each run back, the completion-time CDFs
overlaid, the failure reasons, and time by phase in boot order. Every number comes
from the scenarios' own ``summary.json``, ``servers.csv`` and ``phases.csv`` (or their
Parquet files, for large runs).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import InputError
from .outdir import OutputDir
from .replicate import execute_replicated
from .summary import read_records

__all__ = ["compare", "write_compare", "describe_changes", "variants_of", "run_names"]


def write_compare(out: Path, dirs: list[Path],
                  changes: dict[str, str] | None = None) -> tuple[Path, Path]:
    """Write ``compare.md`` / ``compare.html`` from finished scenario output directories.

    Each directory's ``summary.json`` and servers' and phases' records (CSV, else
    Parquet: :func:`~netbootsim.plan.summary.read_records`) are read; a
    run's link points at ``<its directory>/report.html``, relative to ``out``.
    ``changes``: what each run changes in the scenario, by run name (a variant's
    overrides, :func:`describe_changes`).
    """
    from ..report import Run, write_compare_report

    runs = []
    for d in dirs:
        summary = json.loads((d / "summary.json").read_text())
        servers, phases = read_records(d, "servers"), read_records(d, "phases")
        try:
            report = (d / "report.html").relative_to(out).as_posix()
        except ValueError:
            report = (d / "report.html").as_posix()
        runs.append(Run(str(summary.get("scenario") or d.name), summary, servers, phases,
                        report))
    return write_compare_report(out, runs, changes)


def describe_changes(sets: Sequence[str], limit: int = 60) -> str:
    """A variant's overrides in a few words: ``path = value``, long values cut short.

    ``["services.tftp1.max_sessions=4096"]`` → ``"services.tftp1.max_sessions = 4096"``;
    a value longer than ``limit`` characters (a whole fleet list) is cut with ``…``.
    """
    out = []
    for text in sets:
        path, _, value = text.partition("=")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and parsed and all(isinstance(x, dict) and "name" in x
                                                       for x in parsed):
            # a list of named entries (fleet groups): their names, not their JSON
            value = f"{len(parsed)} entries: " + ", ".join(str(x["name"]) for x in parsed)
        value = value if len(value) <= limit else value[:limit - 1].rstrip() + "…"
        out.append(f"{path} = {value}")
    return "; ".join(out)


def variants_of(path: str, strict: bool = False, max_memory: float | None = None,
                overrides: Sequence[str] = (), check: bool = True) -> dict[str, list[str]]:
    """A scenario's named variants as ``--set`` texts (``{}`` when it has none).

    ``check``: each variant is validated (with ``overrides`` under its changes, as it
    will run); a comparison of several files runs none of their variants.
    """
    from ..scenario import load_scenario

    sc = load_scenario(path, overrides=overrides, strict=strict, max_memory=max_memory,
                       variants=check)
    return {name: [f"{k}={json.dumps(v)}" for k, v in changes.items()]
            for name, changes in sc.variants.items()}


def run_names(paths: list[str]) -> list[str]:
    """A distinct name per scenario file: its stem, or its path where stems collide.

    ``a/q.yaml`` and ``b/q.yaml`` become ``a-q`` and ``b-q`` (the path below the folder
    they share, ``/`` as ``-``); the same file given twice gets ``-2``, ``-3``...
    """
    stems = [Path(p).stem for p in paths]
    names = []
    for p, stem in zip(paths, stems, strict=True):
        if stems.count(stem) == 1:
            names.append(stem)
            continue
        same = [Path(q).resolve() for q, s in zip(paths, stems, strict=True) if s == stem]
        common = Path(os.path.commonpath([str(q.parent) for q in same]))
        rel = Path(p).resolve().with_suffix("").relative_to(common)
        names.append("-".join(rel.parts) or stem)
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}-{seen[n]}")
    return out


def compare(scenarios: Sequence[str], out: str | Path, *, overrides: Sequence[str] = (),
            force: bool = False, strict: bool = False, max_memory: float | None = None,
            say: Callable[[str], None] | None = None,
            done: Callable[[object], None] | None = None, jobs: int | None = None) -> Path:
    """Run scenarios (or one scenario's variants) and write the comparison into ``out``.

    Every scenario is checked before any runs; the whole directory (each run's report in
    ``OUT/<name>/``, ``compare.md``, ``compare.html``, ``compare.png``) is staged and
    renamed into place (:class:`~netbootsim.plan.outdir.OutputDir`). A scenario with
    ``run.replications`` or ``run.until_ci`` runs replicated
    (:func:`~netbootsim.plan.replicate.execute_replicated`, in ``jobs`` processes).

    Args:
        scenarios: scenario files (two or more), or one with ``variants:``.
        out: the comparison's directory.
        overrides: ``--set`` texts applied to every run.
        force: write into a directory holding files netbootsim did not write.
        strict: refuse a scenario with warnings.
        max_memory: the memory limit, bytes.
        say: called with each scenario's warnings.
        jobs: processes for a replicated run (default: the machine's cores).
        done: called with each run's result as it finishes (a
            :class:`~netbootsim.plan.run.Outcome`, or a
            :class:`~netbootsim.plan.replicate.Replicated`): ``netbootsim compare`` prints
            its headline line there, as ``netbootsim run`` does.

    Returns:
        The path of ``compare.html``.

    Raises:
        InputError: a scenario, the output directory, fewer than two runs.
    """
    out = Path(out)
    variants = [variants_of(path, strict, max_memory, overrides,  # all checked
                            check=len(scenarios) == 1) for path in scenarios]
    if len(scenarios) == 1 and variants[0]:
        runs = [(scenarios[0], [*overrides, *sets], name) for name, sets in variants[0].items()]
    else:
        runs = [(path, list(overrides), name)
                for path, name in zip(scenarios, run_names(list(scenarios)), strict=True)]
    if len(runs) < 2:
        raise InputError.single("command line", 0, "scenarios",
                                "give two or more scenarios, or one with variants:")
    # each run's directory: with --force, one of the user's of that name is refused now
    with OutputDir(out, "compare", force=force,
                   names=[name.split("/", 1)[0] for _, _, name in runs]) as od:
        tmp = od.staging()
        try:
            dirs = []
            for path, sets, name in runs:
                res = execute_replicated(path, sets, str(tmp / name), name=name,
                                         strict=strict, max_memory=max_memory, say=say,
                                         jobs=jobs)
                if done is not None:
                    done(res)
                dirs.append(res.target)
            changes = ({name: describe_changes(sets) for name, sets in variants[0].items()}
                       if len(scenarios) == 1 else None)
            write_compare(tmp, dirs, changes)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        od.publish(tmp)
    return out / "compare.html"
