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
  template of its own, ``unknown`` with none (machines the inventory does not know);
* a template whose rendered script the iPXE linter refuses (an unknown command, a bad
  option): each template is rendered with each of its rows (their distinct scripts, up
  to :data:`LINT_RENDERS`) and every error is reported once, naming the row.

Each problem is located at the file line of the template line (a rendered script's at
the template's first line: its lines need not be the template's).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import Problem
from ..ipxe.lint import check_text
from ..services.provisioning import (
    IDENTITY,
    Inventory,
    compile_template,
    load_inventory,
    template_problems,
    undeclared_names,
)
from .script_checks import located
from .source import Origin, format_path

__all__ = ["api_checks", "scenario_dir", "LINT_RENDERS"]

#: Distinct rendered scripts of one template linted at most (an inventory's rows of one
#: role mostly render a handful: they differ in the values, not in the commands).
LINT_RENDERS = 200
#: Rows of one template rendered at most for that (an inventory of alike rows).
LINT_ROWS = 10_000
#: The machine's identity where a row does not give it (the run passes the machine's).
_MACHINE = {"mac": "52:54:00:00:00:01", "serial": "SERIAL", "asset": "ASSET",
            "uuid": "00000000-0000-0000-0000-000000000001", "server": "server",
            "group": "group"}


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


def _rendered_problems(origin: Origin, path: tuple, text: str, role: str | None,
                       rows: list[dict[str, str]]) -> tuple[list[Problem], list[Problem]]:
    """The iPXE linter's errors in a template's rendered scripts, each once.

    ``(errors, warnings)``: an error where the row alone decides the script; a warning
    where the template also reads what only the booting machine gives (its ``server``,
    ``group``, or an identity its row lacks), which the check fills with placeholders,
    so that a branch it lints may be one no machine takes.
    """
    template = compile_template(text)
    used = {name for name, _ in undeclared_names(text)}
    seen: set[str] = set()
    found: dict[tuple[int, str], tuple[str, bool]] = {}
    for row in (rows or [{}])[:LINT_ROWS]:
        ctx = {**_MACHINE, **row, "role": "unknown" if role is None else row.get("role", "")}
        try:
            script = template.render(ctx)
        except Exception:  # a value's own error (1 // 0): the run reports it per machine
            continue
        if script in seen:
            continue
        seen.add(script)
        if len(seen) > LINT_RENDERS:
            break
        who = next((f"{k} {row[k]}" for k in ("serial", "mac", "asset", "uuid", "server")
                    if row.get(k)), "a machine the inventory does not know")
        guessed = bool(used & ({"server", "group"} | {k for k in _MACHINE if not row.get(k)}))
        for f in check_text(script, format_path(path), "all"):
            if f.severity == "error":
                found.setdefault((f.line, f.message), (who, guessed))
    errors, warnings = [], []
    for (line, message), (who, guessed) in found.items():
        if guessed:
            warnings.append(located(origin, path, 0, (
                f"warning: rendered for {who}, the machine's own values as placeholders: "
                f"script line {line}: {message}")))
        else:
            errors.append(located(origin, path, 0,
                                  f"rendered for {who}: script line {line}: {message}"))
    return errors, warnings


def _who(role: str | None) -> str:
    if role is None:
        return "machines the inventory does not know get no row"
    if role == "*":
        return "no inventory row of a role without its own template has it"
    return f"no inventory row of role {role!r} has it"


def api_checks(parts, origin: Origin) -> tuple[list[Problem], list[Problem]]:
    """Every API's inventory and templates: ``(errors, warnings)``, located problems."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
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
            if found:
                continue
            errors, more = _rendered_problems(origin, path, text, role, rows or [])
            problems += errors
            warnings += more
            if rows is None:
                continue
            columns = {c for r in rows for c in r}
            for var, line in undeclared_names(text):
                if var not in columns and var not in IDENTITY:
                    problems.append(located(
                        origin, path, line,
                        f"template line {line}: {var!r} is undefined: {_who(role)}, and it is "
                        f"not the machine's ({', '.join(IDENTITY)}) nor Jinja2's (every "
                        "render would fail)"))
    return problems, warnings
