"""Firmware profiles: what a client's boot firmware fixes about its transfers and its start.

One YAML file per firmware lives beside this module: an iPXE build (calibrated in the
QEMU lab or from published reports), a vendor PXE ROM, or a server class — POST and UEFI
or BIOS initialisation, then the NIC's PXE ROM. Its ``fixed`` values are what the
firmware's source code or specification fixes; its ``measured`` values are what only
measurement gives (the client's per-TFTP-block delay, its added latency per TCP round,
per-request overhead, the time from power-on to the NIC ROM — ``post`` — and the ROM's
start to its first DHCP packet — ``rom_start``). ``netbootsim calibrate`` fits measured
values from lab traces and names them (``fitted_from``).

Every value says what it rests on (``basis``), shown by ``netbootsim models``:

* ``measured``: this project's lab measured it (``fitted_from`` names the traces);
* ``published``: a cited document or published measurement gives it (``source``, with
  its ``[key]`` in ``docs/sources.md``);
* ``assumed``: neither; ``source`` says what was assumed and why.

A measured value may be a distribution (:mod:`netbootsim.dist`), drawn per server by
the fleet; it then also says what its spread rests on (``spread``). Bad input is a
``ValueError`` of one line, ``FILE:LINE: field: message``.

A fleet group may name a mix of profiles instead of one (:class:`ProfileMix`,
``{mix: [{weight: 0.7, profile: server-uefi}, {weight: 0.3, profile: server-bios}]}``):
each server draws its own from its group's stream (:mod:`netbootsim.fleet.variation`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..clock import time_limit_problem
from ..dist import Dist, DistError, parse_value
from ..ipxe.spec import BUILDS
from ..protocols import TcpParams, TftpParams
from ..units import parse_rate, parse_size, parse_time
from ..yamltext import safe_yaml

__all__ = ["CHAIN_START", "Profile", "Basis", "ProfileMix", "PROFILES", "PROFILE_DIR",
           "TUNABLE", "BASES", "PLATFORMS", "VALUES", "get_profile", "load_profile",
           "parse_mix", "profile_names", "tuned"]

PROFILE_DIR = Path(__file__).resolve().parent

_FIXED = ("tftp_blksize", "tftp_windowsize", "tftp_rollover", "retry_min", "retry_max",
          "tcp_rwnd", "https", "http_watchdog", "ipv6", "dhcp_discover_end",
          "dhcp_offer_wait", "dhcp_offer_at_once", "firmware", "build", "platform")
_MEASURED = ("tftp_client_block_delay", "tcp_client_delay", "http_client_rate",
             "http_request_overhead", "tls_client_time", "tls_client_rate", "imgverify_time",
             "imgverify_rate",
             "san_read_time", "san_read_rate", "post", "rom_start", "chain_start")
#: Measured values that are rates (bytes/s; ``null`` in a file: no limit).
_RATES = ("http_client_rate", "tls_client_rate", "imgverify_rate", "san_read_rate")
#: Every value of a profile file, in file order.
VALUES = _FIXED + _MEASURED
#: What a value rests on: this project's lab, a cited document, or an assumption.
BASES = ("measured", "published", "assumed")
#: The machine's firmware and architecture a profile runs on (DHCP option 93, RFC 4578
#: §2.1 [rfc4578]: 0 x86 BIOS, 7 x86-64 UEFI; 11 ARM64 UEFI in IANA's registry
#: [iana-pxe-arch]); a profile without one runs on its group's ``arch``.
PLATFORMS = ("bios", "uefi", "uefi-arm64")
#: An iPXE build's start as a chainloaded boot file when its profile does not say: the
#: boot file loaded to its first DISCOVER, 2.42 s measured (tests/data/lab/traces/chainload,
#: console 3.552 -> 5.976 s, Debian's 2019 undionly.kpxe), mostly the 2 s "Press Ctrl-B"
#: banner (BANNER_TIMEOUT 20 tenths, config/general.h:225 [ipxe-src]).
CHAIN_START = 2.42
#: A citation key in a source text (as ``tests/test_sources.py`` finds them).
_KEY = "a-z0-9"
_CITATION = re.compile(r"(?<=[\s(])\[([" + _KEY + "][" + _KEY + "-]*[" + _KEY + r"])\](?!\()")


@dataclass(frozen=True)
class Basis:
    """What one profile value rests on.

    Attributes:
        basis: ``measured`` (this project's lab), ``published`` (a cited source) or
            ``assumed``.
        spread: for a distribution, what its spread rests on (same words); else ``None``.
        source: the text: what and where, with ``[key]`` citations.
        keys: the citation keys in ``source`` (entries of ``docs/sources.md``).
        fitted_from: the lab traces a measured value was fitted from.
    """

    basis: str
    spread: str | None
    source: str
    keys: tuple[str, ...]
    fitted_from: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Profile:
    """One client firmware: an iPXE build, a PXE ROM, or a server class.

    Attributes:
        name: the name scenarios use.
        description: one line for ``netbootsim models`` and reports.
        tftp: TFTP client parameters (blksize, windowsize, retry timer, per-block delay).
        tcp: TCP receive-side parameters (the sender is the mirror's Linux).
        https: whether the build can fetch ``https://`` at all.
        http_watchdog: seconds without data after which iPXE closes an HTTP connection
            (``HTTP_WATCHDOG_SECONDS``, since 2025-12); ``inf``: it waits for ever.
        ipv6: whether IPv6 is built in (its autoconfiguration wait lengthens ``dhcp``).
        firmware: ``ipxe`` or ``pxe`` (a vendor PXE ROM, BIOS or UEFI): whose DHCP client
            and user class it has.
        build: the iPXE build it runs scripts with (its commands and URI schemes), a name
            of :data:`netbootsim.ipxe.BUILDS`; a fleet group's ``build`` overrides it.
        dhcp_discover_end: the DHCP discovery timer's ceiling (``DHCP_DISC_END_TIMEOUT_SEC``:
            10 s in iPXE, 32 s in PXE-spec builds); it sets when ``dhcp`` gives up.
        dhcp_offer_wait: a PXE client (``firmware: pxe``) that collects offers acts on
            them only when a DISCOVER times out, the first time this long after its
            first DISCOVER, then each later timeout of its schedule as much earlier
            (EDK2: 3 to 4 s, its 4 s timeout counted in 1 s ticks; 3.68 s in the lab);
            0: it acts on the first offer that names a boot file. iPXE keeps its own
            rule (the ProxyDHCP wait). May vary per server (a distribution).
        dhcp_offer_at_once: iPXE acts on an OFFER that says ``no-pxedhcp`` (175.176) as
            it arrives (net/udp/dhcp.c:438-441 [ipxe-src]) instead of at its discovery
            timer's next tick: what the lab saw of ipxe.efi chained over EDK2's SNP
            (its DHCP in 2-11 ms), where the ROMs and undionly.kpxe, opening their NIC,
            requested at the 1 s tick.
        platform: the machine's firmware and architecture, one of :data:`PLATFORMS`
            (the DHCP client architecture, option 93, that picks the boot file);
            ``None``: the group's ``arch``.
        tcp_client_delay: the client's added latency per TCP round trip (an emulated NIC
            ACKs late).
        http_client_rate: the most the client takes in over HTTP (bytes/s; ``inf`` when
            only the network limits it).
        http_request_overhead: client+server time per HTTP request beyond the round
            trips.
        tls_client_time: the client's own time in a full TLS handshake (its key
            exchange, certificate checks and record crypto), beyond the handshake's
            round trips (:func:`~netbootsim.fleet.spec.tls_handshake_time`); only a
            profile with ``https`` uses it.
        tls_client_rate: the most the client takes in over HTTPS, its bulk cipher's rate
            (bytes/s on the wire, as ``http_client_rate``, which also holds; ``inf``: no
            limit of its own); only a profile with ``https`` uses it.
        imgverify_time: ``imgverify``'s time beyond hashing the image: the signature's
            RSA check and the certificate chain (seconds).
        imgverify_rate: the rate ``imgverify`` hashes the image at (bytes/s; ``inf``:
            no time): a check of ``size`` bytes takes ``imgverify_time + size /
            imgverify_rate``. Only a build with ``imgverify`` uses the two.
        san_read_time: the client's own time per SAN read (a ``sanboot`` drive's,
            before the hand-over), beyond the round trip and the target's time (s) ...
        san_read_rate: ... and per byte: ``san_read_time + bytes / san_read_rate``
            (bytes/s; ``inf``: none).
        post: power-on to the NIC's boot ROM: POST, memory training, UEFI or BIOS
            initialisation, option ROM dispatch (0 where ``rom_start`` holds it all, as
            in the QEMU lab).
        rom_start: start of the ROM to its first DHCP packet.
        chain_start: an iPXE build loaded as a PXE boot file (``pxe-chainload-ipxe``):
            the boot file loaded to its first DHCP packet (its banner's wait, and an EFI
            build's try for ``autoexec.ipxe``); not used by a firmware that is not iPXE.
        calibrated: every measured value that applies was fitted from traces
            (``tls_client_time`` applies only where ``https`` is built in,
            ``chain_start`` only to an iPXE build, ``imgverify_*`` only to a build
            with ``imgverify``; ``san_read_*``, for SAN boots only, are not counted:
            ``netbootsim models`` shows their basis).
        sources: source of each fixed value, ``name: source``.
        fitted_from: traces each measured value came from, ``name -> (trace, ...)``.
        basis: what each value rests on, by value name (:class:`Basis`).
        measured_on: the machine and emulator the measured values were fitted on (an
            emulated client's CPU-bound rates are its host's); ``""`` when not said.

    Measured values (and ``post``) may be :class:`~netbootsim.dist.Dist`: the fleet
    draws them per server before the run.
    """

    name: str
    description: str
    tftp: TftpParams
    tcp: TcpParams
    https: bool
    http_watchdog: float = math.inf
    ipv6: bool = False
    dhcp_discover_end: float = 10.0
    dhcp_offer_wait: float | Dist = 0.0
    dhcp_offer_at_once: bool = False
    firmware: str = "ipxe"
    build: str = "all"
    platform: str | None = None
    tcp_client_delay: float | Dist = 0.0
    http_client_rate: float | Dist = math.inf
    http_request_overhead: float | Dist = 0.0
    tls_client_time: float | Dist = 0.0
    tls_client_rate: float | Dist = math.inf
    imgverify_time: float | Dist = 0.0
    imgverify_rate: float | Dist = math.inf
    san_read_time: float | Dist = 0.0
    san_read_rate: float | Dist = math.inf
    post: float | Dist = 0.0
    rom_start: float | Dist = 0.0
    chain_start: float | Dist = CHAIN_START
    calibrated: bool = False
    sources: tuple[str, ...] = field(default=())
    fitted_from: dict[str, tuple[str, ...]] = field(default_factory=dict)
    basis: dict[str, Basis] = field(default_factory=dict)
    measured_on: str = ""

    def value(self, name: str) -> object:
        """A value by its name in profile files (``tftp_blksize``, ``post``...)."""
        if name in ("retry_min", "retry_max") or name.startswith("tftp_"):
            return getattr(self.tftp, name.removeprefix("tftp_"))
        if name == "tcp_rwnd":
            return self.tcp.rwnd
        if name not in VALUES:
            raise KeyError(f"{name!r}: not a profile value; one of: {', '.join(VALUES)}")
        return getattr(self, name)


@dataclass(frozen=True)
class ProfileMix:
    """A group's firmware given as a mix of profiles: ``(weight, profile name)`` parts.

    Each server of the group draws one part with the part's weight (weights sum to 1).
    """

    parts: tuple[tuple[float, str], ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The profile names, in the order written."""
        return tuple(name for _, name in self.parts)

    def spec(self) -> dict[str, Any]:
        """As written: ``{"mix": [{"weight": w, "profile": name}, ...]}``."""
        return {"mix": [{"weight": w, "profile": n} for w, n in self.parts]}


_WEIGHT_TOL = 1e-6  # weights written to 6 decimals (1/3 as 0.333333) add up


def parse_mix(raw: object) -> ProfileMix:
    """``{mix: [{weight: w, profile: name}, ...]}`` as a :class:`ProfileMix`.

    Names are not looked up here (the scenario's checks do, with suggestions).

    Raises:
        DistError: malformed, or weights not positive or not summing to 1; ``sub``
            names the part that is wrong (``("mix", 1, "weight")``).
    """
    if isinstance(raw, ProfileMix):
        return raw
    if not isinstance(raw, Mapping) or set(raw) != {"mix"}:
        extra = [k for k in raw if k != "mix"] if isinstance(raw, Mapping) else []
        if extra:
            raise DistError((str(extra[0]),), f"unknown field {extra[0]!r}; a mix of "
                                              "profiles has only 'mix'")
        raise DistError((), "a profile name, or {mix: [{weight: w, profile: name}, ...]}")
    parts = raw["mix"]
    if not isinstance(parts, list) or not parts:
        raise DistError(("mix",), "give a non-empty list of {weight: w, profile: name}")
    out: list[tuple[float, str]] = []
    for j, part in enumerate(parts):
        sub = ("mix", j)
        if not isinstance(part, Mapping):
            raise DistError(sub, "each part is a mapping {weight: w, profile: name}")
        extra = [k for k in part if k not in ("weight", "profile")]
        if extra:
            raise DistError((*sub, str(extra[0])), f"unknown field {extra[0]!r}; a part "
                                                   "has 'weight' and 'profile'")
        for key in ("weight", "profile"):
            if key not in part:
                raise DistError(sub, f"{key!r} missing; a part is {{weight: w, profile: "
                                     "name}")
        w, name = part["weight"], part["profile"]
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) \
                or w <= 0:
            raise DistError((*sub, "weight"), f"{w!r} must be a number > 0")
        if not isinstance(name, str) or not name:
            raise DistError((*sub, "profile"), f"expected a profile name, got {name!r}")
        out.append((float(w), name))
    total = math.fsum(w for w, _ in out)
    if abs(total - 1.0) > _WEIGHT_TOL:
        raise DistError(("mix",), f"the weights sum to {total:g}, not 1")
    names = [n for _, n in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DistError(("mix",), f"profile {dupes[0]!r} is named twice; give it once "
                                  "with the sum of its weights")
    return ProfileMix(tuple(out))


def profile_names(ref: object) -> tuple[tuple[tuple, str], ...]:
    """The profile names a group's ``profile`` or ``rom`` gives, with where each is.

    ``(sub-path, name)`` pairs: ``((), name)`` for a name; ``(("mix", j, "profile"),
    name)`` for each part of a mix (parsed, or as written when it did not validate).
    """
    if isinstance(ref, str):
        return (((), ref),)
    if isinstance(ref, ProfileMix):
        return tuple((("mix", j, "profile"), n) for j, n in enumerate(ref.names))
    if isinstance(ref, Mapping) and isinstance(ref.get("mix"), list):
        return tuple((("mix", j, "profile"), part["profile"])
                     for j, part in enumerate(ref["mix"])
                     if isinstance(part, Mapping) and isinstance(part.get("profile"), str))
    return ()


def _kind(name: str) -> str:
    return "rate" if name in _RATES else "time"


#: Values that may be a distribution (drawn per server): the measured ones, and the
#: PXE client's offer wait (EDK2's 1 s timer tick falls anywhere after its DISCOVER).
_VARYING = (*_MEASURED, "dhcp_offer_wait")


def _value(name: str, raw: object, where: str, base: Path | None = None) -> object:
    if name in _VARYING and isinstance(raw, Mapping):  # varies per server: a distribution
        return parse_value(dict(raw), _kind(name), base=base,
                           positive=name in _RATES)
    if name in ("tftp_blksize", "tftp_windowsize"):
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise ValueError(f"{where}: {name} must be an integer, got {raw!r}")
        return int(raw)
    if name in ("tftp_rollover", "https", "ipv6", "dhcp_offer_at_once"):
        if not isinstance(raw, bool):
            raise ValueError(f"{where}: {name} must be true or false, got {raw!r}")
        return raw
    if name == "firmware":
        if raw not in ("ipxe", "pxe"):
            raise ValueError(f"{where}: firmware must be ipxe or pxe, got {raw!r}")
        return str(raw)
    if name == "platform":
        if raw is not None and raw not in PLATFORMS:
            raise ValueError(f"{where}: platform must be one of {', '.join(PLATFORMS)} "
                             f"(or null: the group's arch), got {raw!r}")
        return None if raw is None else str(raw)
    if name == "build":
        if not isinstance(raw, str) or raw not in BUILDS:
            raise ValueError(f"{where}: build must be one of {', '.join(BUILDS)}, got {raw!r}")
        return str(raw)
    if name == "tcp_rwnd":
        return parse_size(raw)
    if name in _RATES:
        return math.inf if raw is None else parse_rate(raw)
    if name == "http_watchdog" and raw is None:
        return math.inf
    t = parse_time(raw)
    if (why := time_limit_problem(raw, t)) is not None:
        raise ValueError(why)
    return t


def _line(node: object, key: object, default: int) -> int:
    """The 1-based line of ``key`` in a round-trip YAML mapping (else ``default``)."""
    lc = getattr(node, "lc", None)
    try:
        return int(lc.key(key)[0]) + 1 if lc is not None else default
    except (KeyError, TypeError, AttributeError):
        return default


def _entry(path: str, section: str, name: str, entry: object, base: Path,
           line: int) -> tuple[object, Basis]:
    """One ``{value, basis, source...}`` entry: its value and what it rests on."""
    def fail(sub: tuple, msg: str, at: int | None = None) -> ValueError:
        field_ = ".".join((section, name, *map(str, sub)))
        return ValueError(f"{path}:{at or line}: {field_}: {msg}")

    if not isinstance(entry, Mapping) or "value" not in entry:
        raise fail((), "give {value: ..., basis: measured|published|assumed, source: ...}")
    allowed = ("value", "basis", "spread", "source", "fitted_from")
    extra = [k for k in entry if k not in allowed]
    if extra:
        raise fail((extra[0],), f"unknown key; an entry has {', '.join(allowed)}",
                   _line(entry, extra[0], line))
    vline = _line(entry, "value", line)
    try:
        value = _value(name, entry["value"], "", base)
    except DistError as e:
        raw = entry["value"]
        at = vline
        if e.sub and isinstance(raw, Mapping):
            at = _line(raw, e.sub[0], vline)
        raise fail(("value", *e.sub), e.msg, at) from None
    except (ValueError, TypeError) as e:
        raise fail(("value",), str(e).removeprefix(": "), vline) from None
    basis = entry.get("basis")
    if basis not in BASES:
        raise fail(("basis",), f"{basis!r}: give one of {', '.join(BASES)}",
                   _line(entry, "basis", line))
    fitted = tuple(str(t) for t in (entry.get("fitted_from") or ()))
    if fitted and section != "measured":
        raise fail(("fitted_from",), "only measured values are fitted from traces",
                   _line(entry, "fitted_from", line))
    if basis == "measured" and not fitted and not entry.get("source"):
        raise fail(("basis",), "a lab-measured value names its traces (fitted_from) or "
                               "its source", _line(entry, "basis", line))
    source = entry.get("source")
    if basis != "measured" and (not isinstance(source, str) or not source.strip()):
        raise fail(("source",), f"a {basis} value says where it comes from (with its "
                                "citation key in docs/sources.md, or why it is assumed)",
                   _line(entry, "source", line))
    spread = entry.get("spread")
    if isinstance(value, Dist) and not value.constant:
        if spread not in BASES:
            raise fail(("spread",), f"{spread!r}: a distribution says what its spread "
                                    f"rests on: one of {', '.join(BASES)}",
                       _line(entry, "spread", vline))
    elif spread is not None:
        raise fail(("spread",), "only a distribution has a spread",
                   _line(entry, "spread", line))
    text = "" if source is None else str(source)
    keys = tuple(dict.fromkeys(_CITATION.findall(f" {text}")))
    return value, Basis(str(basis), None if spread is None else str(spread), text, keys,
                        fitted)


def load_profile(path: Path) -> Profile:
    """Load one profile YAML file.

    Raises:
        ValueError: one line, ``FILE:LINE: field: message`` (``measured.post.value.p95``).
    """
    path = Path(path)
    where = str(path)
    try:
        data = safe_yaml().load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"{where}:0: cannot read it ({e.strerror})") from None
    except Exception as e:  # a YAML syntax error: its own line
        mark = getattr(e, "problem_mark", None)
        at = mark.line + 1 if mark is not None else 0
        msg = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ValueError(f"{where}:{at}: {msg}") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}:1: a profile is a mapping (name, description, fixed, "
                         "measured)")
    for key in ("name", "description", "fixed", "measured"):
        if key not in data:
            raise ValueError(f"{where}:1: {key}: required")
    for key in data:
        if key not in ("name", "description", "fixed", "measured", "measured_on"):
            raise ValueError(f"{where}:{_line(data, key, 1)}: {key}: unknown key; a "
                             "profile has name, description, measured_on, fixed, measured")
    values: dict[str, object] = {}
    bases: dict[str, Basis] = {}
    for section, names in (("fixed", _FIXED), ("measured", _MEASURED)):
        part = data[section]
        sline = _line(data, section, 1)
        if not isinstance(part, Mapping):
            raise ValueError(f"{where}:{sline}: {section}: a mapping of values")
        for k in part:
            if k not in names:
                raise ValueError(f"{where}:{_line(part, k, sline)}: {section}.{k}: unknown "
                                 f"{section} value; one of: {', '.join(names)}")
        for k in names:
            if k not in part:
                raise ValueError(f"{where}:{sline}: {section}.{k}: required")
            values[k], bases[k] = _entry(where, section, k, part[k], path.parent,
                                         _line(part, k, sline))
    f, m = values, values
    fitted = {k: bases[k].fitted_from for k in _MEASURED}
    tftp = TftpParams(blksize=f["tftp_blksize"], windowsize=f["tftp_windowsize"],
                      rollover=f["tftp_rollover"], retry_min=f["retry_min"],
                      retry_max=f["retry_max"],
                      client_block_delay=m["tftp_client_block_delay"])
    return Profile(
        name=str(data["name"]),
        description=str(data["description"]),
        tftp=tftp,
        tcp=TcpParams(rwnd=f["tcp_rwnd"]),
        https=f["https"],
        http_watchdog=f["http_watchdog"],
        ipv6=f["ipv6"],
        dhcp_discover_end=f["dhcp_discover_end"],
        dhcp_offer_wait=f["dhcp_offer_wait"],
        dhcp_offer_at_once=f["dhcp_offer_at_once"],
        firmware=f["firmware"],
        build=f["build"],
        platform=f["platform"],
        tcp_client_delay=m["tcp_client_delay"],
        http_client_rate=m["http_client_rate"],
        http_request_overhead=m["http_request_overhead"],
        tls_client_time=m["tls_client_time"],
        tls_client_rate=m["tls_client_rate"],
        imgverify_time=m["imgverify_time"],
        imgverify_rate=m["imgverify_rate"],
        san_read_time=m["san_read_time"],
        san_read_rate=m["san_read_rate"],
        post=m["post"],
        rom_start=m["rom_start"],
        chain_start=m["chain_start"],
        calibrated=all(v for k, v in fitted.items() if _applies(k, f)),
        sources=tuple(f"{k}: {bases[k].source}" for k in _FIXED),
        fitted_from=fitted,
        basis=bases,
        measured_on=str(data.get("measured_on") or ""),
    )


