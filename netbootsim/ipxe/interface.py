"""The interpreter's two interfaces: the world it runs against, the shell its commands see.

* :class:`World` (and :class:`OptionalWorld`): what the interpreter needs from the
  simulation — one machine and its network. The fleet's
  :class:`~netbootsim.fleet.ipxe_world.IpxeWorld` is one; the tests have small ones.
* :class:`CommandShell`: what a command handler may use of the shell running it
  (:class:`~.interp.Shell` is one), with :data:`Handler`, the type of a handler, and
  :func:`registrar`, how a command module fills its table of handlers.

This module imports no command module and not the shell, so the command modules, the
command table (:mod:`.commands`) and the shell (:mod:`.interp`) all stand on it and
never on each other in a circle.

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, NoReturn, Protocol

from .options import Command
from .settings import Settings
from .spec import Build
from .state import Frame, Menu, ParamList, Trust
from .world import DhcpReply, Fetched, Image, ImageList, Outcome

__all__ = ["CommandShell", "Handler", "OptionalWorld", "Proc", "World", "registrar"]

#: What a handler that calls the world returns: a generator (``yield from`` it) whose
#: value is the command's status.
Proc = Generator[Any, Any, int]


class World(Protocol):
    """What the interpreter needs from the simulation: one machine and its network.

    Every method returning a generator is run with ``yield from`` inside the caller's
    SimPy process; it yields SimPy events (timeouts, transfers) and returns its result.
    Statuses are iPXE error numbers (:mod:`.errors`), 0 for success, always paired
    with the world's own ``reason`` text for records.

    A world may also have the methods of :class:`OptionalWorld` (found with
    ``getattr``); the commands that need one say what happens without it.
    """

    @property
    def now(self) -> float:
        """Simulated time in seconds (``env.now``)."""
        ...

    def dhcp(self) -> Generator[Any, Any, DhcpReply]:
        """Configure ``net0`` (``dhcp``/``ifconf``).

        The reply's settings become ``net0.dhcp``, visible as ``net0/name`` and as
        plain ``name``.
        """
        ...

    def fetch(self, uri: str, *, name: str,
              timeout: float | None) -> Generator[Any, Any, Fetched]:
        """Download ``uri`` (already resolved against the current script's URI).

        ``name`` is the name iPXE gives the image; ``timeout`` is ``--timeout`` in
        seconds: give up with ``errors.ETIMEDOUT_DOWNLOAD`` after that long without
        progress (None: never).
        """
        ...

    def sleep(self, seconds: float) -> Generator[Any, Any, Any]:
        """Let ``seconds`` pass (``sleep``). Return a true value if a key interrupted it."""
        ...

    def getkey(self, timeout: float | None) -> Generator[Any, Any, int | None]:
        """Wait for a key (``prompt``; core/getkey.c getkey).

        Returns its code, or None after ``timeout`` seconds. ``timeout`` None waits
        for ever, as iPXE does: a world where nobody types never resumes the process.
        """
        ...

    def boot(self, image: Image, loaded: list[Image]) -> Generator[Any, Any, int]:
        """Hand over to a binary ``image`` (kernel, NBP).

        ``loaded`` are the other registered images (initrds, modules). 0 means it
        booted: iPXE never runs again. Non-zero is the iPXE error of the attempt.
        """
        ...

    def console(self, text: str) -> None:
        """Print ``text`` (may hold several lines, or none: ``echo -n``)."""
        ...


class OptionalWorld(Protocol):
    """Methods a world may add; the shell looks for each with ``getattr``.

    Each returns a generator run with ``yield from`` (SimPy events in, the result
    out), except ``cpuid``. :class:`~.world.Outcome` is ``(status, reason, drive)``.
    """

    def reboot(self, kind: str) -> Generator[Any, Any, Outcome]:
        """``reboot`` (kind ``cold``, ``warm``, ``setup``) or ``poweroff`` (``poweroff``).

        Status 0: the machine went down; the run ends with ``ScriptResult.reset =
        kind`` (iPXE never runs again). Non-zero: the command fails with it.
        Without this method the run stops with ``errors.ABORT_UNMODELLED``.
        """
        ...

    def san(self, op: str, drive: int, uris: tuple[str, ...], *, describe: bool,
            filename: str | None, extra: str | None) -> Generator[Any, Any, Outcome]:
        """The SAN (core/sanboot.c), for ``sanboot``, ``sanhook``, ``sanunhook``.

        ``op`` is ``hook`` (open ``uris`` as ``drive``; paths to one device;
        ``describe``: install iBFT/aBFT tables; ``Outcome.drive`` = the number given),
        ``boot`` (boot from ``drive``: status 0 means it booted and iPXE never runs
        again; ``filename``/``extra`` are ``--filename``/``--extra``, e.g. a local
        disk ``sanboot --drive 0x80``) or ``unhook`` (status ignored). Without this
        method there is no SAN: hooks and boots fail with ``errors.ENOTSUP_OPEN``
        ("Could not open SAN device: Operation not supported") and a reason.
        """
        ...

    def verify(self, image: Image, signature: Image,
               signer: str | None) -> Generator[Any, Any, Outcome]:
        """``imgverify``: does ``signature`` (detached CMS) sign ``image``?

        ``signer`` is ``--signer`` (the common name required), or None. Status 0:
        the image becomes trusted; else e.g. ``errors.EACCES_WRONG_NAME``,
        ``EACCES_UNTRUSTED_ROOT``, ``EACCES_EXPIRED``. Without this method
        ``imgverify`` stops the run with ``errors.ABORT_UNMODELLED``. (A build
        without ``imgverify`` never gets here: ``command not found``.)
        """
        ...

    def post(self, uri: str, *, name: str, timeout: float | None,
             params: ParamList) -> Generator[Any, Any, Fetched]:
        """A download whose URI named a parameter list (``uri##params[=name]``).

        As ``fetch``, with the form (``params.entries``: key, value, is-header) sent
        with ``params.method`` (POST). Without this method the URI (``##params``
        cut off) is fetched with ``fetch``: a plain GET without the form.
        """
        ...

    def cpuid(self, bit: int, *, ext: bool, ecx: bool) -> bool:
        """Whether CPUID feature ``bit`` is set (``cpuid``).

        ``ext``: leaf 0x80000001 instead of 1; ``ecx``: ECX instead of EDX. Without
        this method only long mode (``cpuid --ext 29``) is set.
        """
        ...

    def command_failed(self, where: tuple[str, int] | None, command: str, status: int,
                       detail: str) -> None:
        """A command failed with ``status`` at script line ``where`` (None: typed).

        Whether or not the failure ends the script: one a ``||`` or a ``goto`` loop
        swallows is told here too. ``detail`` is the world's reason, if it gave one
        (else ``""``). Called once per failure (not again for each command a chained
        script's failure ends). Not a generator: no simulated time passes. Without this
        method nothing is told.
        """
        ...


class CommandShell(Protocol):
    """What a command handler may use of the shell running it.

    A handler is called as ``handler(shell, argv)`` (:data:`Handler`); this is all it
    may touch of ``shell``. :class:`~.interp.Shell` has it all, and runs the handlers.

    Attributes:
        world: the simulated machine and network.
        settings: the machine's settings (``${...}``).
        build: what the iPXE binary was built with (commands, options, URI schemes).
        commands: the command table, name → handler (``help`` lists it).
        images: the registered images (core/image.c ``images``).
        menus: the menus (core/menu.c ``menus``).
        params: the parameter lists (core/params.c).
        trust: the image trust policy (``imgtrust``).
        frame: the script running now, None at the command line.
        cwuri: the current working URI, the base of relative URIs.
        stop: the shell stop state (core/exec.c ``stop_state``): ``goto`` and ``exit``
            set it.
        detail: the world's reason for the current command's failure, if it gave one.
    """

    world: World
    settings: Settings
    build: Build
    commands: dict[str, Handler]
    images: ImageList
    menus: list[Menu]
    params: list[ParamList]
    trust: Trust
    frame: Frame | None
    cwuri: str | None
    stop: int
    detail: str

    def say(self, text: str) -> None:
        """Print to the console."""
        ...

    def parse(self, argv: list[str],
              cmd: Command | None = None) -> tuple[dict[str, str | bool], list[str]]:
        """Parse ``argv`` with its entry in the build's command table (or ``cmd``)."""
        ...

    def exec_image(self, image: Image, depth: int | None = None) -> Proc:
        """Execute a registered image (core/image.c image_exec)."""
        ...

    def handover(self, image: Image) -> NoReturn:
        """The world booted ``image``: end the run (iPXE never runs again)."""
        ...

    def reset(self, kind: str) -> NoReturn:
        """``reboot``/``poweroff`` took the machine down: end the run."""
        ...

    def abort(self, status: int, reason: str) -> NoReturn:
        """Stop the run with a simulator status (``errors.ABORT_*``) and a reason."""
        ...


#: A command: ``handler(shell, argv)`` returns the status, or a generator returning it
#: (when it calls the world).
Handler = Callable[[CommandShell, list[str]], "int | Proc"]


def registrar(table: dict[str, Handler]) -> Callable[..., Callable[[Handler], Handler]]:
    """A decorator, ``@command("name", "alias"...)``, that puts a handler into ``table``."""
    def command(*names: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            for name in names:
                table[name] = fn
            return fn
        return register
    return command
