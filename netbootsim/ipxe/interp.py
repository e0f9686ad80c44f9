"""The iPXE shell: runs scripts line by line against a simulated world.

A model of core/exec.c (``system``, ``execv``, shell stop states), image/script.c
(``script_exec``, ``process_script``) and core/image.c (``image_exec``, tail
recursion into ``--replace`` images). Running is a generator: every call into the
world (DHCP, downloads, sleeps, key waits, the kernel hand-over) is ``yield from``,
so SimPy time passes only there; the shell itself takes no simulated time.

Two guards that iPXE does not have stop runaway scripts with a clear reason instead
of hanging the simulation: ``max_steps`` commands in a row without simulated time
passing (a ``goto`` loop without ``sleep``) and ``max_depth`` nested chained scripts.

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from . import errors
from .commands import COMMANDS
from .interface import Handler, Proc, World
from .options import Command, UsageError, parse_options
from .script import (
    STOP_COMMAND,
    STOP_SEQUENCE,
    Script,
    ScriptError,
    command_line,
    parse_script,
)
from .settings import SettingError, Settings
from .spec import Build, build_named
from .state import Abort, Booted, Frame, Menu, ParamList, Reset, ScriptResult, Trust
from .world import Image, ImageList

__all__ = ["Frame", "ScriptResult", "Shell", "run_command", "run_script"]


@dataclass(frozen=True)
class _Failure:
    where: tuple[str, int] | None
    command: str
    status: int
    detail: str


class Shell:
    """One iPXE instance: settings, the image list, the command table, the guards.

    Args:
        world: the simulated machine and network (see :class:`~netbootsim.ipxe.World`).
        settings: its settings (``${errno}`` included).
        commands: command name → handler; default :data:`~.commands.COMMANDS`.
            A handler takes ``(shell, argv)`` and returns a status, or a generator
            (run with ``yield from``) returning one.
        features: what the iPXE binary was built with: a :class:`~.spec.Build`, a
            build name (``"debian-2019"``, see :data:`~.spec.BUILDS`) or a set of
            command names; other commands are ``command not found``, other URI
            schemes fail to open, and a build without new options rejects them as
            unknown. Default: everything.
        max_depth: deepest chained script allowed (outermost is 0).
        max_steps: commands allowed in a row while simulated time stands still.
    """

    __slots__ = ("_failure", "_steps", "_still", "build", "commands", "cwuri", "detail", "frame",
                 "images", "max_depth", "max_steps", "menus", "params", "settings", "stop",
                 "trust", "world")

    def __init__(self, world: World, settings: Settings, *,
                 commands: Mapping[str, Handler] | None = None,
                 features: Build | str | Iterable[str] | None = None,
                 max_depth: int = 32, max_steps: int = 100_000):
        self.world, self.settings = world, settings
        # read only: every shell of a fleet shares the one table (1.6 KB a server if copied)
        self.commands: Mapping[str, Handler] = COMMANDS if commands is None else dict(commands)
        self.build = build_named(features)
        self.max_depth, self.max_steps = max_depth, max_steps
        #: Menus (core/menu.c ``menus``), parameter lists (core/params.c), trust policy.
        self.menus: list[Menu] = []
        self.params: list[ParamList] = []
        self.trust = Trust()
        #: The registered images (core/image.c ``images``).
        self.images = ImageList()
        #: The script running now, None at the command line.
        self.frame: Frame | None = None
        #: Current working URI (core/image.c image_exec ``churi``).
        self.cwuri: str | None = None
        #: Shell stop state (core/exec.c ``stop_state``).
        self.stop = 0
        #: The world's reason for the current command's failure, if it gave one.
        self.detail = ""
        self._failure: _Failure | None = None
        self._steps, self._still = 0, None

    # -- console, stop state -----------------------------------------------
    def say(self, text: str) -> None:
        """Print to the console."""
        self.world.console(text)

    def stopped(self, level: int) -> bool:
        """Test and consume the stop state (core/exec.c shell_stopped)."""
        was = self.stop >= level
        if self.stop <= level:
            self.stop = 0
        return was

    def parse(self, argv: list[str],
              cmd: Command | None = None) -> tuple[dict[str, str | bool], list[str]]:
        """Parse ``argv`` with its entry in the build's command table (or ``cmd``)."""
        spec = cmd or self.build.command(argv[0])
        if spec is None:
            raise KeyError(f"no option table for command {argv[0]!r}")
        return parse_options(argv, spec, self.say)

    def handover(self, image: Image) -> NoReturn:
        """The world booted ``image``: end the run (iPXE never runs again)."""
        raise Booted(image, self.where)

    def reset(self, kind: str) -> NoReturn:
        """``reboot``/``poweroff`` took the machine down: end the run."""
        raise Reset(kind, self.where)

    def abort(self, status: int, reason: str) -> NoReturn:
        """Stop the run with a simulator status (``errors.ABORT_*``) and a reason."""
        raise Abort(status, reason, self.where)

    @property
    def where(self) -> tuple[str, int] | None:
        """``(source, line)`` of the line running now, None at the command line."""
        if self.frame is None or self.frame.line is None:
            return None
        return self.frame.script.source, self.frame.line.number

    # -- running ---------------------------------------------------------------------------
    def run(self, script: Script, *, depth: int = 0,
            uri: str | None = None) -> Generator[Any, Any, ScriptResult]:
        """Run ``script`` as the outermost script.

        Its URI (the base for relative URIs) defaults to its source if that is a URI.
        """
        if uri is None and "://" in script.source:
            uri = script.source
        return self._result(None, (script, uri, depth))

    def run_command(self, line: str) -> Generator[Any, Any, ScriptResult]:
        """Run one command line as typed at the ``iPXE>`` prompt (no script)."""
        return self._result(self._line(line))

    def _line(self, line: str) -> Proc:
        rc = yield from self.system(line)
        self.stopped(STOP_SEQUENCE)  # an ``exit`` ends only this line here
        return rc

    def _result(self, proc: Proc | None,
                top: tuple[Script, str | None, int] | None = None
                ) -> Generator[Any, Any, ScriptResult]:
        """Run ``proc``, or the outermost script ``top``, to its :class:`ScriptResult`.

        ``top`` is the script, its URI and depth, run inline: a generator frame less a
        server.
        """
        try:
            if top is None:
                rc = yield from proc
            else:
                script, uri, depth = top
                rc, replacement = yield from self._exec_script(script, uri, depth)
                if replacement is not None:
                    rc = yield from self.exec_image(replacement, depth)
        except Booted as b:
            return ScriptResult(errors.OK, f"booted {b.image.name}", b.image, b.where)
        except Reset as r:
            return ScriptResult(errors.OK, f"reset ({r.kind})", None, r.where, r.kind)
        except Abort as a:
            return ScriptResult(a.status, a.reason, None, a.where)
        if rc == 0:
            return ScriptResult(errors.OK, "ok")
        f = self._failure
        if f is None or f.status != rc:
            return ScriptResult(rc, errors.strerror(rc), None, self.where)
        at = f"{f.where[0]}:{f.where[1]}: " if f.where else ""
        detail = f" ({f.detail})" if f.detail else ""
        return ScriptResult(rc, f"{at}{f.command}: {errors.strerror(rc)}{detail}", None,
                            f.where)

    def exec_image(self, image: Image, depth: int | None = None) -> Proc:
        """Execute a registered image (core/image.c image_exec).

        A script runs as a child (script.c script_exec: unregistered while it runs,
        registered again unless replaced); a binary is handed to ``world.boot`` and,
        if that succeeds, never returns. ``--autofree`` images are then unregistered
        and a ``--replace`` image runs in this one's place (tail recursion).
        """
        if depth is None:
            depth = self.frame.depth + 1 if self.frame else 0
        if not image.executable:
            return errors.ENOEXEC_IMAGE
        if self.trust.required and not image.trusted:
            return errors.EACCES_UNTRUSTED
        replacement = None
        if image.kind == "binary":
            rc = yield from self.world.boot(image, [i for i in self.images if i is not image])
            if rc == 0:
                self.handover(image)
        else:
            try:
                script = parse_script(image.text or "", image.uri)
            except ScriptError:
                return errors.ENOEXEC_IMAGE
            self.images.unregister(image)
            rc, replacement = yield from self._exec_script(script, image.uri, depth)
            if replacement is None:
                self.images.register(image)
        if image in self.images.autofree:
            self.images.unregister(image)
        if replacement is not None:
            return (yield from self.exec_image(replacement, depth))
        return rc

    def _exec_script(self, script: Script, uri: str | None,
                     depth: int) -> Generator[Any, Any, tuple[int, Image | None]]:
        if depth > self.max_depth:
            where = self.where
            at = f" at {where[0]}:{where[1]}" if where else ""
            self.abort(errors.ABORT_DEPTH, f"chain recursion deeper than {self.max_depth} "
                       f"scripts{at} (chaining {uri or script.source})")
        frame = Frame(script, uri, depth)
        saved = self.frame, self.cwuri
        self.frame, self.cwuri = frame, uri or self.cwuri
        try:
            # image/script.c process_script with terminate_on_exit_or_failure: lines
            # until the end, a failure or ``exit`` (inline: a generator frame less for
            # each script each server runs)
            lines = script.lines
            while frame.index < len(lines):
                frame.line = lines[frame.index]
                frame.index += 1
                rc = yield from self.system(frame.line.text)
                if self.stopped(STOP_SEQUENCE) or rc:
                    break
            else:
                rc = errors.EINVAL_SCRIPT if script.unterminated else errors.OK
        finally:
            self.frame, self.cwuri = saved
        return rc, frame.replacement

    def system(self, text: str) -> Proc:
        """Run one command line (core/exec.c system).

        ``||``, ``&&`` and ``;`` have equal precedence, left to right: after each
        command the terminator decides from the status of the last *executed*
        command whether the next one runs; a skipped command leaves it unchanged.
        Tokens are expanded after splitting. ``goto`` and ``exit`` stop the line.

        Each command runs as core/exec.c execv runs it (inline: a generator frame less
        for every server in the middle of a command): the empty command succeeds, an
        unknown one fails, and a failure sets ``${errno}``.
        """
        rc, run = errors.OK, True
        for argv, terminator in command_line(text):
            if run:
                argv = [self.settings.expand(t) for t in argv]
                rc = errors.OK
                if argv:
                    self._guard()
                    where, before = self.where, self._failure
                    self.detail = ""
                    handler = self.commands.get(argv[0]) if self.build.has(argv[0]) else None
                    if handler is None:
                        self.say(f"{argv[0]}: command not found\n")
                        rc = errors.ENOEXEC
                    else:
                        try:
                            res = handler(self, argv)  # a status, or a generator for one
                            rc = res if isinstance(res, int) else (yield from res)
                        except UsageError as e:
                            rc = e.status
                        except SettingError as e:
                            self.say(f"{e}\n")
                            rc = e.status
                    if rc:
                        self._failed(where, before, argv[0], rc)
            if self.stopped(STOP_COMMAND) or terminator is None:
                break
            run = {"&&": rc == 0, "||": rc != 0}.get(terminator, True)
        return rc

    def _failed(self, where: tuple | None, before: _Failure | None, command: str,
                rc: int) -> None:
        """``command`` failed with ``rc``: ``${errno}``, and the failure to report."""
        self.settings.errno = rc
        f = self._failure
        if f is before or f is None or f.status != rc:  # not a chained script's failure
            self._failure = _Failure(where, command, rc, self.detail)
            told = getattr(self.world, "command_failed", None)
            if told is not None:
                told(where, command, rc, self.detail)

    def _guard(self) -> None:
        now = self.world.now
        if now != self._still:
            self._still, self._steps = now, 0
        self._steps += 1
        if self._steps > self.max_steps:
            where = self.where
            at = f"{where[0]}:{where[1]}" if where else "the command line"
            self.abort(errors.ABORT_LOOP, f"goto loop without sleep at {at} "
                       f"({self.max_steps} commands in zero simulated time)")


def run_script(script: Script, world: World, settings: Settings, *, depth: int = 0,
               **shell: Any) -> Generator[Any, Any, ScriptResult]:
    """Run ``script`` in a fresh :class:`Shell` (``yield from`` it, or ``env.process`` it).

    Args:
        script: the parsed script; a URI ``source`` is the base for relative URIs.
        world: the simulated world.
        settings: the machine's settings (e.g. ``net0/mac``).
        depth: chain depth of this script (0 = outermost).
        **shell: ``commands``, ``features``, ``max_depth``, ``max_steps`` for
            :class:`Shell`.
    """
    return Shell(world, settings, **shell).run(script, depth=depth)


def run_command(line: str, world: World, settings: Settings,
                **shell: Any) -> Generator[Any, Any, ScriptResult]:
    """Run one command line outside any script (``goto`` then fails with ENOTTY)."""
    return Shell(world, settings, **shell).run_command(line)
