"""An iPXE script interpreter that runs real ``#!ipxe`` scripts against a simulated world.

Nothing runs on the host: every effect (DHCP, downloads, sleeping, waiting for a key,
booting a kernel, printing) goes through a :class:`World`. Running a script is a
SimPy-friendly generator; simulated time passes only inside world calls::

    script = parse_script(text, "http://10.0.0.1/boot.ipxe")
    settings = Settings({"net0/mac": "52:54:00:77:00:00"})
    result = yield from run_script(script, world, settings)   # inside a SimPy process
    if result.booted: ...                                      # handed over to a kernel

Modules: :mod:`.script` (lines, labels, tokens), :mod:`.settings` (``${...}``),
:mod:`.interp` (the shell), :mod:`.state` (results, menus, parameter lists, trust),
:mod:`.spec` (every iPXE command's options and argument counts; builds),
:mod:`.commands` (the command table), :mod:`.image_cmd` (``imgfetch``, ``kernel``,
``chain``...), :mod:`.menu_cmd` (``menu``, ``item``, ``choose``), :mod:`.san_cmd`
(``sanboot``...), :mod:`.trust_cmd` (``imgverify``, ``imgtrust``), :mod:`.system_cmd`
(``reboot``, ``params``, ``show``, ``cpuid``...), :mod:`.options` (getopt),
:mod:`.errors` (iPXE status numbers), :mod:`.world` (images and world records),
:mod:`.lint` (static checks: ``netbootsim ipxe check``).

What the binary was built with is a :class:`~.spec.Build` given to the shell
(``run_script(..., features="debian-2019")``): the 2019 lab ROM has no
``imgverify``, no ``params`` and no ``https``, and a script using them fails there as
it would on that ROM. The default is everything iPXE has.

Statuses are iPXE's error numbers as ``${errno}`` shows them (positive; 0 is ok),
so a failure prints and compares exactly as on the 2019 BIOS ROM.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

from . import errors
from .commands import COMMANDS
from .interp import Shell, run_command, run_script
from .script import Line, Script, ScriptError, parse_script
from .settings import Settings
from .spec import BUILDS, SPECS, Build
from .state import ParamList, ScriptResult
from .world import DhcpReply, Fetched, Image, Outcome

__all__ = ["BUILDS", "Build", "COMMANDS", "DhcpReply", "Fetched", "Image", "Line", "Outcome",
           "OptionalWorld", "ParamList", "SPECS", "Script", "ScriptError", "ScriptResult",
           "Settings", "Shell", "World", "errors", "parse_script", "run_command", "run_script"]


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
