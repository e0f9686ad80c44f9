"""``netbootsim lab``: boot real iPXE guests in an isolated namespace to calibrate the model.

Subcommands: ``lab run CONFIG [--out DIR]``, ``lab install``, ``lab cleanup [--all]``,
``lab parse RUN_DIR [--out DIR]``, ``lab build-ipxe --source DIR [--platform P]``,
``lab san-disk --out DIR [--kernel FILE]``.
Exit status of ``lab run``: 0 every guest printed ``NBS-DONE``; 1 a guest failed or
the lab could not be set up; 2 bad config; 130 interrupted (after cleaning up).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ..errors import InputError
from ..units import UnitError, parse_time

# The lab's modules (dpkt, ruamel.yaml, the runner) are imported by the commands that
# use them, not here: every netbootsim command, --help included, builds this parser.

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
    add_build_parser(sub)
    p = sub.add_parser("tls", help="make the lab's HTTPS certificates (a CA to trust, a "
                       "rogue one)", description="Writes ca.crt/key, server.crt/key (for "
                       "the lab server's address), rogue-ca.crt/key and rogue.crt/key with "
                       "openssl. See netbootsim/lab/tls.py.")
    p.add_argument("--out", type=Path, required=True, help="the directory to write")
    p.add_argument("--ip", default="192.168.77.1",
                   help="the HTTPS server's address (default the lab's: 192.168.77.1)")
    p.add_argument("--force", action="store_true",
                   help="write into a directory holding files netbootsim did not write")
    p.set_defaults(func=cmd_tls)
    p = sub.add_parser("san-disk", help="make the san case's bootable disk (SYSLINUX, a "
                       "Linux kernel, a random initrd)", description="Writes disk.img and "
                       "disk.json: an MBR disk with one FAT16 partition, SYSLINUX, the kernel "
                       "(by default Debian's linux-image-amd64, downloaded, not installed) "
                       "and an initrd of seeded random bytes. See netbootsim/lab/san.py.")
    p.add_argument("--out", type=Path, required=True, help="the directory to write")
    p.add_argument("--kernel", type=Path, default=None,
                   help="a bzImage to boot (default: Debian's current linux-image-amd64)")
    p.add_argument("--initrd-size", default="24MiB",
                   help="size of the random initrd (default 24MiB)")
    p.add_argument("--seed", type=int, default=1, help="seed of the initrd's bytes")
    p.add_argument("--no-install", action="store_true",
                   help="fail instead of installing missing Debian packages")
    p.add_argument("--force", action="store_true",
                   help="write into a directory holding files netbootsim did not write")
    p.set_defaults(func=cmd_san_disk)


def cmd_san_disk(args: argparse.Namespace) -> int:
    """``lab san-disk``: the san case's disk image, into a fresh directory."""
    from ..lab.install import LAB_PACKAGES
    from ..lab.san import make_disk
    from ..plan.outdir import OutputDir
    from ..units import UnitError, parse_size

    try:
        size = parse_size(args.initrd_size)
    except UnitError as e:
        raise InputError.single("command line", 0, "--initrd-size", str(e)) from None
    if size != int(size) or not 1 <= size <= 1 << 30:
        raise InputError.single("command line", 0, "--initrd-size",
                                f"{args.initrd_size!r}: a whole number of bytes, 1B to 1GiB")
    if args.kernel is not None and not args.kernel.is_file():
        raise InputError.single("command line", 0, "--kernel", f"{args.kernel}: no such file")
    tools = {k: LAB_PACKAGES[k] for k in ("syslinux", "syslinux-common", "mtools",
                                          "dosfstools", "fdisk")}
    if not _have_packages("lab san-disk", tools, args.no_install):
        return 1
    with OutputDir(args.out, "lab-san-disk", force=args.force) as od:
        tmp = od.staging()
        try:
            record = make_disk(tmp, args.kernel, int(size), args.seed)
        except RuntimeError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            print(f"lab san-disk: {e}", file=sys.stderr)
            return 1
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        od.publish(tmp)
    k = record["kernel"]
    origin = (f"Debian's {k['debian']['package']} {k['debian']['version']}" if "debian" in k
              else k["file"])
    _say(f"{args.out / 'disk.img'}: {record['disk_bytes']:,} bytes (kernel {origin}, "
         f"{k['bytes']:,} bytes; initrd {record['initrd']['bytes']:,} random bytes); "
         f"disk.json records it")
    return 0


