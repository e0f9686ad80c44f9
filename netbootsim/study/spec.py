"""A study file (``netbootsim plan STUDY.yaml``): what to vary, what to want, what to spend.

A study names a base scenario and asks a planner's question of it::

    scenario: ../dc-boot-storm-2000.yaml      # relative to the study file
    set: {"services.dhcp1.ping": false}      # overrides of every design (optional)
    variables:                                # the decision variables, in order
      mirrors:                                # named option bundles (any overrides)
        options:
          "1": {"fleet[0].server": http1}
          "2": {"fleet": [...]}
      uplink:                                 # one field, its values
        field: "topology.hosts[1].link.bandwidth"
        values: [10Gbps, 25Gbps, 100Gbps]
      workers:                                # one field over a range
        field: services.http1.workers
        range: {from: 64, to: 1024, step: 64}
        monotone: decreasing                  # more never makes a constraint worse
      delivery: {variants: [tftp-max-50, http-1-mirror]}   # the scenario's own variants
    objective: {minimize: cost}               # or a time metric (p99, makespan, ...)
    constraints:                              # SLOs, each held with `confidence`
      - {metric: p99, max: 30min}
      - {metric: ready_fraction, by: 20min, min: 0.99}
    confidence: 0.95
    replications: {min: 3, max: 10}
    budget: {runs: 200}
    search: auto                              # grid | bisect | optuna | auto
    sensitivity:                              # netbootsim plan --sensitivity
      metric: p99
      trajectories: 6
      factors:
        post: {field: "fleet[0].tune.post.median", low: 60s, high: 300s}

:func:`load_study` reads it (line numbers kept), checks it and the base scenario, and
returns a :class:`Study`: every problem is one ``FILE:LINE: field: message`` line.
A *design* is one value of every variable: the overrides of its values, added after the
study's ``set`` to the scenario (the same ``--set`` texts ``netbootsim run`` takes).
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from ..errors import InputError, Problem
from ..scenario.messages import error_problems, suggest
from ..scenario.schema import Section
from ..scenario.source import Origin, read_yaml
from ..units import RATE_UNITS, SIZE_UNITS, TIME_UNITS, UnitError, parse_quantity

__all__ = ["Study", "Variable", "Constraint", "Factor", "load_study", "TIME_METRICS",
           "METRICS", "Design", "quantity"]

#: Metrics measured in seconds from a run's first power-on: ``summary.json``'s own (of the
#: servers that got ready), and the whole fleet's percentiles ``fleet_pNN`` (a server
#: never ready counted as never: the time by which NN % of the fleet was ready).
TIME_METRICS = ("makespan", "p50", "p95", "p99", "mean", "fleet_p50", "fleet_p95",
                "fleet_p99")
#: Every metric a constraint, an objective or a sensitivity may name.
METRICS = (*TIME_METRICS, "ready_fraction", "failed_fraction", "cost")
#: Metrics a constraint may take over some fleet groups only (``group:``).
GROUP_METRICS = ("fleet_p50", "fleet_p95", "fleet_p99", "ready_fraction")
#: Metrics where more is better (a constraint on them is a ``min``).
_MORE_IS_BETTER = ("ready_fraction",)


# -- the file's shape (pydantic: unknown fields, wrong types) ----------------------------

Scalar = str | int | float | bool


class _Range(Section):
    from_: Scalar = Field(alias="from")
    to: Scalar
    step: Scalar


class _Variable(Section):
    field: str | None = None
    values: list[Scalar] | None = None
    range: _Range | None = None
    options: dict[str, dict[str, Any]] | None = None
    variants: list[str] | None = None
    monotone: Literal["decreasing", "increasing"] | None = None


class _Objective(Section):
    minimize: Literal["cost", "makespan", "p50", "p95", "p99", "mean", "fleet_p50",
                      "fleet_p95", "fleet_p99"]


class _Constraint(Section):
    metric: str
    max: Scalar | None = None
    min: Scalar | None = None
    by: Scalar | None = None
    group: str | None = None


class _Replications(Section):
    min: int = Field(3, ge=2)
    max: int = Field(10, ge=2)


class _Budget(Section):
    runs: int = Field(200, ge=1)
    batch: int = Field(4, ge=1)


class _Factor(Section):
    field: str
    low: Scalar
    high: Scalar


class _Sensitivity(Section):
    metric: str = "p99"
    method: Literal["morris"] = "morris"
    trajectories: int = Field(6, ge=2)
    levels: int = Field(4, ge=2)
    factors: dict[str, _Factor]


class _Price(Section):
    item: str
    amount: float | dict[str, float]
    of: str | None = None
    times: str | None = None


class _StudyFile(Section):
    scenario: str
    name: str | None = None
    question: str = ""
    set: dict[str, Any] = {}
    variables: dict[str, _Variable] = {}
    objective: _Objective = _Objective(minimize="cost")
    constraints: list[_Constraint] = []
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    replications: _Replications = _Replications()
    budget: _Budget = _Budget()
    search: Literal["auto", "grid", "bisect", "optuna"] = "auto"
    seed: int | None = None
    sensitivity: _Sensitivity | None = None
    price: list[_Price] = []


# -- what the rest of the study works with ------------------------------------------------


def quantity(value: Scalar) -> tuple[float, str] | None:
    """A number or a quantity with a unit as ``(SI value, unit)``; ``None`` if neither.

    ``3`` is ``(3.0, "")``; ``"25Gbps"`` is ``(3.125e9, "B/s")``; ``"30min"`` is
    ``(1800.0, "s")``.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return (float(value), "") if math.isfinite(value) else None
    for kind, unit in (("time", "s"), ("rate", "B/s"), ("size", "B")):
        try:
            return parse_quantity(value, kind), unit
        except UnitError:
            continue
    return None


