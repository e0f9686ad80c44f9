"""``netbootsim ipxe``: tools for iPXE scripts.

``netbootsim ipxe check SCRIPT... [--build NAME]`` checks scripts statically
(:mod:`.lint`) and prints ``FILE:LINE: error: message`` / ``FILE:LINE: warning:
message``, one a line. Exit status: 2 if any error (an unreadable file included), else 0.

``netbootsim ipxe trace SCENARIO --server NAME [--set K=V]`` runs the scenario and
prints that server's simulated console with simulated timestamps, interleaved with its
phase records (what it fetched, from where, how long, what failed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..ipxe.lint import MAX_SCRIPT_BYTES, check_file
from ..ipxe.spec import BUILDS

__all__ = ["add_ipxe_parser", "cmd_check", "cmd_trace", "trace_lines"]


def add_ipxe_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ipxe check``."""
    ipxe = subparsers.add_parser("ipxe", help="check iPXE scripts",
                                 description="Tools for iPXE scripts.")
    sub = ipxe.add_subparsers(dest="ipxe_command", required=True)
    builds = "; ".join(f"{b.name}: {b.description}" for b in BUILDS.values())
    p = sub.add_parser("check", help="check #!ipxe scripts without running them",
                       description="Check iPXE scripts statically: magic, commands, options, "
                       "argument counts, goto labels. Prints FILE:LINE: error|warning: "
                       "message; exits 2 if any error, else 0. A file that cannot be read, "
                       f"is larger than {MAX_SCRIPT_BYTES // 2**20} MiB (the limit for a "
                       "script file) or is not text (a NUL byte, not UTF-8) is one line, "
                       "FILE: error: why.")
    p.add_argument("scripts", nargs="+", type=Path, metavar="SCRIPT", help="iPXE script files")
    p.add_argument("--build", choices=sorted(BUILDS), default="all",
                   help=f"the iPXE binary to check against ({builds}; default: all)")
    p.add_argument("--no-warnings", action="store_true", help="print errors only")
    p.set_defaults(func=cmd_check)
    t = sub.add_parser("trace", help="print one server's simulated iPXE console",
                       description="Run a scenario and print one server's console, "
                       "iPXE-style, with simulated timestamps, and its phase records.")
    t.add_argument("scenario", help="scenario YAML file")
    t.add_argument("--server", required=True, help="the server (topology node) to trace")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V",
                   help="override a scenario field (repeatable)")
    t.set_defaults(func=cmd_trace)


def cmd_check(args: argparse.Namespace) -> int:
    """Check every script; print the findings; 2 if any error, else 0."""
    errors = 0
    for path in args.scripts:
        for finding in check_file(path, args.build):
            errors += finding.severity == "error"
            if finding.severity == "error" or not args.no_warnings:
                print(finding, file=sys.stdout)
    return 2 if errors else 0


def trace_lines(console: list[tuple[float, str]], records: list) -> list[str]:
    """Console text and phase records of one server, merged in time order.

    Console lines read ``[    12.345678] text``; records ``[    12.345678] # phase
    (1.234 s, 12.0 MiB, http from mirror1): ok`` at their start.
    """
    rows: list[tuple[float, int, int, str]] = []  # at one instant: console, then records
    for i, (t, text) in enumerate(console):
        for line in text.splitlines() or [""]:
            rows.append((t, 0, i, line))
    for i, r in enumerate(records):
        what = [f"{r.end - r.start:.3f} s"]
        if r.bytes:
            what.append(f"{r.bytes / 2**20:.1f} MiB")
        if r.protocol or r.endpoint:
            what.append(" ".join(x for x in (r.protocol, "from" if r.endpoint else "",
                                             r.endpoint) if x))
        tail = r.outcome + (f": {r.reason}" if r.reason else "")
        rows.append((r.start, 1, i, f"# {r.stage}/{r.attempt} {r.phase} ({', '.join(what)}): "
                                    f"{tail}"))
    rows.sort(key=lambda x: (x[0], x[1], x[2]))
    return [f"[{t:14.6f}] {text}" for t, _, _, text in rows]


def cmd_trace(args: argparse.Namespace) -> int:
    """Simulate the scenario with one server traced; print its console and records."""
    from ..errors import InputError
    from ..plan.run import simulate
    from ..scenario import build, load_scenario

    built = build(load_scenario(args.scenario, overrides=args.overrides))
    names = {s for s, _ in built.servers}
    if args.server not in names:
        from ..scenario.messages import suggest

        raise InputError.single("command line", 0, "--server",
                                f"no server {args.server!r} in the fleet"
                                f"{suggest(args.server, sorted(names))}")
    run = simulate(built, trace=(args.server,)).run
    records = [r for r in run.records if r.server == args.server]
    for line in trace_lines(run.consoles.get(args.server, []), records):
        print(line)
    srv = next(s for s in run.servers if s.server == args.server)
    print(f"{args.server}: {srv.outcome}" + (f" ({srv.reason})" if srv.reason else "")
          + (f", ready at {srv.ready:.3f} s" if srv.outcome == "ok" else ""))
    return 0
