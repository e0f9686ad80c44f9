"""Records: one typed row per phase attempt, and the DataFrames made from them.

Everything a report shows is computed from these frames, so every number in a
report can be traced back to the records that made it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields

import pandas as pd

__all__ = ["PhaseRecord", "PHASE_COLUMNS", "to_frame"]


@dataclass(frozen=True, slots=True)
class PhaseRecord:
    """One attempt at one phase of one server's boot.

    Attributes:
        run: scenario name (file stem, or the name given to a dict scenario).
        seed: the run's seed.
        server: server name (topology node).
        group: fleet group the server belongs to.
        rack: rack label of the server ("" when it has none).
        stage: lifecycle stage (e.g. ``commissioning``); ``boot`` for a single boot.
        phase: what happened, in boot-log words (``power-on``, ``fetch:kernel``, ...).
        attempt: 1 for the first attempt of the phase, 2 for the first retry, ...
        start: simulated start time (s).
        end: simulated end time (s).
        bytes: payload bytes moved (0 for phases that move none).
        protocol: ``tftp``, ``http``, ... or ``""``.
        endpoint: the service or host on the other side (``""`` when none).
        outcome: ``ok`` or ``failed``.
        reason: why it failed (``""`` when ok).
    """

    run: str
    seed: int
    server: str
    group: str
    rack: str
    stage: str
    phase: str
    attempt: int
    start: float
    end: float
    bytes: float
    protocol: str
    endpoint: str
    outcome: str
    reason: str


#: Column order of :func:`to_frame` (and of ``phases.csv``).
PHASE_COLUMNS = [f.name for f in fields(PhaseRecord)]


def to_frame(records: Iterable[PhaseRecord]) -> pd.DataFrame:
    """A tidy DataFrame, one row per record, with a ``seconds`` column (end − start)."""
    frame = pd.DataFrame([astuple(r) for r in records], columns=PHASE_COLUMNS)
    frame["seconds"] = frame["end"] - frame["start"]
    return frame
