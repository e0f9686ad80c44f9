"""iPXE settings: scoped names, typed raw values, ``${...}`` expansion.

A model of core/settings.c. Settings live in a tree of blocks: the root, then
children such as ``builtin`` (``errno``, ``platform``...), ``net0`` (``mac``) and its
child ``net0.dhcp`` (what DHCP returned). A name is ``[block/]name[:type]``
(settings.c ``parse_setting_name``); blocks are dotted paths (``net0.dhcp``).

Values are stored raw, as iPXE does: ``set ip 10.0.0.1`` stores four bytes typed
``ipv4``; ``${net0/mac:hexhyp}`` formats the six raw MAC bytes with hyphens. The
type used to format is, in order: the one in the name, the predefined setting's
(``mac`` is ``hex``), the one stored with the value, ``string``
(settings.c ``fetch_setting``, ``generic_settings_fetch``).

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import quote, unquote_to_bytes

from . import errors

__all__ = ["PREDEFINED", "SettingError", "Settings", "TYPES", "strtoul"]

#: Types of the predefined settings this model knows (settings.c, net/netdev_settings.c,
#: net/ipv4.c; builtins at the end of settings.c).
PREDEFINED = {"mac": "hex", "busid": "hex", "ip": "ipv4", "netmask": "ipv4",
              "gateway": "ipv4", "dns": "ipv4", "next-server": "ipv4", "syslog": "ipv4",
              "priority": "int8", "keep-san": "int8", "skip-san-boot": "int8",
              "errno": "uint32"}
_INT_WIDTH = {"int8": 1, "int16": 2, "int32": 4, "uint8": 1, "uint16": 2, "uint32": 4}
#: The setting types implemented (settings.c setting_type_*; base64 core/base64.c).
TYPES = ("string", "uristring", "hex", "hexhyp", "hexraw", "base64", "ipv4", *_INT_WIDTH)
_HEX_SEP = {"hex": ":", "hexhyp": "-", "hexraw": ""}
_SPACE = " \t\n\v\f\r"
#: Expansion rounds before giving up (iPXE would loop forever on a self-reference).
MAX_EXPANSIONS = 10_000


class SettingError(Exception):
    """A setting could not be named or stored; ``str()`` is what iPXE prints."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def strtoul(text: str) -> tuple[int, str]:
    """``strtoul(text, &end, 0)`` as core/string.c does it, on a 32-bit ``long``.

    Leading whitespace and one sign are skipped, ``0x`` means hex and ``0`` octal.

    Returns:
        The value modulo 2**32 and the unparsed rest.
    """
    s = text.lstrip(_SPACE)
    neg = s[:1] == "-"
    s = s[1:] if s[:1] in "+-" and s else s
    base = 10
    if s[:1] == "0":
        s, base = s[1:], 8
        if s[:1] in ("x", "X"):
            s, base = s[1:], 16
    value, i = 0, 0
    while i < len(s) and (d := int(s[i], 36) if s[i].isascii() and s[i].isalnum() else 99) < base:
        value, i = value * base + d, i + 1
    return (-value if neg else value) & 0xffffffff, s[i:]


@functools.lru_cache(maxsize=4096)
def _stored(type_: str, text: str) -> tuple[bytes, str]:
    """A setting's stored value, ``(raw bytes, type)``, one object per distinct text.

    A fleet's servers store the same DHCP options (netmask, gateway, filename...) in
    each of their settings: the values are immutable, so they share one; texts met
    once (a server's own address) pass through the cache and are dropped from it.
    """
    return _parse(type_, text), type_


def forget_shared() -> None:
    """Drop the shared stored values (:func:`_stored`'s cache) once a fleet has run.

    Made during a run, the last few thousand of them would outlive it, spread through
    its memory, and keep that memory from going back to the system
    (:meth:`FleetRun.settle <netbootsim.fleet.results.FleetRun.settle>` says why).
    """
    _stored.cache_clear()


def _parse(type_: str, text: str) -> bytes:
    """Formatted text → raw bytes (the type's ``parse``); SettingError when invalid."""
    if type_ in _INT_WIDTH:  # settings.c parse_int_setting
        value, rest = strtoul(text)
        if rest:
            raise SettingError(errors.EINVAL_SETTINGS, "")
        return _denumerate(type_, value)
    if type_ in _HEX_SEP:  # base16.c hex_decode: two digits per byte, one separator
        sep = re.escape(_HEX_SEP[type_])
        if not re.fullmatch(f"[0-9a-fA-F]{{2}}(?:{sep}[0-9a-fA-F]{{2}})*", text):
            raise SettingError(errors.EINVAL_HEX, "")
        return bytes.fromhex(text.replace(_HEX_SEP[type_], "") if sep else text)
    if type_ == "ipv4":  # net/ipv4.c inet_aton: four strtoul() parts ≤ 255, dot-separated
        out, rest = [], "." + text
        while rest[:1] == "." and len(out) < 4:
            value, after = strtoul(rest[1:])
            if after == rest[1:] or value > 255:
                break
            out.append(value)
            rest = after
        if len(out) != 4 or rest:
            raise SettingError(errors.EINVAL_IPV4, "")
        return bytes(out)
    if type_ == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise SettingError(errors.EINVAL_BASE64, "") from None
    if type_ == "uristring":  # core/uri.c uri_decode
        return unquote_to_bytes(text)
    return text.encode("utf-8", errors="surrogateescape")


