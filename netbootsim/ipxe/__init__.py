"""An iPXE script interpreter that runs real ``#!ipxe`` scripts against a simulated world.

Nothing runs on the host: every effect (DHCP, downloads, sleeping, waiting for a key,
booting a kernel, printing) goes through a :class:`World`. Running a script is a
SimPy-friendly generator; simulated time passes only inside world calls::

    script = parse_script(text, "http://10.0.0.1/boot.ipxe")
    settings = Settings({"net0/mac": "52:54:00:77:00:00"})
    result = yield from run_script(script, world, settings)   # inside a SimPy process
    if result.booted: ...                                      # handed over to a kernel

Modules: :mod:`.script` (lines, labels, tokens), :mod:`.settings` (``${...}``),
:mod:`.interp` (the shell), :mod:`.commands` (the command table),
:mod:`.image_cmd` (``imgfetch``, ``kernel``, ``chain``...), :mod:`.options` (getopt),
:mod:`.errors` (iPXE status numbers), :mod:`.world` (images and world records).

Statuses are iPXE's error numbers as ``${errno}`` shows them (positive; 0 is ok),
so a failure prints and compares exactly as on the 2019 BIOS ROM.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

from . import errors
from .commands import COMMANDS
from .interp import ScriptResult, Shell, run_command, run_script
from .script import Line, Script, ScriptError, parse_script
from .settings import Settings
from .world import DhcpReply, Fetched, Image

__all__ = ["COMMANDS", "DhcpReply", "Fetched", "Image", "Line", "Script", "ScriptError",
           "ScriptResult", "Settings", "Shell", "World", "errors", "parse_script",
           "run_command", "run_script"]


class World(Protocol):
    """What the interpreter needs from the simulation: one machine and its network.

    Every method returning a generator is run with ``yield from`` inside the caller's
    SimPy process; it yields SimPy events (timeouts, transfers) and returns its result.
    Statuses are iPXE error numbers (:mod:`.errors`), 0 for success, always paired
    with the world's own ``reason`` text for records.
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
