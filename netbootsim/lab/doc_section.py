"""One command line for the lab's generated sections of ``docs/calibration.md``.

``python -m netbootsim.lab.round2`` and ``python -m netbootsim.lab.uefi`` each print a
Markdown section made from committed traces and, with ``--out``, write it between its
markers (:func:`netbootsim.plan.validate_engines.write_section`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["section_cli"]


def section_cli(argv: list[str] | None, prog: str, description: str,
                make: Callable[[Path, str], str], begin: str, end: str, heading: str) -> int:
    """Parse ``TRACES... [--out FILE]``, print ``make(traces, command)``, write it to FILE.

    ``make`` gets the one directory given, or the list of them when several are.
    """
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("traces", type=Path, nargs="+")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    command = f"{prog} " + " ".join(str(a) for a in (argv if argv is not None
                                                      else sys.argv[1:]))
    text = make(args.traces[0] if len(args.traces) == 1 else args.traces, command)
    print(text)
    if args.out is not None:
        from ..plan.validate_engines import write_section

        write_section(args.out, text + "\n", begin, end, heading=heading)
    return 0
