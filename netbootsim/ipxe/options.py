"""Command options and arguments, parsed the way iPXE's getopt does.

core/getopt.c ``getopt_long`` and core/parseopt.c ``reparse_options``: options come
first and stop at the first argument that does not start with ``-`` (so
``echo hello -n`` prints ``hello -n``); ``--`` ends them; ``--name=value`` and
``--name value``, ``-nvalue`` and ``-n value`` all work; ``-h``/``--help`` prints the
usage. Errors print what iPXE prints and carry its status code.

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from . import errors
from .settings import strtoul

__all__ = ["Command", "Opt", "UsageError", "parse_integer", "parse_key", "parse_options",
           "parse_timeout"]

#: iPXE's timer: TICKS_PER_SEC = 1024 (include/ipxe/timer.h), and a "milliseconds"
#: option is really ticks (core/parseopt.c parse_timeout: ms × TICKS_PER_MS = 1).
TICKS_PER_SEC = 1024


class UsageError(Exception):
    """Bad options or arguments; the message was already printed."""

    def __init__(self, status: int):
        super().__init__(errors.strerror(status))
        self.status = status


@dataclass(frozen=True)
class Opt:
    """One option: ``--long``/``-s``, with or without a required argument.

    Attributes:
        long: the long name (``--long``).
        short: the one-character short name (``-s``).
        arg: whether it takes an argument (``required_argument``).
        kind: how iPXE parses the argument when it is not a plain string:
            ``"int"`` (parseopt.c parse_integer), ``"timeout"`` (parse_timeout: an
            integer of ticks), ``"key"`` (parse_key: one character or an integer).
        new: added to iPXE after the 2019 snapshot the lab ROM was built from
            (36a4c85, 2019-01-25); a build without new options does not know it.
    """

    long: str
    short: str
    arg: bool = False
    kind: str = ""
    new: bool = False


@dataclass(frozen=True)
class Command:
    """What a command accepts (parseopt.h ``COMMAND_DESC``).

    Attributes:
        options: its options.
        min_args: fewest arguments after the options.
        max_args: most arguments, None for no limit (MAX_ARGUMENTS).
        usage: the argument part of the usage line, e.g. ``"<setting> <value>"``.
        source: the iPXE source file that defines it (``hci/commands/menu_cmd.c``).
        parsed: False for a command that never calls parse_options (``help``):
            any options and arguments are accepted.
    """

    options: tuple[Opt, ...] = ()
    min_args: int = 0
    max_args: int | None = None
    usage: str = ""
    source: str = ""
    parsed: bool = True

    def without_new_options(self) -> Command:
        """This command as the 2019 snapshot had it (options marked ``new`` left out)."""
        return replace(self, options=tuple(o for o in self.options if not o.new))


def usage(cmd: Command, name: str) -> str:
    """The usage text (core/parseopt.c print_usage)."""
    opts = "".join(f" [-{o.short}|--{o.long}{f' <{o.long}>' if o.arg else ''}]"
                   for o in cmd.options)
    tail = f" {cmd.usage}" if cmd.usage else ""
    return (f"Usage:\n\n  {name}{opts}{tail}\n\n"
            f"See http://ipxe.org/cmd/{name} for further information\n")


def parse_options(argv: list[str], cmd: Command,
                  say: Callable[[str], None]) -> tuple[dict[str, str | bool], list[str]]:
    """Split ``argv`` into options (long name → value, or True) and arguments.

    Raises:
        UsageError: unknown option (EINVAL_UNKNOWN_OPTION), missing option argument
            (EINVAL_MISSING_ARGUMENT), ``--help`` (ECANCELED_NO_OP) or a wrong
            argument count (ERANGE); the message and usage are printed with ``say``.
    """
    opts: dict[str, str | bool] = {}
    if not cmd.parsed:
        return opts, argv[1:]
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        tok = argv[i]
        i += 1
        if tok == "--":
            break
        if tok.startswith("--"):  # getopt.c match_long_option: exact name, or name=value
            name, eq, inline = tok[2:].partition("=")
            opt = next((o for o in cmd.options if o.long == name), None)
            if opt is None and name == "help" and not eq:
                say(usage(cmd, argv[0]))
                raise UsageError(errors.ECANCELED_NO_OP)
            if opt is None:
                say(f'Unrecognised option "{tok}"\n' + usage(cmd, argv[0]))
                raise UsageError(errors.EINVAL_UNKNOWN_OPTION)
            if opt.arg and not eq:
                if i >= len(argv):
                    say(f'Option "{name}" requires an argument\n' + usage(cmd, argv[0]))
                    raise UsageError(errors.EINVAL_MISSING_ARGUMENT)
                inline, i = argv[i], i + 1
            elif not opt.arg and eq:
                say(f'Option "{name}" takes no argument\n' + usage(cmd, argv[0]))
                raise UsageError(errors.EINVAL_MISSING_ARGUMENT)
            opts[opt.long] = inline if opt.arg else True
            continue
        chars = tok[1:] or "\0"  # getopt.c match_short_option: clusters like -an
        while chars:
            ch, chars = chars[0], chars[1:]
            opt = next((o for o in cmd.options if o.short == ch), None)
            if opt is None and ch == "h":
                say(usage(cmd, argv[0]))
                raise UsageError(errors.ECANCELED_NO_OP)
            if opt is None:
                say(f'Unrecognised option "-{ch.strip(chr(0))}"\n' + usage(cmd, argv[0]))
                raise UsageError(errors.EINVAL_UNKNOWN_OPTION)
            if opt.arg:
                if not chars and i >= len(argv):
                    say(f'Option "{ch}" requires an argument\n' + usage(cmd, argv[0]))
                    raise UsageError(errors.EINVAL_MISSING_ARGUMENT)
                if not chars:
                    chars, i = argv[i], i + 1
                opts[opt.long], chars = chars, ""
            else:
                opts[opt.long] = True
    args = argv[i:]
    if len(args) < cmd.min_args or (cmd.max_args is not None and len(args) > cmd.max_args):
        say(usage(cmd, argv[0]))
        raise UsageError(errors.ERANGE_ARGS)
    return opts, args


def parse_integer(text: str, say: Callable[[str], None]) -> int:
    """An unsigned integer, C syntax (core/parseopt.c parse_integer).

    Raises:
        UsageError: not an integer (EINVAL_INTEGER), after printing iPXE's message.
    """
    value, rest = strtoul(text)
    if rest:
        say(f'"{text}": invalid integer value\n')
        raise UsageError(errors.EINVAL_INTEGER)
    return value


def parse_key(text: str, say: Callable[[str], None]) -> int:
    """A key: one character is itself, anything else an integer (parseopt.c parse_key)."""
    return ord(text) if len(text) == 1 else parse_integer(text, say)


def parse_timeout(text: str, say: Callable[[str], None]) -> float:
    """A ``--timeout`` in "ms", returned in seconds: ticks / 1024 (parseopt.c parse_timeout)."""
    return parse_integer(text, say) / TICKS_PER_SEC
