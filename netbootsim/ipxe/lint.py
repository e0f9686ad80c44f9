r"""Static checks of iPXE scripts (``netbootsim ipxe check``).

iPXE checks nothing before it runs a line (core/exec.c, image/script.c [ipxe-src]): a
misspelt command, an unknown option or a ``goto`` to a missing label fails only when
reached, perhaps on the one machine whose menu took that branch. This lint reads the whole script
against :data:`~.spec.SPECS` (every iPXE command, executed here or not) and reports
these as errors:

    missing ``#!ipxe`` magic; a last line ending in ``\`` (iPXE drops it, EINVAL);
    unknown commands; commands or options the chosen build lacks (``--build``);
    unknown options, options without their argument or with one they do not take;
    literal integers that do not parse (``--timeout 5s``, ``sleep 1m``); wrong
    argument counts (parseopt ``min_args``/``max_args``); ``goto`` to a literal label
    that no line defines; URI schemes the build cannot open (``https`` in 2019).

and these as warnings:

    computed command names, options or labels (``goto ${x}``: not checked), except
    ``goto ${t}`` after ``choose t``, where instead every ``item`` label must have its
    ``:label``; labels defined twice (``goto`` finds the first); ``choose --default``
    naming no item; ``--help`` (prints usage and fails).

Arguments are counted as iPXE counts them: split on whitespace only, before
``${...}`` expansion, so every token is one argument whatever it expands to.

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import one_line
from .options import Command
from .sanpath import SAN_PATHS, parse_san_uri
from .script import Line, has_magic, split_command, split_commands, split_lines
from .settings import strtoul
from .spec import SPECS, Build, build_named

__all__ = ["Finding", "MAX_SCRIPT_BYTES", "check_file", "check_text"]

#: The largest script file :func:`check_file` reads: 1 MiB. Boot scripts are a few KiB;
#: anything near this size is not a script someone wrote (a kernel, an ISO, a log).
MAX_SCRIPT_BYTES = 2**20

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
#: The SAN root paths' schemes, to the target kind each names (:mod:`.sanpath`).
_SAN_SCHEMES = {"iscsi:": "iscsi", "aoe:": "aoe", "fcp:": "fcoe"}
#: Commands whose arguments are URIs (or image names, which have no scheme).
_URI_ARGS = {"imgfetch", "module", "initrd", "imgselect", "imgload", "kernel", "imgexec",
             "chain", "boot", "imgargs", "imgverify", "sanboot", "sanhook", "certstore",
             "imgextract", "imgdecrypt", "fdt", "shim"}
#: Arguments iPXE parses with parse_integer: command → argument indices.
_INT_ARGS = {"sleep": (0,), "exit": (0,), "inc": (1,), "cpuid": (0,)}


@dataclass(frozen=True, order=True)
class Finding:
    """One problem: ``FILE:LINE: error: message`` (line 0: the whole file)."""

    file: str
    line: int
    severity: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return one_line(f"{where}: {self.severity}: {self.message}")


@dataclass
class _Context:
    source: str
    build: Build
    labels: dict[str, int] = field(default_factory=dict)
    items: list[tuple[str, int, int]] = field(default_factory=list)  # label, line, menu
    targets: dict[str, set[int]] = field(default_factory=dict)  # setting → menus
    chooser: dict[int, int] = field(default_factory=dict)  # choose line → menu
    found: list[Finding] = field(default_factory=list)
    #: what the caller knows of the world the URIs name (:func:`check_text`)
    uri_check: Callable[[str], str] | None = None

    def error(self, line: int, message: str) -> None:
        self.found.append(Finding(self.source, line, "error", message))

    def warning(self, line: int, message: str) -> None:
        self.found.append(Finding(self.source, line, "warning", message))


def check_file(path: str | Path, build: Build | str | Iterable[str] | None = None,
               ) -> list[Finding]:
    """Check one script file.

    A file that is not a script to read is one error (line 0), and nothing else: it
    cannot be read (missing, a directory, not a regular file), it is larger than
    :data:`MAX_SCRIPT_BYTES`, or it is not text (a NUL byte, or not UTF-8).
    """
    data, why = _read_script(Path(path))
    if why:
        return [Finding(str(path), 0, "error", why)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return [Finding(str(path), 0, "error", f"not a text file (not UTF-8: {e.reason} at "
                                               f"byte {e.start})")]
    return check_text(text, str(path), build)


def _read_script(path: Path) -> tuple[bytes, str]:
    """The file's bytes, or why it is not a script file to read."""
    limit = f"larger than {MAX_SCRIPT_BYTES // 2**20} MiB, the limit for a script file"
    try:
        st = path.stat()
        if path.is_dir():
            return b"", "cannot read: Is a directory"
        if not path.is_file():
            return b"", "cannot read: not a regular file"
        if st.st_size > MAX_SCRIPT_BYTES:
            return b"", f"{st.st_size:,} bytes: {limit}"
        with path.open("rb") as f:
            data = f.read(MAX_SCRIPT_BYTES + 1)
    except OSError as e:
        return b"", f"cannot read: {e.strerror or e}"
    if len(data) > MAX_SCRIPT_BYTES:  # it grew while read
        return b"", limit
    if (nul := data.find(b"\0")) >= 0:
        return b"", f"not a text file (a NUL byte at byte {nul})"
    return data, ""


