"""Scenario text: reading YAML into plain data while remembering where each field came from.

The ruamel.yaml round-trip loader keeps the line of every mapping key and sequence
item. :func:`read_yaml` turns its output into plain ``dict``/``list``/scalars plus an
:class:`Origin`: a map from field paths (``("fleet", 3, "images")``) to line numbers,
and from ``--set`` overrides to the text of the flag. Every problem found later is
located through :meth:`Origin.problem`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarstring import LiteralScalarString

from ..errors import InputError, Problem
from ..yamltext import MAX_DEPTH, MAX_YAML_BYTES, YamlLimit, safe_yaml

__all__ = ["Origin", "format_path", "read_yaml", "parse_yaml_text", "to_plain"]


Path_ = tuple[Any, ...]


def format_path(path: Iterable[Any]) -> str:
    """``("fleet", 3, "image")`` as ``fleet[3].image``.

    A key's invisible or control characters are shown escaped (a backslash, ``u202e``): a
    message naming the key must not reorder or hide the text around it.
    """
    out = ""
    for key in path:
        if isinstance(key, int) and not isinstance(key, bool):
            out += f"[{key}]"
        else:
            text = _shown(str(key))
            out += f".{text}" if out else text
    return out


def _shown(text: str) -> str:
    """``text`` with its control, format and separator characters escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else
                   ch.encode("unicode_escape").decode("ascii") for ch in text)


@dataclass
class Origin:
    """Where each part of a scenario tree came from.

    Attributes:
        file: the file name (or ``"<dict>"``) problems are reported against.
        lines: 1-based line of each field path found in the file.
        overrides: field paths set by ``--set``, to the flag text (``"--set a.b=1"``).
        blocks: the file line of the first text line of each literal block scalar
            (``script: |``), so a problem in line N of a script is located in the file.
        expanded: entries that ``each_site`` expansion (:mod:`.each_site`) made or
            moved, by path in the expanded tree, to their path in the file (a site's copy
            of a fleet group is ``("fleet", 7)`` there and ``("fleet", 1)`` here).
    """

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)
    overrides: dict[Path_, str] = field(default_factory=dict)
    blocks: dict[Path_, int] = field(default_factory=dict)
    expanded: dict[Path_, Path_] = field(default_factory=dict)

    def source_path(self, path: Path_) -> Path_:
        """``path`` as the file writes it: an expanded entry's path is its template's."""
        path = tuple(path)
        if self.expanded:
            for n in range(len(path), 0, -1):
                hit = self.expanded.get(path[:n])
                if hit is not None:
                    return hit + path[n:]
        return path

    def locate(self, path: Path_) -> tuple[str, int]:
        """The origin (file or ``--set ...``) and line of the field at ``path``.

        The longest prefix of ``path`` with a known origin decides, so a field missing
        from the file is reported at the line of the mapping that should hold it.
        """
        return self._locate_written(self.source_path(path))

    def _locate_written(self, path: Path_) -> tuple[str, int]:
        """:meth:`locate` for a path as the file writes it.

        Translated already: a template's path may equal a copy's, so it must not be
        translated twice.
        """
        for n in range(len(path), -1, -1):
            prefix = tuple(path[:n])
            if prefix in self.overrides:
                return self.overrides[prefix], 0
            if prefix in self.lines:
                return self.file, self.lines[prefix]
        return self.file, 0

    def problem(self, path: Path_, message: str) -> Problem:
        """A :class:`Problem` about the field at ``path`` (named as the file writes it)."""
        path = self.source_path(path)
        where, line = self._locate_written(path)
        return Problem(where, line, format_path(path), message)

    def text_line(self, path: Path_, n: int) -> tuple[str, int]:
        """The origin and file line of line ``n`` (1-based) of the text at ``path``.

        Line by line in a literal block scalar (``script: |``); otherwise, or for
        ``n`` 0, the line of the field itself.
        """
        path = self.source_path(path)
        where, line = self._locate_written(path)
        if n > 0 and path in self.blocks and where == self.file:
            return where, self.blocks[path] + n - 1
        return where, line

    def replace(self, path: Path_, text: str) -> None:
        """Record that ``--set`` replaced the subtree at ``path``."""
        n = len(path)
        for table in (self.lines, self.overrides, self.blocks):
            for p in [p for p in table if p[:n] == path and len(p) > n]:
                del table[p]
        self.lines.pop(path, None)
        self.blocks.pop(path, None)
        self.overrides[path] = text


def to_plain(node: Any, path: Path_ = (), lines: dict[Path_, int] | None = None,
             blocks: dict[Path_, int] | None = None) -> Any:
    """Round-trip YAML data as plain Python data, recording lines into ``lines``.

    ``blocks`` receives the first text line of each literal block scalar.
    """
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            key = _scalar(k)
            if not isinstance(key, str | int | float | bool | type(None)):
                key = str(key)
            if lines is not None:
                try:
                    lines[(*path, key)] = node.lc.key(k)[0] + 1
                except (AttributeError, KeyError, TypeError):
                    pass  # merged (<<) keys or plain dicts: the parent's line serves
                if blocks is not None and isinstance(v, LiteralScalarString):
                    _block(blocks, (*path, key), node, k)
            out[key] = to_plain(v, (*path, key), lines, blocks)
        return out
    if isinstance(node, list | tuple):
        out_list = []
        for i, v in enumerate(node):
            if lines is not None:
                try:
                    lines[(*path, i)] = node.lc.item(i)[0] + 1
                except (AttributeError, KeyError, TypeError):
                    pass
                if blocks is not None and isinstance(v, LiteralScalarString):
                    _block(blocks, (*path, i), node, i)
            out_list.append(to_plain(v, (*path, i), lines, blocks))
        return out_list
    return _scalar(node)


