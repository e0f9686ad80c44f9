"""Load → override → validate: the one path every scenario takes, from a file or a dict.

Stages: read YAML with line numbers (:mod:`.source`), apply ``--set`` overrides
(:mod:`.overrides`), validate the schema with defaults (:mod:`.schema`), check
cross-references (:mod:`.checks`), the embedded iPXE scripts (:mod:`.script_checks`)
and the provisioning APIs' inventories and templates (:mod:`.api_checks`), and what
only a built topology shows (:mod:`.build`). Every problem of every stage that could
run is reported together; what is suspect but may work (a lint warning) is kept in
:attr:`Scenario.warnings`. A scenario that validates runs: nothing refuses it later.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import PrivateAttr, ValidationError

from .. import memguard
from ..errors import InputError, Problem
from ..topology import Topology
from .api_checks import api_checks, scenario_dir
from .checks import split_parts, static_checks
from .each_site import expand_sites
from .event_checks import event_checks
from .messages import error_problems
from .overrides import apply_overrides
from .place import (
    allocate,
    build_topology,
    cost_target_checks,
    fault_target_checks,
    san_target_checks,
)
from .plausible import plausibility_warnings
from .schema import EMPIRICAL_BASE, ScenarioModel
from .script_checks import lint_scripts
from .source import Origin, read_yaml, to_plain

__all__ = ["Scenario", "load_scenario"]

_SECTIONS = "topology, services, images, fleet, faults, events, run, costs, variants"


class Scenario(ScenarioModel):
    """A validated scenario: sections with defaults filled, quantities in SI units.

    Make one with :func:`load_scenario` (a file) or :meth:`Scenario.from_dict`; both
    take ``--set``-style overrides and run the same checks. Build it with
    :func:`netbootsim.scenario.build`.
    """

    _origin: Origin = PrivateAttr(default_factory=lambda: Origin("<dict>"))
    _name: str = PrivateAttr(default="scenario")
    _warnings: list[Problem] = PrivateAttr(default_factory=list)
    #: the topology validation built and its servers' placement, for the first build
    _placed: tuple[Topology, list[tuple[str, str]]] | None = PrivateAttr(default=None)

    def take_placed(self) -> tuple[Topology, list[tuple[str, str]]] | None:
        """The topology and placement validation made (once: later builds make their own).

        A 100,000-server topology takes seconds to build and check; the first
        :func:`~netbootsim.scenario.build` after loading uses the one the checks
        built instead of building it again.
        """
        placed, self._placed = self._placed, None
        return placed

    @property
    def name(self) -> str:
        """The scenario's name: the file stem, or the name given to :meth:`from_dict`."""
        return self._name

    @property
    def origin(self) -> Origin:
        """Where each field came from (file lines, ``--set`` flags)."""
        return self._origin

    @property
    def warnings(self) -> list[Problem]:
        """What validation found suspect but not wrong.

        Lint warnings of its scripts, quantities outside their plausible range
        (:mod:`.plausible`).

        Each prints as ``FILE:LINE: field: warning: message``; the commands that load
        a scenario print them on stderr and the report lists them; they change the
        exit status only under ``--strict``.
        """
        return self._warnings

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>",
                  name: str | None = None, overrides: Sequence[str] = ()) -> Scenario:
        """Validate a scenario given as plain data (sections as in the YAML form).

        Args:
            data: ``{"topology": {...}, "fleet": [...], ...}``, quantities as text
                (``"25Gbps"``). Not modified.
            source: what problems are reported against.
            name: the scenario name; default the stem of ``source`` (``"scenario"``
                for ``"<dict>"``).
            overrides: ``"path=value"`` texts applied first, as ``--set`` does.

        Raises:
            InputError: every problem found.
        """
        tree = to_plain(copy.deepcopy(data))
        return validate_tree(tree, Origin(source, {}), overrides=overrides,
                             name=name or _stem(source))


def _stem(source: str) -> str:
    return "scenario" if source.startswith("<") else Path(source).stem


def load_scenario(path: str | Path, overrides: Sequence[str] = (),
                  name: str | None = None, *, strict: bool = False,
                  max_memory: float | None = None, variants: bool = False) -> Scenario:
    """Read, override and validate a scenario file.

    Args:
        path: the YAML file.
        overrides: ``"path=value"`` texts, as given to ``--set``.
        name: the scenario's name (default: the file's stem).
        strict: refuse the warnings too (``--strict``).
        max_memory: the memory limit, bytes (``--max-memory``); see :func:`validate_tree`.
        variants: validate each of its ``variants:`` too (``validate`` and ``compare``,
            which runs them; a run of the scenario itself does not).

    Returns:
        The validated scenario.

    Raises:
        InputError: every problem, each as ``FILE:LINE: field: message``.
    """
    tree, origin = read_yaml(path)
    pristine = copy.deepcopy(tree) if variants and isinstance(tree, dict) and \
        tree.get("variants") else None
    sc = validate_tree(tree, origin, overrides=overrides, name=name or _stem(str(path)),
                       strict=strict, max_memory=max_memory)
    if pristine is not None:
        _check_variants(pristine, origin, sc, overrides, strict, max_memory)
    return sc


