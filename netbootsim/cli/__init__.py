"""The ``netbootsim`` command line.

Every subcommand is registered here from the module that owns it. Bad input of any
kind (a flag, a scenario) ends with one line per problem on stderr and exit status
2 — never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..errors import InputError

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error names the flag and exits 2 without a traceback."""

    def error(self, message: str) -> None:  # noqa: D102 - argparse API
        self.print_usage(sys.stderr)
        self.exit(2, f"command line: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand."""
    from .bench import add_bench_parser
    from .calibrate import add_calibrate_parser
    from .compare import add_compare_parser
    from .ipxe import add_ipxe_parser
    from .lab import add_lab_parser
    from .models import add_models_parser
    from .run import add_run_parser
    from .sweep import add_sweep_parser
    from .transfer import add_transfer_parser
    from .validate import add_validate_parser
    from .validate_engines import add_validate_engines_parser

    parser = _Parser(prog="netbootsim", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"netbootsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_run_parser(sub)
    add_compare_parser(sub)
    add_models_parser(sub)
    add_sweep_parser(sub)
    add_validate_parser(sub)
    add_transfer_parser(sub)
    add_bench_parser(sub)
    add_lab_parser(sub)
    add_calibrate_parser(sub)
    add_ipxe_parser(sub)
    add_validate_engines_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as e:
        for p in e.problems:
            print(p, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
