"""An iPXE script interpreter that runs real ``#!ipxe`` scripts against a simulated world.

Nothing runs on the host: every effect (DHCP, downloads, sleeping, waiting for a key,
booting a kernel, printing) goes through a :class:`World`. Running a script is a
SimPy-friendly generator; simulated time passes only inside world calls::

    script = parse_script(text, "http://10.0.0.1/boot.ipxe")
    settings = Settings({"net0/mac": "52:54:00:77:00:00"})
    result = yield from run_script(script, world, settings)   # inside a SimPy process
    if result.booted: ...                                      # handed over to a kernel

Modules: :mod:`.script` (lines, labels, tokens), :mod:`.settings` (``${...}``),
:mod:`.interface` (the :class:`World` protocol, and the shell as a command sees it:
:class:`CommandShell`, :data:`Handler`), :mod:`.interp` (the shell), :mod:`.state`
(results, menus, parameter lists, trust), :mod:`.spec` (every iPXE command's options
and argument counts; builds), :mod:`.commands` (the command table, gathered from the
command modules), :mod:`.core_cmd` (``echo``, ``goto``, ``set``, ``dhcp``...),
:mod:`.image_cmd` (``imgfetch``, ``kernel``, ``chain``...), :mod:`.menu_cmd` (``menu``,
``item``, ``choose``), :mod:`.san_cmd` (``sanboot``...), :mod:`.trust_cmd`
(``imgverify``, ``imgtrust``), :mod:`.system_cmd` (``reboot``, ``params``, ``show``,
``cpuid``...), :mod:`.options` (getopt),
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

from . import errors
from .commands import COMMANDS
from .interface import CommandShell, Handler, OptionalWorld, World
from .interp import Shell, run_command, run_script
from .script import Line, Script, ScriptError, parse_script
from .settings import Settings
from .spec import BUILDS, SPECS, Build
from .state import ParamList, ScriptResult
from .world import DhcpReply, Fetched, Image, Outcome

__all__ = ["BUILDS", "Build", "COMMANDS", "CommandShell", "DhcpReply", "Fetched", "Handler",
           "Image", "Line", "Outcome", "OptionalWorld", "ParamList", "SPECS", "Script",
           "ScriptError", "ScriptResult", "Settings", "Shell", "World", "errors", "parse_script",
           "run_command", "run_script"]