def cmd_tls(args: argparse.Namespace) -> int:
    """``lab tls``: the lab's certificates, into a fresh directory."""
    import ipaddress

    from ..lab.tls import make_pki
    from ..plan.outdir import OutputDir

    try:
        ipaddress.IPv4Address(args.ip)
    except ValueError:
        raise InputError.single("command line", 0, "--ip",
                                f"{args.ip!r} is not an IPv4 address") from None
    if shutil.which("openssl") is None:
        print("lab tls: no openssl command; run 'netbootsim lab install'", file=sys.stderr)
        return 1
    with OutputDir(args.out, "lab-tls", force=args.force) as od:
        tmp = od.staging()
        try:
            make_pki(tmp, args.ip)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        od.publish(tmp)
    _say(f"{args.out}: the lab CA (ca.crt: build iPXE with --trust {args.out / 'ca.crt'}), "
         f"the server's certificate for {args.ip}, and a rogue one")
    return 0


#: ``netbootsim.lab.build.PLATFORMS``' names, here so that building the parser imports
#: none of the lab (every command, ``--help`` included, builds it)
PLATFORM_NAMES = ("bios", "efi-x86_64", "efi-arm64")


def add_build_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``lab build-ipxe``."""
    p = sub.add_parser(
        "build-ipxe", help="build iPXE from a source checkout (HTTPS, imgverify, UEFI)",
        description="Build iPXE from a checkout of its source (git clone "
        "https://github.com/ipxe/ipxe.git) without writing to it: the binaries, "
        "build.json (commit, options, hashes) and build.log go to --out. Installs the "
        "Debian build packages when missing and run as root. See "
        "netbootsim/lab/build.py.")
    p.add_argument("--source", type=Path, required=True, help="the iPXE checkout (its root)")
    p.add_argument("--platform", default="bios",
                   help=f"one of {', '.join(PLATFORM_NAMES)} (default bios)")
    p.add_argument("--embed", type=Path, default=None, help="an iPXE script to embed")
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                   help="an option of iPXE's src/config/*.h: on, off or a value "
                        "(repeatable); DOWNLOAD_PROTO_HTTPS and IMAGE_TRUST_CMD are on "
                        "unless turned off")
    p.add_argument("--trust", action="append", type=Path, default=[], metavar="CERT",
                   help="a trusted root certificate (PEM; repeatable): iPXE's TRUST=")
    p.add_argument("--out", type=Path, default=None,
                   help="where the build goes (default build/ipxe/<platform>-<commit>)")
    p.add_argument("--jobs", type=int, default=2, help="make -j (default 2)")
    p.add_argument("--force", action="store_true",
                   help="write into a directory holding files netbootsim did not write "
                        "(replacing same-named ones, deleting none)")
    p.add_argument("--no-install", action="store_true",
                   help="fail instead of installing missing Debian build packages")
    p.set_defaults(func=cmd_build_ipxe)


def cmd_build_ipxe(args: argparse.Namespace) -> int:
    """``lab build-ipxe``: check the inputs, the packages, build, say where it went."""
    from ..lab.build import (
        BUILD_PACKAGES,
        CROSS_PACKAGES,
        PLATFORMS,
        BuildError,
        build_ipxe,
        check_source,
        config_keys,
        parse_config_args,
        source_identity,
    )
    from ..plan.outdir import OutputDir

    if args.platform not in PLATFORMS:
        raise InputError.single("command line", 0, "--platform",
                                f"{args.platform!r}: not one of {', '.join(PLATFORMS)}")
    if args.jobs < 1:
        raise InputError.single("command line", 0, "--jobs", f"{args.jobs}: must be ≥ 1")
    src = check_source(args.source)  # InputError → exit 2 in the caller
    parse_config_args(args.config, config_keys(src))  # refused before anything is made
    packages = {**BUILD_PACKAGES, **(CROSS_PACKAGES if PLATFORMS[args.platform].cross
                                     else {})}
    if not _have_packages("lab build-ipxe", packages, args.no_install):
        return 1
    ident = source_identity(args.source)
    tag = (str(ident["describe"]) or str(ident["commit"])[:12]).replace("/", "-")
    out = args.out or Path("build") / "ipxe" / f"{args.platform}-{tag}"
    with OutputDir(out, "build-ipxe", force=args.force) as od:
        tmp = od.staging()
        try:
            record = build_ipxe(args.source, args.platform, tmp, config=args.config,
                                embed=args.embed, trust=args.trust, jobs=args.jobs, say=_say)
        except BuildError as e:
            # nothing is published; make's whole log is kept in the temp directory
            fd, kept = tempfile.mkstemp(prefix="netbootsim-ipxe-build-", suffix=".log")
            os.close(fd)
            if (tmp / "build.log").exists():
                shutil.copy2(tmp / "build.log", kept)
            shutil.rmtree(tmp, ignore_errors=True)
            print(f"lab build-ipxe: {e}\n(whole log: {kept})", file=sys.stderr)
            return 1
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        od.publish(tmp)
    for name, b in record["binaries"].items():
        _say(f"{out / name}: {b['bytes']:,} bytes, sha256 {b['sha256'][:16]}...")
    _say(f"built from {record['commit']}{' (with local changes)' if record['dirty'] else ''} "
         f"in {record['seconds']:.0f} s; {out / 'build.json'} records it")
    return 0


def default_out_dir(config: Path, now: datetime | None = None) -> Path:
    """``lab/runs/<config stem>-<UTC timestamp>``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path("lab") / "runs" / f"{config.stem}-{stamp}"


