"""The one pipeline: scenario → load → build → run → summarize (→ write).

Every way of running a scenario goes through here: ``netbootsim run``, ``compare``,
``sweep``, ``ipxe trace``, the engine cross-validation and the library's
:func:`netbootsim.api.simulate_scenario`. Nothing here prints or parses a command line:
the caller passes what it wants to hear as callbacks — ``progress(done, total, now)``
each time a server finishes, ``say(line)`` for each of the scenario's warnings (before
the run starts) — and the memory limit.

- :func:`simulate`: a loaded (or built) scenario → :class:`Outcome` (the run, its
  inputs, the summary and the frames), no files.
- :func:`execute`: a scenario file → its output directory, written whole by
  :class:`~netbootsim.plan.outdir.OutputDir` (``servers.csv``, ``phases.csv``,
  ``timeline.csv``, ``summary.json``, ``report.md``, ``report.html``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import memguard
from ..fleet import FleetRun
from ..scenario import BuiltScenario, Scenario, build, load_scenario
from .assemble import FleetInputs, engine_mode, run_built, scope_notes
from .outdir import OutputDir
from .summary import summarize, write_outputs

__all__ = ["Outcome", "simulate", "execute", "run_scenario", "question_of", "Progress"]

#: ``progress(done, total, now)``: servers finished so far, of how many, at simulated time.
Progress = Callable[[int, int, float], None]


@dataclass
class Outcome:
    """What running one scenario gave.

    Attributes:
        built: the built scenario (topology, servers, services).
        run: the fleet run (records, servers, counters).
        inputs: the fleet's inputs the assembly made.
        wall: wall-clock seconds of the simulation itself.
        summary: the ``summary.json`` dict.
        servers: one row per server (``servers.csv``).
        phases: one row per phase record (``phases.csv``).
        timeline: utilisation samples (``timeline.csv``).
        target: the output directory, when :func:`execute` wrote one.
    """

    built: BuiltScenario
    run: FleetRun
    inputs: FleetInputs
    wall: float
    summary: dict
    servers: pd.DataFrame
    phases: pd.DataFrame
    timeline: pd.DataFrame
    target: Path | None = None


def question_of(path: str) -> str:
    """The question a scenario answers: its opening comment block, ``#`` stripped."""
    lines = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.startswith("#"):
                    break
                lines.append(line[1:].strip())
    except OSError:
        return ""
    text = " ".join(x for x in lines if x)
    return text.removeprefix("Question:").strip()


def simulate(scenario: Scenario | BuiltScenario, *, name: str | None = None, question: str = "",
             trace: Sequence[str] = (), progress: Progress | None = None,
             watch: Callable[[float], None] | None = None) -> Outcome:
    """Build (if need be), run and summarize one scenario; write nothing.

    Args:
        scenario: a validated scenario, or one already built.
        name: the run's name in records and summary (default: the scenario's).
        question: the question the summary states.
        trace: servers whose iPXE console is kept (``Outcome.run.consoles``).
        progress: called as ``progress(done, total, now)`` each time a server finishes.
        watch: called with the simulated time every few tens of thousands of steps; may
            raise to stop the run (the memory guard).
    """
    built = scenario if isinstance(scenario, BuiltScenario) else build(scenario)
    sc = built.scenario
    run, inputs, wall = run_built(built, name=name or sc.name, trace=tuple(trace),
                                  progress=progress, watch=watch)
    summary, servers, phases, timeline = summarize(
        run, scenario=name or sc.name, question=question, seed=built.seed,
        mode=engine_mode(built.run), notes=scope_notes(inputs),
        warnings=[str(w) for w in sc.warnings])
    return Outcome(built, run, inputs, wall, summary, servers, phases, timeline)


def execute(path: str, overrides: Sequence[str] = (), out: str | None = None, *,
            name: str | None = None, force: bool = False, strict: bool = False,
            max_memory: float | None = None, only: frozenset[str] | None = None,
            progress: Progress | None = None,
            say: Callable[[str], None] | None = None) -> Outcome:
    """Load, simulate and write one scenario file; the outcome names its directory.

    Args:
        path: the scenario file.
        overrides: ``--set`` texts.
        out: the output directory (default ``run.out``, else ``results/<name>``).
        name: the run's name (default: the file's stem): a variant's name.
        force: write into a directory holding files netbootsim did not write (deleting
            none of them).
        strict: refuse a scenario with warnings.
        max_memory: the memory limit, bytes (``None``: what this process may use).
        only: write just these files (:func:`~netbootsim.plan.summary.write_outputs`).
        progress: as for :func:`simulate`.
        say: called with each of the scenario's warnings before the run.

    Raises:
        InputError: the scenario, the output directory or the memory does not do.
    """
    sc = load_scenario(path, overrides=overrides, name=name, strict=strict,
                       max_memory=max_memory)
    for w in sc.warnings if say is not None else ():
        say(str(w))
    built = build(sc)
    target = Path(out or built.run.out or Path("results") / sc.name)
    with OutputDir(target, "run", force=force, flag="--out" if out else "run.out") as od:
        outcome = simulate(built, question=question_of(path), progress=progress,
                           watch=memguard.Watch(max_memory, path))
        tmp = od.staging()
        try:
            write_outputs(tmp, outcome.summary, outcome.servers, outcome.phases,
                          outcome.timeline, only=only)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        outcome.target = od.publish(tmp)
    return outcome


def run_scenario(path: str, overrides: Sequence[str] = (), out: str | None = None, *,
                 name: str | None = None, **kwargs) -> Path:
    """:func:`execute`, returning only the output directory."""
    target = execute(path, overrides, out, name=name, **kwargs).target
    assert target is not None
    return target
