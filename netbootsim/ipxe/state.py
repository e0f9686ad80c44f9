"""What one iPXE instance holds besides settings and images, and how a run ends.

:class:`ScriptResult` (how a run ended), :class:`Frame` (one executing script), the
dynamic objects scripts create (menus: core/menu.c; parameter lists: core/params.c;
the image trust policy: core/image.c), and the exceptions that unwind the shell when
a run ends without returning (a boot, a reset, a simulator abort).

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .script import Script
from .world import Image

__all__ = ["Abort", "Booted", "Frame", "Item", "Menu", "ParamList", "Reset", "ScriptResult",
           "Trust"]


@dataclass
class ScriptResult:
    """How a script run ended.

    Attributes:
        status: 0, an iPXE error number (what ``${errno}`` would show), or a negative
            ``errors.ABORT_*`` when a guard stopped the run.
        reason: one line for a person: ``ok``, ``booted NAME``, or where and why it failed.
        booted: the image handed over to (``boot``/``chain`` of a kernel or NBP that
            the world booted, or a ``sanboot`` drive as an image named ``san0x80``);
            execution never returns from it.
        line: ``(source, line number)`` of the command the failure came from (the
            innermost one, e.g. inside a chained script), or of the booting command.
        reset: ``cold``, ``warm``, ``setup`` or ``poweroff`` when ``reboot`` or
            ``poweroff`` took the machine down (World.reboot returned 0), else None.
    """

    status: int
    reason: str
    booted: Image | None = None
    line: tuple[str, int] | None = None
    reset: str | None = None


@dataclass(slots=True)
class Frame:
    """One executing script (image/script.c keeps this in ``script_offset``).

    Attributes:
        script: the script.
        uri: its URI (the base of relative URIs), or None.
        depth: 0 for the outermost script, +1 per ``chain``.
        index: index of the next line to run; ``goto`` sets it.
        line: the line running now.
        replacement: the image ``chain --replace`` queued to run in its place.
    """

    script: Script
    uri: str | None
    depth: int
    index: int = 0
    line: Any = None
    replacement: Image | None = None


@dataclass
class Item:
    """A menu item (core/menu.c ``struct menu_item``); no label means a gap."""

    label: str | None
    text: str = ""
    key: int = 0
    default: bool = False
    secret: bool = False


@dataclass
class Menu:
    """A menu (core/menu.c ``struct menu``); ``name`` None is the unnamed default menu."""

    name: str | None
    title: str = ""
    items: list[Item] = field(default_factory=list)


@dataclass
class ParamList:
    """A request parameter list (core/params.c ``struct parameters``).

    Attributes:
        name: None for the unnamed default list.
        method: the HTTP method (``params --method``, default POST).
        entries: ``(key, value, header)`` in order; ``header`` is ``param --header``.
    """

    name: str | None
    method: str = "POST"
    entries: list[tuple[str, str, bool]] = field(default_factory=list)


@dataclass
class Trust:
    """The image trust policy (core/image.c require_trusted_images[_permanent]).

    Default: untrusted images may run (core/image.c: not required).
    """

    required: bool = False
    permanent: bool = False


class Booted(Exception):
    """The world booted an image: the run ends here, never to return."""

    def __init__(self, image: Image, where: tuple[str, int] | None):
        super().__init__(image.name)
        self.image, self.where = image, where


class Reset(Exception):
    """``reboot``/``poweroff`` took the machine down."""

    def __init__(self, kind: str, where: tuple[str, int] | None):
        super().__init__(kind)
        self.kind, self.where = kind, where


class Abort(Exception):
    """A simulator guard or limit stopped the run (``errors.ABORT_*``)."""

    def __init__(self, status: int, reason: str, where: tuple[str, int] | None):
        super().__init__(reason)
        self.status, self.reason, self.where = status, reason, where
