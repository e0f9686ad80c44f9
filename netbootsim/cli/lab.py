"""``netbootsim lab``: boot real iPXE guests in an isolated namespace to calibrate the model.

Subcommands: ``lab run CONFIG [--out DIR]``, ``lab install``, ``lab cleanup [--all]``,
``lab parse RUN_DIR [--out DIR]``.
Exit status of ``lab run``: 0 every guest printed ``NBS-DONE``; 1 a guest failed or
the lab could not be set up; 2 bad config; 130 interrupted (after cleaning up).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from ..lab.config import load_config
from ..lab.install import LAB_PACKAGES, ensure_packages, missing_packages
from ..lab.matrix import add_matrix_parser
from ..lab.netns import cleanup_leftovers
from ..lab.parse import cmd_parse
from ..lab.runner import LabError, run_lab
from ..lab.script import add_script_parser
from ..plan.outdir import OutputDir

__all__ = ["add_lab_parser", "cmd_run", "cmd_install", "cmd_cleanup", "default_out_dir"]


def add_lab_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``lab run``, ``lab install``, ``lab cleanup`` and ``lab parse``."""
    lab = subparsers.add_parser("lab", help="boot real iPXE guests (QEMU) in a private namespace",
                                description="Boot real iPXE guests (QEMU) in an isolated "
                                "network namespace to calibrate the model.")
    sub = lab.add_subparsers(dest="lab_command", required=True)
    p = sub.add_parser("run", help="run one lab config (needs root)")
    p.add_argument("config", type=Path, help="lab YAML file, e.g. lab/tftp.yaml")
    p.add_argument("--out", type=Path, default=None,
                   help="run directory (default lab/runs/<config stem>-<UTC timestamp>)")
    p.add_argument("--no-install", action="store_true",
                   help="fail instead of installing missing Debian packages")
    p.add_argument("--force", action="store_true",
                   help="write into a directory holding files the lab did not write "
                        "(replacing same-named ones, deleting none)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("install", help="apt-get install the Debian packages of the lab "
                       "(QEMU, iPXE, dnsmasq, tcpdump) and of the report's browser test "
                       "(chromium) if missing")
    p.set_defaults(func=cmd_install)
    p = sub.add_parser("cleanup", help="remove nbs-lab-* namespaces and processes of crashed runs")
    p.add_argument("--all", action="store_true",
                   help="also remove namespaces of runs that are still going")
    p.set_defaults(func=cmd_cleanup)
    p = sub.add_parser("parse", help="turn a run directory into phases.csv and details.csv",
                       description="Per-phase timings (simulator records) and protocol "
                       "details from a run's consoles and capture (no root needed).")
    p.add_argument("run_dir", type=Path, help="directory written by 'lab run'")
    p.add_argument("--out", type=Path, default=None, help="where to write (default RUN_DIR)")
    p.set_defaults(func=cmd_parse)
    add_script_parser(sub)
    add_matrix_parser(sub)


def default_out_dir(config: Path, now: datetime | None = None) -> Path:
    """``lab/runs/<config stem>-<UTC timestamp>``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path("lab") / "runs" / f"{config.stem}-{stamp}"


def _say(text: str) -> None:
    print(text, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    """``lab run``: validate, check packages and privileges, run, print the outcome."""
    cfg = load_config(args.config)  # InputError → exit 2 in the caller
    if os.geteuid() != 0:
        print("lab run: needs root (network namespaces, tap devices)", file=sys.stderr)
        return 1
    missing = missing_packages()
    if missing:
        if args.no_install:
            print("lab run: missing Debian packages " + " ".join(missing) +
                  "; run 'netbootsim lab install'", file=sys.stderr)
            return 1
        try:
            ensure_packages(_say, LAB_PACKAGES)
        except (PermissionError, subprocess.CalledProcessError) as e:
            print(f"lab run: cannot install {' '.join(missing)}: {e}", file=sys.stderr)
            return 1
    out = args.out or default_out_dir(args.config)
    # a run directory holding what the lab did not write is refused (or written beside
    # with --force): a run never overwrites a user's file
    with OutputDir(out, "lab", force=args.force) as od:
        try:
            record = run_lab(cfg, out, _say)
        except LabError as e:
            print(f"lab run: {e}", file=sys.stderr)
            return 1
        for g in record["guests"]:
            wall = f"{g['wall_s']:.2f}s" if g["wall_s"] is not None else "-"
            _say(f"guest {g['guest']} {g['mac']}: {g['outcome']} {wall} "
                 f"{g['reason']}".rstrip())
        # the measurement, in the simulator's own record type, in the same step
        from ..lab.parse import parse_run, write_parsed

        phases, details = write_parsed(parse_run(Path(out)), Path(out))
        od.mark(os.listdir(out))
    _say(f"parsed: {phases} and {details}")
    return 0 if record["outcome"] == "ok" else 1


def cmd_install(args: argparse.Namespace) -> int:
    """``lab install``: install what is missing; say what was done."""
    try:
        ensure_packages(_say)
    except (PermissionError, subprocess.CalledProcessError) as e:
        print(f"lab install: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_cleanup(args: argparse.Namespace) -> int:
    """``lab cleanup``: remove leftovers of crashed runs."""
    if os.geteuid() != 0:
        print("lab cleanup: needs root", file=sys.stderr)
        return 1
    done = cleanup_leftovers(everything=args.all)
    for line in done or ["nothing to clean up"]:
        _say(line)
    return 0
