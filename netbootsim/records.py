"""Records: one typed row per phase attempt and per server, and the DataFrames made from them.

Everything a report shows is computed from these frames, so every number in a
report can be traced back to the records that made it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where a frame is made: the records need none
    import pandas as pd

__all__ = ["PhaseRecord", "PHASE_COLUMNS", "to_frame", "ServerRecord", "SERVER_COLUMNS",
           "servers_frame"]


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
    import pandas as pd

    frame = pd.DataFrame([astuple(r) for r in records], columns=PHASE_COLUMNS)
    frame["seconds"] = frame["end"] - frame["start"]
    return frame


@dataclass(frozen=True, slots=True)
class ServerRecord:
    """One server's outcome in a run.

    Attributes:
        server: server name (topology node).
        group: fleet group the server belongs to.
        rack: rack label of the server ("" when it has none).
        power_on: simulated power-on time (s).
        ready: when its last stage ended well (s); NaN when it never got ready.
        outcome: ``ok``, ``failed`` or ``unfinished`` (still booting when the run
            stopped).
        reason: why it failed or did not finish (``""`` when ok); with several
            lifecycle stages, prefixed by the stage's name.
        bytes: payload bytes its file transfers moved (``fetch:`` and ``install:``
            phases; a failed transfer moves none, an API's answers are not counted).
    """

    server: str
    group: str
    rack: str
    power_on: float
    ready: float
    outcome: str
    reason: str
    bytes: float

    @property
    def seconds(self) -> float:
        """Power-on to ready (s); NaN when it never got ready."""
        return self.ready - self.power_on


#: Column order of :func:`servers_frame` (and of ``servers.csv``).
SERVER_COLUMNS = ["server", "group", "rack", "power_on", "ready", "seconds", "outcome", "reason",
                  "bytes"]


def servers_frame(records: Iterable[ServerRecord]) -> pd.DataFrame:
    """A tidy DataFrame, one row per server, with ``seconds`` (ready − power-on)."""
    import pandas as pd

    return pd.DataFrame([(r.server, r.group, r.rack, r.power_on, r.ready, r.seconds,
                          r.outcome, r.reason, r.bytes) for r in records],
                        columns=SERVER_COLUMNS)
