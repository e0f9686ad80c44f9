"""``netbootsim calibrate RUN_DIR... --profile NAME``: fit a firmware profile to lab runs.

The fit and its report are :mod:`netbootsim.lab.calibrate`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import InputError

__all__ = ["add_calibrate_parser", "cmd_calibrate"]


def add_calibrate_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``calibrate``."""
    p = sub.add_parser("calibrate", help="fit a firmware profile's measured values to lab runs")
    p.add_argument("runs", nargs="+", help="lab run directories (netbootsim lab run --out)")
    p.add_argument("--profile", required=True, help="profile to fit, e.g. ipxe-2019-qemu")
    p.add_argument("--holdout", type=int, default=3,
                   help="hold out every K-th run for checking (0: fit on all)")
    p.add_argument("--write", action="store_true", help="write the fitted values into the "
                   "profile's YAML file")
    p.add_argument("--chained", action="store_true",
                   help="the profile is an iPXE build loaded as a PXE boot file: fit it "
                        "on the chainload runs (its HTTP fetches and chain_start, the boot "
                        "file loaded to its first DHCPDISCOVER), not on ROM runs")
    p.add_argument("--json", action="store_true", help="print the fit and check as JSON")
    p.add_argument("--report", help="write the validation table (Markdown) to this file")
    p.set_defaults(func=cmd_calibrate)


def _shown_dir(path: Path) -> str:
    """A run directory's parent as a reader would type it: relative to here if below."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Handle ``netbootsim calibrate``."""
    from ..lab.calibrate import (  # here, not at the top: --help stays fast
        _runs_text,
        check,
        fit,
        load_runs,
        measured_on,
        split_runs,
        write_measured,
        write_report,
    )
    from ..profiles import PROFILE_DIR, get_profile

    try:
        prof = get_profile(args.profile)
    except KeyError as e:
        raise InputError.single("command line", 0, "--profile", str(e.args[0])) from None
    runs = load_runs(sorted(args.runs))
    # Only single-guest ROM runs are fitted (with --chained: only chainload runs, the
    # chained iPXE's part): several guests on 2 cores measure the emulator's CPU
    # contention, not the network; a chainload's fetches are the chained iPXE's.
    k = args.holdout
    ch = args.chained
    fit_runs, check_runs, loss_fit, loss_check = split_runs(runs, k, ch)
    held = prof.tcp_client_delay if isinstance(prof.tcp_client_delay, float) else 0.0
    f = fit(fit_runs + loss_fit, prof.tcp.rwnd, ch, held)
    rows = (check(fit_runs, f, prof.tcp.rwnd, "fit", ch)
            + check(check_runs, f, prof.tcp.rwnd, "held out", ch)
            + check(loss_fit, f, prof.tcp.rwnd, "fit (loss)")
            + check(loss_check, f, prof.tcp.rwnd, "held out (loss)")
            + check([r for r in runs if r.kind == "contention"], f, prof.tcp.rwnd,
                    "contention (not fitted)")
            + (check([r for r in runs if r.kind == "single"], f, prof.tcp.rwnd,
                     "a ROM's run (not fitted: --chained)") if ch else
               check([r for r in runs if r.kind == "chainload"], f, prof.tcp.rwnd,
                     "chained iPXE (not fitted; --chained fits it)")))
    result = {"profile": prof.name, "values": f.values, "traces": f.traces,
              "samples": f.samples, "tftp_server_block_cost": f.server_block_cost,
              "rows": rows}
    if args.write:
        where = sorted({_shown_dir(r.path.parent) for r in fit_runs + loss_fit})
        how = (f"netbootsim calibrate{' --chained' if ch else ''} on runs of "
               f"{', '.join(where)} [lab-calibration]")
        write_measured(PROFILE_DIR / f"{prof.name}.yaml", f, measured_on(fit_runs + loss_fit),
                       how)
    if args.report:
        command = (f"netbootsim calibrate {_runs_text(args.runs)} --profile {prof.name} "
                   f"--holdout {k}" + (" --chained" if ch else "")
                   + (" --write" if args.write else "")
                   + f" --report {args.report}")
        write_report(Path(args.report), prof.name, f, rows, runs, command)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        for name, v in sorted(f.values.items()):
            print(f"{name}: {v:.6g} (from {len(f.traces[name])} runs, "
                  f"{f.samples[name]} samples)")
        print(f"tftp server block cost (dnsmasq): {f.server_block_cost:.6g} s")
        for row in rows:
            print(f"{row['role']:24s} {row['run']:24s} {row['guest']:7s} {row['phase']:16s} "
                  f"measured {row['measured_s']:.4f} s  simulated {row['simulated_s']:.4f} s"
                  f"  {row['error_pct']:+.1f} %")
    return 0
