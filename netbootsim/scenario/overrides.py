"""``--set a.b.c=VALUE``: override any scenario field before validation.

The path is checked against the schema: every step must name a section or field the
schema has (a field with a default may be absent from the file and is then created),
an entry of a mapping such as ``services``/``images``/``tune`` (a new entry is created
when it is set whole, ``services.tftp2={kind: tftp, host: boot1}``, or when the mapping
holds plain values, ``fleet[0].tune.tftp_block_delay=2ms``), or an existing list index,
written ``fleet[0].count`` or ``fleet.0.count``. The value is a YAML scalar or flow value
(``5``, ``25Gbps``, ``[kernel, initrd]``, ``{bandwidth: 10Gbps}``). The replaced field
is then reported with the origin ``--set <text>`` instead of a file line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ruamel.yaml.error import YAMLError

from ..errors import Problem
from ..yamltext import safe_yaml
from .messages import suggest
from .schema import ScenarioModel, slot
from .source import Origin, format_path, to_plain

__all__ = ["parse_override_path", "apply_overrides"]

_STEP = re.compile(r"(?:^|\.)([^.\[\]=]+)|\[(\d+)\]")


def parse_override_path(text: str) -> list[str | int] | None:
    """``"fleet[0].count"`` as ``["fleet", 0, "count"]``; ``None`` if malformed.

    Digits written as a dotted step (``fleet.0``) stay text here; they become an index
    where the schema has a list.
    """
    steps: list[str | int] = []
    pos = 0
    for m in _STEP.finditer(text):
        if m.start() != pos:
            return None
        steps.append(m.group(1).strip() if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if pos != len(text) or not steps or any(s == "" for s in steps):
        return None
    return steps


def _walk(tree: dict, steps: list[str | int]) -> tuple[tuple, str | None]:
    """Check ``steps`` against the schema and the tree: ``(path, error or None)``."""
    what, target = "model", ScenarioModel
    node: Any = tree
    path: tuple = ()
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        here = format_path(path) or "the scenario"
        expect = list if what == "list" else dict
        if node is not None and what != "leaf" and not isinstance(node, expect):
            return path, (f"cannot set inside {here}: it is {node!r} in the file, not a "
                          f"{'list' if expect is list else 'mapping'}")
        if what in ("model", "models"):
            fields = (list(target.model_fields) if what == "model"
                      else sorted({f for m in target for f in m.model_fields}))
            if step not in fields:
                return (*path, step), (f"unknown field {step!r}{suggest(step, fields)}; "
                                       f"expected one of: {', '.join(fields)}")
            child = node.get(step) if isinstance(node, dict) else None
            if what == "models":
                target = next(m for m in target if step in m.model_fields)
            what, target = slot(target.model_fields[step].annotation, child)
            key: Any = step
        elif what == "list":
            index = step if isinstance(step, int) else int(step) if step.isdigit() else None
            if index is None:
                return path, f"{here} is a list; give an index, e.g. {here}[0]"
            size = len(node) if isinstance(node, list) else 0
            if index >= size:
                return (*path, index), f"index {index} out of range: {here} has {size} entries"
            key, child = index, node[index]
            what, target = slot(target, child)
        elif what == "dict":
            names = sorted(map(str, node)) if isinstance(node, dict) else []
            if isinstance(node, dict) and step in node:
                key, child = step, node[step]
            elif last or slot(target, None)[0] == "leaf":
                # a new entry: set whole (services.tftp2={...}), or a value of a mapping
                # of values (fleet[0].tune.tftp_block_delay=2ms); validation checks it
                key, child = step, None
            else:
                return (*path, step), (f"no entry {step!r} in {here}{suggest(step, names)}; "
                                       f"entries: {', '.join(names) or 'none'} (to add one, "
                                       f"set it whole: {format_path((*path, step))}={{...}})")
            what, target = slot(target, child)
        else:
            return path, f"{here} is a value, not a section; it has no field {step!r}"
        path = (*path, key)
        node = child
    return path, None


def _set(tree: dict, path: tuple, value: Any) -> None:
    """Set ``value`` at ``path``; a section that is absent or not a container becomes ``{}``.

    ``_walk`` has checked every step, so list indices are in range; an entry that is
    not a mapping (e.g. ``fleet: [null]``) is replaced, and validation reports what the
    entry still lacks.
    """
    node: Any = tree
    for key in path[:-1]:
        if not isinstance(node[key] if isinstance(node, list) else node.get(key),
                          dict | list):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def apply_overrides(tree: dict, overrides: Sequence[str], origin: Origin) -> list[Problem]:
    """Apply ``--set`` overrides to ``tree`` in order, recording them in ``origin``.

    Args:
        tree: plain scenario data (a mapping), changed in place.
        overrides: ``"path=value"`` texts, as given after ``--set``.
        origin: where fields came from; overridden paths are marked ``--set <text>``.

    Returns:
        One problem per override that could not be applied (the others are applied).
    """
    problems = []
    for text in overrides:
        where = f"--set {text}"
        key, eq, raw = str(text).partition("=")
        steps = parse_override_path(key.strip())
        if not eq:
            problems.append(Problem(where, 0, "", "expected KEY=VALUE, e.g. run.seed=7"))
            continue
        if steps is None:
            problems.append(Problem(where, 0, "", f"malformed field path {key.strip()!r}; "
                                    "write e.g. fleet[0].count or run.seed"))
            continue
        try:
            value = to_plain(safe_yaml("safe", pure=True).load(raw))
        except YAMLError as e:
            problem = getattr(e, "problem", None) or e
            problems.append(Problem(where, 0, key.strip(), f"value {raw!r} is not a YAML "
                                    f"value: {problem}"))
            continue
        path, error = _walk(tree, steps)
        if error:
            problems.append(Problem(where, 0, format_path(path), error))
            continue
        _set(tree, path, value)
        origin.replace(path, where)
    return problems
