"""SAN root paths as iPXE parses them: ``iscsi:...``, ``aoe:e<shelf>.<slot>``, ``fcp:...``.

``iscsi:`` paths are RFC 4173's [rfc4173]; ``fcp:<wwn>:<lun>`` or ``fcp://<wwn>/<lun>``
name an FCoE target by its port's WWN (net/fcp.c:1043-1050 [ipxe-src]; iPXE has no
``fcoe:`` scheme).

Used by the lint (a path iPXE cannot parse is an error at its line), by validation
(a written-out path must reach a target) and by the simulated SAN
(:mod:`netbootsim.fleet.san`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["parse_san_uri", "named_targets", "SAN_PATHS"]

#: What each kind's root path looks like (messages).
SAN_PATHS = {"iscsi": "iscsi:<server>:<protocol>:<port>:<lun>:<targetname>",
             "aoe": "aoe:e<shelf>.<slot>", "fcoe": "fcp:<wwn>:<lun> or fcp://<wwn>/<lun>"}


def _wwn(text: str) -> str | None:
    """A WWN as iPXE reads it (``fc_aton``, net/fc.c [ipxe-src]): 8 hex bytes, ``:``."""
    parts = text.split(":")
    if len(parts) != 8 or not all(1 <= len(p) <= 2 and all(c in "0123456789abcdefABCDEF"
                                                          for c in p) for p in parts):
        return None
    return ":".join(f"{int(p, 16):02x}" for p in parts)


def parse_san_uri(uri: str) -> tuple[str, dict[str, Any]] | None:
    """``(kind, fields)`` of a SAN root path iPXE parses, ``None`` if not one.

    ``iscsi:<server>:<protocol>:<port>:<lun>:<targetname>`` (RFC 4173 [rfc4173]; empty
    fields take their defaults): ``{"server", "port", "lun", "iqn"}``;
    ``aoe:e<shelf>.<slot>`` (net/aoe.c [ipxe-src]): ``{"shelf", "slot"}``;
    ``fcp:<wwn>:<lun>`` or ``fcp://<wwn>/<lun>`` (net/fcp.c [ipxe-src], the WWN as
    ``xx:xx:xx:xx:xx:xx:xx:xx``): kind ``fcoe``, ``{"wwn", "lun"}`` (the WWN lower-case).
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
    if scheme == "fcp":
        if rest.startswith("//"):
            wwn, _, lun = rest[2:].partition("/")
        else:  # the WWN's own 23 characters, then ":" (FC_NAME_STRLEN, include/ipxe/fc.h)
            wwn, sep, lun = rest[:23], rest[23:24], rest[24:]
            if sep != ":":
                return None
        name = _wwn(wwn)
        if name is None or not lun:
            return None
        return "fcoe", {"wwn": name, "lun": lun}
    return None


def named_targets(parsed: tuple[str, dict[str, Any]], targets) -> tuple[list, str]:
    """The targets a parsed root path names, and why none when none does.

    ``targets``: ``(name, target)`` pairs, each target with ``kind``, ``host`` and its
    kind's address (``iqn`` — ``None`` serves any —, ``shelf`` and ``slot``, ``wwn``).
    An iSCSI path names its target by host (or service name) and IQN; an AoE path by
    shelf and slot; an FCoE path by WWN. Where the initiator may reach them from (AoE and
    FCoE are not routed) is the caller's question.
    """
    kind, f = parsed
    mine = [(n, t) for n, t in targets if t.kind == kind]
    if kind == "iscsi":
        host = f["server"].lower()
        at = [(n, t) for n, t in mine if host in (t.host.lower(), n.lower())]
        if not at:
            have = [f"{n} on {t.host}" for n, t in mine]
            return [], (f"no iSCSI target at {f['server']!r}; iscsi targets: "
                        f"{', '.join(have) if have else 'none (add a service of kind iscsi)'}")
        named = [(n, t) for n, t in at if t.iqn is None or t.iqn == f["iqn"]]
        if not named:
            return [], f"{at[0][0]} on {at[0][1].host} serves {at[0][1].iqn!r}, not {f['iqn']!r}"
        return named, ""
    if kind == "aoe":
        at = [(n, t) for n, t in mine if (t.shelf, t.slot) == (f["shelf"], f["slot"])]
        return at, "" if at else (f"no AoE target e{f['shelf']}.{f['slot']} (give a kind: "
                                  "aoe service its shelf and slot)")
    at = [(n, t) for n, t in mine if (t.wwn or "").lower() == f["wwn"]]
    return at, "" if at else (f"no FCoE target with WWN {f['wwn']} (give a kind: fcoe "
                              "service its wwn)")
