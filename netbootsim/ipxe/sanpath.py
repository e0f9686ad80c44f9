"""SAN root paths as iPXE parses them: ``iscsi:...`` and ``aoe:e<shelf>.<slot>``.

``iscsi:`` paths are RFC 4173's [rfc4173].

Used by the lint (a path iPXE cannot parse is an error at its line), by validation
(a written-out path must reach a target) and by the simulated SAN
(:mod:`netbootsim.fleet.san`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["parse_san_uri"]


def parse_san_uri(uri: str) -> tuple[str, dict[str, Any]] | None:
    """``(kind, fields)`` of an ``iscsi:`` or ``aoe:`` root path, ``None`` if neither.

    ``iscsi:<server>:<protocol>:<port>:<lun>:<targetname>`` (RFC 4173 [rfc4173]; empty
    fields take their defaults): ``{"server", "port", "lun", "iqn"}``;
    ``aoe:e<shelf>.<slot>`` (net/aoe.c [ipxe-src]): ``{"shelf", "slot"}``.
    """
    scheme, _, rest = uri.partition(":")
    scheme = scheme.lower()
    if scheme == "iscsi":
        parts = rest.split(":", 4)
        if len(parts) < 5:
            return None
        server, _proto, port, lun, iqn = parts
        return "iscsi", {"server": server, "port": int(port) if port.isdigit() else 3260,
                         "lun": lun or "0", "iqn": iqn}
    if scheme == "aoe":
        if not rest.lower().startswith("e") or "." not in rest:
            return None
        shelf, _, slot = rest[1:].partition(".")
        if not (shelf.isdigit() and slot.isdigit()):
            return None
        return "aoe", {"shelf": int(shelf), "slot": int(slot)}
    return None
