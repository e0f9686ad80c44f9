"""Records: one typed row per phase attempt and per server, and the DataFrames made from them.

Everything a report shows is computed from these frames, so every number in a
report can be traced back to the records that made it.

A run keeps its records by column (:class:`PhaseLog`, :class:`ServerLog`): each text
field as a code into its distinct values (a run's 700,000 phase rows name a few dozen
phases, stages and outcomes, and each server a handful of times), each number in a
typed array of 8-byte values, about 80 bytes a phase row where a record object took
about 220. The frame is made column by column at once. Read row by row, a log gives
the same :class:`PhaseRecord` / :class:`ServerRecord` it was given.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and pandas are imported where a frame is made
    import pandas as pd

__all__ = ["PhaseRecord", "PHASE_COLUMNS", "PhaseLog", "to_frame", "ServerRecord",
           "SERVER_COLUMNS", "ServerLog", "servers_frame", "EventRecord", "EVENT_COLUMNS",
           "events_frame"]


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


class _Text:
    """A column of repeated strings: a code per row into the distinct values (interned).

    ``index`` maps each distinct value to its code in insertion order, so its keys are
    the values by code; ``codes`` holds one 4-byte code per row.
    """

    __slots__ = ("index", "codes", "_values")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.codes = array("i")
        self._values: list[str] = []

    def values(self) -> list[str]:
        """The distinct values, by code."""
        if len(self._values) != len(self.index):
            self._values = list(self.index)
        return self._values

    def column(self):
        """One value per row, as a NumPy object array (the strings themselves, shared)."""
        import numpy as np

        table = np.array(self.values() or [""], dtype=object)
        return table[np.frombuffer(self.codes, dtype=np.intc)] if len(self.codes) \
            else np.empty(0, dtype=object)


class _Log:
    """Rows kept by column: text interned (:class:`_Text`), numbers in typed arrays.

    Subclasses name their columns (``TEXT``, ``INTS``, ``FLOATS``, in any order) and
    the record type rows are read as (``ROW``, whose fields are the columns).
    """

    ROW: type
    TEXT: tuple[str, ...] = ()
    INTS: tuple[str, ...] = ()
    FLOATS: tuple[str, ...] = ()

    def __init__(self, rows: Iterable = ()) -> None:
        self._cols: dict[str, _Text | array] = {}
        for name in (f.name for f in fields(self.ROW)):
            self._cols[name] = (_Text() if name in self.TEXT else
                                array("q") if name in self.INTS else array("d"))
        self._n = 0
        for r in rows:
            self.append(r)

    def append(self, record) -> None:
        """Append one record (a ``ROW``)."""
        for name, col in self._cols.items():
            value = getattr(record, name)
            if isinstance(col, _Text):
                col.codes.append(col.index.setdefault(value, len(col.index)))
            else:
                col.append(value)
        self._n += 1

    def extend(self, records: Iterable) -> None:
        """Append each of ``records``."""
        for r in records:
            self.append(r)

    def settle(self) -> None:
        """Make the text columns' codes anew (same values, fresh objects).

        A code above 256 is an int object made when its value first came; made during
        a run, those are spread through the whole run's memory. See
        :meth:`FleetRun.settle <netbootsim.fleet.results.FleetRun.settle>`.
        """
        for col in self._cols.values():
            if isinstance(col, _Text):
                col.index = {value: code for code, value in enumerate(col.index)}
                col._values = []

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0

    def _decoded(self) -> list[Sequence]:
        return [[col.values()[c] for c in col.codes] if isinstance(col, _Text) else col
                for col in self._cols.values()]

    def __iter__(self) -> Iterator:
        row = self.ROW
        for values in zip(*self._decoded(), strict=True):
            yield row(*values)

    def __getitem__(self, i: int | slice):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("record index out of range")
        return self.ROW(*(col.values()[col.codes[i]] if isinstance(col, _Text) else col[i]
                          for col in self._cols.values()))

    def column(self, name: str):
        """One column as a NumPy array (a copy; text as an object array)."""
        import numpy as np

        col = self._cols[name]
        if isinstance(col, _Text):
            return col.column()
        return np.array(col, dtype=np.int64 if name in self.INTS else np.float64)

    def distinct(self, name: str) -> list[str]:
        """The distinct values of a text column, in the order they first came."""
        col = self._cols[name]
        assert isinstance(col, _Text)
        return list(col.values())

    def _frame(self, columns: list[str]) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame({name: self.column(name) for name in self._cols},
                            columns=columns)


class PhaseLog(_Log):
    """A run's phase records, by column (the module's docstring says how).

    :meth:`add` appends one record from its fields (what the simulation calls, without
    making a record object); :meth:`append` takes a :class:`PhaseRecord`.
    :meth:`frame` is :func:`to_frame` of the records, made column by column.
    """

    ROW = PhaseRecord
    TEXT = ("run", "server", "group", "rack", "stage", "phase", "protocol", "endpoint",
            "outcome", "reason")
    INTS = ("seed", "attempt")
    FLOATS = ("start", "end", "bytes")

    def __init__(self, rows: Iterable[PhaseRecord] = ()) -> None:
        super().__init__(rows)
        c = self._cols
        self._add = (c["run"], c["seed"], c["server"], c["group"], c["rack"], c["stage"],
                     c["phase"], c["attempt"], c["start"], c["end"], c["bytes"],
                     c["protocol"], c["endpoint"], c["outcome"], c["reason"])

    def add(self, run: str, seed: int, server: str, group: str, rack: str, stage: str,
            phase: str, attempt: int, start: float, end: float, nbytes: float,
            protocol: str, endpoint: str, outcome: str, reason: str) -> None:
        """Append one record, field by field (as :class:`PhaseRecord` orders them)."""
        (c_run, c_seed, c_server, c_group, c_rack, c_stage, c_phase, c_attempt, c_start,
         c_end, c_bytes, c_protocol, c_endpoint, c_outcome, c_reason) = self._add
        c_run.codes.append(c_run.index.setdefault(run, len(c_run.index)))
        c_seed.append(seed)
        c_server.codes.append(c_server.index.setdefault(server, len(c_server.index)))
        c_group.codes.append(c_group.index.setdefault(group, len(c_group.index)))
        c_rack.codes.append(c_rack.index.setdefault(rack, len(c_rack.index)))
        c_stage.codes.append(c_stage.index.setdefault(stage, len(c_stage.index)))
        c_phase.codes.append(c_phase.index.setdefault(phase, len(c_phase.index)))
        c_attempt.append(attempt)
        c_start.append(start)
        c_end.append(end)
        c_bytes.append(nbytes)
        c_protocol.codes.append(c_protocol.index.setdefault(protocol, len(c_protocol.index)))
        c_endpoint.codes.append(c_endpoint.index.setdefault(endpoint, len(c_endpoint.index)))
        c_outcome.codes.append(c_outcome.index.setdefault(outcome, len(c_outcome.index)))
        c_reason.codes.append(c_reason.index.setdefault(reason, len(c_reason.index)))
        self._n += 1

    def frame(self) -> pd.DataFrame:
        """The tidy frame of :func:`to_frame`."""
        frame = self._frame(PHASE_COLUMNS)
        frame["seconds"] = frame["end"] - frame["start"]
        return frame


def to_frame(records: Iterable[PhaseRecord]) -> pd.DataFrame:
    """A tidy DataFrame, one row per record, with a ``seconds`` column (end − start).

    ``seed`` and ``attempt`` are 64-bit integers, ``start``, ``end`` and ``bytes``
    64-bit floats, the rest text; a :class:`PhaseLog` is taken as it is, other records
    are gathered into one first.
    """
    log = records if isinstance(records, PhaseLog) else PhaseLog(records)
    return log.frame()


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


class ServerLog(_Log):
    """A run's server records, by column (as :class:`PhaseLog`)."""

    ROW = ServerRecord
    TEXT = ("server", "group", "rack", "outcome", "reason")
    FLOATS = ("power_on", "ready", "bytes")

    def frame(self) -> pd.DataFrame:
        """The tidy frame of :func:`servers_frame`."""
        frame = self._frame([c for c in SERVER_COLUMNS if c != "seconds"])
        frame.insert(SERVER_COLUMNS.index("seconds"), "seconds",
                     frame["ready"] - frame["power_on"])
        return frame


