"""The boot paths, as their boot logs read: PXE ROM, PXE → iPXE chainload, iPXE.

Each is a generator function over a :class:`~.machine.Machine` that ends when the
kernel has been handed over, or raises :class:`~.machine.Failed`:

* ``pxe`` (:func:`pxe_rom`): the PXE ROM's DHCP
  (:data:`netbootsim.services.dhcp.PXE_SCHEDULE`), then TFTP of the boot file DHCP
  names (the NBP), which then TFTPs the group's kernel and initrd with the ROM's UDP
  stack;
* ``pxe-chainload-ipxe`` (:func:`pxe_rom` too): the PXE ROM's DHCP and TFTP of the NBP
  (``undionly.kpxe``), then iPXE starts and does the rest, as ``ipxe``; a boot file
  given as an ``http://`` URL is fetched by a UEFI firmware's HTTP boot instead
  (a HEAD, then the GET);
* ``ipxe`` (:func:`ipxe_autoboot`): iPXE's autoboot — ``dhcp``, then the script: the
  one DHCP names (a URL, often a provisioning API answering per machine), else the
  group's own script. The script runs in the iPXE interpreter (:mod:`netbootsim.ipxe`)
  against the machine's :class:`~.ipxe_world.IpxeWorld`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from .. import ipxe
from ..profiles import Profile
from . import link
from .ipxe_world import IpxeWorld, default_script
from .machine import Failed, Machine
from .world import Target

__all__ = ["pxe_rom", "ipxe_autoboot"]


def _where(line: tuple[str, int] | None) -> str:
    """`` (boot.ipxe:9)``: a script line for a failure reason.

    Without the URI's host and query, which differ per machine and would split the
    report's failure table.
    """
    if not line:
        return ""
    name = line[0].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or line[0]
    return f" ({name}:{line[1]})"


def pxe_rom(m: Machine, rom: Profile) -> Generator[simpy.Event, Any, None]:
    """The PXE ROM's boot: DHCP, the NBP over TFTP, then the NBP's files or iPXE."""
    g = m.group
    world = m.world
    m.profile = rom
    boot_file, host = "", ""
    if world.dhcp:  # (no DHCP service: the transfer phase alone)
        d = yield from link.dhcp(m, ipxe_client=rom.firmware == "ipxe", script=False)
        if d.outcome != "ok":
            raise Failed(f"dhcp: {d.reason}")
        boot_file, host = d.boot_file, world.dhcp_hosts.get(d.server, "")
    nbp = boot_file or dict(g.boot_files).get(m.arch) or g.nbp or g.images[0][0]
    if nbp.lower().startswith("http://"):  # UEFI HTTP boot: the firmware's own HTTP client
        nbp = yield from _http_boot(m, rom, nbp)
    else:
        target = world.resolve(f"tftp://{host or g.service.name}/{nbp}")
        if isinstance(target, str):
            target = world.resolve(f"tftp://{g.service.name}/{nbp}")
        if isinstance(target, str):
            raise Failed(f"fetch:{nbp}: {target}")
        yield from _tftp(m, target, nbp)
    if g.boot == "pxe":  # the NBP (pxelinux-like) fetches the rest over TFTP
        for name, _ in g.images:
            if name != nbp:
                yield from _tftp(m, Target(g.service, name), name)
        m.record("boot", m.env.now, m.env.now, endpoint=g.images[-1][0])
        return
    m.profile = m.ipxe_profile  # iPXE runs now, with its own timers
    t0 = m.env.now
    yield m.env.timeout(m.ipxe_profile.chain_start)  # its start, as a boot file
    m.record("firmware", t0, m.env.now, endpoint=nbp)
    yield from ipxe_autoboot(m, nbp=nbp)


def _http_boot(m: Machine, rom: Profile, url: str) -> Generator[simpy.Event, Any, str]:
    """UEFI HTTP boot of the boot file at ``url``: a HEAD for its size, then its GET.

    EDK2's HTTP boot client (HttpBootDxe) asks the server for the file's size first, on
    the connection it then GETs the file on (lab/traces8: ``head:ipxe.efi``, then
    ``fetch:ipxe.efi``); both are the firmware's (``rom``'s) HTTP client. Returns the
    file's name. Only a UEFI firmware has it (validation refuses an ``http://`` boot
    file for a BIOS PXE ROM; at run time one fails here).
    """
    target = m.world.resolve(url)
    name = url.rsplit("/", 1)[-1]
    if not (rom.platform or "").startswith("uefi"):
        raise Failed(f"fetch:{name}: {url}: a BIOS PXE ROM fetches its boot file over TFTP "
                     "only (UEFI HTTP boot is a UEFI firmware's)")
    if isinstance(target, str):
        raise Failed(f"fetch:{name}: {target}")
    size = m.world.images.get(target.file)
    if size is None:
        raise Failed(f"fetch:{name}: no image {target.file!r} on {target.service.name}")
    w = m.world
    res = yield from w.http(m.server, m.group.name, m.rack, m.stage, m.attempt, rom,
                            target.service, target.file, 0.0)
    m.fetched(f"head:{name}", target.service.name, res)
    res = yield from w.http(m.server, m.group.name, m.rack, m.stage, m.attempt, rom,
                            target.service, target.file, size)
    m.fetched(f"fetch:{name}", target.service.name, res)
    return name


def _tftp(m: Machine, target: Target, name: str) -> Generator[simpy.Event, Any, None]:
    """The ROM's (or the NBP's) TFTP read of ``name``."""
    size = m.world.images.get(name)
    if size is None:
        raise Failed(f"fetch:{name}: TFTP file not found on {target.service.name}")
    res = yield from m.world.tftp(m.server, m.group.name, m.rack, m.stage, m.attempt,
                                  m.profile, target.service, name, size)
    m.fetched(f"fetch:{name}", target.service.name, res)


#: What a machine's iPXE settings hold at start-up (:meth:`Machine.setting_text` gives
#: each): its NIC's MAC and its SMBIOS identity.
SETTINGS_AT_START = ("net0/mac", "uuid", "serial", "asset", "manufacturer", "product")


def _settings(m: Machine) -> ipxe.Settings:
    """The machine's iPXE settings at start-up: its NIC, SMBIOS identity, platform.

    The identity's texts are made when a script reads them, not kept per server.
    """
    settings = ipxe.Settings(provided=(SETTINGS_AT_START, m.setting_text))
    if m.arch != "bios":  # iPXE's ${platform} and ${buildarch} on UEFI (bin-*-efi)
        arch = b"arm64" if m.arch == "uefi-arm64" else b"x86_64"
        settings.set_builtin("platform", b"efi")
        settings.set_builtin("buildarch", arch)
    return settings


def ipxe_autoboot(m: Machine, nbp: str | None = None) -> Generator[simpy.Event, Any, None]:
    """IPXE's autoboot: ``dhcp``, then the script DHCP names, else the group's.

    ``nbp``: the PXE boot file that loaded this iPXE (a chainload), which DHCP must not
    name again.
    """
    g = m.group
    world = IpxeWorld(m)
    settings = _settings(m)
    script = yield from _first_script(m, world, settings, nbp)
    world.why = ""
    result = yield from ipxe.run_script(script, world, settings,
                                        features=g.build or m.profile.build)
    where = _where(result.line)
    why = world.why
    if result.reset:  # the script rebooted (or powered off) the machine
        what = "poweroff" if result.reset == "poweroff" else "reboot"
        raise Failed(f"{why}; then the script ran {what}{where}" if why
                     else f"iPXE: the script ran {what}{where}")
    if result.booted is None:
        if not result.status:
            raise Failed("iPXE: the script ended without booting")
        # the world's words for what failed (a record says the same), else iPXE's
        raise Failed(f"{why}{where}" if why else f"iPXE: {result.reason}")


def _first_script(m: Machine, world: IpxeWorld, settings: ipxe.Settings, nbp: str | None
                  ) -> Generator[simpy.Event, Any, ipxe.Script]:
    """The script autoboot runs: the group's own, else ``dhcp`` and the file it names.

    (A generator of its own: the DHCP reply and the script's text are not kept in the
    boot's frame while the script runs; parsed scripts are shared.)
    """
    g = m.group
    if g.script is not None:  # an embedded script runs instead of autoboot
        text, source = g.script, f"{g.name}.ipxe"
    else:  # autoboot: dhcp, then the file DHCP names (else the group's default)
        text, source = default_script(g), f"{g.name}.ipxe"
        if m.world.dhcp:
            reply = yield from world.dhcp()
            if reply.status:
                raise Failed(f"dhcp: {reply.reason}")
            settings.apply_dhcp(reply.settings)
            filename = reply.settings.get("filename", "")
            if nbp and filename == nbp:
                raise Failed(
                    f"chainload loop: DHCP gives iPXE the PXE boot file {nbp!r} again "
                    "(no user-class check), so iPXE would load itself for ever")
            if filename:
                if "://" not in filename:
                    filename = f"tftp://{reply.settings.get('next-server', '')}/{filename}"
                text, source = f"#!ipxe\nchain {filename}\n", "autoboot"
    return ipxe.parse_script(text, source)
