"""Input errors: every problem with a scenario, script or flag, named by file, line and field.

The CLI catches :class:`InputError`, prints one line per problem and exits with
status 2. Nothing else in the package prints errors.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem", "InputError"]


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
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class InputError(Exception):
    """Bad user input: carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems), key=lambda p: (p.file, p.line, p.field, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str, line: int, field: str, message: str) -> InputError:
        """An error with one problem."""
        return cls([Problem(file, line, field, message)])
