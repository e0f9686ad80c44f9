"""Every iPXE command: its options and argument counts, and the builds that have it.

One table serves the shell (each handler parses its arguments with its entry) and
the lint (``netbootsim ipxe check``), which checks scripts against every command iPXE
has, including those this simulator does not execute (``vcreate``, ``ntp``...).

Each entry was read from iPXE's source (github.com/ipxe/ipxe) at master 0ab2277c40f1
and compared with the 2019 snapshot the lab ROM was built from (36a4c85f,
Debian ipxe-qemu 1.0.0+git-20190125.36a4c85): the ``COMMAND_DESC`` of the command
(``min_args``, ``max_args``, usage) and its ``OPTION_DESC`` list, in order. Options
added since that snapshot are marked ``new``; commands added since are absent from
the 2019 build below.

A build (:class:`Build`) says which commands, options and URI schemes one iPXE binary
was compiled with (config/general.h); a :class:`~netbootsim.ipxe.Shell` given one
answers ``command not found`` for the others, as that binary would.

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from .options import Command, Opt

__all__ = ["BUILDS", "Build", "SPECS", "build_named"]

MAX = None  # parseopt.h MAX_ARGUMENTS: no upper limit


def _c(source: str, min_args: int, max_args: int | None, usage: str = "",
       *options: Opt) -> Command:
    return Command(tuple(options), min_args, max_args, usage, source)


def _o(long: str, short: str, kind: str = "", *, new: bool = False) -> Opt:
    """An option that takes an argument (``required_argument``)."""
    return Opt(long, short, True, kind, new)


def _f(long: str, short: str, *, new: bool = False) -> Opt:
    """A flag (``no_argument``, parse_flag)."""
    return Opt(long, short, False, "", new)


_HCI = "hci/commands/"
_IF = "[<interface>...]"
# image_cmd.c: imgsingle takes --name --timeout --quiet --autofree; imgexec adds --replace
_SINGLE = (_o("name", "n"), _o("timeout", "t", "timeout"), _f("quiet", "q", new=True),
           _f("autofree", "a"))
_FETCH = _c(_HCI + "image_cmd.c", 1, MAX, "<uri> [<arguments>...]", *_SINGLE)
_SELECT = _c(_HCI + "image_cmd.c", 1, MAX, "<uri|image> [<arguments>...]", *_SINGLE)
_EXEC = _c(_HCI + "image_cmd.c", 0, MAX, "[<uri|image> [<arguments>...]]", *_SINGLE,
           _f("replace", "r"))
_MULTI = _c(_HCI + "image_cmd.c", 0, MAX, "[<image>...]")
_IFCONF = _c(_HCI + "ifmgmt_cmd.c", 0, MAX, _IF, _o("configurator", "c"),
             _o("timeout", "t", "timeout", new=True))
# sanboot_cmd.c: sanboot takes all seven; sanhook the first two; sanunhook the first
_SAN = (_o("drive", "d", "int"), _f("no-describe", "n"), _f("keep", "k"), _o("filename", "f"),
        _o("extra", "e", new=True), _o("label", "l", new=True), _o("uuid", "u", new=True))
# dynui_cmd.c (menu_cmd.c in 2019): "menu" and "form" share one descriptor
_DYNUI = _c(_HCI + "dynui_cmd.c", 0, MAX, "[<title>]", _o("name", "n"), _f("delete", "d"))
# cert_cmd.c: certstore takes --subject and --keep; certstat and certfree only --subject
_SUBJECT = _o("subject", "s")
# image_archive/crypt/set_cmd.c share imgextract's option set
_NKTQ = (_o("name", "n"), _f("keep", "k"), _o("timeout", "t", "timeout"), _f("quiet", "q"))
_DIGEST = _c(_HCI + "digest_cmd.c", 1, MAX, "<image> [<image>...]", _o("set", "s", new=True))
_X86 = "arch/x86/hci/commands/"

#: Command name → what it accepts, for every command in iPXE (aliases included).
SPECS: dict[str, Command] = {
    # core/exec.c
    "echo": _c("core/exec.c", 0, MAX, "[...]", _f("n", "n")),
    "exit": _c("core/exec.c", 0, 1, "[<status>]"),
    "isset": _c("core/exec.c", 1, 1, "<value>"),
    "iseq": _c("core/exec.c", 2, 2, "<value1> <value2>"),
    "sleep": _c("core/exec.c", 1, 1, "<seconds>"),
    # image/script.c
    "goto": _c("image/script.c", 1, 1, "<label>"),
    "prompt": _c("image/script.c", 0, MAX, "[<text>]", _o("key", "k", "key"),
                 _o("timeout", "t", "timeout")),
    # hci/shell.c: help_exec never parses its arguments
    "help": Command(source="hci/shell.c", parsed=False),
    "shell": _c("hci/shell.c", 0, 0),
    # hci/commands/
    "autoboot": _c(_HCI + "autoboot_cmd.c", 0, MAX, _IF),
    "certstat": _c(_HCI + "cert_cmd.c", 0, 0, "", _SUBJECT),
    "certstore": _c(_HCI + "cert_cmd.c", 0, 1, "[<uri|image>]", _SUBJECT, _f("keep", "k")),
    "certfree": _c(_HCI + "cert_cmd.c", 0, 0, "", _SUBJECT),
    "config": _c(_HCI + "config_cmd.c", 0, 1, "[<scope>]"),
    "console": _c(_HCI + "console_cmd.c", 0, 0, "", *(_o(n, n[0], "int") for n in (
        "x", "y", "left", "right", "top", "bottom", "depth")), _o("picture", "p"),
        _f("keep", "k")),
    "colour": _c(_HCI + "console_cmd.c", 1, 1, "<colour>", _o("basic", "b", "int"),
                 _o("rgb", "r", "int")),
    "cpair": _c(_HCI + "console_cmd.c", 1, 1, "<cpair>", _o("foreground", "f", "int"),
                _o("background", "b", "int")),
    "dhcp": _IFCONF,  # dhcp_cmd.c: a synonym for "ifconf"
    "pxebs": _c(_HCI + "dhcp_cmd.c", 2, 2, "<interface> <server type>"),
    "md5sum": _DIGEST,
    "sha1sum": _DIGEST,
    "menu": _DYNUI,
    "form": _DYNUI,
    "item": _c(_HCI + "dynui_cmd.c", 0, MAX, "[<label> [<text>]]", _o("menu", "m"),
               _o("form", "f", new=True), _o("key", "k", "key"), _f("default", "d"),
               _f("secret", "s", new=True), _f("gap", "g")),
    "choose": _c(_HCI + "dynui_cmd.c", 1, 1, "<setting>", _o("menu", "m"),
                 _o("default", "d"), _o("timeout", "t", "timeout"),
                 _o("retimeout", "r", "timeout", new=True), _f("keep", "k")),
    "present": _c(_HCI + "dynui_cmd.c", 0, 0, "", _o("form", "f"), _f("keep", "k")),
    "fcstat": _c(_HCI + "fcmgmt_cmd.c", 0, 0),
    "fcels": _c(_HCI + "fcmgmt_cmd.c", 1, 1, "<request>", _o("port", "p"), _o("id", "i")),
    "fdt": _c(_HCI + "fdt_cmd.c", 0, 1, "[<uri>]", _o("timeout", "t", "timeout"),
              _f("quiet", "q")),
    "gdbstub": _c(_HCI + "gdbstub_cmd.c", 1, MAX, "<transport> [<options>...]"),
    "ibstat": _c(_HCI + "ibmgmt_cmd.c", 0, 0),
    "ifopen": _c(_HCI + "ifmgmt_cmd.c", 0, MAX, _IF),
    "ifclose": _c(_HCI + "ifmgmt_cmd.c", 0, MAX, _IF),
    "ifstat": _c(_HCI + "ifmgmt_cmd.c", 0, MAX, _IF),
    "ifconf": _IFCONF,
    "iflinkwait": _c(_HCI + "ifmgmt_cmd.c", 0, MAX, _IF, _o("timeout", "t", "timeout")),
    "imgextract": _c(_HCI + "image_archive_cmd.c", 1, 1, "", *_NKTQ),
    "imgfetch": _FETCH, "module": _FETCH, "initrd": _FETCH,
    "imgselect": _SELECT, "imgload": _SELECT, "kernel": _SELECT,
    "imgexec": _EXEC, "chain": _EXEC, "boot": _EXEC,
    "imgargs": _SELECT,
    "imgstat": _MULTI, "imgfree": _MULTI,
    "imgdecrypt": _c(_HCI + "image_crypt_cmd.c", 2, 2, "<uri|image> <envelope uri|image>",
                     *_NKTQ),
    "imgmem": _c(_HCI + "image_mem_cmd.c", 2, 2, "<address> <length>", _o("name", "n")),
    "imgset": _c(_HCI + "image_set_cmd.c", 2, 2, "", *_NKTQ[1:]),
    "imgtrust": _c(_HCI + "image_trust_cmd.c", 0, 0, "", _f("allow", "a"),
                   _f("permanent", "p")),
    "imgverify": _c(_HCI + "image_trust_cmd.c", 2, 2, "<uri|image> <signature uri|image>",
                    _o("signer", "s"), _f("keep", "k"), _o("timeout", "t", "timeout"),
                    _f("quiet", "q", new=True)),
    "ipstat": _c(_HCI + "ipstat_cmd.c", 0, 0),
    "iwstat": _c(_HCI + "iwmgmt_cmd.c", 0, MAX, _IF),
    "iwlist": _c(_HCI + "iwmgmt_cmd.c", 0, MAX, _IF),
    "login": _c(_HCI + "login_cmd.c", 0, 0),
    "lotest": _c(_HCI + "lotest_cmd.c", 2, 2, "<sending interface> <receiving interface>",
                 _o("mtu", "m", "int"), _f("broadcast", "b")),
    "nstat": _c(_HCI + "neighbour_cmd.c", 0, 0),
    "nslookup": _c(_HCI + "nslookup_cmd.c", 2, 2, "<setting> <name>"),
    "ntp": _c(_HCI + "ntp_cmd.c", 1, 1, "<server>"),
    "show": _c(_HCI + "nvo_cmd.c", 1, 1, "<setting>", _f("quiet", "q", new=True)),
    "set": _c(_HCI + "nvo_cmd.c", 1, MAX, "<setting> <value>"),
    "clear": _c(_HCI + "nvo_cmd.c", 1, 1, "<setting>"),
    "read": _c(_HCI + "nvo_cmd.c", 1, 1, "<setting>", _o("timeout", "t", "timeout", new=True)),
    "inc": _c(_HCI + "nvo_cmd.c", 1, 2, "<setting> [<increment>]"),
    "params": _c(_HCI + "param_cmd.c", 0, 0, "", _o("name", "n"), _o("method", "m", new=True),
                 _f("delete", "d")),
    "param": _c(_HCI + "param_cmd.c", 1, MAX, "<key> [<value>]", _o("params", "p"),
                _f("header", "H", new=True)),
    "pciscan": _c(_HCI + "pci_cmd.c", 1, 1, "<setting>"),
    "ping": _c(_HCI + "ping_cmd.c", 1, 1, "<host>", _o("size", "s", "int"),
               _o("timeout", "t", "timeout"), _o("count", "c", "int"), _f("quiet", "q")),
    "poweroff": _c(_HCI + "poweroff_cmd.c", 0, 0),
    "profstat": _c(_HCI + "profstat_cmd.c", 0, 0),
    "reboot": _c(_HCI + "reboot_cmd.c", 0, 0, "", _f("warm", "w"), _f("setup", "s", new=True)),
    "route": _c(_HCI + "route_cmd.c", 0, 0),
    "sanboot": _c(_HCI + "sanboot_cmd.c", 0, MAX, "[<root-path>]", *_SAN),
    "sanhook": _c(_HCI + "sanboot_cmd.c", 1, MAX, "<root-path>", *_SAN[:2]),
    "sanunhook": _c(_HCI + "sanboot_cmd.c", 0, 0, "", *_SAN[:1]),
    "shim": _c(_HCI + "shim_cmd.c", 0, 1, "", _o("timeout", "t", "timeout"), _f("quiet", "q"),
               _f("require-loader", "l"), _f("allow-pxe", "p"), _f("allow-sbat", "s")),
    "sync": _c(_HCI + "sync_cmd.c", 0, 0, "", _o("timeout", "t", "timeout")),
    "time": _c(_HCI + "time_cmd.c", 1, MAX, "<command>"),
    "usbscan": _c(_HCI + "usb_cmd.c", 1, 1, "<setting>"),
    "vcreate": _c(_HCI + "vlan_cmd.c", 1, 1, "<trunk interface>", _o("tag", "t", "int"),
                  _o("priority", "p", "int")),
    "vdestroy": _c(_HCI + "vlan_cmd.c", 1, 1, "<VLAN interface>"),
    # arch/x86/hci/commands/ (BIOS and x86 EFI builds)
    "cpuid": _c(_X86 + "cpuid_cmd.c", 1, 1, "<bit>", _f("ext", "e"), _f("amd", "a"),
                _f("ecx", "c")),
    "startpxe": _c(_X86 + "pxe_cmd.c", 0, MAX, "[<interface>]"),
    "stoppxe": _c(_X86 + "pxe_cmd.c", 0, 0),
}


@dataclass(frozen=True)
class Build:
    """What one iPXE binary was compiled with (config/general.h and its platform defaults).

    Attributes:
        name: the name scenarios and ``--build`` use.
        description: one line, with where the facts come from.
        commands: the command names it has; None for every command in :data:`SPECS`.
        schemes: the URI schemes it can open (downloads and SAN); None for any.
        new_options: whether it has the options added after the 2019 snapshot
            (:attr:`~netbootsim.ipxe.options.Opt.new`).
    """

    name: str
    description: str
    commands: frozenset[str] | None = None
    schemes: frozenset[str] | None = None
    new_options: bool = True
    _cache: dict[str, Command | None] = field(default_factory=dict, compare=False, repr=False)

    def has(self, command: str) -> bool:
        """Whether the binary has ``command`` (always, when it lists no commands)."""
        return self.commands is None or command in self.commands

    def command(self, name: str) -> Command | None:
        """The options and argument counts of ``name`` in this build, None if it has none."""
        if name not in self._cache:
            spec = SPECS.get(name) if self.has(name) else None
            if spec is not None and not self.new_options:
                spec = spec.without_new_options()
            self._cache[name] = spec
        return self._cache[name]

    def opens(self, scheme: str) -> bool:
        """Whether a URI with ``scheme`` can be opened (core/open.c xfer_uri_opener)."""
        return self.schemes is None or scheme.lower() in self.schemes


#: The 2019 BIOS ROM's commands: every name below appears in the decompressed
#: /usr/lib/ipxe/qemu/pxe-e1000.rom of Debian ipxe-qemu 1.0.0+git-20190125.36a4c85
#: (LZMA raw, lc=2 lp=0 pb=0 as util/zbin.c packs it), which is what config/general.h
#: of that snapshot plus config/defaults/pcbios.h (REBOOT_CMD, CPUID_CMD) select:
#: no imgverify/imgtrust (IMAGE_TRUST_CMD off), no params/param, ntp, nslookup, ping,
#: vcreate, console, time, poweroff, pciscan, digests or certificates.
DEBIAN_2019_COMMANDS = frozenset(
    "autoboot boot chain choose clear config cpuid dhcp echo exit goto help ifclose ifconf "
    "ifopen ifstat imgargs imgexec imgfetch imgfree imgload imgselect imgstat inc initrd "
    "iseq isset item kernel login menu module prompt pxebs read reboot route sanboot "
    "sanhook sanunhook set shell show sleep sync".split())
#: Its URI schemes (same strings): TFTP (and tftm/mtftp), HTTP without HTTPS, NFS
#: (enabled by Debian), iSCSI and AoE for SAN.
DEBIAN_2019_SCHEMES = frozenset("tftp tftm mtftp http nfs iscsi aoe".split())

#: Builds by name (``netbootsim ipxe check --build NAME``, ``Shell(features=...)``).
BUILDS: dict[str, Build] = {b.name: b for b in (
    Build("all", "every command and option of iPXE master (0ab2277c40f1), any URI scheme"),
    Build("debian-2019", "the lab ROM: Debian ipxe-qemu 1.0.0+git-20190125.36a4c85 BIOS "
          "(commands and schemes read from the ROM itself)", DEBIAN_2019_COMMANDS,
          DEBIAN_2019_SCHEMES, new_options=False),
    # The default build of master: IMAGE_TRUST_CMD is off by default on every platform
    # (config/general.h:105 [ipxe-src]); every other command of the table is assumed
    # in (not read from a binary).
    Build("master-default", "iPXE master's default build: no imgverify/imgtrust "
          "(IMAGE_TRUST_CMD off, config/general.h:105); other commands assumed in",
          frozenset(SPECS) - {"imgverify", "imgtrust"}),
)}


def build_named(features: Build | str | Iterable[str] | None) -> Build:
    """A :class:`Build` from what a Shell or the lint was given.

    None is every command; a string names an entry of :data:`BUILDS`; any other
    iterable is a set of command names (every option and scheme allowed).

    Raises:
        KeyError: an unknown build name.
    """
    if features is None:
        return BUILDS["all"]
    if isinstance(features, Build):
        return features
    if isinstance(features, str):
        return BUILDS[features]
    return _custom(frozenset(features))


@cache
def _custom(names: frozenset[str]) -> Build:
    return Build("custom", f"{len(names)} commands", names)
