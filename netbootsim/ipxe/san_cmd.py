"""SAN commands: ``sanboot``, ``sanhook``, ``sanunhook`` (hci/commands/sanboot_cmd.c).

All three are usr/autoboot.c ``uriboot`` with different flags, and this module runs
the same flow, printing what it prints:

1. hook the root paths, if any (``Registered SAN device 0x80`` or ``Could not open
   SAN device: ...``, which ends the command);
2. describe the SAN devices (iBFT/aBFT ACPI tables) unless ``--no-describe``
   (nothing to simulate: it succeeds);
3. ``sanboot`` only: boot from the drive (``Booting from SAN device 0x80``), unless
   the ``skip-san-boot`` setting is set; a boot that returns is a failure;
4. unhook again unless ``--keep``, ``keep-san``, ``sanhook``, or ``sanboot``
   without a root path (``Unregistered``/``Preserving SAN device 0x80``).

The SAN itself is the world's optional ``san(op, drive, uris, ...)`` method (see the
World protocol). A world without it has no SAN and no local disk: opening a root
path fails as iPXE fails on a URI it cannot open (core/open.c, ENOTSUP), with the
reason in the record; ``sanboot`` of an already hooked drive fails the same way.

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any
from urllib.parse import urlsplit

from . import errors
from .image_cmd import resolve_uri
from .interface import CommandShell, Handler, Proc
from .options import parse_integer
from .world import Image, Outcome

__all__ = ["DEFAULT_DRIVE", "SAN_COMMANDS"]

#: San commands by name.
SAN_COMMANDS: dict[str, Handler] = {}
#: include/ipxe/sanboot.h SAN_DEFAULT_DRIVE (the first hard disk), unless ``san-drive``.
DEFAULT_DRIVE = 0x80
_NO_SAN = "the simulated world has no SAN devices or local disks (World.san is not implemented)"


def _hex(drive: int) -> str:
    """C ``%#02x``: ``0x80``, and plain ``0`` for zero."""
    return f"{drive:#x}" if drive else "0"


def _intz(shell: CommandShell, name: str) -> int:
    """settings.c fetch_intz_setting: the integer value, 0 when unset or not a number."""
    text = shell.settings.fetch(name)
    try:
        return int(text, 0) if text else 0
    except ValueError:
        return 0


def _san(shell: CommandShell, op: str, drive: int, uris: tuple[str, ...],
         opts: dict) -> Generator[Any, Any, Outcome]:
    """One call of the world's SAN, or the failure of a world without one."""
    fn = getattr(shell.world, "san", None)
    bad = next((u for u in uris if not shell.build.opens(urlsplit(u).scheme)), None)
    if bad is not None:
        return Outcome(errors.ENOTSUP_OPEN, f"{shell.build.name} iPXE cannot open {bad}")
    if fn is None:
        return Outcome(errors.ENOTSUP_OPEN if op != "unhook" else errors.OK, _NO_SAN)
    got = yield from fn(op, drive, uris, describe=not opts.get("no-describe"),
                        filename=opts.get("filename"), extra=opts.get("extra"))
    return got


def _uriboot(shell: CommandShell, argv: list[str], *, boot: bool, unhook: bool) -> Proc:
    """usr/autoboot.c uriboot for one of the three commands."""
    opts, args = shell.parse(argv)
    drive = parse_integer(str(opts["drive"]), shell.say) if "drive" in opts else \
        _intz(shell, "san-drive") or DEFAULT_DRIVE  # san_default_drive
    uris = tuple(resolve_uri(shell.cwuri, a) for a in args)
    unhook = unhook and not opts.get("keep") and (bool(uris) or not boot)
    if uris:
        got = yield from _san(shell, "hook", drive, uris, opts)
        if got.status:
            shell.say(f"Could not open SAN device: {errors.strerror(got.status)}\n")
            shell.detail = got.reason
            return got.status
        drive = got.drive if got.drive is not None else drive
        shell.say(f"Registered SAN device {_hex(drive)}\n")
    rc = errors.OK  # describe (unless --no-describe, passed to the world at hook): cannot fail
    if boot and _intz(shell, "skip-san-boot"):
        shell.say(f"Skipping boot from SAN device {_hex(drive)}\n")
    elif boot:
        name = opts.get("filename")
        shell.say(f"Booting{' ' + str(name) if name else ''} from SAN device {_hex(drive)}\n")
        got = yield from _san(shell, "boot", drive, uris, opts)
        if got.status == 0:
            shell.handover(Image(f"san{_hex(drive)}", " ".join(uris), 0, "binary",
                                 format="SAN"))
        rc, shell.detail = got.status, got.reason
        shell.say(f"Boot from SAN device {_hex(drive)} failed: {errors.strerror(rc)}\n")
    if unhook and _intz(shell, "keep-san"):
        shell.say(f"Preserving SAN device {_hex(drive)}\n")
    elif unhook:
        yield from _san(shell, "unhook", drive, uris, opts)
        shell.say(f"Unregistered SAN device {_hex(drive)}\n")
    return rc


def _command(name: str, **flags: bool) -> None:
    def handler(shell: CommandShell, argv: list[str]) -> Proc:
        return _uriboot(shell, argv, **flags)
    handler.__name__ = handler.__qualname__ = name
    handler.__doc__ = f"``{name}`` (sanboot_cmd.c {name}_exec → autoboot.c uriboot)."
    SAN_COMMANDS[name] = handler


_command("sanboot", boot=True, unhook=True)
_command("sanhook", boot=False, unhook=False)
_command("sanunhook", boot=False, unhook=True)