def servers_frame(records: Iterable[ServerRecord]) -> pd.DataFrame:
    """A tidy DataFrame, one row per server, with ``seconds`` (ready − power-on).

    ``power_on``, ``ready``, ``seconds`` and ``bytes`` are 64-bit floats, the rest text.
    """
    log = records if isinstance(records, ServerLog) else ServerLog(records)
    return log.frame()


@dataclass(frozen=True, slots=True)
class EventRecord:
    """What a lifecycle event did to one server (``events.csv``).

    Made by :mod:`netbootsim.fleet.events`.

    Attributes:
        event: the event's name.
        kind: ``replace``, ``reprovision`` or ``demand``.
        server: the server (topology node).
        identity: whose identity it booted as (a replacement: the failed node's; else
            its own name).
        role: ``failed`` (a replaced node), ``standby`` (its replacement),
            ``reprovisioned`` or ``pool`` (a server a demand powered on).
        asked: when the event asked it (s): the failure, the reboot, the demand's step.
        ready: when its event boot ended well (s); NaN when it did not.
        outcome: ``ok``, ``failed``, ``skipped`` (a reprovision's server not ready when
            asked) or ``unfinished`` (still booting when the run stopped).
        reason: why not ``ok`` (``""`` when ok).
        bytes: payload bytes its event boot's transfers moved.
    """

    event: str
    kind: str
    server: str
    identity: str
    role: str
    asked: float
    ready: float
    outcome: str
    reason: str
    bytes: float


#: Column order of ``events.csv``: :class:`EventRecord`'s, ``seconds`` (ready − asked)
#: after ``ready``.
EVENT_COLUMNS = [f.name for f in fields(EventRecord)]
EVENT_COLUMNS.insert(EVENT_COLUMNS.index("ready") + 1, "seconds")


def events_frame(rows: Sequence[EventRecord]) -> pd.DataFrame:
    """One row per server an event touched, by event (in file order), then time asked.

    ``asked``, ``ready``, ``seconds`` and ``bytes`` are 64-bit floats, the rest text.
    """
    import pandas as pd

    names = [f.name for f in fields(EventRecord)]
    frame = pd.DataFrame([[getattr(r, n) for n in names] for r in rows], columns=names)
    for name in ("asked", "ready", "bytes"):
        frame[name] = frame[name].astype("float64")
    frame.insert(EVENT_COLUMNS.index("seconds"), "seconds", frame["ready"] - frame["asked"])
    return frame
