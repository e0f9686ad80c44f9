"""``netbootsim lab build-ipxe``: today's iPXE built from a source checkout the user gives.

The lab's first round measured one ROM, Debian 12's 2019 iPXE snapshot, which has no
HTTPS. This builds iPXE from a checkout of its public repository (get it with ordinary
git: ``git clone https://github.com/ipxe/ipxe.git``), for one platform:

========== =================================== ========================================
platform   what is built (in ``src/``)         what boots it
========== =================================== ========================================
bios       ``bin/ipxe.lkrn``, ``bin/8086100e.rom`` SeaBIOS: the e1000 NIC's option ROM
                                               (PCI 8086:100e, QEMU's ``e1000``) or
                                               the kernel-format image
efi-x86_64 ``bin-x86_64-efi/ipxe.efi``         OVMF (x86-64 UEFI)
efi-arm64  ``bin-arm64-efi/ipxe.efi``          AAVMF (ARM64 UEFI), cross-compiled with
                                               ``aarch64-linux-gnu-``
========== =================================== ========================================

The checkout is never written to: its ``src/`` is copied to a scratch directory, the
build options are written there as iPXE's local configuration headers
(``src/config/local/<header>.h``, which each ``src/config/<header>.h`` includes last),
``make`` runs there, and the scratch directory is removed. Build options
(``--config KEY=VALUE``) name a macro of iPXE's configuration headers: ``on``
defines it, ``off`` undefines it, anything else defines it to that text
(``DHCP_DISC_END_TIMEOUT_SEC=10``). A key no header of the checkout names is refused,
so a misspelt option cannot build an iPXE without it. HTTPS (``DOWNLOAD_PROTO_HTTPS``,
which ``src/config/general.h`` leaves out of BIOS builds) and ``imgverify``
(``IMAGE_TRUST_CMD``) are turned on (:data:`DEFAULT_CONFIG`); ``--embed`` embeds a
script (``EMBED=``, checked as an iPXE script first), ``--trust`` sets the trusted root
certificates (``TRUST=``).

The output directory gets the binaries and ``build.json``: the checkout's commit (and
whether it had uncommitted changes), the platform, the options, the ``make`` command,
the compiler's version, the SHA-256 of the embedded script, of each trusted certificate
and of each binary; ``build.log`` keeps make's output. A lab run that boots a binary
of a build copies its ``build.json`` into its own ``run.json``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import InputError
from .payload import sha256_of

__all__ = ["BUILD_PACKAGES", "CROSS_PACKAGES", "PLATFORMS", "Platform", "DEFAULT_CONFIG",
           "config_keys", "parse_config_args", "local_headers", "check_source", "build_ipxe",
           "BuildError"]


@dataclass(frozen=True)
class Platform:
    """One platform: iPXE's binary directory, the targets made, the cross prefix."""

    bin_dir: str
    targets: tuple[str, ...]
    cross: str = ""


PLATFORMS: dict[str, Platform] = {
    "bios": Platform("bin", ("ipxe.lkrn", "8086100e.rom")),
    "efi-x86_64": Platform("bin-x86_64-efi", ("ipxe.efi",)),
    "efi-arm64": Platform("bin-arm64-efi", ("ipxe.efi",), cross="aarch64-linux-gnu-"),
}

#: Debian package -> a file it provides that the build uses (iPXE's own list of build
#: needs: a C compiler, binutils, make, perl, and liblzma's header for ``util/zbin``).
BUILD_PACKAGES: dict[str, str] = {
    "gcc": "/usr/bin/gcc",
    "binutils": "/usr/bin/ld",
    "make": "/usr/bin/make",
    "perl": "/usr/bin/perl",
    "liblzma-dev": "/usr/include/lzma.h",
    "git": "/usr/bin/git",
}
#: what the ARM64 build adds
CROSS_PACKAGES: dict[str, str] = {
    "gcc-aarch64-linux-gnu": "/usr/bin/aarch64-linux-gnu-gcc",
    "binutils-aarch64-linux-gnu": "/usr/bin/aarch64-linux-gnu-ld",
}

#: Options every build has unless the user says otherwise: HTTPS
#: (``DOWNLOAD_PROTO_HTTPS``: in iPXE's defaults, but ``general.h`` takes it out of BIOS
#: builds, "not historically included"), and ``imgverify``/``imgtrust``
#: (``IMAGE_TRUST_CMD``, commented out in ``general.h``), so the lab can measure TLS and
#: signature verification on every platform.
DEFAULT_CONFIG: dict[str, str] = {"DOWNLOAD_PROTO_HTTPS": "on", "IMAGE_TRUST_CMD": "on"}

