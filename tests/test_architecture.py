"""The house rules of docs/architecture.md, checked over the package's imports.

Rooms are the subpackages of ``netbootsim`` and its top-level modules; each stands on a
floor (``FLOORS``). An import — at the top of a module, inside a function, or under
``if TYPE_CHECKING:`` alike — is an arrow from the importing room to the imported one.
The rules: every arrow goes down to a lower floor (none sideways, none up), nothing
imports the command line, and no module of the package reaches itself through its
imports (no circle). ``__main__`` modules are entry points, not rooms.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "netbootsim"

#: The floor of every room: 0-1 the primitives, 9 the command line (docs/architecture.md).
FLOORS: dict[str, int] = {
    "units": 0, "errors": 0, "records": 0, "clock": 0, "runtime": 0, "streams": 0,
    "yamltext": 1, "memguard": 1, "dist": 1,
    "protocols": 2, "topology": 2, "report": 2, "ipxe": 2,
    "profiles": 3, "net": 3,
    "services": 4,
    "scenario": 5,
    "fleet": 6,
    "plan": 7,
    "lab": 8, "api": 8, "study": 8,
    "cli": 9,
}
#: The primitives: anyone may import them, they import only each other.
PRIMITIVES = {r for r, f in FLOORS.items() if f <= 1}


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = list(f.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts.pop()
        out[".".join(parts)] = (f, is_pkg)
    return out


MODULES = _modules()


def _imports(mod: str) -> set[str]:
    """The package's modules ``mod`` imports (the longest module name each import names)."""
    path, is_pkg = MODULES[mod]
    pkg = mod if is_pkg else mod.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # "from a import b": the module a.b if there is one, else a
            names = [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target
                     for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            while name and name not in MODULES:
                name = name.rsplit(".", 1)[0] if "." in name else ""
            if name and name != mod:
                found.add(name)
    return found


def _room(mod: str) -> str | None:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else None


def _entry(mod: str) -> bool:
    return mod == "netbootsim" or mod.endswith(".__main__")


def arrows() -> list[tuple[str, str, str, str]]:
    """``(module, imported module, its room, imported room)`` of every import between rooms."""
    out = []
    for mod in MODULES:
        if _entry(mod):
            continue
        for tgt in _imports(mod):
            a, b = _room(mod), _room(tgt)
            if b is not None and a != b:
                out.append((mod, tgt, a, b))
    return out


def test_every_room_has_a_floor():
    rooms = {_room(m) for m in MODULES if not _entry(m)}
    assert rooms == set(FLOORS), (rooms ^ set(FLOORS))


def test_every_arrow_goes_down():
    bad = [f"{m} -> {t} ({a}, floor {FLOORS[a]} -> {b}, floor {FLOORS[b]})"
           for m, t, a, b in arrows() if FLOORS[b] >= FLOORS[a]]
    assert not bad, "\n".join(bad)


def test_nothing_imports_the_command_line():
    assert not [m for m, _, a, b in arrows() if b == "cli"]


def test_no_module_reaches_itself():
    g = nx.DiGraph()
    for mod in MODULES:
        if not _entry(mod):
            g.add_edges_from((mod, t) for t in _imports(mod) if not _entry(t))
    circles = [c for c in nx.simple_cycles(g) if len(c) > 1]
    assert not circles, circles[:5]


@pytest.mark.parametrize("room", sorted(PRIMITIVES))
def test_the_primitives_import_only_primitives(room):
    assert not [(m, t) for m, t, a, b in arrows() if a == room and b not in PRIMITIVES]


def test_the_rules_can_fail(tmp_path, monkeypatch):
    # A test that cannot fail is a defect: an upward arrow, planted, is found.
    monkeypatch.setitem(FLOORS, "units", 9)
    assert any(FLOORS[b] >= FLOORS[a] for _, _, a, b in arrows())
