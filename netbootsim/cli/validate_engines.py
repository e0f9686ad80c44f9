"""``netbootsim validate-engines [--out FILE] [--cases NAME...]``: flow against packet.

Runs the cross-validation cases of :mod:`netbootsim.plan.validate_engines` on both
engines and writes the table (into ``docs/validation.md`` between its markers).
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["add_validate_engines_parser"]


def add_validate_engines_parser(sub) -> None:
    """Register ``netbootsim validate-engines``."""
    p = sub.add_parser("validate-engines",
                       help="run the cross-validation cases on both engines; write the table")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write the table into FILE between its markers (e.g. "
                        "docs/validation.md); default: print it")
    p.add_argument("--cases", nargs="+", default=(), metavar="NAME",
                   help="only these cases (default: all)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.set_defaults(func=_cli)


def _cli(args) -> int:
    from tqdm import tqdm

    from ..plan.validate_engines import (  # here, not at the top: --help stays fast
        CASES,
        main_cases,
        markdown,
        ns3_cases,
        run_case,
        run_fifo,
        write_section,
    )

    if args.list:
        for c in CASES:
            print(f"{c.name:24s} {c.what}")
        return 0
    try:
        cases = main_cases(args.cases)
    except KeyError as e:
        print(f"command line: --cases: {e.args[0]}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.is_dir():
        print(f"command line: --out: directory {str(out.parent)!r} does not exist",
              file=sys.stderr)
        return 2
    results = []
    for c in tqdm(cases, desc="validate-engines", unit="case", file=sys.stderr,
                  disable=not sys.stderr.isatty()):
        results.append(run_case(c))
    ns3 = ns3_cases()
    fifo = {c.name: run_fifo(c) for c in cases if c.name in ns3}
    command = "netbootsim validate-engines" + (f" --out {args.out}" if args.out else "") + (
        f" --cases {' '.join(args.cases)}" if args.cases else "")
    section = markdown(results, command, fifo)
    if out is None:
        sys.stdout.write(section)
    else:
        write_section(out, section)
        print(f"table: {out}", file=sys.stderr)
    return 0