def _format(type_: str, raw: bytes) -> str | None:
    """Raw bytes → text (the type's ``format``); None when the bytes do not fit the type."""
    if type_ in _INT_WIDTH:
        value = _numerate(type_, raw)
        if value is None:
            return None
        if type_.startswith("u"):  # settings.c format_uint_setting: "%#lx", iPXE prints 0x0
            return f"0x{value:x}"
        return str(value - (1 << 32) if value & 0x80000000 else value)  # "%ld", 32-bit long
    if type_ in _HEX_SEP:  # base16.c hex_encode, lower case
        return _HEX_SEP[type_].join(f"{b:02x}" for b in raw)
    if type_ == "ipv4":  # net/ipv4.c format_ipv4_setting
        return ".".join(str(b) for b in raw[:4]) if len(raw) >= 4 else None
    if type_ == "base64":
        return base64.b64encode(raw).decode("ascii")
    if type_ == "uristring":  # core/uri.c uri_encode(URI_SCHEME): keep printable but /#:@?=&%
        return quote(raw, safe="!\"$'()*+,-.;<>[\\]^_`{|}~")
    return raw.decode("utf-8", errors="surrogateescape")


def _numerate(type_: str, raw: bytes) -> int | None:
    """Raw big-endian bytes → 32-bit value (settings.c numeric_setting_value); None if not."""
    if type_ not in _INT_WIDTH:
        return None
    neg = not type_.startswith("u") and raw[:1] >= b"\x80"
    value, pad = (0xffffffff, 0xff) if neg else (0, 0)
    for i, byte in enumerate(raw):
        value = ((value << 8) | byte) & 0xffffffff
        if i + 4 < len(raw) and byte != pad:
            return None
    return value


def _denumerate(type_: str, value: int) -> bytes:
    """32-bit value → raw bytes of the type's width (settings.c denumerate_int_setting)."""
    return (value & 0xffffffff).to_bytes(4, "big")[4 - _INT_WIDTH[type_]:]


#: a block's values before its first: one shared, read-only (a fleet's servers each
#: hold a root and a ``builtin`` block that never store one)
_NO_VALUES: Mapping[str, tuple[bytes, str]] = MappingProxyType({})


@functools.lru_cache(maxsize=64)
def _by_block(names: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]:
    """Full setting names by block: ``(block path, names in it, full names)``, shared."""
    by: dict[str, list[tuple[str, str]]] = {}
    for full in names:
        path, name = full.split("/", 1) if "/" in full else ("", full)
        by.setdefault(path, []).append((sys.intern(name), full))
    return tuple((path, tuple(n for n, _ in pairs), tuple(f for _, f in pairs))
                 for path, pairs in by.items())


class _Provided(Mapping):
    """A block's first values, given as texts on demand by a function of the full name.

    Each is stored as :meth:`Settings.store` would store it untyped (its predefined
    type, else ``string``); an empty text is no value. What a fleet's servers hold for
    their SMBIOS identity and MAC until a script stores over them (the block then keeps
    a dict, :meth:`_Block.put`): one small object a block instead of a dict and a
    stored value a name (~700 B a server).
    """

    __slots__ = ("names", "full", "text_of")

    def __init__(self, names: tuple[str, ...], full: tuple[str, ...],
                 text_of: Callable[[str], str]) -> None:
        self.names = names  # in the block
        self.full = full  # with their block paths, as text_of takes them
        self.text_of = text_of

    def __getitem__(self, name: str) -> tuple[bytes, str]:
        try:
            text = self.text_of(self.full[self.names.index(name)])
        except ValueError:
            raise KeyError(name) from None
        if not text:
            raise KeyError(name)
        return _stored(PREDEFINED.get(name) or "string", text)

    def __iter__(self) -> Iterator[str]:
        return (n for n, f in zip(self.names, self.full, strict=True) if self.text_of(f))

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(eq=False, slots=True)
class _Block:
    name: str
    values: Mapping[str, tuple[bytes, str]] = field(default_factory=lambda: _NO_VALUES)
    children: tuple[_Block, ...] = ()

    def child(self, name: str, create: bool) -> _Block | None:
        for c in self.children:
            if c.name == name:
                return c
        if not create:
            return None
        made = _Block(sys.intern(name))  # names shared across a fleet
        self.children = (*self.children, made)
        return made

    def put(self, name: str, value: tuple[bytes, str]) -> None:
        """Store ``value`` as ``name`` here."""
        if not isinstance(self.values, dict):  # the shared empty one, or provided ones
            self.values = dict(self.values.items())
        self.values[name] = value

    def drop(self, name: str) -> None:
        """Delete ``name`` here (nothing if it has no value)."""
        if name in self.values:
            if not isinstance(self.values, dict):
                self.values = dict(self.values.items())
            del self.values[name]


