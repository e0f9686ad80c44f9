"""Machine, settings and shell commands beyond the basics.

``reboot``/``poweroff`` (reboot_cmd.c, poweroff_cmd.c), ``cpuid`` (arch/x86 cpuid_cmd.c),
``params``/``param`` (param_cmd.c, core/params.c), ``show`` and ``read``
(nvo_cmd.c), ``help`` and ``shell`` (hci/shell.c), ``login`` and ``config``, and the
interface commands that take no time here (``ifopen``, ``ifclose``, ``ifstat``,
``route``, ``sync``).

Interactive commands (``shell``, ``login``, ``config``, ``read`` without a timeout)
wait for a key with ``world.getkey(None)``: where nobody types, the process never
resumes, as with ``prompt``. A key from a world that types ends them as if the
person had finished (the dialogue itself is not modelled).

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

from collections.abc import Callable

from . import errors
from .interface import CommandShell, Handler, Proc, registrar
from .options import parse_integer, parse_timeout
from .state import ParamList

__all__ = ["SYSTEM_COMMANDS"]

#: Commands by name.
SYSTEM_COMMANDS: dict[str, Handler] = {}
_command = registrar(SYSTEM_COMMANDS)


def _reboot_world(shell: CommandShell, kind: str) -> Proc:
    reboot = getattr(shell.world, "reboot", None)
    if reboot is None:
        shell.abort(errors.ABORT_UNMODELLED, f"{'poweroff' if kind == 'poweroff' else 'reboot'}"
                    ": the simulated world cannot reset the machine (World.reboot is not "
                    "implemented)")
    got = yield from reboot(kind)
    if got.status == 0:
        shell.reset(kind)
    shell.detail = got.reason
    return got.status


@_command("reboot")
def reboot(shell: CommandShell, argv: list[str]) -> Proc:
    """``reboot [--warm] [--setup]``: ``world.reboot("cold"|"warm"|"setup")``.

    On success the machine resets and the run ends (``ScriptResult.reset``); iPXE's
    reboot() never returns. A status from the world is returned as the command's.
    """
    opts, _ = shell.parse(argv)
    kind = "setup" if opts.get("setup") else "warm" if opts.get("warm") else "cold"
    return (yield from _reboot_world(shell, kind))


@_command("poweroff")
def poweroff(shell: CommandShell, argv: list[str]) -> Proc:
    """``poweroff``: ``world.reboot("poweroff")``; a failure prints ``Could not power off``."""
    shell.parse(argv)
    rc = yield from _reboot_world(shell, "poweroff")
    shell.say(f"Could not power off: {errors.strerror(rc)}\n")
    return rc


@_command("cpuid")
def cpuid(shell: CommandShell, argv: list[str]) -> int:
    """``cpuid [--ext] [--amd] [--ecx] <bit>``: 0 if the feature bit is set, else ENOENT.

    The world's optional ``cpuid(bit, ext=, ecx=)`` answers; without it the CPU is a
    64-bit one that reports nothing else: only ``cpuid --ext 29`` (long mode,
    CPUID 0x80000001 EDX bit 29) succeeds. ``--amd`` is ``--ext`` (cpuid_cmd.c).
    """
    opts, args = shell.parse(argv)
    bit = parse_integer(args[0], shell.say)
    ext, ecx = bool(opts.get("ext") or opts.get("amd")), bool(opts.get("ecx"))
    ask = getattr(shell.world, "cpuid", None)
    has = ask(bit, ext=ext, ecx=ecx) if ask is not None else (ext and not ecx and bit == 29)
    return errors.OK if has else errors.ENOENT_CPUID


# -- hci/commands/param_cmd.c, core/params.c --------------------------------------------
@_command("params")
def params(shell: CommandShell, argv: list[str]) -> int:
    """``params [--name n] [--method m] [--delete]``: (re)create a parameter list."""
    opts, _ = shell.parse(argv)
    name = str(opts["name"]) if "name" in opts else None
    old = next((p for p in shell.params if p.name == name), None)
    if old is not None:  # create_parameters destroys a list of the same name first
        shell.params.remove(old)
    if not opts.get("delete"):
        shell.params.append(ParamList(name, str(opts.get("method", "POST"))))
    return errors.OK


@_command("param")
def param(shell: CommandShell, argv: list[str]) -> int:
    """``param [--params n] [--header] <key> [<value>...]``: add to a parameter list."""
    opts, args = shell.parse(argv)
    name = str(opts["params"]) if "params" in opts else None
    found = next((p for p in shell.params if p.name == name), None)
    if found is None:  # parseopt.c parse_parameters
        shell.say(f'"{name}": no such parameter list\n' if name is not None
                  else "No default parameter list\n")
        return errors.ENOENT_PARSEOPT
    found.entries.append((args[0], " ".join(args[1:]), bool(opts.get("header"))))
    return errors.OK


# -- hci/commands/nvo_cmd.c --------------------------------------------------------------
@_command("show")
def show(shell: CommandShell, argv: list[str]) -> int:
    """``show <setting>``: prints ``block/name:type = value`` (nvo_cmd.c show_exec)."""
    _, args = shell.parse(argv)
    name, value = shell.settings.show(args[0])
    shell.say(f"{name} = {value}\n")
    return errors.OK


@_command("read")
def read(shell: CommandShell, argv: list[str]) -> Proc:
    """``read [--timeout ms] <setting>``: waits for typing (master: ETIMEDOUT on timeout)."""
    opts, args = shell.parse(argv)
    shell.settings.check_name(args[0])
    timeout = parse_timeout(str(opts["timeout"]), shell.say) if "timeout" in opts else 0
    key = yield from shell.world.getkey(timeout or None)
    return errors.ETIMEDOUT_READLINE if key is None and timeout else errors.OK


@_command("shell", "login", "config")
def interactive(shell: CommandShell, argv: list[str]) -> Proc:
    """``shell``, ``login``, ``config [<scope>]``: wait for a person (hci/shell.c, login_ui.c)."""
    shell.parse(argv)
    yield from shell.world.getkey(None)
    return errors.OK


@_command("help")
def help_(shell: CommandShell, argv: list[str]) -> int:
    """``help``: the commands this shell has, 16 columns, as hci/shell.c help_exec lays out."""
    out, hpos = ["\nAvailable commands:\n\n"], 0
    for name in sorted(n for n in shell.commands if shell.build.has(n)):
        out.append(f"  {name}")
        hpos += 2 + len(name)
        if hpos > 16 * 4:
            out.append("\n")
            hpos = 0
        else:
            out.append(" " * (-hpos % 16))
            hpos += -hpos % 16
    out.append('\n\nType "<command> --help" for further information\n\n')
    shell.say("".join(out))
    return errors.OK


# -- hci/commands/ifmgmt_cmd.c, route_cmd.c, sync_cmd.c (nothing takes time) -------------
def _netdevs(shell: CommandShell, args: list[str], payload: Callable[[str], None]) -> int:
    """ifmgmt_cmd.c ifcommon_exec: the named interfaces (only ``net0`` exists), or all."""
    rc = errors.OK
    for name in args or ["net0"]:
        if name != "net0":
            shell.say(f'"{name}": no such network device\n')
            rc = errors.ENODEV_NETDEV
            continue
        payload(name)
        rc = errors.OK
    return rc


@_command("ifopen", "ifclose")
def ifopen(shell: CommandShell, argv: list[str]) -> int:
    """``ifopen``/``ifclose [<interface>...]``: the simulated NIC is always open."""
    _, args = shell.parse(argv)
    return _netdevs(shell, args, lambda name: None)


@_command("ifstat")
def ifstat(shell: CommandShell, argv: list[str]) -> int:
    """``ifstat [<interface>...]`` (usr/ifmgmt.c ifstat; driver and counters are not modelled)."""
    _, args = shell.parse(argv)
    mac = shell.settings.fetch("net0/mac") or "00:00:00:00:00:00"
    return _netdevs(shell, args, lambda name: shell.say(
        f"{name}: {mac} using netbootsim on {name} (open)\n"
        "  [Link:up, TX:0 TXE:0 RX:0 RXE:0]\n"))


@_command("route")
def route(shell: CommandShell, argv: list[str]) -> int:
    """``route``: the IPv4 route of ``net0`` (net/ipv4.c ipv4_route_print), if configured."""
    shell.parse(argv)
    ip, mask = shell.settings.fetch("net0/ip"), shell.settings.fetch("net0/netmask")
    gateway = shell.settings.fetch("net0/gateway")
    if ip:
        shell.say(f"net0: {ip}/{mask or '255.255.255.0'}{f' gw {gateway}' if gateway else ''}\n")
    return errors.OK


@_command("sync")
def sync(shell: CommandShell, argv: list[str]) -> int:
    """``sync [--timeout ms]``: no background operations are pending here."""
    shell.parse(argv)
    return errors.OK
