"""Python entry point: a scenario (a dict or a file) in, the run's frames and summary out.

The pipeline of ``netbootsim run`` (load and validate, build, boot the fleet,
summarise) without writing any file, for notebooks and scripts::

    from netbootsim.api import simulate_scenario

    res = simulate_scenario("scenarios/quickstart.yaml", overrides=["run.seed=7"])
    res.summary["makespan"]          # the numbers of summary.json
    res.servers["seconds"]           # one row per server, as in servers.csv

A dict takes the YAML form, section by section, quantities as text
(``{"images": {"kernel": {"size": "12MiB"}}, ...}``); problems are reported against
``<dict>`` with their field path, as :class:`~netbootsim.errors.InputError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from . import memguard
from .plan.replicate import Source, plan_of, simulate_replicated
from .plan.run import question_of, simulate
from .scenario import Scenario, load_scenario

__all__ = ["Result", "simulate_scenario"]


@dataclass(frozen=True)
class Result:
    """One run of a scenario, as ``netbootsim run`` would write it.

    Attributes:
        summary: the ``summary.json`` dict (makespan, p50/p95/p99, line-rate bound,
            bottlenecks, phases, failures, notes).
        servers: one row per server (``servers.csv``): power-on, ready, seconds,
            outcome, reason, bytes.
        phases: one row per phase attempt (``phases.csv``, :func:`netbootsim.records.to_frame`).
        timeline: utilisation samples of busy resources (``timeline.csv``).
        events: with lifecycle events, one row per server an event touched
            (``events.csv``); else ``None``.
        event_phases: with lifecycle events, their boots' phases (``event-phases.csv``).
    """

    summary: dict
    servers: pd.DataFrame
    phases: pd.DataFrame
    timeline: pd.DataFrame
    events: pd.DataFrame | None = None
    event_phases: pd.DataFrame | None = None


def simulate_scenario(scenario: Mapping[str, Any] | str | Path, *, name: str | None = None,
                      overrides: Sequence[str] = (), replications: int | None = None,
                      until_ci: str | float | None = None,
                      max_replications: int | None = None,
                      jobs: int | None = None) -> Result:
    """Validate, build and run one scenario; return its frames and summary.

    Args:
        scenario: the scenario as a dict (the YAML form) or the path of a YAML file.
        name: the scenario's name in the records and summary; default the file stem
            (``"scenario"`` for a dict).
        overrides: ``"path=value"`` texts applied first, as ``--set`` does
            (``"run.seed=7"``, ``"fleet[0].count=50"``).
        replications: run this many independent replications, as ``netbootsim run
            --replications`` does (default ``run.replications``): the frames hold every
            replication's rows (a ``replication`` column) and the summary is pooled, with
            its ``replications`` block (:mod:`netbootsim.plan.replicate`).
        until_ci: replicate until the makespan's 95 % interval is within this of its
            mean (``"2%"`` or ``0.02``), as ``--until-ci`` (default ``run.until_ci``).
        max_replications: the cap of ``until_ci`` (default ``run.max_replications``).
        jobs: processes running replications at once (default: the machine's cores);
            the result is the same for any number.

    Returns:
        The run's :class:`Result`; ``summary["notes"]`` holds the notes ``netbootsim
        run`` puts in its report, ``summary["warnings"]`` (when there are any) the
        scenario's warnings (values outside their plausible range, script lint).

    Raises:
        InputError: every problem with the scenario, each naming its field; also a run
            whose memory would not fit, or grew past what this process may use
            (:mod:`netbootsim.memguard`).
    """
    if isinstance(scenario, Mapping):
        sc = Scenario.from_dict(scenario, name=name, overrides=overrides)
        question = ""
    else:
        sc = load_scenario(scenario, overrides=overrides)
        question = question_of(str(scenario))
    plan = plan_of(sc.run, replications=replications, until_ci=until_ci,
                   max_replications=max_replications,
                   names=("replications", "until_ci", "max_replications"),
                   origin="simulate_scenario")
    if plan.replicated:
        source = Source(dict(scenario) if isinstance(scenario, Mapping) else str(scenario),
                        tuple(overrides), name, question)
        rep = simulate_replicated(source, sc, plan, jobs=jobs)
        return Result(rep.summary, rep.servers, rep.phases, rep.timeline)
    res = simulate(sc, name=name, question=question,
                   watch=memguard.Watch(None, sc.origin.file))
    return Result(res.summary, res.servers, res.phases, res.timeline, res.events,
                  res.event_phases)
