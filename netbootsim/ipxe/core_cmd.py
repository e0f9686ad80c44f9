"""The shell's own commands: ``echo``, ``exit``, ``goto``, ``prompt``, ``set``, ``dhcp``...

core/exec.c (``echo``, ``exit``, ``isset``, ``iseq``, ``sleep``), image/script.c
(``goto``, ``prompt``), hci/commands/nvo_cmd.c (``set``, ``clear``, ``inc``) and
hci/commands/ifmgmt_cmd.c (``ifconf``/``dhcp``). Each cites the iPXE source it follows
and parses its arguments with its entry in :data:`~.spec.SPECS`.

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

from . import errors
from .interface import CommandShell, Handler, Proc, registrar
from .options import parse_integer, parse_key, parse_timeout
from .script import STOP_COMMAND, STOP_SEQUENCE

__all__ = ["CORE_COMMANDS"]

#: The shell's own commands by name.
CORE_COMMANDS: dict[str, Handler] = {}
command = registrar(CORE_COMMANDS)


# -- core/exec.c ------------------------------------------------------------------------
@command("echo")
def echo(shell: CommandShell, argv: list[str]) -> int:
    """``echo [-n] [...]``: arguments joined by one space (exec.c echo_exec)."""
    opts, args = shell.parse(argv)
    shell.say(" ".join(args) + ("" if opts.get("n") else "\n"))
    return errors.OK


@command("exit")
def exit_(shell: CommandShell, argv: list[str]) -> int:
    """``exit [n]``: end the current script only, with status n (exec.c exit_exec)."""
    _, args = shell.parse(argv)
    code = parse_integer(args[0], shell.say) if args else 0
    shell.stop = STOP_SEQUENCE
    return abs(code - (1 << 32) if code & 0x80000000 else code)  # returned as a C int


@command("isset")
def isset(shell: CommandShell, argv: list[str]) -> int:
    """``isset <value>``: ENOENT when the (expanded) value is empty (exec.c isset_exec)."""
    _, args = shell.parse(argv)
    return errors.OK if args[0] else errors.ENOENT


@command("iseq")
def iseq(shell: CommandShell, argv: list[str]) -> int:
    """``iseq <a> <b>``: ERANGE when they differ (exec.c iseq_exec)."""
    _, args = shell.parse(argv)
    return errors.OK if args[0] == args[1] else errors.ERANGE


@command("sleep")
def sleep(shell: CommandShell, argv: list[str]) -> Proc:
    """``sleep <seconds>`` (exec.c sleep_exec); ECANCELED if the world says a key cut it."""
    _, args = shell.parse(argv)
    seconds = parse_integer(args[0], shell.say)
    cancelled = yield from shell.world.sleep(seconds)
    return errors.ECANCELED if cancelled else errors.OK


# -- image/script.c ---------------------------------------------------------------------
@command("goto")
def goto(shell: CommandShell, argv: list[str]) -> int:
    """``goto <label>``: continue at the first ``:label`` line (script.c goto_exec).

    Outside a script: "Not in a script", ENOTTY. Missing label: ENOENT, nothing
    printed, the script goes on where it was (the line's failure then ends it).
    """
    _, args = shell.parse(argv)
    if shell.frame is None:
        shell.say(f"Not in a script: {errors.strerror(errors.ENOTTY)}\n")
        return errors.ENOTTY
    index = shell.frame.script.find_label(args[0])
    if index is None:  # process_script's last rc: -ENOENT, or -EINVAL after a final "\"
        return errors.EINVAL_SCRIPT if shell.frame.script.unterminated else errors.ENOENT_LABEL
    shell.frame.index = index
    shell.stop = STOP_COMMAND
    return errors.OK


@command("prompt")
def prompt(shell: CommandShell, argv: list[str]) -> Proc:
    """``prompt [--key k] [--timeout ms] [text]`` (script.c prompt_exec, usr/prompt.c).

    The key comes from ``world.getkey``: None means the timeout passed (ETIMEDOUT);
    another key than ``--key`` is ECANCELED. Without ``--timeout`` (or 0) iPXE waits
    for ever, and so does this: a world where nobody types never returns.
    """
    opts, args = shell.parse(argv)
    key = parse_key(str(opts["key"]), shell.say) if "key" in opts else 0
    timeout = parse_timeout(str(opts["timeout"]), shell.say) if "timeout" in opts else 0
    text = " ".join(args)
    shell.say(text)
    got = yield from shell.world.getkey(timeout or None)
    shell.say("\b \b" * len(text))
    if got is None:
        return errors.ETIMEDOUT
    return errors.ECANCELED_PROMPT if key and got != key else errors.OK


# -- hci/commands/nvo_cmd.c -------------------------------------------------------------
@command("set")
def set_(shell: CommandShell, argv: list[str]) -> int:
    """``set <setting> <value...>``: arguments joined by spaces (nvo_cmd.c set_exec)."""
    _, args = shell.parse(argv)
    shell.settings.store(args[0], " ".join(args[1:]))
    return errors.OK


@command("clear")
def clear(shell: CommandShell, argv: list[str]) -> int:
    """``clear <setting>`` (nvo_cmd.c clear_exec)."""
    _, args = shell.parse(argv)
    shell.settings.clear(args[0])
    return errors.OK


@command("inc")
def inc(shell: CommandShell, argv: list[str]) -> int:
    """``inc <setting> [<increment>]`` (nvo_cmd.c inc_exec)."""
    _, args = shell.parse(argv)
    step = parse_integer(args[1], shell.say) if len(args) > 1 else 1
    shell.settings.inc(args[0], step)
    return errors.OK


# -- hci/commands/ifmgmt_cmd.c, dhcp_cmd.c, usr/ifmgmt.c --------------------------------
@command("ifconf", "dhcp")
def ifconf(shell: CommandShell, argv: list[str]) -> Proc:
    """``ifconf``/``dhcp [-c dhcp] [<interface>...]`` (ifmgmt_cmd.c ifconf_exec).

    The simulated machine has one interface, ``net0``, and one configurator,
    ``dhcp``. Success registers the reply's settings as ``net0.dhcp``. Master's
    ``--timeout`` (waiting for the link) is accepted and has no effect: the world's
    DHCP already includes any wait for the link.
    """
    opts, args = shell.parse(argv)
    conf = opts.get("configurator")
    if conf is not None and conf != "dhcp":  # parseopt.c parse_netdev_configurator
        shell.say(f'"{conf}": no such configurator\n')
        return errors.ENOTSUP_CONFIGURATOR
    rc = errors.ENODEV_NETDEV
    for name in args or ["net0"]:
        if name != "net0":  # parseopt.c parse_netdev; ifcommon_exec tries the next one
            shell.say(f'"{name}": no such network device\n')
            continue
        mac = shell.settings.fetch("net0/mac") or "00:00:00:00:00:00"
        shell.say(f"Configuring {'[dhcp] ' if conf else ''}(net0 {mac})...")
        start = shell.world.now
        reply = yield from shell.world.dhcp()
        shell.say("." * int(shell.world.now - start))  # monojob_wait: a dot a second
        if reply.status == 0:
            shell.say(" ok\n")
            shell.settings.apply_dhcp(reply.settings)
            return errors.OK
        shell.say(f" {errors.strerror(reply.status)}\n")
        shell.detail, rc = reply.reason, reply.status
    return rc