def _written_unit(value: Scalar, unit: str) -> tuple[str, float]:
    """The unit ``value`` is written in and its size in SI units (``"Gbps"``, 1.25e8)."""
    if not unit or not isinstance(value, str):
        return unit, 1.0
    text = value.strip().lstrip("+-0123456789.eE ").strip()
    for table in (TIME_UNITS, RATE_UNITS, SIZE_UNITS):
        if text in table and (table is TIME_UNITS) == (unit == "s") and \
                (table is RATE_UNITS) == (unit == "B/s"):
            return text, table[text]
    return unit, 1.0


def _text(value: float, unit: str, integer: bool) -> Any:
    """A number back as the scenario writes it: an int, a float, or ``"<x><unit>"``."""
    if not unit:
        return int(round(value)) if integer else float(f"{value:.12g}")
    return f"{value:.12g}{unit}"


@dataclass(frozen=True)
class Variable:
    """One decision variable: its name and its values, each a set of overrides.

    Attributes:
        name: as the study names it.
        labels: each value as the study's tables show it.
        overrides: for each value, the ``PATH=JSON`` texts that set it.
        numbers: each value as a number (SI units), when the values are numbers.
        monotone: ``"decreasing"`` (a larger value never makes a constraint metric worse),
            ``"increasing"`` (never better), or ``None``.
        line: the study file's line of the variable.
    """

    name: str
    labels: tuple[str, ...]
    overrides: tuple[tuple[str, ...], ...]
    numbers: tuple[float, ...] | None
    monotone: str | None
    line: int


@dataclass(frozen=True)
class Constraint:
    """An SLO: ``metric`` at most ``limit`` (``sense`` ``"max"``) or at least (``"min"``).

    Attributes:
        metric: a :data:`METRICS` name.
        key: the run's value it reads (``ready_fraction@1200`` for a fraction by 20 min).
        sense: ``"max"`` or ``"min"``.
        limit: the bound (seconds for a time metric).
        by: for ``ready_fraction``, the deadline in seconds from the first power-on.
        text: the constraint as the study writes it, for the report.
        group: only the fleet groups whose names match this pattern (``fnmatch``:
            ``servers-*``), for the whole-fleet metrics (``fleet_pNN``,
            ``ready_fraction``); ``None``: every server.
    """

    metric: str
    key: str
    sense: str
    limit: float
    by: float | None
    text: str
    group: str | None = None


