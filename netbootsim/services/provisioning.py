"""The provisioning API's answers: an inventory of machines and Jinja2 script templates.

A machine asks ``http://api/boot?mac=${net0/mac}`` (or ``serial=``, ``asset=``,
``uuid=``); the API looks the query up in its inventory and renders the template of the
machine's role with the row's values; a machine it does not know (or a query that
names none) gets the ``unknown`` template — a discovery or registration script. A
template that fails to render (an undefined value, or something the sandbox refuses)
is the API's HTTP 500, and its error names the template, its line and the reason.

Inventory rows come from a CSV or YAML file (path relative to the scenario) or inline:
each row has any of ``mac``, ``serial``, ``asset``, ``uuid``, ``server`` (the topology
name, for convenience in a simulation), a ``role``, and any other columns, which become
template variables. Templates see the row's values plus the machine's identity
(``mac``, ``serial``, ``asset``, ``uuid``, ``server``, ``group``) and ``role``.

What can be known before a run is checked by :func:`template_problems` (syntax,
attributes the sandbox refuses) and :func:`undeclared_names` (names the template uses
that it does not define itself).
"""

from __future__ import annotations

import csv
import io
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from ..yamltext import MAX_CSV_BYTES, MAX_YAML_BYTES, read_text_capped, safe_yaml

__all__ = ["Inventory", "Provisioner", "KEYS", "IDENTITY", "DEFAULT_UNKNOWN",
           "load_inventory", "compile_template", "template_problems", "undeclared_names",
           "GLOBALS"]

#: Columns that identify a machine, in the order a query is matched.
KEYS = ("mac", "serial", "asset", "uuid", "server")
#: identifying values no two machines share (an asset tag or a server name may repeat)
UNIQUE = frozenset({"mac", "serial", "uuid"})
#: What every template sees besides its row: the machine's identity and its role.
IDENTITY = ("mac", "serial", "asset", "uuid", "server", "group", "role")
#: What an API answers a machine it does not know, unless the scenario says otherwise:
#: the script says so and fails (a real setup would chain a discovery image).
DEFAULT_UNKNOWN = "#!ipxe\necho no inventory entry for ${net0/mac}\nexit 1\n"


@dataclass
class Inventory:
    """Rows by every identifying value they carry (keys lower-cased)."""

    rows: list[dict[str, str]] = field(default_factory=list)
    index: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, object]]) -> Inventory:
        """Index rows by each identifying value they carry.

        Raises:
            ValueError: two rows carry one MAC, serial or UUID (a machine listed twice:
                the API would answer the first row only, whatever the second says). An
                asset tag or a server name may repeat (a placeholder such as ``N/A``,
                one server's two NICs): a lookup by MAC or serial comes first.
        """
        inv = cls()
        for n, row in enumerate(rows, start=1):
            clean = {str(k): "" if v is None else str(v) for k, v in row.items()}
            inv.rows.append(clean)
            for k in KEYS:
                if clean.get(k):
                    key = (k, clean[k].lower())
                    if key not in inv.index:
                        inv.index[key] = clean
                    elif k in UNIQUE:
                        first = inv.rows.index(inv.index[key]) + 1
                        raise ValueError(f"{k} {clean[k]!r} is on rows {first} and {n} "
                                         "(counted from the first machine): each machine "
                                         "once")
        return inv

    def match(self, ident: Mapping[str, str]) -> dict[str, str] | None:
        """The row for the first identifying value in ``ident`` that has one."""
        for k in KEYS:
            v = ident.get(k)
            if v and (row := self.index.get((k, v.lower()))) is not None:
                return row
        return None


def load_inventory(spec: str | Sequence[Mapping[str, object]] | None,
                   base: Path | None) -> Inventory:
    """An inventory from inline rows, or a ``.csv``/``.yaml`` file relative to ``base``.

    Raises:
        ValueError: the file cannot be read or is not a list of rows (message names it).
    """
    if spec is None:
        return Inventory()
    if not isinstance(spec, str):
        return Inventory.from_rows(spec)
    path = (base / spec) if base is not None and not Path(spec).is_absolute() else Path(spec)
    csv_file = path.suffix.lower() == ".csv"
    text = read_text_capped(path, MAX_CSV_BYTES if csv_file else MAX_YAML_BYTES, "inventory")
    if csv_file:
        reader = csv.DictReader(io.StringIO(text))
        rows = []
        try:
            for row in reader:
                if None in row or None in row.values():  # more fields, or fewer
                    got = len(row.get(None) or ()) + sum(
                        v is not None for k, v in row.items() if k is not None)
                    raise ValueError(f"inventory {path}: line {reader.line_num}: {got} "
                                     f"fields, the header has {len(reader.fieldnames or ())}")
                rows.append(row)
        except csv.Error as e:
            raise ValueError(f"inventory {path}: not valid CSV ({e})") from None
        try:
            return Inventory.from_rows(rows)
        except ValueError as e:
            raise ValueError(f"inventory {path}: {e}") from None
    try:
        rows = safe_yaml("safe", pure=True).load(text)
    except Exception as e:  # ruamel raises many error types; all mean "not YAML"
        raise ValueError(f"inventory {path}: not valid YAML ({e})") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"inventory {path}: expected a list of rows (mappings)")
    try:
        return Inventory.from_rows(rows)
    except ValueError as e:
        raise ValueError(f"inventory {path}: {e}") from None