def _applies(name: str, fixed: dict[str, Any]) -> bool:
    """Whether the measured value ``name`` is used by a firmware with these fixed values."""
    ipxe = fixed["firmware"] == "ipxe"
    if name in ("tls_client_time", "tls_client_rate"):
        return bool(fixed["https"])
    if name == "chain_start":
        return ipxe
    if name.startswith("imgverify_"):
        commands = BUILDS[fixed["build"]].commands
        return ipxe and (commands is None or "imgverify" in commands)
    if name.startswith("san_read_"):  # SAN boots only: shown by their basis instead
        return False
    return True


class _Profiles(Mapping):
    """The shipped profiles by name (``<name>.yaml`` in :data:`PROFILE_DIR`), in file order.

    A profile file is read when its profile is first asked for: a run reads the one or
    two its fleet names, not all nine (reading them all took 0.14 s of every command's
    start, ruamel's line-numbered parse being the cost).

    Raises:
        ValueError: on first access, a file that does not load, or whose ``name`` is not
            its file name's stem.
    """

    def __init__(self, directory: Path):
        self._files = {x.stem: x for x in sorted(directory.glob("*.yaml"))}
        self._loaded: dict[str, Profile] = {}

    def __getitem__(self, name: str) -> Profile:
        hit = self._loaded.get(name)
        if hit is None:
            path = self._files[name]  # KeyError: no such profile
            hit = load_profile(path)
            if hit.name != name:
                raise ValueError(f"{path}:1: name: {hit.name!r} is not the file's name "
                                 f"({name!r})")
            self._loaded[name] = hit
        return hit

    def __iter__(self):
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, name: object) -> bool:
        return name in self._files


PROFILES: Mapping[str, Profile] = _Profiles(PROFILE_DIR)


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
           "dhcp_offer_wait", "ipv6")


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
    bases = dict(profile.basis)
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
        bases[name] = Basis("assumed", "assumed" if isinstance(value, Dist) else None,
                            "set by the scenario (fleet[].tune)", ())
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
                       tcp=replace(profile.tcp, **tcp), **top, basis=bases,
                       description=f"{profile.description} (tuned: "
                                   f"{', '.join(sorted(changes))})")
    except ValueError as e:
        raise ValueError(f"{', '.join(sorted(changes))}: {e}") from None