def _say(text: str) -> None:
    print(text, flush=True)


def _have_packages(command: str, packages: dict[str, str], no_install: bool) -> bool:
    """Whether ``packages`` are installed, installing the missing ones unless told not to.

    Says on stderr what is missing or why it could not be installed.
    """
    from ..lab.install import ensure_packages, missing_packages

    missing = missing_packages(packages)
    if not missing:
        return True
    if no_install:
        print(f"{command}: missing Debian packages {' '.join(missing)}; run "
              "'netbootsim lab install' (as root)", file=sys.stderr)
        return False
    try:
        ensure_packages(_say, packages)
    except (PermissionError, subprocess.CalledProcessError) as e:
        print(f"{command}: cannot install {' '.join(missing)}: {e}", file=sys.stderr)
        return False
    return True


def cmd_run(args: argparse.Namespace) -> int:
    """``lab run``: validate, check packages and privileges, run, print the outcome."""
    from ..lab.config import load_config
    from ..lab.install import LAB_PACKAGES
    from ..lab.runner import LabError, run_lab
    from ..plan.outdir import OutputDir

    cfg = load_config(args.config)  # InputError → exit 2 in the caller
    if os.geteuid() != 0:
        print("lab run: needs root (network namespaces, tap devices)", file=sys.stderr)
        return 1
    if not _have_packages("lab run", LAB_PACKAGES, args.no_install):
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
    from ..lab.install import ensure_packages

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
    from ..lab.netns import cleanup_leftovers

    done = cleanup_leftovers(everything=args.all)
    for line in done or ["nothing to clean up"]:
        _say(line)
    return 0


# -- lab matrix ------------------------------------------------------------------------