@dataclass(frozen=True)
class _Name:
    block: _Block
    name: str
    type: str | None


#: The fixed built-ins of a BIOS build (core/settings.c: ``platform``, ``buildarch``);
#: ``errno`` is the instance's own.
_BUILTINS: dict[str, tuple[bytes, str]] = {"platform": (b"pcbios", "string"),
                                           "buildarch": (b"i386", "string")}


#: The ``builtin`` block of every instance: one, shared (it never holds a value or a
#: child: :meth:`Settings.builtin` gives its values, and nothing is created under it).
_BUILTIN = _Block("builtin")


class Settings:
    """The settings of one iPXE instance.

    Args:
        values: initial settings, name → formatted text, e.g.
            ``{"net0/mac": "52:54:00:77:00:00"}`` (parsed by the name's type).
        provided: more initial settings, stored first: their names (untyped, as
            ``values``'s) and a function giving each one's text when it is read. The
            same as ``values`` holding those texts (an empty text is no value), without
            keeping them: a fleet's servers make their identity's texts on demand.

    Attributes:
        errno: the last error (the built-in ``${errno}``, core/exec.c execv).
    """

    __slots__ = ("_builtin", "_fixed", "errno", "root")

    def __init__(self, values: Mapping[str, str] | None = None, *,
                 provided: tuple[tuple[str, ...], Callable[[str], str]] | None = None):
        self.root = _Block("", children=(_BUILTIN,))
        self._builtin = _BUILTIN
        self.errno = 0
        self._fixed: dict[str, tuple[bytes, str]] | None = None  # set_builtin's
        if provided is not None:
            names, text_of = provided
            for path, in_block, full in _by_block(tuple(names)):
                block: _Block | None = self.root
                for part in path.split(".") if path else ():
                    block = block.child(part, block is not self._builtin) if block else None
                if block is None or block is self._builtin or block.values:
                    raise ValueError(f"provided settings: block {path!r} cannot take them")
                block.values = _Provided(in_block, full, text_of)
        for name, value in (values or {}).items():
            self.store(name, value)

    def builtin(self, name: str) -> tuple[bytes, str] | None:
        """A built-in setting now, ``(raw, type)`` (end of core/settings.c), or ``None``."""
        if name == "errno":
            return self.errno.to_bytes(4, "big"), "uint32"
        if self._fixed is not None and name in self._fixed:
            return self._fixed[name]
        return _BUILTINS.get(name)

    def set_builtin(self, name: str, raw: bytes, type_: str = "string") -> None:
        """Give a fixed built-in another value (``platform`` ``efi`` on a UEFI build)."""
        if self._fixed is None:
            self._fixed = {}
        self._fixed[name] = (raw, type_)

    def _name(self, text: str, create: bool) -> _Name:
        """Parse ``[block/]name[:type]`` (settings.c parse_setting_name)."""
        block = self.root
        name = text
        if "/" in text:
            path, name = text.split("/", 1)
            for part in path.split("."):  # settings.c parse_settings_name
                found = block.child(part, create and block is not self._builtin)
                if found is None:
                    raise SettingError(errors.ENODEV_SETTINGS, f'"{text}": invalid setting')
                block = found
        type_ = None
        if ":" in name:
            name, type_ = name.split(":", 1)
            if type_ not in TYPES:
                raise SettingError(errors.ENOTSUP_SETTINGS, f'"{text}": invalid setting')
        return _Name(block, name, type_ or PREDEFINED.get(name))

    def _find(self, block: _Block, name: str) -> tuple[bytes, str] | None:
        """This block first, then each child in turn (settings.c fetch_setting)."""
        hit = self._find_origin(block, name, "")
        return (hit[1], hit[2]) if hit else None

    def fetch(self, text: str) -> str | None:
        """The formatted value of ``text``, or None if unset, unnamed or unformattable."""
        try:
            n = self._name(text, create=False)
        except SettingError:
            return None
        found = self._find(n.block, n.name)
        if found is None:
            return None
        raw, stored = found
        return _format(n.type or stored, raw)

    def check_name(self, text: str) -> None:
        """Parse ``text`` as a name to store to, creating its blocks (parse_autovivified_setting).

        Raises:
            SettingError: an unknown type, or a block under ``builtin``.
        """
        self._name(text, create=True)

    def show(self, text: str) -> tuple[str, str]:
        """``show text``: the origin-qualified name and the value (nvo_cmd.c show_exec).

        The name is ``block/name:type`` as settings.c setting_name formats it into
        show_exec's 32-byte buffer (so at most 31 characters).

        Raises:
            SettingError: an unknown block or type (``"x": invalid setting``), or no
                value (``Could not find "x"``, ENOENT).
        """
        n = self._name(text, create=False)
        found = self._find_origin(n.block, n.name)
        text_value = _format(n.type or found[2], found[1]) if found else None
        if found is None or text_value is None:
            raise SettingError(errors.ENOENT_SETTING, f'Could not find "{n.name}": '
                               f"{errors.strerror(errors.ENOENT_SETTING)}")
        path = found[0]
        return f"{path}{'/' if path else ''}{n.name}:{n.type or found[2]}"[:31], text_value

    def _find_origin(self, block: _Block, name: str,
                     path: str | None = None) -> tuple[str, bytes, str] | None:
        """Like :meth:`_find`, with the dotted name of the block it was found in."""
        if path is None:
            path = self._path(self.root, block, "") or ""
        found = self.builtin(name) if block is self._builtin else block.values.get(name)
        if found is not None:
            return path, *found
        for child in block.children:
            sub = f"{path}.{child.name}" if path else child.name
            if (hit := self._find_origin(child, name, sub)) is not None:
                return hit
        return None

    def _path(self, at: _Block, target: _Block, path: str) -> str | None:
        if at is target:
            return path
        for child in at.children:
            sub = f"{path}.{child.name}" if path else child.name
            if (hit := self._path(child, target, sub)) is not None:
                return hit
        return None

    def isset(self, text: str) -> bool:
        """Whether ``text`` has a value."""
        return self.fetch(text) is not None

    def store(self, text: str, value: str) -> None:
        """``set text value`` (nvo_cmd.c set_core_exec, settings.c storef_setting).

        An empty value deletes the setting. Blocks named in ``text`` are created.

        Raises:
            SettingError: bad name or value; the message is iPXE's.
        """
        n = self._name(text, create=True)
        type_ = n.type or "string"
        try:
            if n.block is self._builtin:
                raise SettingError(errors.ENOTSUP_SETTINGS, "")
            if not value:
                n.block.drop(n.name)
                return
            n.block.put(sys.intern(n.name), _stored(type_, value))
        except SettingError as e:
            raise SettingError(e.status, f'Could not store "{n.name}": '
                               f"{errors.strerror(e.status)}") from None

    def clear(self, text: str) -> None:
        """``clear text``: delete the setting (storef_setting with no value)."""
        self.store(text, "")

    def inc(self, text: str, increment: int = 1) -> None:
        """``inc text [n]`` (hci/commands/nvo_cmd.c inc_exec).

        A missing setting counts as 0 typed ``int32``; a non-numeric one fails to
        store with ENOTSUP (so ``set n 0; inc n`` fails: write ``set n:int32 0``).

        Raises:
            SettingError: unknown block or type, or the value cannot be stored.
        """
        n = self._name(text, create=False)
        found = self._find(n.block, n.name)
        type_ = n.type or (found[1] if found else None)
        value = _numerate(type_, found[0]) if found and type_ else None
        if value is None:
            value, type_ = 0, type_ or "int32"
        if type_ not in _INT_WIDTH:
            raise SettingError(errors.ENOTSUP_SETTINGS, f'Could not store "{n.name}": '
                               f"{errors.strerror(errors.ENOTSUP_SETTINGS)}")
        n.block.put(n.name, (_denumerate(type_, value + increment), type_))

    def expand(self, text: str) -> str:
        """Expand ``${...}`` in one token (settings.c expand_settings).

        The innermost ``${`` before the first ``}`` is replaced first, repeatedly, so
        ``${${a}}`` works; unknown or invalid names expand to the empty string.
        """
        for _ in range(MAX_EXPANSIONS):
            end = text.find("}")
            while end >= 0 and text.rfind("${", 0, end) < 0:
                end = text.find("}", end + 1)
            if end < 0:
                break
            start = text.rfind("${", 0, end)
            text = text[:start] + (self.fetch(text[start + 2:end]) or "") + text[end + 1:]
        return text

    def apply_dhcp(self, values: Mapping[str, str], netdev: str = "net0") -> None:
        """Replace ``<netdev>.dhcp`` with ``values`` (what a DHCP exchange registers)."""
        block = self.root.child(netdev, True)
        block.children = tuple(c for c in block.children if c.name != "dhcp")
        for name, value in values.items():
            self.store(f"{netdev}.dhcp/{name}", str(value))