def check_text(text: str, source: str,
               build: Build | str | Iterable[str] | None = None,
               uri_check: Callable[[str], str] | None = None) -> list[Finding]:
    """Check script ``text`` (named ``source`` in findings) against ``build`` (default all).

    ``uri_check``: called with each URI a command fetches or boots that is written out
    in full (no ``${...}``); a non-empty answer (why nothing answers that URI) is a
    warning on its line.
    """
    ctx = _Context(source, build_named(build), uri_check=uri_check)
    if not has_magic(text):
        first = text.split("\n", 1)[0][:40]
        ctx.error(1, f"not an iPXE script: it must start with '#!ipxe' and a space or "
                  f"newline, found {first!r}")
    lines, unterminated = split_lines(text)
    commands = [(line, argv) for line in lines
                for argv, _ in split_commands(split_command(line.text)) if argv]
    for line in lines:
        if line.label is None:
            continue
        if line.label in ctx.labels:
            ctx.warning(line.number, f"label ':{line.label}' is already defined at line "
                        f"{ctx.labels[line.label]}; goto always finds the first")
        else:
            ctx.labels[line.label] = line.number
    _menus(ctx, commands)
    for line, argv in commands:
        _check_command(ctx, line, argv)
    if unterminated:
        last = len(text.split("\n")) - text.endswith("\n")  # the last physical line
        ctx.error(last, "the last line ends with '\\': iPXE drops it and the script fails "
                  "(EINVAL)")
    return sorted(set(ctx.found), key=lambda f: (f.line, f.severity != "error", f.message))


def _menus(ctx: _Context, commands: list[tuple[Line, list[str]]]) -> None:
    """What each menu offers and where choices are stored, in script order.

    A menu is known by the line that created it: ``item``/``choose`` go to the named
    menu (``--menu``) or to the last unnamed one, as core/menu.c find_menu does.
    """
    named: dict[str, int] = {}
    unnamed = 0
    for line, argv in commands:
        if argv[0] not in ("menu", "item", "choose"):
            continue
        opts, args, _ = _getopt(argv, SPECS[argv[0]], SPECS[argv[0]], "")
        name = opts.get("name" if argv[0] == "menu" else "menu")
        if argv[0] == "menu" and isinstance(name, str):
            named[name] = line.number
            continue
        if argv[0] == "menu":
            unnamed = line.number
            continue
        menu = named.get(name, -1) if isinstance(name, str) else unnamed
        if argv[0] == "item" and args and not opts.get("gap") and "${" not in args[0]:
            ctx.items.append((args[0], line.number, menu))
        elif argv[0] == "choose" and args:
            ctx.chooser[line.number] = menu
            ctx.targets.setdefault(args[0].split(":", 1)[0], set()).add(menu)


def _check_command(ctx: _Context, line: Line, argv: list[str]) -> None:
    name, at = argv[0], line.number
    if "${" in name:
        ctx.warning(at, f"command name {name!r} is computed; not checked")
        return
    full = SPECS.get(name)
    if full is None:
        near = difflib.get_close_matches(name, SPECS, n=1)
        ctx.error(at, f"unknown command '{name}' (iPXE: command not found)"
                  + (f"; did you mean '{near[0]}'?" if near else ""))
        return
    spec = ctx.build.command(name)
    if spec is None:
        ctx.error(at, f"'{name}' is not in the {ctx.build.name} build (there: command not "
                  "found)")
        return
    if not spec.parsed:
        return
    opts, args, problems = _getopt(argv, spec, full, ctx.build.name)
    for severity, message in problems:
        (ctx.error if severity == "error" else ctx.warning)(at, message)
    if args is None:
        return
    lo, hi = spec.min_args, spec.max_args
    if len(args) < lo or (hi is not None and len(args) > hi):
        want = (f"{lo}" if lo == hi else f"at least {lo}" if hi is None
                else f"{lo} to {hi}" if lo else f"at most {hi}")
        noun = "argument" if hi == 1 or (hi is None and lo == 1) else "arguments"
        ctx.error(at, f"'{name}' takes {want} {noun}, got "
                  f"{len(args)} (usage: {name}{' ' + spec.usage if spec.usage else ''})")
        return
    for i in _INT_ARGS.get(name, ()):
        if i < len(args):
            _check_int(ctx, at, args[i])
    if name in _URI_ARGS:
        for arg in args[:len(args) if name.startswith("san") else 2 if name == "imgverify"
                        else 1]:
            m = _SCHEME.match(arg)
            if m and "${" not in m.group(1) and not ctx.build.opens(m.group(1)):
                ctx.error(at, f"the {ctx.build.name} build cannot open {m.group(1)}: URIs "
                          "(Operation not supported)")
            elif m and ctx.uri_check is not None and "${" not in arg and \
                    (why := ctx.uri_check(arg)):
                ctx.warning(at, why)
            elif name.startswith("san") and "${" not in arg and \
                    arg.lower().startswith(tuple(_SAN_SCHEMES)) and parse_san_uri(arg) is None:
                kind = _SAN_SCHEMES[arg.lower().partition(":")[0] + ":"]
                ctx.error(at, f"{arg}: not a SAN root path iPXE parses ({SAN_PATHS[kind]}; "
                          "Invalid argument)")
            elif name.startswith("san") and arg.lower().startswith("fcoe:"):
                ctx.error(at, f"{arg}: iPXE has no fcoe: URIs; an FCoE target is "
                          f"{SAN_PATHS['fcoe']} (net/fcp.c)")
            elif name.startswith("san") and arg.lower().startswith("fcp:") and \
                    ctx.build.name != "all":
                ctx.warning(at, f"{arg}: FCoE is off in iPXE's default build "
                            "(NET_PROTO_FCOE, config/general.h): the binary must be built "
                            "with it (build: all)")
    if name == "goto":
        _check_goto(ctx, at, args[0])
    elif name == "time":
        _check_command(ctx, line, args)
    elif name == "choose" and isinstance(label := opts.get("default"), str):
        menu = ctx.chooser.get(at)
        if "${" not in label and all(label != lab or m != menu for lab, _, m in ctx.items):
            ctx.warning(at, f"choose --default {label}: no 'item {label}' in this script")