def add_matrix_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``lab matrix``."""
    p = sub.add_parser("matrix", help="run a calibration matrix of lab configs (needs root)")
    p.add_argument("matrix", help="matrix YAML (runs: [{config: ..., reps: N}])")
    p.add_argument("--out", required=True, help="directory for the run directories")
    p.set_defaults(func=cmd_matrix)


def cmd_matrix(args: argparse.Namespace) -> int:
    """Handle ``netbootsim lab matrix``."""
    from ..lab.matrix import load_matrix, run_matrix

    entries = load_matrix(Path(args.matrix))
    t0 = time.monotonic()
    runs = run_matrix(entries, Path(args.out), say=lambda m: print(m, file=sys.stderr))
    print(f"{len(runs)} runs in {time.monotonic() - t0:.0f} s under {args.out}")
    return 0


# -- lab script ------------------------------------------------------------------------


def add_script_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``lab script`` under the ``lab`` subparsers."""
    p = sub.add_parser("script", help="run an iPXE script in the real ROM, print its console",
                       description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    p.add_argument("script", type=Path, help="the #!ipxe script")
    p.add_argument("--out", type=Path, default=None,
                   help="run directory (default lab/runs/script-<stem>-<UTC timestamp>)")
    p.add_argument("--timeout", default="60s", help="how long the guest may take (default 60s)")
    p.add_argument("--files", nargs="+", action="extend", default=[], metavar="NAME=SIZE",
                   help="synthetic files served next to the script, e.g. kernel=2MiB")
    p.set_defaults(func=cmd_script)


def cmd_script(args: argparse.Namespace) -> int:
    """``lab script``: 0 the script ran, 1 the guest did not finish, 2 bad input."""
    from ..lab.runner import LabError
    from ..lab.script import END_MARK, parse_file_specs, run_script, script_config
    from ..plan.outdir import OutputDir

    try:
        if not args.script.is_file():
            raise ValueError(f"{args.script}: no such file")
        timeout = parse_time(args.timeout)
        if timeout < 1:
            raise ValueError(f"--timeout {args.timeout!r}: shorter than 1s")
        files = parse_file_specs(args.files)
        script_config(str(args.script), files, timeout)
    except (ValueError, UnitError, InputError) as e:
        print(f"lab script: {e}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("lab script: needs root (network namespaces, tap devices)", file=sys.stderr)
        return 1
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or Path("lab") / "runs" / f"script-{args.script.stem}-{stamp}"
    with OutputDir(out, "lab") as od:  # never over a directory of the user's
        try:
            result, record = run_script(args.script, out, timeout, files,
                                        lambda t: print(t, file=sys.stderr, flush=True))
        except LabError as e:
            print(f"lab script: {e}", file=sys.stderr)
            return 1
        od.mark(os.listdir(out))
    sys.stdout.write(result.text())
    if not result.ended:
        reason = record["guests"][0]["reason"] if record.get("guests") else record.get("error")
        print(f"lab script: the guest did not reach {END_MARK}: {reason}", file=sys.stderr)
        return 1
    return 0


# -- lab parse -------------------------------------------------------------------------


def cmd_parse(args: argparse.Namespace) -> int:
    """``lab parse``: parse a run directory, write the CSVs, print the phases."""
    from ..lab.parse import parse_run, write_parsed

    run_json = Path(args.run_dir) / "run.json"
    if not run_json.is_file():
        raise InputError.single(args.run_dir, 0, "RUN_DIR",
                                "not a lab run directory (no run.json)")
    try:
        parsed = parse_run(args.run_dir)
    except json.JSONDecodeError as e:
        raise InputError.single(str(run_json), e.lineno, "run.json",
                                f"not JSON: {e.msg}") from None
    except (FileNotFoundError, KeyError) as e:
        what = f"{e.filename}: missing" if isinstance(e, FileNotFoundError) else \
            f"no {e} in it"
        raise InputError.single(args.run_dir, 0, "RUN_DIR",
                                f"not a complete lab run directory ({what})") from None
    phases, details = write_parsed(parsed, args.out or args.run_dir)
    for r in parsed.records:
        size = f"{int(r.bytes)} B" if r.bytes else ""
        print(f"{r.server:8} {r.phase:26} {r.start:9.4f} {r.end:9.4f} "
              f"{r.end - r.start:8.4f} s {r.outcome:6} {size} {r.reason}".rstrip())
    print(f"wrote {phases} and {details}")
    return 0
