"""The command table: every command the shell runs, by name, from the command modules.

A handler is ``handler(shell, argv) -> status`` or a generator returning the status
(when it calls the world); :data:`~.interface.Handler`. Each command module fills its
own table (with :func:`~.interface.registrar`) and knows nothing of this one:
:mod:`.core_cmd` (``echo``, ``goto``, ``set``, ``dhcp``...), :mod:`.image_cmd`
(images), :mod:`.menu_cmd` (menus), :mod:`.san_cmd` (SAN), :mod:`.trust_cmd`
(``imgverify``, ``imgtrust``), :mod:`.system_cmd` (``reboot``, ``params``, ``show``,
``cpuid``, interactive and interface commands). Add a command to its module's table
(or to the ``commands`` mapping given to a Shell).

Commands iPXE has that are not executed here (``ntp``, ``vcreate``, ``nslookup``,
``ping``...) are ``command not found``; the lint knows them all.

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

from .core_cmd import CORE_COMMANDS
from .image_cmd import IMAGE_COMMANDS
from .interface import Handler
from .menu_cmd import MENU_COMMANDS
from .san_cmd import SAN_COMMANDS
from .system_cmd import SYSTEM_COMMANDS
from .trust_cmd import TRUST_COMMANDS

__all__ = ["COMMANDS", "Handler"]

#: Command name → handler (the ``COMMANDS`` linker table of include/ipxe/command.h).
COMMANDS: dict[str, Handler] = {**IMAGE_COMMANDS, **MENU_COMMANDS, **SAN_COMMANDS,
                                 **TRUST_COMMANDS, **SYSTEM_COMMANDS, **CORE_COMMANDS}
