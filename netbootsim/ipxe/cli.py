"""``netbootsim ipxe``: tools for iPXE scripts.

``netbootsim ipxe check SCRIPT... [--build NAME]`` checks scripts statically
(:mod:`.lint`) and prints ``FILE:LINE: error: message`` / ``FILE:LINE: warning:
message``, one a line. Exit status: 2 if any error (an unreadable file included), else 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .lint import check_file
from .spec import BUILDS

__all__ = ["add_ipxe_parser", "cmd_check"]


def add_ipxe_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ipxe check``."""
    ipxe = subparsers.add_parser("ipxe", help="check iPXE scripts",
                                 description="Tools for iPXE scripts.")
    sub = ipxe.add_subparsers(dest="ipxe_command", required=True)
    builds = "; ".join(f"{b.name}: {b.description}" for b in BUILDS.values())
    p = sub.add_parser("check", help="check #!ipxe scripts without running them",
                       description="Check iPXE scripts statically: magic, commands, options, "
                       "argument counts, goto labels. Prints FILE:LINE: error|warning: "
                       "message; exits 2 if any error, else 0.")
    p.add_argument("scripts", nargs="+", type=Path, metavar="SCRIPT", help="iPXE script files")
    p.add_argument("--build", choices=sorted(BUILDS), default="all",
                   help=f"the iPXE binary to check against ({builds}; default: all)")
    p.add_argument("--no-warnings", action="store_true", help="print errors only")
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    """Check every script; print the findings; 2 if any error, else 0."""
    errors = 0
    for path in args.scripts:
        for finding in check_file(path, args.build):
            errors += finding.severity == "error"
            if finding.severity == "error" or not args.no_warnings:
                print(finding, file=sys.stdout)
    return 2 if errors else 0
