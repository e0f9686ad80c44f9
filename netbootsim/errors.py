"""Input errors: every problem with a scenario, script or flag, named by file, line and field.

The CLI catches :class:`InputError`, prints one line per problem and exits with
status 2. Nothing else in the package prints errors.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = ["Problem", "InputError", "one_line"]


def one_line(text: str) -> str:
    r"""``text`` with every character that breaks or hides a line shown escaped.

    A problem quotes what the user wrote, and that may hold a newline, a record separator
    (````, a line break to Python's ``splitlines``), a NUL or a lone surrogate: each
    is shown as ````, `` `` ... so that one problem stays one line.
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch == "\t" or unicodedata.category(ch) not in ("Cc", "Zl", "Zp", "Cs"):
            out.append(ch)
        else:
            out.append(ascii(ch)[1:-1])
    return "".join(out)


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in user input.

    Attributes:
        file: the file (or ``--set``/``--flag`` origin) the problem is in.
        line: 1-based line number, or 0 when no line applies.
        field: dotted field path, e.g. ``fleet[3].image``; empty when none applies.
        message: what is wrong, in words a user can act on.
    """

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.field:
            return one_line(f"{where}: {self.field}: {self.message}")
        return one_line(f"{where}: {self.message}")


class InputError(Exception):
    """Bad user input: carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems), key=lambda p: (p.file, p.line, p.field, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str, line: int, field: str, message: str) -> InputError:
        """An error with one problem."""
        return cls([Problem(file, line, field, message)])