@dataclass(frozen=True)
class Factor:
    """An uncertain input of a sensitivity analysis: a field and its range."""

    name: str
    field: str
    low: float
    high: float
    unit: str
    integer: bool

    def override(self, x: float) -> str:
        """The ``--set`` text giving the field the value ``x`` (SI units)."""
        return f"{self.field}={json.dumps(_text(x, self.unit, self.integer))}"


@dataclass(frozen=True)
class Price:
    """A price the study adds to a design's cost.

    ``amount`` (or, by a variable's value, the amount of ``of``'s value) times a
    variable's number (``times``: how many). ``{item: mirrors, of: uplink, amount:
    {25Gbps: 3500, 100Gbps: 6000}, times: mirrors}`` prices each mirror by its uplink,
    times the number of mirrors.
    """

    item: str
    amount: float
    table: tuple[float, ...] = ()
    of: str | None = None
    times: str | None = None


@dataclass(frozen=True)
class Design:
    """One value of every variable.

    Attributes:
        index: its place in the full grid (row-major over the variables in order).
        choice: the index of each variable's value.
        labels: each variable's value as shown.
        overrides: the study's ``set`` and every value's overrides, in order.
        key: its name in tables (``"mirrors=2, uplink=25Gbps"``).
    """

    index: int
    choice: tuple[int, ...]
    labels: tuple[str, ...]
    overrides: tuple[str, ...]
    key: str = "as written"


@dataclass(frozen=True)
class Study:
    """A checked study (:func:`load_study`).

    Attributes:
        path: the study file.
        name: the study's name (default: the file's stem).
        question: what it asks, for the report.
        scenario: the base scenario's path (resolved against the study file).
        base: the study's ``set`` as ``--set`` texts.
        variables: the decision variables, in order.
        objective: the metric minimised.
        constraints: the SLOs.
        confidence: of every one-sided bound a decision uses.
        min_reps, max_reps: replications of a design, at least and at most.
        budget: runs at most.
        batch: designs proposed at a time by the optimiser.
        search: ``grid``, ``bisect`` or ``optuna`` (``auto`` resolved).
        seed: the optimiser's and the sensitivity sampler's seed.
        sensitivity: the sensitivity section (or ``None``).
        text: the study file's text (its fingerprint).
    """

    path: Path
    name: str
    question: str
    scenario: Path
    base: tuple[str, ...]
    variables: tuple[Variable, ...]
    objective: str
    constraints: tuple[Constraint, ...]
    confidence: float
    min_reps: int
    max_reps: int
    budget: int
    batch: int
    search: str
    seed: int
    sensitivity: dict | None
    factors: tuple[Factor, ...] = field(default=())
    text: str = ""
    prices: tuple[Price, ...] = ()

    def price(self, design: Design) -> float:
        """What the study's ``price:`` items add to the cost of ``design``."""
        if not design.choice:
            return 0.0
        total = 0.0
        names = [v.name for v in self.variables]
        for p in self.prices:
            amount = p.amount
            if p.of is not None:
                amount = p.table[design.choice[names.index(p.of)]]
            if p.times is not None:
                i = names.index(p.times)
                nums = self.variables[i].numbers
                assert nums is not None
                amount *= nums[design.choice[i]]
            total += amount
        return total

    @property
    def grid_size(self) -> int:
        """Designs in the full grid."""
        return math.prod(len(v.labels) for v in self.variables)

    def design(self, choice: tuple[int, ...]) -> Design:
        """The design choosing value ``choice[i]`` of variable ``i``."""
        index = 0
        for v, c in zip(self.variables, choice, strict=True):
            index = index * len(v.labels) + c
        labels = tuple(v.labels[c] for v, c in zip(self.variables, choice, strict=True))
        sets = list(self.base)
        for v, c in zip(self.variables, choice, strict=True):
            sets += v.overrides[c]
        key = ", ".join(f"{v.name}={x}" for v, x in zip(self.variables, labels, strict=True))
        return Design(index, tuple(choice), labels, tuple(sets), key or "as written")

    def grid(self) -> list[Design]:
        """Every design, in grid order."""
        return [self.design(c) for c in
                itertools.product(*(range(len(v.labels)) for v in self.variables))]


