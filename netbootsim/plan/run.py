"""The one pipeline: scenario → load → build → run → summarize (→ write).

Every way of running a scenario goes through here: ``netbootsim run``, ``compare``,
``sweep``, ``ipxe trace``, the engine cross-validation and the library's
:func:`netbootsim.api.simulate_scenario`. Nothing here prints or parses a command line:
the caller passes what it wants to hear as callbacks — ``progress(done, total, now)``
each time a server finishes and as simulated time passes, ``say(line)`` for each of the
scenario's warnings (before the run starts) — and the memory limit.

- :func:`simulate`: a loaded (or built) scenario → :class:`Outcome` (the run, its
  inputs, the summary and the frames), no files.
- :func:`execute`: a scenario file → its output directory, written whole by
  :class:`~netbootsim.plan.outdir.OutputDir` (``servers.csv``, ``phases.csv`` — or
  their Parquet files, :mod:`netbootsim.plan.summary` —, ``timeline.csv``,
  ``summary.json``, ``report.md``, ``report.html``; with lifecycle events, ``events.csv``
  and ``event-phases.csv``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import memguard
from ..fleet import FleetRun
from ..records import PhaseLog, events_frame
from ..runtime import paused_gc
from ..scenario import BuiltScenario, Scenario, build, load_scenario
from ..streams import Streams
from .assemble import FleetInputs, engine_mode, random_block, run_built, scope_notes
from .costs import cost_block
from .lifecycle import lifecycle_block
from .outdir import OutputDir
from .summary import known_outputs, summarize, warm_for, write_outputs

__all__ = ["Outcome", "simulate", "execute", "run_scenario", "question_of", "Progress",
           "with_replication", "deadline_fields", "tftp_block"]

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
        events: with lifecycle events, one row per server an event touched
            (``events.csv``); else ``None``.
        event_phases: with lifecycle events, their boots' phase records
            (``event-phases.csv``); else ``None``.

    :func:`execute`'s outcome has an empty ``run.records``: its records are ``phases``.
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
    events: pd.DataFrame | None = None
    event_phases: pd.DataFrame | None = None


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


def with_replication(frame: pd.DataFrame, replication: int) -> pd.DataFrame:
    """``frame`` with its ``replication`` column (in place).

    After ``seed`` when it has one (the phase records: ``run, seed, replication, server,
    ...``), else first (``replication, server, ...``; ``replication, time, ...``).
    """
    at = list(frame.columns).index("seed") + 1 if "seed" in frame.columns else 0
    frame.insert(at, "replication", np.full(len(frame), replication, dtype=np.int64))
    return frame


def deadline_fields(servers: pd.DataFrame, deadline: float) -> dict:
    """The summary's deadline fields (with ``run.deadline``).

    ``deadline`` (s), ``ready_by_deadline`` (servers) and ``ready_fraction_by_deadline``
    (of all rows; ``None`` when there are none).

    A server is ready by the deadline when it got ready within ``deadline`` seconds of
    the first power-on (of its replication, when ``servers`` has a ``replication``
    column).
    """
    if len(servers) == 0:
        return {"deadline": deadline, "ready_by_deadline": 0,
                "ready_fraction_by_deadline": None}
    if "replication" in servers.columns:
        t0 = servers.groupby("replication")["power_on"].transform("min")
    else:
        t0 = servers["power_on"].min()
    ready = int(((servers["outcome"] == "ok") & (servers["ready"] - t0 <= deadline)).sum())
    return {"deadline": deadline, "ready_by_deadline": ready,
            "ready_fraction_by_deadline": ready / len(servers)}


def tftp_block(inputs: FleetInputs) -> dict:
    """``summary["tftp"]``: each group's TFTP block size and window size, by group name.

    A group whose firmware profiles (its iPXE profile, a mix's parts, its PXE ROM's)
    do not agree is left out: its blocks cannot be counted from a record's bytes alone.
    The report counts a TFTP run's blocks with it (``5.0 ms × 55,660 blocks``).
    """
    out: dict[str, dict[str, int]] = {"blksize": {}, "windowsize": {}}
    for g in inputs.groups:
        profiles = [g.profile, g.rom, *(p for _, p in getattr(g, "profile_mix", ())),
                    *(p for _, p in getattr(g, "rom_mix", ()))]
        sizes = {(int(p.tftp.blksize), int(p.tftp.windowsize)) for p in profiles
                 if p is not None}
        if len(sizes) == 1:
            (blk, win), = sizes
            out["blksize"][g.name] = blk
            out["windowsize"][g.name] = win
    return out


def simulate(scenario: Scenario | BuiltScenario, *, name: str | None = None, question: str = "",
             trace: Sequence[str] = (), progress: Progress | None = None,
             watch: Callable[[float], None] | None = None,
             replication: int | None = None) -> Outcome:
    """Build (if need be), run and summarize one scenario; write nothing.

    The frames carry a ``replication`` column (:func:`with_replication`): ``replication``,
    or 0 for a single run. With ``run.deadline`` the summary has the deadline's fields
    (:func:`deadline_fields`).

    Args:
        scenario: a validated scenario, or one already built.
        name: the run's name in records and summary (default: the scenario's).
        question: the question the summary states.
        trace: servers whose iPXE console is kept (``Outcome.run.consoles``).
        progress: called as ``progress(done, total, now)`` each time a server finishes,
            and every few tens of thousands of steps while none does
            (:func:`netbootsim.fleet.simulate`).
        watch: called with the simulated time every few tens of thousands of steps; may
            raise to stop the run (the memory guard).
        replication: run as that replication of the scenario, with the streams
            ``Streams(seed, replication)`` (:mod:`netbootsim.plan.replicate`); ``None``
            (a single run) keeps ``Streams(seed)``, so a scenario's single run draws what
            it always drew, and equals none of its replications.
    """
    built = scenario if isinstance(scenario, BuiltScenario) else build(scenario)
    sc = built.scenario
    streams = None if replication is None else Streams(built.seed, replication)
    run, inputs, wall = run_built(built, name=name or sc.name, trace=tuple(trace),
                                  progress=progress, watch=watch, streams=streams)
    summary, servers, phases, timeline = summarize(
        run, scenario=name or sc.name, question=question, seed=built.seed,
        mode=engine_mode(built.run), notes=scope_notes(inputs),
        warnings=[str(w) for w in sc.warnings])
    summary["random"] = random_block(built, inputs)  # what the seed draws (report: 6h)
    summary["tftp"] = tftp_block(inputs)  # block sizes: what held a TFTP run back (report)
    if sc.costs is not None:  # the user's prices (issue 16): what the design costs
        summary["costs"] = cost_block(sc.costs, servers, phases,  # the commissioning's
                                      (run.commission or {}).get("wire_bytes", run.wire_bytes),
                                      built.topology)
    events = event_phases = None
    if inputs.events:  # lifecycle events: their rows, their boots' phases, their summary
        events = events_frame(run.lifecycle)
        event_phases = run.event_records.frame()
        summary["lifecycle"] = lifecycle_block(inputs.events, events)
    for frame in (servers, phases, timeline, events, event_phases):
        if frame is not None:
            with_replication(frame, replication or 0)
    if built.run.deadline is not None:
        summary.update(deadline_fields(servers, built.run.deadline))
    return Outcome(built, run, inputs, wall, summary, servers, phases, timeline,
                   events=events, event_phases=event_phases)


def execute(path: str, overrides: Sequence[str] = (), out: str | None = None, *,
            name: str | None = None, force: bool = False, strict: bool = False,
            max_memory: float | None = None, only: frozenset[str] | None = None,
            progress: Progress | None = None,
            say: Callable[[str], None] | None = None, records: str = "auto",
            scenario: Scenario | None = None, replication: int | None = None) -> Outcome:
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
        records: how the servers' and phases' records are written (``--format``:
            :func:`~netbootsim.plan.summary.record_formats`).
        scenario: ``path`` already loaded with these overrides, name and limits (the
            caller that loaded it to plan replications): not loaded again.
        replication: run as that replication (:func:`simulate`); ``None``: a single run.

    Raises:
        InputError: the scenario, the output directory or the memory does not do.
    """
    with paused_gc():  # a large fleet's build makes ~10^6 lasting objects, no garbage
        sc = scenario if scenario is not None else load_scenario(
            path, overrides=overrides, name=name, strict=strict, max_memory=max_memory)
        for w in sc.warnings if say is not None else ():
            say(str(w))
        built = build(sc)
    target = Path(out or built.run.out or Path("results") / sc.name)
    names = known_outputs(records, len(built.servers), bool(sc.events), only)
    with OutputDir(target, "run", force=force, flag="--out" if out else "run.out",
                   names=names) as od:
        # the collector stays paused while the records are summarised and written too:
        # re-enabled, its full passes walked the whole simulated fleet (3 of them, 0.18 s,
        # after a 10,000-server storm) to find next to nothing. A large run's report
        # figures have their imports made beside the run, in a Python started now.
        with paused_gc(), warm_for(len(built.servers), records, only) or nullcontext() \
                as warm:
            outcome = simulate(built, question=question_of(path), progress=progress,
                               watch=memguard.Watch(max_memory, path),
                               replication=replication)
            # the phases frame holds every record now: the run's own log of them goes
            # before the outputs are written, whose peak would stack on it (at 100,000
            # servers with variance, 1.997 -> 1.947 GiB measured)
            outcome.run.records = PhaseLog()
            tmp = od.staging()
            try:
                write_outputs(tmp, outcome.summary, outcome.servers, outcome.phases,
                              outcome.timeline, only=only, records=records,
                              events=outcome.events, event_phases=outcome.event_phases,
                              warm=warm)
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