def _block(blocks: dict[Path_, int], path: Path_, node: Any, key: Any) -> None:
    """Record a literal block's first text line: the line after its ``|`` indicator."""
    try:
        at = node.lc.value(key) if isinstance(node, dict) else node.lc.item(key)
        blocks[path] = at[0] + 2
    except (AttributeError, KeyError, TypeError):
        pass


def _scalar(x: Any) -> Any:
    """Scalars of ruamel.yaml (ScalarFloat, ScalarBoolean...) as plain Python types."""
    if type(x).__name__ == "ScalarBoolean" or isinstance(x, bool):
        return bool(x)
    for t in (int, float, str):
        if isinstance(x, t):
            return t(x)
    if hasattr(x, "value") and type(x).__name__ == "TaggedScalar":
        return str(x.value)
    return x


_DUPLICATE = re.compile(r'found duplicate key "(.*?)"')


def parse_yaml_text(text: str, file: str) -> tuple[Any, Origin]:
    """Parse YAML text into plain data and its :class:`Origin`.

    Raises:
        InputError: a syntax error (with its line), a duplicate key, an empty document.
    """
    yaml = safe_yaml()
    try:
        data = yaml.load(text)
    except MaxDepthExceededError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else 0
        raise InputError.single(file, line, "", f"nested deeper than {MAX_DEPTH} levels "
                                "(the limit; a scenario needs fewer than 10)") from None
    except YamlLimit as e:
        line = e.problem_mark.line + 1 if e.problem_mark else 0
        raise InputError.single(file, line, "", f"YAML: {e.problem}") from None
    except DuplicateKeyError as e:
        m = _DUPLICATE.search(str(e.problem))
        key = m.group(1) if m else "?"
        line = e.problem_mark.line + 1 if e.problem_mark else 0
        where = _mapping_at(text, e.context_mark) if m and e.context_mark else None
        raise InputError.single(file, line, "" if where is None else format_path((*where, key)),
                                f"duplicate key {key!r}: a key may appear only once in a "
                                "mapping") from None
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        what = str(e.problem or e.context or "invalid YAML")
        if e.context and e.problem:
            ctx_line = f" started on line {e.context_mark.line + 1}" if e.context_mark else ""
            what += f" ({e.context}{ctx_line})"
        raise InputError.single(file, line, "", f"YAML syntax error: {what}") from None
    except ReaderError as e:
        pos = e.position if isinstance(e.position, int) else 0
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        char = e.character if isinstance(e.character, int) else 0
        raise InputError.single(file, line, "", f"character U+{char:04X} (column {col}) is "
                                f"not allowed in YAML: {e.reason}") from None
    except YAMLError as e:  # any other: one line, whatever ruamel.yaml's text says
        raise InputError.single(file, 0, "", "YAML error: " + " ".join(str(e).split())) \
            from None
    origin = Origin(file, {(): 1})
    if data is None:
        raise InputError.single(file, 0, "", "empty scenario; expected a mapping with the "
                                "sections topology, services, images, fleet, faults, run")
    return to_plain(data, (), origin.lines, origin.blocks), origin


def _mapping_at(text: str, mark: Any) -> Path_ | None:
    """The path of the mapping that starts at ``mark``, in ``text`` read with duplicates.

    Names the field of a duplicate key: ruamel.yaml's error gives only the position of
    the mapping that holds it.
    """
    yaml = safe_yaml()
    yaml.allow_duplicate_keys = True
    try:
        data = yaml.load(text)
    except YAMLError:
        return None
    todo: list[tuple[Path_, Any]] = [((), data)]
    while todo:
        path, node = todo.pop()
        if isinstance(node, dict):
            if (node.lc.line, node.lc.col) == (mark.line, mark.column):
                return tuple(_scalar(k) for k in path)
            todo += [((*path, k), v) for k, v in node.items()]
        elif isinstance(node, list):
            todo += [((*path, i), v) for i, v in enumerate(node)]
    return None


def read_yaml(path: str | Path) -> tuple[Any, Origin]:
    """Read a scenario file into plain data and its :class:`Origin`.

    Raises:
        InputError: the file cannot be read, is not UTF-8, or is not valid YAML.
    """
    file = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise InputError.single(file, 0, "", "is a directory, not a scenario file")
        if not p.exists():
            raise InputError.single(file, 0, "", "no such file")
        if p.is_file() and p.stat().st_size > MAX_YAML_BYTES:
            raise InputError.single(file, 0, "", f"{p.stat().st_size:,} bytes: larger than "
                                    f"{MAX_YAML_BYTES // 2**20} MiB, the limit for a "
                                    "scenario file (name large inventories as CSV files)")
        with open(p, "rb") as f:
            raw = f.read(MAX_YAML_BYTES + 1)
    except OSError as e:
        raise InputError.single(file, 0, "", f"cannot read: {e.strerror or e}") from None
    if len(raw) > MAX_YAML_BYTES:  # a pipe or a file that grew
        raise InputError.single(file, 0, "", f"larger than {MAX_YAML_BYTES // 2**20} MiB, "
                                "the limit for a scenario file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError.single(file, 0, "", f"not UTF-8 text ({e.reason} at byte "
                                f"{e.start})") from None
    return parse_yaml_text(text, file)