def _sets(mapping: dict[str, Any]) -> tuple[str, ...]:
    return tuple(f"{k}={json.dumps(v)}" for k, v in mapping.items())


_STUDY_SHAPE = ("a study file is a mapping: scenario:, variables:, objective:, "
                "constraints:, ... (scenarios/studies/*.yaml)")


def load_study(path: str | Path) -> Study:
    """Read and check a study file and its base scenario.

    Raises:
        InputError: every problem, each ``FILE:LINE: field: message``.
    """
    if Path(path).is_dir():
        raise InputError.single(str(path), 0, "", "is a directory, not a study file")
    try:
        tree, origin = read_yaml(path)
    except InputError as e:  # the reader speaks of scenarios: this is a study file
        raise InputError([replace(p, message=_STUDY_SHAPE if p.message.startswith("empty")
                                  else p.message.replace("scenario", "study"))
                          for p in e.problems]) from None
    if not isinstance(tree, dict):
        raise InputError.single(str(path), 0, "", _STUDY_SHAPE)
    if "scenario" not in tree and ("fleet" in tree or "topology" in tree):
        raise InputError.single(str(path), 0, "", "this is a scenario, not a study file: a "
                                "study names its scenario (scenario: FILE) and what to vary "
                                "(scenarios/studies/*.yaml); run a scenario with netbootsim run")
    variables = tree.get("variables")
    for var in variables.values() if isinstance(variables, dict) else ():
        if isinstance(var, dict) and isinstance(var.get("options"), dict):
            # options named by numbers (1: {...}) are named by their text
            var["options"] = {str(k): v for k, v in var["options"].items()}
    try:
        raw = _StudyFile.model_validate(tree)
    except ValidationError as e:
        raise InputError([_problem(origin, p, m) for p, m in error_problems(e, tree)]) from None
    problems: list[Problem] = []
    here = Path(path).resolve().parent
    scenario = Path(raw.scenario) if Path(raw.scenario).is_absolute() else here / raw.scenario
    variants, groups = _scenario_variants(scenario, origin, problems, _sets(raw.set))
    variables = tuple(_variable(name, v, origin, variants, problems)
                      for name, v in raw.variables.items())
    constraints = tuple(_constraint(i, c, origin, problems, groups)
                        for i, c in enumerate(raw.constraints))
    if raw.replications.max < raw.replications.min:
        problems.append(origin.problem(("replications", "max"),
                                       f"{raw.replications.max} is below min "
                                       f"({raw.replications.min})"))
    search = _search(raw, variables, origin, problems)
    prices = tuple(_price(i, p, variables, origin, problems) for i, p in enumerate(raw.price))
    factors = tuple(_factor(n, f, origin, problems)
                    for n, f in (raw.sensitivity.factors.items() if raw.sensitivity else ()))
    if raw.sensitivity is not None:
        if raw.sensitivity.metric not in METRICS:
            problems.append(origin.problem(("sensitivity", "metric"), _unknown_metric(
                raw.sensitivity.metric)))
        if not raw.sensitivity.factors:
            problems.append(origin.problem(("sensitivity", "factors"), "name at least one"))
    if problems:
        raise InputError(problems)
    text = Path(path).read_text(encoding="utf-8")
    study = Study(
        path=Path(path), name=raw.name or Path(path).stem, question=raw.question,
        scenario=scenario, base=_sets(raw.set), variables=variables,
        objective=raw.objective.minimize, constraints=constraints,
        confidence=raw.confidence, min_reps=raw.replications.min,
        max_reps=raw.replications.max, budget=raw.budget.runs, batch=raw.budget.batch,
        search=search, seed=raw.seed if raw.seed is not None else 1,
        sensitivity=raw.sensitivity.model_dump() if raw.sensitivity else None,
        factors=factors, text=text, prices=prices)
    _check_designs(study, origin)
    return study


