r"""iPXE script text: magic, lines, labels, and the tokens of one command line.

iPXE has no parse pass: a script is split into lines as it runs (image/script.c
``process_script``) and each line into commands when it is reached (core/exec.c
``system``). :func:`parse_script` does the line splitting once, up front, keeping
exactly what ``process_script`` would hand to ``system`` and the 1-based number of
the first physical line of each logical line, so errors can name ``file:line``.
Nothing here checks commands: an unknown command fails only when it is reached.

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from ..errors import InputError, Problem

__all__ = ["Line", "STOP_COMMAND", "STOP_SEQUENCE", "Script", "ScriptError", "TERMINATORS",
           "command_line", "has_magic", "parse_script", "split_command", "split_commands",
           "split_lines"]

#: C ``isspace`` (the only separators iPXE knows: core/exec.c split_command).
_SPACE = " \t\n\v\f\r"
_TOKENS = re.compile(f"[^{re.escape(_SPACE)}]+")
#: Command terminators (core/exec.c command_terminator); all have equal precedence.
TERMINATORS = ("||", "&&", ";")
#: Shell stop states (include/ipxe/shell.h, core/exec.c shell_stop): ``goto`` stops the
#: rest of the command line, ``exit`` and ``chain --replace`` the whole script.
STOP_COMMAND, STOP_SEQUENCE = 1, 2
#: Script magic (image/script.c script_probe): one of these, then a whitespace char.
_MAGIC = ("#!ipxe", "#!gpxe")


class ScriptError(InputError):
    """A file that is not an iPXE script (reported as ``source:line: message``)."""


@dataclass(frozen=True, slots=True)
class Line:
    r"""One logical script line, as ``process_script`` hands it to the shell.

    Attributes:
        number: 1-based number of its first physical line in the file.
        text: the command part: leading whitespace and any ``:label`` removed,
            ``\`` continuations joined, trailing CR stripped.
        label: the label this line defines (``:name`` → ``"name"``), or None.
    """

    number: int
    text: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Script:
    r"""A parsed script.

    Attributes:
        source: where it came from (a URI or a file name); names errors, and is the
            base of relative URIs when it is a URI.
        lines: the logical lines in order, the ``#!ipxe`` line included (it runs as a
            comment, as in iPXE).
        unterminated: the last line ended with ``\``; iPXE drops it and the script
            ends with EINVAL (image/script.c process_script).
    """

    source: str
    lines: tuple[Line, ...]
    unterminated: bool = False

    def find_label(self, name: str) -> int | None:
        """Index in :attr:`lines` of the first ``:name`` line, scanning from the top.

        image/script.c ``goto_exec`` rescans the whole script with
        ``goto_find_label`` and stops at the first match; execution resumes *at* the
        label line, so a command after the label runs again.
        """
        for i, line in enumerate(self.lines):
            if line.label == name:
                return i
        return None


@lru_cache(maxsize=1024)
def parse_script(text: str, source: str) -> Script:
    r"""Split ``text`` into logical lines the way image/script.c does.

    A :class:`Script` is immutable, so the same text from the same source is parsed
    once and shared (a fleet's servers run the same few scripts: at 10,000 servers the
    storm parsed its one default script 10,000 times, ~0.5 KB each).

    Rules (image/script.c ``script_probe``, ``process_script``):

    * the text starts with ``#!ipxe`` or ``#!gpxe`` followed by a whitespace char,
      else it is not a script;
    * lines end at ``\n``; one trailing ``\r`` is stripped; then a trailing ``\``
      joins the next physical line directly (no space is inserted);
    * leading whitespace is skipped; ``:name`` makes a label, ending at the first
      whitespace; the rest of that line is a command and still runs.

    Raises:
        ScriptError: the magic is missing.
    """
    if not has_magic(text):
        first = text.split("\n", 1)[0][:40]
        raise ScriptError([Problem(source, 1, "", "not an iPXE script: it must start with "
                                   f"'#!ipxe' and a space or newline, found {first!r}")])
    lines, unterminated = split_lines(text)
    return Script(source, lines, unterminated)


def has_magic(text: str) -> bool:
    """``#!ipxe`` or ``#!gpxe`` and a whitespace char at the start (script.c script_probe)."""
    head = text[:len(_MAGIC[0]) + 1]
    return len(head) > len(_MAGIC[0]) and head[:-1] in _MAGIC and head[-1] in _SPACE


def split_lines(text: str) -> tuple[tuple[Line, ...], bool]:
    r"""The logical lines of ``text`` and whether the last one ends with ``\``.

    No magic check: :func:`parse_script` does that; the lint reads scripts without it.
    """
    lines: list[Line] = []
    physical = text.split("\n")
    if text.endswith("\n"):
        physical.pop()  # process_script stops at the end of the data, not after it
    buf, start = "", 0
    for number, fragment in enumerate(physical, 1):
        if not buf:
            start = number
        buf += fragment
        if buf.endswith("\r"):
            buf = buf[:-1]
        if buf.endswith("\\"):
            buf = buf[:-1]
            continue
        lines.append(_split_label(start, buf))
        buf = ""
    return tuple(lines), bool(physical) and _continued(physical[-1])


def _continued(fragment: str) -> bool:
    """A physical line that asks for the next one (after its CR is stripped)."""
    return fragment.removesuffix("\r").endswith("\\")


def _split_label(number: int, line: str) -> Line:
    """``[ws]:label[ws command]`` or ``[ws]command`` (script.c process_script)."""
    command = line.lstrip(_SPACE)
    if not command.startswith(":"):
        return Line(number, command)
    m = re.match(f"[^{re.escape(_SPACE)}]*", command[1:])
    label = m.group(0) if m else ""
    return Line(number, command[1 + len(label) + 1:], label)


def split_command(text: str) -> list[str]:
    """Whitespace-separated tokens: no quoting, no escapes (core/exec.c split_command)."""
    return _TOKENS.findall(text)


@lru_cache(maxsize=4096)
def command_line(text: str) -> tuple[tuple[tuple[str, ...], str | None], ...]:
    """The commands of one line with their terminators, as :func:`split_commands` gives.

    Cached by text (lines repeat across a fleet and through loops): tuples, shared.
    """
    return tuple((tuple(argv), term) for argv, term in split_commands(split_command(text)))


def split_commands(tokens: list[str]) -> Iterator[tuple[list[str], str | None]]:
    """The commands of a token list, each with the terminator that follows it.

    core/exec.c ``command_terminator``: the first ``||``, ``&&`` or ``;`` ends a
    command; a token *starting* with ``#`` ends the whole line (a comment). The
    terminator is None for the last command. ``a ||`` yields ``(["a"], "||")`` then
    ``([], None)``: the empty command, which succeeds.
    """
    i = 0
    while True:
        argv: list[str] = []
        while i < len(tokens):
            tok = tokens[i]
            if tok.startswith("#"):
                yield argv, None
                return
            i += 1
            if tok in TERMINATORS:
                yield argv, tok
                break
            argv.append(tok)
        else:
            yield argv, None
            return