_MACRO = re.compile(r"^\s*(?://\s*)?#\s*(?:define|undef)\s+([A-Z][A-Z0-9_]*)\b")
_KEY = re.compile(r"^[A-Z][A-Z0-9_]*$")


class BuildError(RuntimeError):
    """The build ran and failed (make's status, the log's tail)."""


def _bad(flag: str, message: str) -> InputError:
    return InputError.single("command line", 0, flag, message)


def check_source(source: Path) -> Path:
    """``source/src``, after checking that ``source`` is an iPXE checkout.

    Raises:
        InputError: not a directory, or not an iPXE tree (no ``src/Makefile``,
            ``src/config/general.h`` and ``src/include/ipxe``).
    """
    if not source.is_dir():
        raise _bad("--source", f"{source}: not a directory")
    src = source / "src"
    need = [src / "Makefile", src / "config" / "general.h", src / "include" / "ipxe"]
    missing = [str(p.relative_to(source)) for p in need if not p.exists()]
    if missing:
        raise _bad("--source", f"{source}: not an iPXE source tree (no {', '.join(missing)}; "
                   "get one with: git clone https://github.com/ipxe/ipxe.git)")
    return src


def config_keys(src: Path) -> dict[str, str]:
    """Every macro the checkout's configuration headers define or undefine, -> its header.

    Only the headers of ``src/config/`` that include their local override
    (``#include <config/local/NAME.h>``) count: a key is written there. A key in
    several headers maps to the first by name.
    """
    keys: dict[str, str] = {}
    for header in sorted((src / "config").glob("*.h")):
        text = header.read_text(errors="replace")
        if f"<config/local/{header.name}>" not in text:
            continue
        for line in text.splitlines():
            m = _MACRO.match(line)
            if m:
                keys.setdefault(m.group(1), header.name)
    return keys


def parse_config_args(items: Sequence[str], keys: Mapping[str, str]) -> dict[str, str]:
    """``KEY=VALUE`` texts -> ``{KEY: VALUE}`` over :data:`DEFAULT_CONFIG`.

    Raises:
        InputError: an item without ``=``, a malformed key, or a key ``keys`` lacks.
    """
    out = dict(DEFAULT_CONFIG)
    for item in items:
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not value:
            raise _bad("--config", f"{item!r}: expected KEY=VALUE (VALUE: on, off or a value)")
        if not _KEY.match(key):
            raise _bad("--config", f"{item!r}: {key!r} is not a macro name")
        if key not in keys:
            near = sorted(k for k in keys if k.split("_")[0] == key.split("_")[0])[:5]
            hint = f"; similar: {', '.join(near)}" if near else ""
            raise _bad("--config", f"{key}: no configuration header of this iPXE tree "
                       f"names it (src/config/*.h){hint}")
        out[key] = value
    return out


def local_headers(config: Mapping[str, str], keys: Mapping[str, str]) -> dict[str, str]:
    """The text of each ``config/local/<header>.h`` that ``config`` writes."""
    by: dict[str, list[str]] = {}
    for key in sorted(config):
        value = config[key]
        lines = by.setdefault(keys[key], [])
        lines.append(f"#undef {key}")
        if value.lower() == "on":
            lines.append(f"#define {key}")
        elif value.lower() != "off":
            lines.append(f"#define {key} {value}")
    return {h: "/* written by netbootsim lab build-ipxe */\n" + "\n".join(lines) + "\n"
            for h, lines in by.items()}