def _model_at(path: tuple) -> type | None:
    """The study model that holds the field at ``path`` (``None`` past a free mapping)."""
    from typing import get_args, get_origin

    at: Any = _StudyFile
    for key in path[:-1]:
        while True:  # X | None: the X that is a model, a list or a dict
            args = [a for a in get_args(at) if a is not type(None)]
            if get_origin(at) in (list, dict) or not args:
                break
            at = next((a for a in args if get_origin(a) in (list, dict) or
                       (isinstance(a, type) and issubclass(a, Section))), args[0])
        if get_origin(at) in (list, dict):
            at = get_args(at)[-1]  # an entry: its index or key is the step
        elif isinstance(at, type) and issubclass(at, Section):
            info = next((f for n, f in at.model_fields.items() if (f.alias or n) == key), None)
            if info is None:
                return None
            at = info.annotation
        else:
            return None
    while get_args(at) and get_origin(at) not in (list, dict):
        at = next((a for a in get_args(at) if isinstance(a, type) and issubclass(a, Section)),
                  None)
    return at if isinstance(at, type) and issubclass(at, Section) else None


def _problem(origin: Origin, path: tuple, message: str) -> Problem:
    """A schema problem; an unknown field's names what the study file allows there.

    (The scenario's messages name the scenario's own fields, from its schema.)
    """
    if message.startswith("unknown field"):
        model = _model_at(path)
        if model is not None:
            names = [f.alias or n for n, f in model.model_fields.items()]
            message = (f"unknown field {path[-1]!r}{suggest(str(path[-1]), names)}; "
                       f"expected one of: {', '.join(names)}")
    return origin.problem(path, message)