def _getopt(argv: list[str], spec: Command, full: Command, build: str,
            ) -> tuple[dict[str, str | bool], list[str] | None, list[tuple[str, str]]]:
    """Walk the options as getopt does (core/getopt.c; see :mod:`.options`).

    Returns the literal options (long name → value or True), the arguments (None
    when they cannot be known: an unknown or computed option) and the problems as
    ``(severity, message)``.
    """
    name, i = argv[0], 1
    opts: dict[str, str | bool] = {}
    problems: list[tuple[str, str]] = []
    while i < len(argv) and argv[i].startswith("-"):
        tok = argv[i]
        i += 1
        if tok == "--":
            break
        long = tok.startswith("--")
        keys = [tok[2:].partition("=")[0]] if long else list(tok[1:]) or [""]
        for n, key in enumerate(keys):
            shown = f"--{key}" if long else f"-{key}"
            if "$" in key or "{" in key:
                problems.append(("warning", f"'{name}': option {tok!r} is computed; options "
                                 "and arguments not checked"))
                return opts, None, problems
            opt = next((o for o in spec.options if (o.long if long else o.short) == key), None)
            if opt is None and key in ("help", "h"):
                problems.append(("warning", f"'{name} {shown}' prints the usage and fails"))
                continue
            if opt is None:
                newer = any((o.long if long else o.short) == key for o in full.options)
                problems.append(("error", f"option {shown} of '{name}' is not in the {build} "
                                 "build (added to iPXE after 2019)" if newer else
                                 f"unknown option {shown} for '{name}' (usage: {name} "
                                 f"{_usage(spec)})"))
                return opts, None, problems
            if not opt.arg:
                if long and "=" in tok:
                    problems.append(("error", f"option {shown} of '{name}' takes no argument"))
                opts[opt.long] = True
                continue
            value = tok.partition("=")[2] if long else tok[2 + n:]
            if not value and not (long and "=" in tok):
                if i >= len(argv):
                    problems.append(("error", f"option {shown} of '{name}' needs an argument"))
                    return opts, None, problems
                value, i = argv[i], i + 1
            opts[opt.long] = value
            if (opt.kind in ("int", "timeout") or (opt.kind == "key" and len(value) != 1)) \
                    and "${" not in value and strtoul(value)[1]:
                problems.append(("error", f'"{value}": invalid integer value'))
            break  # the rest of a short cluster was this option's argument
    return opts, argv[i:], problems


def _usage(spec: Command) -> str:
    opts = " ".join(f"[--{o.long}{' <' + o.long + '>' if o.arg else ''}]" for o in spec.options)
    return " ".join(p for p in (opts, spec.usage) if p)


def _check_int(ctx: _Context, at: int, text: str) -> None:
    if "${" not in text and strtoul(text)[1]:
        ctx.error(at, f'"{text}": invalid integer value')


def _check_goto(ctx: _Context, at: int, label: str) -> None:
    if "${" not in label:
        if label not in ctx.labels:
            near = difflib.get_close_matches(label, ctx.labels, n=1)
            ctx.error(at, f"goto {label}: no label ':{label}' in this script"
                      + (f"; did you mean ':{near[0]}'?" if near else ""))
        return
    m = re.fullmatch(r"\$\{([^}:]+)(?::[^}]*)?\}", label)
    if m is None or m.group(1) not in ctx.targets:
        ctx.warning(at, f"goto {label}: computed label; not checked")
        return
    menus = ctx.targets[m.group(1)]
    for item, line, menu in ctx.items:  # goto ${t} after choose t: every item is a label
        if menu in menus and item not in ctx.labels:
            ctx.warning(line, f"item '{item}' has no ':{item}' label, but line {at} does "
                        f"'goto {label}' with the choice")