def _git(source: Path, *args: str) -> str:
    try:
        res = subprocess.run(["git", "-C", str(source), *args], capture_output=True,
                             text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return res.stdout.strip() if res.returncode == 0 else ""


def source_identity(source: Path) -> dict[str, object]:
    """The checkout's commit, ``git describe``, and whether tracked files were changed."""
    commit = _git(source, "rev-parse", "HEAD")
    return {"commit": commit or "unknown (not a git checkout)",
            "describe": _git(source, "describe", "--always", "--dirty", "--tags") or "",
            "dirty": bool(_git(source, "status", "--porcelain", "--untracked-files=no"))
            if commit else None}


def _compiler(cross: str) -> str:
    try:
        res = subprocess.run([f"{cross}gcc", "--version"], capture_output=True, text=True,
                             check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return res.stdout.splitlines()[0] if res.returncode == 0 and res.stdout else "unknown"


def build_ipxe(source: Path, platform: str, out: Path, *, config: Sequence[str] = (),
               embed: Path | None = None, trust: Sequence[Path] = (), jobs: int = 2,
               say: Callable[[str], None] = print) -> dict:
    """Build iPXE for ``platform`` from ``source`` into the directory ``out``.

    ``out`` must be empty or absent (the caller's :class:`~netbootsim.plan.outdir.OutputDir`
    sees to it). Returns what ``build.json`` holds.

    Raises:
        InputError: a bad source, platform, option, script or certificate.
        BuildError: make failed (its log is in ``out/build.log``).
    """
    if platform not in PLATFORMS:
        raise _bad("--platform", f"{platform!r}: not one of {', '.join(PLATFORMS)}")
    plat = PLATFORMS[platform]
    src = check_source(source)
    keys = config_keys(src)
    options = parse_config_args(config, keys)
    missing = [k for k in options if k not in keys]  # a default this tree lacks
    if missing:
        raise _bad("--config", f"{missing[0]}: this iPXE tree has no such option "
                   "(it is one netbootsim turns on; give an older tree's equivalent)")
    record: dict[str, object] = {"source": str(source.resolve()), **source_identity(source),
                                 "platform": platform, "config": options}
    make_vars = []
    if embed is not None:
        from ..ipxe.script import parse_script

        try:
            text = embed.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise _bad("--embed", f"{embed}: cannot read: {e}") from None
        parse_script(text, str(embed))  # ScriptError (an InputError): FILE:LINE: message
        record["embed"] = {"file": str(embed), "sha256": sha256_of(embed)}
        make_vars.append(f"EMBED={embed.resolve()}")
    if trust:
        for cert in trust:
            if not cert.is_file():
                raise _bad("--trust", f"{cert}: no such file")
        record["trust"] = [{"file": str(c), "sha256": sha256_of(c)} for c in trust]
        make_vars.append("TRUST=" + ",".join(str(c.resolve()) for c in trust))
    if plat.cross:
        make_vars.append(f"CROSS={plat.cross}")
    targets = [f"{plat.bin_dir}/{t}" for t in plat.targets]
    command = ["make", f"-j{jobs}", *targets, *make_vars]
    record["make"] = " ".join(command)
    record["compiler"] = _compiler(plat.cross)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    record["started_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="netbootsim-ipxe-build-") as scratch:
        work = Path(scratch) / "src"
        say(f"copying {src} to a scratch directory")
        shutil.copytree(src, work, symlinks=True,
                        ignore=shutil.ignore_patterns("bin", "bin-*", "*.o", ".git"))
        for header, text in local_headers(options, keys).items():
            (work / "config" / "local" / header).write_text(text)
        say(f"building {', '.join(targets)} ({' '.join(command[1:])}); a few minutes")
        with open(out / "build.log", "w") as log:
            res = subprocess.run(command, cwd=work, stdout=log, stderr=subprocess.STDOUT,
                                 check=False)
        if res.returncode != 0:
            tail = (out / "build.log").read_text(errors="replace").splitlines()[-15:]
            raise BuildError(f"make exited with status {res.returncode}; the log's end "
                             f"({out / 'build.log'}):\n" + "\n".join(tail))
        binaries = {}
        for t in targets:
            made = work / t
            dest = out / Path(t).name
            shutil.copy2(made, dest)
            binaries[dest.name] = {"sha256": sha256_of(dest), "bytes": dest.stat().st_size,
                                   "target": t}
    record["binaries"] = binaries
    record["seconds"] = round(time.perf_counter() - started, 1)
    (out / "build.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def read_build(path: Path) -> dict:
    """A build directory's ``build.json`` (for a lab run that boots one of its binaries).

    Raises:
        InputError: no ``build.json`` there, or not one this module wrote.
    """
    f = path / "build.json"
    try:
        data = json.loads(f.read_text())
    except (OSError, ValueError) as e:
        raise _bad("ipxe", f"{path}: not a build-ipxe directory ({e})") from None
    if not isinstance(data, dict) or "binaries" not in data or "platform" not in data:
        raise _bad("ipxe", f"{f}: not written by netbootsim lab build-ipxe")
    return data