_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                            keep_trailing_newline=True)
#: Names Jinja2 itself defines for every template (``range``, ``cycler``...).
GLOBALS = frozenset(_ENV.globals)


def compile_template(text: str) -> jinja2.Template:
    """Compile a script template (sandboxed: templates cannot reach the host).

    Raises:
        jinja2.TemplateSyntaxError: with its line number.
    """
    return _ENV.from_string(text)


def template_problems(text: str) -> list[tuple[int, str]]:
    """What is wrong with a template before it renders: ``(template line, message)``.

    A syntax error (nothing else can be checked then), and every attribute or item
    named with a leading ``_`` (``x.__class__``, ``x['_y']``, ``x|attr('__init__')``):
    the sandbox refuses them all at render time.
    """
    try:
        tree = _ENV.parse(text)
    except jinja2.TemplateSyntaxError as e:
        return [(e.lineno, e.message or str(e))]
    out = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem):
            name = node.arg.value if isinstance(node.arg, nodes.Const) else None
        else:
            name = (node.args[0].value if node.name == "attr" and node.args
                    and isinstance(node.args[0], nodes.Const) else None)
        if isinstance(name, str) and name.startswith("_"):
            out.append((node.lineno, f"attribute {name!r}: the sandbox refuses names "
                                     "starting with '_' (every render would fail)"))
    return sorted(set(out))


def undeclared_names(text: str) -> list[tuple[str, int]]:
    """The names a template uses without defining them, with the line of first use.

    Jinja2's own globals are not in the list. An unparsable template has none.
    """
    try:
        tree = _ENV.parse(text)
    except jinja2.TemplateSyntaxError:
        return []
    names = meta.find_undeclared_variables(tree) - GLOBALS
    first: dict[str, int] = {}
    for node in tree.find_all(nodes.Name):
        if node.name in names and node.ctx == "load":
            first[node.name] = min(first.get(node.name, node.lineno), node.lineno)
    return sorted(first.items(), key=lambda x: (x[1], x[0]))


def _render_error(label: str, e: Exception) -> str:
    """``template LABEL line N: message``, with the line the render failed on, if known."""
    line = next((f.lineno for f in reversed(traceback.extract_tb(e.__traceback__))
                 if f.filename == "<template>"), None)
    message = ((e.message or str(e)) if isinstance(e, jinja2.TemplateError)
               else f"{type(e).__name__}: {e}").rstrip(".")
    return f"template {label}{f' line {line}' if line else ''}: {message}"


class Provisioner:
    """One API's inventory and templates.

    Args:
        inventory: the machines it knows.
        templates: script template per role (``"*"``: any role without its own).
        unknown: the template for machines it does not know.
        name: the API service's name, to name a template in a render error
            (``template services.api1.templates.compute line 2: ...``).
    """

    def __init__(self, inventory: Inventory, templates: Mapping[str, str],
                 unknown: str = DEFAULT_UNKNOWN, name: str = "api"):
        self.inventory = inventory
        self.templates = {role: compile_template(t) for role, t in templates.items()}
        self.unknown = compile_template(unknown)
        self.name = name

    def answer(self, query: str, machine: Mapping[str, str]) -> tuple[int, str, str]:
        """``(HTTP status, script text, role)`` for a request with ``query``.

        The machine is known only by what the query names (the script passed it).
        """
        asked = {k: v[0] for k, v in parse_qs(query).items() if k in KEYS and v}
        row = self.inventory.match(asked)
        if row is None:
            template, role, values = self.unknown, "unknown", {}
            label = f"services.{self.name}.unknown"
        else:
            role = row.get("role", "")
            key = role if role in self.templates else "*"
            template = self.templates.get(key)
            values = row
            if template is None:
                return 404, "", role
            label = f"services.{self.name}.templates.{key}"
        ctx = {**values, **{k: v for k, v in machine.items()}, "role": role}
        try:
            text = template.render(ctx)
        except Exception as e:  # undefined values, the sandbox's refusals, a value's own
            return 500, _render_error(label, e), role  # error (1 // 0): an HTTP 500
        return 200, text, role
