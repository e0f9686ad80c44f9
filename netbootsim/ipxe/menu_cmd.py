"""Menus: ``menu``, ``item``, ``choose`` (hci/commands/menu_cmd.c; dynui_cmd.c on master).

Menus live in the shell (core/menu.c): ``menu`` creates one (replacing any of that
name), ``item`` appends to the named or the unnamed menu, ``choose`` shows it and
stores the chosen item's label in a setting, then destroys the menu unless
``--keep``. The choice is hci/tui/menu_ui.c ``show_menu``/``menu_loop``:

* the selection starts on the first labelled item, then moves to the last item
  whose label equals ``--default``, or (without ``--default``) to the last item
  marked ``item --default``; a ``--default`` that matches nothing leaves the first;
* keys come from ``world.getkey`` in slices of at most one second, as menu_loop
  waits; when ``--timeout`` runs out without a key the selection is chosen;
* without ``--timeout`` (or 0) the menu waits for ever: a world where nobody types
  never resumes the process (exactly like ``prompt``);
* Enter chooses, Esc or Ctrl-C cancels (ECANCELED), an item's ``--key`` chooses it
  (or, on a gap, moves to the next item); any key stops the timeout (master: restarts
  it at ``--retimeout``). Arrow keys are not modelled.

The screen is not drawn; the console gets the title and the items' texts once.

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from . import errors
from .interface import CommandShell, Handler, Proc, registrar
from .options import TICKS_PER_SEC, parse_integer, parse_key
from .state import Item, Menu

__all__ = ["MENU_COMMANDS", "find_menu", "initial_index"]

#: Menu commands by name.
MENU_COMMANDS: dict[str, Handler] = {}
_command = registrar(MENU_COMMANDS)
#: Keys menu_loop acts on (include/ipxe/keys.h).
ESC, CTRL_C, CR, LF = 0x1b, 0x03, 0x0d, 0x0a


def find_menu(shell: CommandShell, name: str | None) -> Menu | None:
    """The first menu called ``name`` (None: the unnamed one) (core/menu.c find_menu)."""
    return next((m for m in shell.menus if m.name == name), None)


def _parse_menu(shell: CommandShell, name: str | None) -> Menu | None:
    """parseopt.c parse_menu: the menu, or None after printing iPXE's message."""
    menu = find_menu(shell, name)
    if menu is None:
        shell.say(f'"{name}": no such menu\n' if name is not None else "No default menu\n")
    return menu


def initial_index(menu: Menu, select: str | None) -> int | None:
    """Where the selection starts (menu_ui.c show_menu); None if no item has a label."""
    current = None
    for i, item in enumerate(menu.items):
        if item.label is None:
            continue
        if current is None:
            current = i
        if (item.label == select) if select is not None else item.default:
            current = i
    return current


@_command("menu")
def menu(shell: CommandShell, argv: list[str]) -> int:
    """``menu [--name n] [--delete] [title...]`` (menu_cmd.c menu_exec, core/menu.c).

    Creating a menu destroys any menu of the same name first; ``--delete`` creates
    and then destroys it, which is how a script deletes a menu.
    """
    opts, args = shell.parse(argv)
    name = opts.get("name")
    name = str(name) if name is not None else None
    old = find_menu(shell, name)
    if old is not None:
        shell.menus.remove(old)
    if not opts.get("delete"):
        shell.menus.append(Menu(name, " ".join(args)))
    return errors.OK


@_command("item")
def item(shell: CommandShell, argv: list[str]) -> int:
    """``item [--menu m] [--key k] [--default] [--gap] [label [text...]]`` (item_exec).

    Without ``--gap`` the first argument is the label (none: a gap all the same);
    the rest, joined by spaces, is the text. The menu must exist already.
    """
    opts, args = shell.parse(argv)
    label = None if opts.get("gap") or not args else args[0]
    text = " ".join(args if opts.get("gap") else args[1:])
    key = parse_key(str(opts["key"]), shell.say) if "key" in opts else 0
    target = opts.get("menu", opts.get("form"))
    found = _parse_menu(shell, str(target) if target is not None else None)
    if found is None:
        return errors.ENOENT_PARSEOPT
    found.items.append(Item(label, text, key, bool(opts.get("default")),
                            bool(opts.get("secret"))))
    return errors.OK


def _ticks(shell: CommandShell, opts: dict, name: str) -> int:
    """A timeout option as an integer of ticks (parseopt.c parse_timeout), 0 if absent."""
    return parse_integer(str(opts[name]), shell.say) if name in opts else 0


@_command("choose")
def choose(shell: CommandShell, argv: list[str]) -> Proc:
    """``choose [--menu m] [--default label] [--timeout ms] [--keep] <setting>``.

    menu_cmd.c choose_exec: parse the setting, find the menu, show it, store the
    label (as a string unless the name gives a type); the menu is destroyed unless
    ``--keep``, whatever the outcome.
    """
    opts, args = shell.parse(argv)
    timeout, retimeout = _ticks(shell, opts, "timeout"), _ticks(shell, opts, "retimeout")
    shell.settings.check_name(args[0])
    name = opts.get("menu")
    found = _parse_menu(shell, str(name) if name is not None else None)
    if found is None:
        return errors.ENOENT_PARSEOPT
    select = opts.get("default")
    try:
        current = initial_index(found, str(select) if select is not None else None)
        if current is None:  # menu_ui.c: menus with no labelled items cannot be shown
            return errors.ENOENT_MENU
        shell.say(found.title + "\n" + "".join(f"  {i.text}\n" for i in found.items))
        rc, current = yield from _loop(shell, found, current, timeout, retimeout)
        if rc:
            return rc
        shell.settings.store(args[0], found.items[current].label or "")
        return errors.OK
    finally:
        if not opts.get("keep") and found in shell.menus:
            shell.menus.remove(found)


def _loop(shell: CommandShell, menu_: Menu, current: int, timeout: int,
          retimeout: int) -> Generator[Any, Any, tuple[int, int]]:
    """menu_ui.c menu_loop: wait for keys until something is chosen or cancelled."""
    while True:
        step = timeout % TICKS_PER_SEC or (TICKS_PER_SEC if timeout else 0)
        timeout -= step
        key = yield from shell.world.getkey(step / TICKS_PER_SEC if step else None)
        if key is None:
            if timeout == 0:  # the last slice ran out (or a world ended an endless wait)
                return errors.OK, current
            continue
        timeout = retimeout
        if key in (ESC, CTRL_C):
            return errors.ECANCELED_MENU, current
        if key in (CR, LF):
            return errors.OK, current
        chosen = move = False
        for i, entry in enumerate(menu_.items):
            if entry.key and entry.key == key:
                current = i
                chosen, move = chosen or entry.label is not None, entry.label is None
        if move:  # a gap's shortcut: on to the next labelled item, if any
            current = next((j for j in range(current + 1, len(menu_.items))
                            if menu_.items[j].label is not None), current)
            while menu_.items[current].label is None:
                current -= 1
        if chosen:
            return errors.OK, current
