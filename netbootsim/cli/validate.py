"""``netbootsim validate FILE [--set k=v ...]``: check a scenario without running it."""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError
from .common import add_scenario_flags, max_memory, say

__all__ = ["add_validate_parser", "cmd_validate"]


def add_validate_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``validate`` subcommand."""
    p = subparsers.add_parser(
        "validate", help="check a scenario file and report every problem",
        description="Load, validate and build a scenario; print every problem, one per line "
                    "as FILE:LINE: field: message, and exit 2 if there is any. Warnings "
                    "(FILE:LINE: field: warning: message, e.g. from the lint of an embedded "
                    "iPXE script) are printed too and do not change the exit status.")
    p.add_argument("file", metavar="FILE", help="scenario YAML file")
    add_scenario_flags(p, force=False)
    p.set_defaults(func=cmd_validate)
    return p


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate ``args.file`` with ``args.overrides``; 0 when sound, 2 on any problem."""
    from ..scenario.build import build  # here, not at the top: --help stays fast
    from ..scenario.load import load_scenario

    try:
        scenario = load_scenario(args.file, overrides=args.overrides, strict=args.strict,
                                 max_memory=max_memory(args), variants=True)
        built = build(scenario)
    except InputError as e:
        for p in e.problems:
            print(p, file=sys.stderr)
        return 2
    for w in scenario.warnings:
        say(str(w))
    topo = built.topology
    print(f"{args.file}: OK: {_n(len(built.servers), 'server')} in "
          f"{_n(len(built.groups), 'group')}, {_n(len(built.services), 'service')}, "
          f"{_n(len(built.images), 'image')}; {scenario.topology.shape} topology with "
          f"{_n(topo.graph.number_of_nodes(), 'node')} and {_n(len(topo.links()), 'link')}"
          + (f"; {_n(len(scenario.events), 'lifecycle event')}" if scenario.events else ""))
    return 0


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
