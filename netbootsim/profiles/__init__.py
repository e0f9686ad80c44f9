"""Firmware profiles: what a client's boot firmware fixes about its transfers.

One YAML file per firmware build lives beside this module. Its ``fixed`` values are
what the firmware's source code fixes, each with its source line; its ``measured``
values are what only measurement gives (the client's per-TFTP-block delay, its added
latency per TCP round under emulation, per-request overhead, ROM start time), fitted by
``netbootsim calibrate`` from lab traces and naming the traces they came from. A
measured value with no traces is uncalibrated, and reports say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from ruamel.yaml import YAML

from ..clock import time_limit_problem
from ..dist import DistError, parse_value
from ..ipxe.spec import BUILDS
from ..protocols import TcpParams, TftpParams
from ..units import parse_rate, parse_size, parse_time

__all__ = ["Profile", "PROFILES", "PROFILE_DIR", "TUNABLE", "get_profile", "load_profile",
           "tuned"]

PROFILE_DIR = Path(__file__).resolve().parent

_FIXED = ("tftp_blksize", "tftp_windowsize", "tftp_rollover", "retry_min", "retry_max",
          "tcp_rwnd", "https", "ipv6", "dhcp_discover_end", "firmware", "build")
_MEASURED = ("tftp_client_block_delay", "tcp_client_delay", "http_client_rate",
             "http_request_overhead", "rom_start")


@dataclass(frozen=True)
class Profile:
    """One client firmware build.

    Attributes:
        name: the name scenarios use.
        description: one line for ``netbootsim models`` and reports.
        tftp: TFTP client parameters (blksize, windowsize, retry timer, per-block delay).
        tcp: TCP receive-side parameters (the sender is the mirror's Linux).
        https: whether the build can fetch ``https://`` at all.
        ipv6: whether IPv6 is built in (its autoconfiguration wait lengthens ``dhcp``).
        firmware: ``ipxe`` or ``pxe`` (a vendor PXE ROM): whose DHCP client and user
            class it has.
        build: the iPXE build it runs scripts with (its commands and URI schemes), a name
            of :data:`netbootsim.ipxe.BUILDS`; a fleet group's ``build`` overrides it.
        dhcp_discover_end: the DHCP discovery timer's ceiling (``DHCP_DISC_END_TIMEOUT_SEC``:
            10 s in iPXE, 32 s in PXE-spec builds); it sets when ``dhcp`` gives up.
        tcp_client_delay: the client's added latency per TCP round trip (an emulated NIC
            ACKs late), measured.
        http_client_rate: the most the client takes in over HTTP (bytes/s; ``inf`` when
            only the network limits it), measured.
        http_request_overhead: client+server time per HTTP request beyond the round
            trips, measured.
        rom_start: power-on of the ROM to its first DHCP packet, measured.
        calibrated: every measured value was fitted from traces.
        sources: source of each fixed value, ``name: source``.
        fitted_from: traces each measured value came from, ``name -> (trace, ...)``.
    """

    name: str
    description: str
    tftp: TftpParams
    tcp: TcpParams
    https: bool
    ipv6: bool = False
    dhcp_discover_end: float = 10.0
    firmware: str = "ipxe"
    build: str = "all"
    tcp_client_delay: float = 0.0
    http_client_rate: float = math.inf
    http_request_overhead: float = 0.0
    rom_start: float = 0.0
    calibrated: bool = False
    sources: tuple[str, ...] = field(default=())
    fitted_from: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _value(name: str, raw: object, where: str, base: Path | None = None) -> object:
    if name in _MEASURED and isinstance(raw, dict):  # varies per server: a distribution
        return parse_value(raw, "rate" if name == "http_client_rate" else "time",
                           base=base, positive=name == "http_client_rate")
    if name in ("tftp_blksize", "tftp_windowsize"):
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise ValueError(f"{where}: {name} must be an integer, got {raw!r}")
        return raw
    if name in ("tftp_rollover", "https", "ipv6"):
        if not isinstance(raw, bool):
            raise ValueError(f"{where}: {name} must be true or false, got {raw!r}")
        return raw
    if name == "firmware":
        if raw not in ("ipxe", "pxe"):
            raise ValueError(f"{where}: firmware must be ipxe or pxe, got {raw!r}")
        return raw
    if name == "build":
        if not isinstance(raw, str) or raw not in BUILDS:
            raise ValueError(f"{where}: build must be one of {', '.join(BUILDS)}, got {raw!r}")
        return raw
    if name == "tcp_rwnd":
        return parse_size(raw)
    if name == "http_client_rate":
        return math.inf if raw is None else parse_rate(raw)
    t = parse_time(raw)
    if (why := time_limit_problem(raw, t)) is not None:
        raise ValueError(why)
    return t


def load_profile(path: Path) -> Profile:
    """Load one profile YAML file; ``ValueError`` names the file and field on bad input."""
    data = YAML(typ="safe", pure=True).load(Path(path).read_text(encoding="utf-8"))
    where = str(path)
    fixed, measured = data.get("fixed", {}), data.get("measured", {})
    missing = [k for k in _FIXED if k not in fixed] + [k for k in _MEASURED if k not in measured]
    unknown = [k for k in fixed if k not in _FIXED] + [k for k in measured if k not in _MEASURED]
    if missing or unknown:
        raise ValueError(f"{where}: missing {missing} / unknown {unknown} profile fields")
    f = {k: _value(k, fixed[k]["value"], where) for k in _FIXED}
    m = {k: _value(k, measured[k]["value"], where, Path(path).parent) for k in _MEASURED}
    fitted = {k: tuple(measured[k].get("fitted_from") or ()) for k in _MEASURED}
    tftp = TftpParams(blksize=f["tftp_blksize"], windowsize=f["tftp_windowsize"],
                      rollover=f["tftp_rollover"], retry_min=f["retry_min"],
                      retry_max=f["retry_max"],
                      client_block_delay=m["tftp_client_block_delay"])
    return Profile(
        name=data["name"],
        description=data["description"],
        tftp=tftp,
        tcp=TcpParams(rwnd=f["tcp_rwnd"]),
        https=f["https"],
        ipv6=f["ipv6"],
        dhcp_discover_end=f["dhcp_discover_end"],
        firmware=f["firmware"],
        build=f["build"],
        tcp_client_delay=m["tcp_client_delay"],
        http_client_rate=m["http_client_rate"],
        http_request_overhead=m["http_request_overhead"],
        rom_start=m["rom_start"],
        calibrated=all(fitted.values()),
        sources=tuple(f"{k}: {fixed[k]['source']}" for k in _FIXED),
        fitted_from=fitted,
    )


PROFILES: dict[str, Profile] = {
    p.name: p for p in (load_profile(x) for x in sorted(PROFILE_DIR.glob("*.yaml")))
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; ``KeyError`` names the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(
            f"unknown firmware profile {name!r}; known: {', '.join(PROFILES)}") from None


#: Profile values a scenario may set per fleet group (``fleet[].tune``), e.g. a slower
#: NIC's per-block TFTP delay: every measured value and the fixed values a build option
#: changes.
TUNABLE = (*_MEASURED, "tftp_blksize", "tftp_windowsize", "tcp_rwnd", "dhcp_discover_end",
           "ipv6")


def tuned(profile: Profile, changes: dict[str, object], base: Path | None = None) -> Profile:
    """``profile`` with some values replaced (units in the text, as in profile files).

    A measured value may be a distribution mapping (:mod:`netbootsim.dist`): it then
    varies per server (the fleet draws it, :mod:`netbootsim.fleet.variation`); ``base``
    is the directory an empirical distribution's file is read from.

    Raises:
        DistError: a distribution that is malformed or not physical.
        ValueError: an unknown name or a bad value; the message starts with the name.
    """
    if not changes:
        return profile
    tftp, tcp, top = {}, {}, {}
    for name, raw in changes.items():
        if name not in TUNABLE:
            raise ValueError(f"{name}: not a tunable profile value; one of: "
                             f"{', '.join(TUNABLE)}")
        try:
            value = _value(name, raw, name, base)
        except DistError:
            raise
        except (ValueError, TypeError) as e:
            raise ValueError(f"{name}: {e}") from None
        if name == "tftp_client_block_delay":
            tftp["client_block_delay"] = value
        elif name in ("tftp_blksize", "tftp_windowsize"):
            tftp[name.removeprefix("tftp_")] = value
        elif name == "tcp_rwnd":
            tcp["rwnd"] = value
        else:
            top[name] = value
    try:
        return replace(profile, tftp=replace(profile.tftp, **tftp),
                       tcp=replace(profile.tcp, **tcp), **top,
                       description=f"{profile.description} (tuned: "
                                   f"{', '.join(sorted(changes))})")
    except ValueError as e:
        raise ValueError(f"{', '.join(sorted(changes))}: {e}") from None
