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
    """

    summary: dict
    servers: pd.DataFrame
    phases: pd.DataFrame
    timeline: pd.DataFrame


def simulate_scenario(scenario: Mapping[str, Any] | str | Path, *, name: str | None = None,
                      overrides: Sequence[str] = ()) -> Result:
    """Validate, build and run one scenario; return its frames and summary.

    Args:
        scenario: the scenario as a dict (the YAML form) or the path of a YAML file.
        name: the scenario's name in the records and summary; default the file stem
            (``"scenario"`` for a dict).
        overrides: ``"path=value"`` texts applied first, as ``--set`` does
            (``"run.seed=7"``, ``"fleet[0].count=50"``).

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
    res = simulate(sc, name=name, question=question,
                   watch=memguard.Watch(None, sc.origin.file))
    return Result(res.summary, res.servers, res.phases, res.timeline)
