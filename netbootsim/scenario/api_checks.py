"""Provisioning APIs checked before the run: their inventory and their Jinja2 templates.

An API with ``templates`` or an ``inventory`` answers each machine by rendering a
template in Jinja2's sandbox with ``StrictUndefined`` (:mod:`netbootsim.services.provisioning`).
What would make every render fail is known before the run, and is an error here:

* the inventory cannot be read, or is not a list of rows;
* an inventory without templates;
* a template with a syntax error;
* a template that names an attribute starting with ``_`` (the sandbox refuses it);
* a template that uses a name no row it is rendered with defines, nor the machine's
  identity (:data:`~netbootsim.services.provisioning.IDENTITY`), nor Jinja2. A role's template
  is rendered with the rows of that role, ``"*"`` with the rows whose role has no
  template of its own, ``unknown`` with none (machines the inventory does not know).

Each problem is located at the file line of the template line.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import Problem
from ..services.provisioning import (
    IDENTITY,
    Inventory,
    load_inventory,
    template_problems,
    undeclared_names,
)
from .script_checks import located
from .source import Origin

__all__ = ["api_checks", "scenario_dir"]


def scenario_dir(origin: Origin) -> Path | None:
    """The directory relative paths of the scenario are read from (None: the cwd)."""
    return None if origin.file.startswith("<") else Path(origin.file).resolve().parent


def _rows_for(role: str | None, templates: dict, inventory: Inventory
              ) -> list[dict[str, str]] | None:
    """The rows a role's template (None: ``unknown``) renders with; None: never used."""
    if role is None:
        return []
    if role == "*":
        rows = [r for r in inventory.rows if r.get("role", "") not in templates]
    else:
        rows = [r for r in inventory.rows if r.get("role", "") == role]
    return rows or None


def _who(role: str | None) -> str:
    if role is None:
        return "machines the inventory does not know get no row"
    if role == "*":
        return "no inventory row of a role without its own template has it"
    return f"no inventory row of role {role!r} has it"


def api_checks(parts, origin: Origin) -> list[Problem]:
    """Every API's inventory and templates, as located problems."""
    problems: list[Problem] = []
    for name, svc in parts.services.items():
        if getattr(svc, "kind", "") != "api" or not (svc.templates or
                                                       svc.inventory is not None):
            continue
        p = ("services", name)
        try:
            inventory = load_inventory(svc.inventory, scenario_dir(origin))
        except ValueError as e:
            problems.append(origin.problem((*p, "inventory"), str(e)))
            inventory = None
        if not svc.templates:
            problems.append(origin.problem((*p, "templates"), "an inventory needs templates: "
                                           "a Jinja2 script per role ('*' for any role)"))
        texts: list[tuple[str | None, tuple, str]] = [
            (role, (*p, "templates", role), text) for role, text in svc.templates.items()]
        if svc.unknown is not None:
            texts.append((None, (*p, "unknown"), svc.unknown))
        for role, path, text in texts:
            found = template_problems(text)
            problems += [located(origin, path, line, f"template line {line}: {message}")
                         for line, message in found]
            rows = None if inventory is None else _rows_for(role, svc.templates, inventory)
            if found or rows is None:
                continue
            columns = {c for r in rows for c in r}
            for var, line in undeclared_names(text):
                if var not in columns and var not in IDENTITY:
                    problems.append(located(
                        origin, path, line,
                        f"template line {line}: {var!r} is undefined: {_who(role)}, and it is "
                        f"not the machine's ({', '.join(IDENTITY)}) nor Jinja2's (every "
                        "render would fail)"))
    return problems