def _scenario_variants(scenario: Path, origin: Origin, problems: list[Problem],
                       base: tuple[str, ...]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The base scenario's variants and fleet groups (with the study's ``set``).

    Loaded here, so that its own problems are found now (raised as they are).
    """
    from ..scenario import load_scenario

    if not scenario.is_file():
        problems.append(origin.problem(("scenario",), f"{scenario}: no such file"))
        return {}, []
    try:
        sc = load_scenario(scenario, overrides=base)
    except InputError as e:
        if not any(p.file.startswith("--set ") for p in e.problems):
            raise  # the scenario's own problems, at its own lines
        where, line = origin.locate(("set",))
        raise InputError([Problem(where, line, "set", f"makes the scenario invalid: {p}")
                          for p in e.problems][:20]) from None
    return dict(sc.variants), [g.name for g in sc.fleet]


def _variable(name: str, v: _Variable, origin: Origin, variants: dict[str, dict[str, Any]],
              problems: list[Problem]) -> Variable:
    at = ("variables", name)
    line = origin.locate(at)[1]
    given = [k for k in ("values", "range", "options", "variants") if getattr(v, k) is not None]
    bad = Variable(name, ("?",), ((),), None, None, line)
    if len(given) != 1:
        problems.append(origin.problem(at, "give exactly one of values, range, options, "
                                       f"variants (given: {', '.join(given) or 'none'})"))
        return bad
    kind = given[0]
    if kind in ("values", "range") and not v.field:
        problems.append(origin.problem(at, f"{kind} needs field: the scenario path it sets"))
        return bad
    if kind in ("options", "variants") and v.field:
        problems.append(origin.problem((*at, "field"), f"{kind} set their own fields: "
                                       "no field here"))
        return bad
    numbers: tuple[float, ...] | None = None
    if kind == "values":
        values = list(v.values or [])
        if not values:
            problems.append(origin.problem((*at, "values"), "empty: give at least one value"))
            return bad
        labels = tuple(json.dumps(x) if isinstance(x, bool) else str(x) for x in values)
        sets = tuple((f"{v.field}={json.dumps(x)}",) for x in values)
        q = [quantity(x) for x in values]
        if all(x is not None for x in q) and len({u for _, u in q}) == 1:
            numbers = tuple(x for x, _ in q)
    elif kind == "range":
        got = _range(v, at, origin, problems)
        if got is None:
            return bad
        labels, sets, numbers = got
    elif kind == "options":
        opts = v.options or {}
        if not opts:
            problems.append(origin.problem((*at, "options"), "empty: give at least one option"))
            return bad
        labels = tuple(opts)
        sets = tuple(_sets(o) for o in opts.values())
        numbers = _numbered(labels)
    else:
        names = list(v.variants or [])
        if not names:
            problems.append(origin.problem((*at, "variants"), "empty: name at least one"))
            return bad
        unknown = [n for n in names if n not in variants]
        if unknown:
            problems.append(origin.problem((*at, "variants"), f"{unknown[0]!r} is not a "
                                           f"variant of the scenario (it has: "
                                           f"{', '.join(variants) or 'none'})"))
            return bad
        labels = tuple(names)
        sets = tuple(_sets(variants[n]) for n in names)
    if len(set(labels)) != len(labels):
        problems.append(origin.problem(at, "a value is given twice"))
        return bad
    if v.monotone is not None:
        if numbers is None:
            problems.append(origin.problem((*at, "monotone"), f"these {kind} have no order: "
                                           "monotone needs numbers (values, a range, or "
                                           "options named by numbers)"))
            return bad
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            problems.append(origin.problem((*at, "monotone"), "the values must rise in the "
                                           "order written for a monotone variable"))
            return bad
    return Variable(name, labels, sets, numbers, v.monotone, line)


def _numbered(labels: tuple[str, ...]) -> tuple[float, ...] | None:
    """Options named by numbers (``"1"``, ``"2"``, ``"4"``: mirrors) as those numbers."""
    try:
        out = tuple(float(x) for x in labels)
    except ValueError:
        return None
    return out if all(math.isfinite(x) for x in out) else None


def _range(v: _Variable, at: tuple, origin: Origin, problems: list[Problem]):
    r = v.range
    assert r is not None
    parts = [quantity(x) for x in (r.from_, r.to, r.step)]
    if any(p is None for p in parts) or len({u for _, u in parts}) != 1:
        problems.append(origin.problem((*at, "range"), "from, to and step: numbers, or "
                                       "quantities of one kind (60s, 10Gbps, 64MiB)"))
        return None
    (lo, unit), (hi, _), (step, _) = parts
    if step <= 0 or hi < lo:
        problems.append(origin.problem((*at, "range"), f"empty range: from {r.from_} to "
                                       f"{r.to} by {r.step}"))
        return None
    span = (hi - lo) / step
    if not math.isfinite(span) or span > 10_000:
        problems.append(origin.problem((*at, "range"), "more than 10,000 values: at most "
                                       "10,000"))
        return None
    count = int(math.floor(span * (1 + 1e-12))) + 1
    if count > 10_000:
        problems.append(origin.problem((*at, "range"), f"{count:,} values: at most 10,000"))
        return None
    integer = not unit and all(isinstance(x, int) for x in (r.from_, r.to, r.step))
    numbers = tuple(lo + k * step for k in range(count))
    written, scale = _written_unit(r.from_, unit)
    texts = [_text(x / scale, written, integer) for x in numbers]
    return (tuple(str(t) for t in texts), tuple((f"{v.field}={json.dumps(t)}",) for t in texts),
            numbers)


def _unknown_metric(metric: str) -> str:
    return f"unknown metric {metric!r}; known: {', '.join(METRICS)}"


def _constraint(i: int, c: _Constraint, origin: Origin, problems: list[Problem],
                groups: list[str]) -> Constraint:
    at = ("constraints", i)
    bad = Constraint(c.metric, c.metric, "max", math.inf, None, "")
    if c.metric not in METRICS:
        problems.append(origin.problem((*at, "metric"), _unknown_metric(c.metric)))
        return bad
    if (c.max is None) == (c.min is None):
        problems.append(origin.problem(at, "give one of max or min"))
        return bad
    sense = "max" if c.max is not None else "min"
    raw = c.max if c.max is not None else c.min
    assert raw is not None
    q = quantity(raw)
    if q is None or (c.metric in TIME_METRICS) != (q[1] == "s"):
        want = "a time (30min)" if c.metric in TIME_METRICS else "a number"
        problems.append(origin.problem((*at, sense), f"{raw!r}: {c.metric} is bounded by {want}"))
        return bad
    if q[0] < 0:
        problems.append(origin.problem((*at, sense), f"{raw!r}: a bound of {c.metric} is "
                                       "not negative"))
        return bad
    by = None
    if c.metric == "ready_fraction":
        qb = quantity(c.by) if c.by is not None else None
        if qb is None or qb[1] != "s":
            problems.append(origin.problem((*at, "by"), "ready_fraction needs by: a deadline "
                                           "(20min) from the first power-on"))
            return bad
        by = qb[0]
        if by < 0:
            problems.append(origin.problem((*at, "by"), f"{c.by!r}: a deadline after the "
                                           "first power-on is not negative"))
            return bad
        if not 0 <= q[0] <= 1:
            problems.append(origin.problem((*at, sense), "a fraction is within [0, 1]"))
            return bad
    elif c.by is not None:
        problems.append(origin.problem((*at, "by"), "only ready_fraction has a deadline"))
        return bad
    key = f"ready_fraction@{by:g}" if by is not None else c.metric
    if c.group is not None:
        if c.metric not in GROUP_METRICS:
            problems.append(origin.problem((*at, "group"), f"{c.metric} is of the whole "
                                           f"run; a group's own: {', '.join(GROUP_METRICS)}"))
            return bad
        if not fnmatch.filter(groups, c.group):
            problems.append(origin.problem((*at, "group"), f"{c.group!r} matches no fleet "
                                           f"group of the scenario ({', '.join(groups[:6])}"
                                           f"{', ...' if len(groups) > 6 else ''})"))
            return bad
        key += f"[{c.group}]"
    if c.metric in _MORE_IS_BETTER and sense == "max" or \
            c.metric not in _MORE_IS_BETTER and sense == "min":
        problems.append(origin.problem((*at, sense), f"{c.metric}: "
                                       f"{'more' if c.metric in _MORE_IS_BETTER else 'less'} "
                                       f"is better; bound it with "
                                       f"{'min' if sense == 'max' else 'max'}"))
        return bad
    text = f"{c.metric}{f' of {c.group}' if c.group else ''}" \
           f"{f' by {c.by}' if c.by is not None else ''} {'≤' if sense == 'max' else '≥'} {raw}"
    return Constraint(c.metric, key, sense, q[0], by, text, c.group)


def _search(raw: _StudyFile, variables: tuple[Variable, ...], origin: Origin,
            problems: list[Problem]) -> str:
    monotone = [v for v in variables if v.monotone]
    size = math.prod(len(v.labels) for v in variables)
    if raw.search == "bisect":
        if len(monotone) != 1:
            problems.append(origin.problem(("search",), "bisect needs exactly one variable "
                                           "declared monotone (the others are enumerated)"))
        if not raw.constraints:
            problems.append(origin.problem(("search",), "bisect needs a constraint to meet"))
        return "bisect"
    if raw.search == "grid":
        if size * raw.replications.min > raw.budget.runs:
            problems.append(origin.problem(("budget", "runs"), f"{raw.budget.runs}: the grid "
                                           f"of {size:,} designs needs at least "
                                           f"{size * raw.replications.min:,} runs "
                                           f"({raw.replications.min} each)"))
        return "grid"
    if raw.search == "optuna":
        return "optuna"
    if len(monotone) == 1 and raw.constraints:
        return "bisect"
    if size * raw.replications.min <= raw.budget.runs:
        return "grid"
    return "optuna"


def _price(i: int, p: _Price, variables: tuple[Variable, ...], origin: Origin,
           problems: list[Problem]) -> Price:
    at = ("price", i)
    by = {v.name: v for v in variables}
    bad = Price(p.item, 0.0)
    for key in ("of", "times"):
        name = getattr(p, key)
        if name is not None and name not in by:
            problems.append(origin.problem((*at, key), f"{name!r} is not a variable "
                                           f"(variables: {', '.join(by) or 'none'})"))
            return bad
    if p.times is not None and by[p.times].numbers is None:
        problems.append(origin.problem((*at, "times"), f"{p.times!r} has no numbers to "
                                       "multiply by"))
        return bad
    if isinstance(p.amount, dict):
        if p.of is None:
            problems.append(origin.problem((*at, "amount"), "amounts by value need of: the "
                                           "variable whose values they price"))
            return bad
        labels = by[p.of].labels
        missing = [x for x in labels if x not in p.amount]
        extra = [x for x in p.amount if x not in labels]
        if missing or extra:
            problems.append(origin.problem((*at, "amount"), f"one amount per value of "
                                           f"{p.of} ({', '.join(labels)}); "
                                           + (f"missing {missing[0]!r}" if missing else
                                              f"{extra[0]!r} is not one")))
            return bad
        return Price(p.item, 0.0, tuple(float(p.amount[x]) for x in labels), p.of, p.times)
    if p.of is not None:
        problems.append(origin.problem((*at, "of"), "of goes with amounts by value"))
        return bad
    return Price(p.item, float(p.amount), (), None, p.times)


def _factor(name: str, f: _Factor, origin: Origin, problems: list[Problem]) -> Factor:
    at = ("sensitivity", "factors", name)
    lo, hi = quantity(f.low), quantity(f.high)
    if lo is None or hi is None or lo[1] != hi[1]:
        problems.append(origin.problem(at, "low and high: numbers, or quantities of one kind"))
        return Factor(name, f.field, 0.0, 1.0, "", False)
    if not hi[0] > lo[0]:
        problems.append(origin.problem((*at, "high"), f"{f.high!r} is not above low "
                                       f"({f.low!r}): an empty range"))
    integer = not lo[1] and isinstance(f.low, int) and isinstance(f.high, int)
    return Factor(name, f.field, lo[0], hi[0], lo[1], integer)


def _check_designs(study: Study, origin: Origin) -> None:
    """Every value of every variable (and every factor's bounds) must make a valid scenario.

    Each value is checked on its own (with the others at their first value): a grid of
    thousands of designs is not loaded design by design.
    """
    from ..scenario import load_scenario

    checks: list[tuple[tuple, list[str]]] = []
    first = tuple(0 for _ in study.variables)
    for i, v in enumerate(study.variables):
        for c in range(len(v.labels)):
            choice = first[:i] + (c,) + first[i + 1:]
            checks.append((("variables", v.name), list(study.design(choice).overrides)))
    if not study.variables:
        checks.append((("set",), list(study.base)))
    for f in study.factors:
        for x in (f.low, f.high):
            checks.append((("sensitivity", "factors", f.name),
                           [*study.base, f.override(x)]))
    problems: list[Problem] = []
    seen: set[tuple[str, ...]] = set()
    for at, sets in checks:
        if tuple(sets) in seen:
            continue
        seen.add(tuple(sets))
        try:
            load_scenario(study.scenario, overrides=sets)
        except InputError as e:
            where, line = origin.locate(at)
            for p in e.problems:
                problems.append(Problem(where, line, ".".join(str(a) for a in at),
                                        f"makes the scenario invalid: {p}"))
    if problems:
        raise InputError(problems[:20])