def _check_variants(tree: dict, origin: Origin, sc: Scenario, overrides: Sequence[str],
                    strict: bool, max_memory: float | None) -> None:
    """Validate each of the scenario's variants (its changes over ``overrides``).

    ``netbootsim compare`` runs them one by one; a variant that names a field that does
    not exist, or gives a value that does not do, is refused here, with the line of the
    variant in the file, before anything runs.
    """
    problems: list[Problem] = []
    for vname, changes in sc.variants.items():
        sets = [*overrides, *(f"{k}={json.dumps(v)}" for k, v in changes.items())]
        try:
            validate_tree(copy.deepcopy(tree), origin, overrides=sets, name=vname,
                          strict=strict, max_memory=max_memory)
        except InputError as e:
            for p in e.problems:
                if p.file == origin.file:  # a field of the file the variant made wrong
                    problems.append(Problem(p.file, p.line, p.field,
                                            f"in variant {vname!r}: {p.message}"))
                else:  # the variant's own change (an override text)
                    key = next((k for k in changes if p.field and p.field.startswith(k)),
                               None)
                    at = origin.problem(("variants", vname, key) if key else
                                        ("variants", vname), "")
                    rest = p.field[len(key):] if key else ""  # (".seed" of "run" ...)
                    problems.append(Problem(origin.file, at.line,
                                            f"variants.{vname}" + (f".{key}{rest}" if key
                                                                   else ""),
                                            p.message))
    if problems:
        raise InputError(problems)


def _counts(parts) -> tuple[int, int]:
    """``(servers the valid groups boot, elements the topology declares)``.

    The topology's elements are its servers, switches (ToRs, spines), the ToR-spine
    links of a leaf-spine, and its explicit hosts, nodes and links: what building it
    allocates, counted before it is built.
    """
    fleet = sum(g.count for _, g in parts.fleet)
    t = parts.topology
    if t is None:
        return fleet, 0
    racks, spines = t.racks or 0, t.spines or 0
    topo = (racks * (t.servers_per_rack or 0) + (t.servers or 0) + racks + spines
            + racks * spines + len(t.hosts) + len(t.nodes) + len(t.links))
    return fleet, topo


def _largest(parts) -> tuple:
    """The field that asks for the most: a fleet group's count, or the topology's size."""
    fleet, topo = _counts(parts)
    t = parts.topology
    if t is not None and (topo > fleet * 10 or not parts.fleet):
        sizes = {"servers": t.servers or 0, "racks": (t.racks or 0) * (t.servers_per_rack or 0),
                 "spines": (t.spines or 0) * (t.racks or 0)}
        return ("topology", max(sizes, key=lambda k: sizes[k]))
    i, _ = max(parts.fleet, key=lambda ig: ig[1].count)
    return ("fleet", i, "count")


def _too_large(parts, max_memory: float | None) -> str | None:
    """Why the run would not fit in memory (:mod:`netbootsim.memguard`), or ``None``."""
    fleet, topo = _counts(parts)
    engine = parts.run.engine if parts.run is not None else "flow"
    return memguard.check(fleet, engine, max_memory, nodes=topo)


def validate_tree(tree: Any, origin: Origin, *, overrides: Sequence[str] = (),
                  name: str = "scenario", strict: bool = False,
                  max_memory: float | None = None) -> Scenario:
    """Override and validate plain scenario data (the stages after reading).

    ``strict``: warnings (implausible magnitudes, script lint warnings) are errors.
    ``max_memory``: the memory limit, bytes (``--max-memory``; ``None``: what this
    process may use, :func:`netbootsim.memguard.available`); a fleet whose estimated
    peak does not fit is refused before anything is built for it.

    Raises:
        InputError: every problem found.
    """
    token = EMPIRICAL_BASE.set(scenario_dir(origin))  # empirical distributions' files
    try:
        return _validate(tree, origin, overrides=overrides, name=name, strict=strict,
                         max_memory=max_memory)
    finally:
        EMPIRICAL_BASE.reset(token)


def _validate(tree: Any, origin: Origin, *, overrides: Sequence[str], name: str,
              strict: bool, max_memory: float | None) -> Scenario:
    if not isinstance(tree, dict):
        got = type(tree).__name__ if tree is not None else "nothing"
        raise InputError.single(origin.file, 1 if origin.lines else 0, "",
                                f"the top level must be a mapping of sections "
                                f"({_SECTIONS}), got {got}")
    problems = apply_overrides(tree, overrides, origin)
    issues: list[tuple[tuple, str]] = expand_sites(tree, origin)
    model: Scenario | None
    try:
        model = Scenario.model_validate(tree)
    except ValidationError as e:
        model = None
        issues += error_problems(e, tree)
    parts = split_parts(tree, model)
    if (why := _too_large(parts, max_memory)) is not None:
        # before anything is built for its servers: a fleet of 10**9 is refused here
        issues.append((_largest(parts), why))
        raise InputError([*problems, *(origin.problem(p, m) for p, m in issues)])
    issues += static_checks(parts)
    placed = None
    if parts.topology is not None and not any(p[:1] == ("topology",) for p, _ in issues):
        topo, more = build_topology(parts.topology)
        issues += more
        if topo is not None:
            servers, more = allocate(topo, parts.fleet)
            issues += more
            issues += fault_target_checks(topo, parts.faults, frozenset(
                g.name for _, g in parts.group_refs if g.name is not None))
            issues += cost_target_checks(topo, parts.costs, set(parts.service_kinds))
            issues += san_target_checks(topo, servers, parts.fleet, parts.services or {})
            issues += event_checks(parts, servers)
            placed = topo, servers
    problems += [origin.problem(p, m) for p, m in issues]
    api_errors, api_warnings = api_checks(parts, origin)
    problems += api_errors
    errors, warnings = lint_scripts(parts, origin)
    problems += errors
    warnings += api_warnings
    if model is not None:
        warnings += plausibility_warnings(model, origin)
    if strict:
        problems += warnings
    if problems or model is None:
        raise InputError(problems)
    if model.run.out is None:
        model = model.model_copy(update={
            "run": model.run.model_copy(update={"out": f"results/{name}"})})
    model._origin = origin
    model._name = name
    model._warnings = sorted(set(warnings))
    model._placed = placed
    return model
