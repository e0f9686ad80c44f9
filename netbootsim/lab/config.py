"""Lab configuration: one YAML file describing one calibration boot run.

Load → default → validate, in that order; every problem found is reported at
once, each as ``file:line: field: message`` through :class:`~netbootsim.errors.InputError`.

Example (``lab/tftp.yaml``)::

    case: tftp            # tftp | http | chainload
    guests: 1
    files: {kernel: 2MiB, initrd: 8MiB}
    tftp_max: 50
    timeout: 120s
    accel: tcg
    seed: 1
    path: {delay: 5ms, loss: 0.01}   # optional: relay between guests and servers
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from ..errors import InputError, Problem
from ..protocols.tcp import TCP_CC  # the senders the law knows; Linux has each built in
from ..units import UnitError, parse_size, parse_time
from ..yamltext import MAX_YAML_BYTES, read_text_capped, safe_yaml
from .san import SanOptions

__all__ = ["CASES", "TCP_CC", "DhcpOptions", "LabConfig", "PathOptions", "load_config",
           "parse_config"]

#: Boot cases the lab can run, with one line each.
CASES: dict[str, str] = {
    "tftp": "ROM DHCP, script and files over TFTP",
    "http": "ROM DHCP, script and files over HTTP",
    "chainload": "ROM DHCP, undionly.kpxe (OVMF: ipxe.efi) over TFTP, its own DHCP, then "
                 "script and files",
    "https": "a built iPXE's DHCP, the script over HTTP, the files over HTTPS (needs ipxe "
             "and tls)",
    "san": "ROM DHCP, the script over HTTP, then sanboot from an iSCSI (tgt) or AoE "
           "(vblade) target serving a lab san-disk (needs san)",
}

#: UEFI guest firmware → the build-ipxe platform whose ipxe.efi its PXE client loads.
UEFI_FIRMWARE = {"ovmf": "efi-x86_64", "aavmf": "efi-arm64"}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_RESERVED = {"boot.ipxe", "undionly.kpxe", "ipxe.efi"}


@dataclass(frozen=True)
class DhcpOptions:
    """Knobs of the DHCP exchange; the defaults are the stock behaviour of each program.

    Attributes:
        ping: dnsmasq ICMP-checks a new address before offering it (dnsmasq default;
            ``no-ping`` turns it off). Delays the first OFFER by about 3 s.
        no_pxedhcp: send iPXE option 175.176 so it skips the 2 s ProxyDHCP wait
            (net/udp/dhcp.c:438-446 [ipxe-src]; not sent by default).
        ipv6_ra: send IPv6 router advertisements inside the namespace so iPXE's IPv6
            autoconfiguration completes instead of timing out (≈13 s measured beyond the
            DHCPv4 exchange [lab-validation]).
            Off by default: a plain IPv4 boot network.
    """

    ping: bool = True
    no_pxedhcp: bool = False
    ipv6_ra: bool = False


@dataclass(frozen=True)
class PathOptions:
    """Delay and loss between guests and servers, imposed by :mod:`.relay`.

    Attributes:
        delay: one-way delay in seconds added in *each* direction (RTT grows by 2×).
        loss: probability that a frame is dropped, drawn independently per direction.
    """

    delay: float = 0.0
    loss: float = 0.0


@dataclass(frozen=True)
class LabConfig:
    """One validated lab run.

    Attributes:
        file: the file the config came from (for messages and ``run.json``).
        case: ``tftp``, ``http`` or ``chainload`` (see :data:`CASES`).
        guests: number of QEMU guests booted at once.
        files: synthetic files fetched by the script, name → size in bytes, in order.
        tftp_max: dnsmasq ``tftp-max``, concurrent TFTP transfers (dnsmasq default 50).
        timeout: seconds a guest may take to print ``NBS-DONE`` before it is failed.
        accel: ``tcg`` (default, always available) or ``kvm``.
        seed: seed of the numpy Generator that writes the synthetic files.
        transport: ``tftp`` or ``http``: how the script and files travel. Fixed by
            ``case`` for tftp/http; for chainload it defaults to ``http``.
        memory_mib: guest RAM in MiB (default 256).
        nic: QEMU NIC model whose Debian iPXE ROM is used (default ``e1000``).
        subnet: private /24 used only inside the lab namespace.
        stagger: seconds between guest starts (default 0: all at once).
        snaplen: tcpdump snap length in bytes, 0 = whole packets.
        dhcp: DHCP exchange knobs.
        path: delay and loss through the relay, or None for one bridge, no relay.
        ipxe: a ``netbootsim lab build-ipxe`` directory (BIOS platform) whose e1000
            option ROM the guests boot instead of Debian's (``nic`` must be ``e1000``);
            its ``build.json`` goes into ``run.json``. Relative to the config's
            directory. ``None``: Debian's ROM.
        tls: the case ``https``: a ``netbootsim lab tls`` directory (relative to the
            config's directory); the build must trust its ``ca.crt``.
        certificate: the case ``https``: the server presents ``trusted`` (signed by the
            lab CA) or ``rogue`` (signed by a CA the build does not trust: iPXE must
            refuse it).
        firmware: ``seabios`` (a BIOS guest booting the NIC's iPXE option ROM),
            ``aavmf`` (an ARM64 UEFI guest, Debian's AAVMF on QEMU's ``virt`` machine,
            otherwise as ``ovmf`` with an ``efi-arm64`` build) or
            ``ovmf`` (a UEFI guest, Debian's OVMF: the firmware's own PXE client, EDK2's,
            over its virtio-net driver, loads the build's ``ipxe.efi``; the chainload
            case on ``nic: virtio`` with an ``efi-x86_64`` build).
        san: the case ``san``: the target's protocol, the disk it serves and when it
            vanishes (:class:`~netbootsim.lab.san.SanOptions`).
        verify: the cases ``http``, ``https`` and ``chainload`` (the chained iPXE's
            script): each file is served with a detached signature by the ``tls``
            directory's code-signing key, and the script checks
            it with ``imgverify``: ``signed`` (the files as signed) or ``tampered`` (the
            first file with one byte changed after signing: iPXE must refuse it).
            ``None``: no signatures.
        uefi_boot: a UEFI guest's network boot: ``pxe`` (the firmware's PXE client, DHCP
            then TFTP) or ``http`` (its UEFI HTTP boot, EDK2's HttpBootDxe: DHCP, then
            ``ipxe.efi`` over HTTP from the lab server, the URI set as the guest's next
            boot in its variable store, as ``virt-fw-vars --set-boot-uri`` does).
        tcp_cc: the TCP congestion control of the lab's HTTP(S) server, the sender of
            every file fetched over HTTP: ``cubic`` (Linux's default since 2.6.19, the
            one Debian's and RHEL's kernels ship), ``reno`` or ``bbr``. Set on the
            server's sockets, so runs do not inherit the host's choice (a new namespace
            takes the host's default: ``bbr`` on the machine of rounds 1 and 2, whose
            HTTP runs did not set it). ``run.json`` keeps it under ``server_tcp``.
    """

    file: str
    case: str
    guests: int = 1
    files: dict[str, int] = field(default_factory=lambda: {"kernel": 2 << 20, "initrd": 8 << 20})
    tftp_max: int = 50
    timeout: float = 120.0
    accel: str = "tcg"
    seed: int = 1
    transport: str = "tftp"
    memory_mib: int = 256
    nic: str = "e1000"
    subnet: str = "192.168.77.0/24"
    stagger: float = 0.0
    snaplen: int = 0
    dhcp: DhcpOptions = field(default_factory=DhcpOptions)
    path: PathOptions | None = None
    ipxe: str | None = None
    tls: str | None = None
    certificate: str = "trusted"
    firmware: str = "seabios"
    san: SanOptions | None = None
    verify: str | None = None
    tcp_cc: str = "cubic"
    uefi_boot: str = "pxe"

    @property
    def rom(self) -> str:
        """The NIC option ROM the guests boot: the build's, or Debian's for ``nic``.

        ``""`` for OVMF guests: no option ROM, the firmware's own PXE client boots.
        """
        if self.firmware in UEFI_FIRMWARE:
            return ""
        if self.ipxe is not None:
            return str(Path(self.ipxe) / "8086100e.rom")
        return f"/usr/lib/ipxe/qemu/pxe-{self.nic}.rom"

    @property
    def nbp(self) -> str:
        """The chainload case's network boot program: iPXE for the firmware's PXE client."""
        return "ipxe.efi" if self.firmware in UEFI_FIRMWARE else "undionly.kpxe"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``run.json``."""
        return asdict(self)

    @property
    def server_ip(self) -> str:
        """Address of the bridge (DHCP, TFTP and HTTP server): host ``.1`` of the subnet."""
        return str(ipaddress.ip_network(self.subnet)[1])


_NICS = {"e1000", "e1000e", "rtl8139", "virtio", "pcnet", "eepro100", "ne2k_pci", "vmxnet3"}
_KNOWN = {"case", "guests", "files", "tftp_max", "timeout", "accel", "seed", "transport",
          "memory", "nic", "subnet", "stagger", "snaplen", "dhcp", "path", "ipxe", "tls",
          "certificate", "firmware", "san", "verify", "tcp_cc", "uefi_boot"}


def _line(node: Any, key: Any) -> int:
    try:
        return node.lc.key(key)[0] + 1
    except (AttributeError, KeyError, TypeError):
        return 0


def parse_config(data: Any, file: str, lines: dict[str, int] | None = None) -> LabConfig:
    """Validate plain config data into a :class:`LabConfig`.

    Args:
        data: the loaded YAML mapping.
        file: name used in messages.
        lines: 1-based line of each top-level or dotted field, when known.

    Raises:
        InputError: with every problem found.
    """
    lines = lines or {}
    problems: list[Problem] = []

    def bad(fld: str, msg: str) -> None:
        problems.append(Problem(file, lines.get(fld, lines.get(fld.split(".")[0], 0)), fld, msg))

    if not isinstance(data, dict):
        raise InputError.single(file, 0, "", "expected a mapping with at least 'case'")
    for key in data:
        if key not in _KNOWN:
            bad(str(key), f"unknown field; known: {', '.join(sorted(_KNOWN))}")
    out: dict[str, Any] = {}

    case = data.get("case")
    if case is None:
        bad("case", f"missing; one of {', '.join(CASES)}")
    elif case not in CASES:
        bad("case", f"{case!r} is not one of {', '.join(CASES)}")
    else:
        out["case"] = case

    def integer(name: str, lo: int, hi: int) -> None:
        if name not in data:
            return
        v = data[name]
        if isinstance(v, bool) or not isinstance(v, int):
            bad(name, f"{v!r} is not an integer")
        elif not lo <= v <= hi:
            bad(name, f"{v} is out of range [{lo}, {hi}]")
        else:
            out[name] = v

    integer("guests", 1, 64)
    integer("tftp_max", 1, 10000)
    integer("seed", 0, 2**63 - 1)
    integer("snaplen", 0, 262144)

    for name, lo in (("timeout", 1.0), ("stagger", 0.0)):
        if name in data:
            try:
                v = parse_time(data[name])
            except UnitError as e:
                bad(name, str(e))
            else:
                if v < lo:
                    bad(name, f"{data[name]!r} is shorter than {lo:g}s")
                else:
                    out[name] = v

    if "memory" in data:
        try:
            mem = parse_size(data["memory"])
        except UnitError as e:
            bad("memory", str(e))
        else:
            if mem % (1 << 20) or not 32 <= mem / (1 << 20) <= 4096:
                bad("memory", "must be a whole number of MiB between 32MiB and 4GiB")
            else:
                out["memory_mib"] = int(mem) >> 20

    if "files" in data:
        files = data["files"]
        if not isinstance(files, dict) or not files:
            bad("files", "expected a non-empty mapping of name: size, e.g. {kernel: 2MiB}")
        else:
            sizes: dict[str, int] = {}
            for name, size in files.items():
                fld = f"files.{name}"
                if not isinstance(name, str) or not _NAME.match(name) or name in _RESERVED:
                    bad(fld, "name must be 1-64 of [A-Za-z0-9._-], not starting with '.' "
                        f"or '-', and not one of {sorted(_RESERVED)}")
                    continue
                try:
                    n = parse_size(size)
                except UnitError as e:
                    bad(fld, str(e))
                    continue
                if n != int(n) or not 1 <= n <= 4 << 30:
                    bad(fld, f"{size!r} must be a whole number of bytes in [1B, 4GiB]")
                    continue
                sizes[name] = int(n)
            out["files"] = sizes

    for name, choices in (("accel", ("tcg", "kvm")), ("transport", ("tftp", "http", "https")),
                          ("certificate", ("trusted", "rogue")),
                          ("verify", ("signed", "tampered")),
                          ("firmware", ("seabios", "ovmf", "aavmf")),
                          ("nic", tuple(sorted(_NICS)))):
        if name in data:
            if data[name] not in choices:
                bad(name, f"{data[name]!r} is not one of {', '.join(choices)}")
            else:
                out[name] = data[name]
    if "transport" in out and out.get("case") in ("tftp", "http") and \
            out["transport"] != out["case"]:
        bad("transport", f"case {out['case']!r} fixes the transport to {out['case']!r}")
    if out.get("case") in ("tftp", "http", "https"):
        out["transport"] = out["case"]
    elif out.get("case") == "san":
        if "transport" in out and out["transport"] != "http":
            bad("transport", "the san case fetches its script over http")
        out["transport"] = "http"
    elif out.get("case") == "chainload":
        out.setdefault("transport", "http")

    if "subnet" in data:
        try:
            net = ipaddress.IPv4Network(str(data["subnet"]), strict=True)
        except ValueError as e:
            bad("subnet", f"not an IPv4 network: {e}")
        else:
            if net.prefixlen != 24 or not net.is_private or net.is_loopback:
                bad("subnet", "must be a private /24 such as 192.168.77.0/24")
            else:
                out["subnet"] = str(net)

    if "dhcp" in data:
        dhcp = data["dhcp"]
        if not isinstance(dhcp, dict):
            bad("dhcp", "expected a mapping with ping, no_pxedhcp, ipv6_ra")
        else:
            flags: dict[str, bool] = {}
            for key, v in dhcp.items():
                if key not in ("ping", "no_pxedhcp", "ipv6_ra"):
                    bad(f"dhcp.{key}", "unknown field; known: ipv6_ra, no_pxedhcp, ping")
                elif not isinstance(v, bool):
                    bad(f"dhcp.{key}", f"{v!r} is not true or false")
                else:
                    flags[key] = v
            out["dhcp"] = DhcpOptions(**flags)

    if "path" in data:
        path = _path(data["path"], bad)
        if path is not None:
            out["path"] = path

    firmware = out.get("firmware", "seabios")
    if firmware in UEFI_FIRMWARE:
        if out.get("case", "chainload") != "chainload":
            bad("firmware", f"an {firmware.upper()} guest boots the firmware's own PXE "
                "client, which loads the build's ipxe.efi: only the chainload case")
        if out.get("nic", "e1000") != "virtio":
            bad("nic" if "nic" in data else "firmware", f"an {firmware.upper()} guest's PXE "
                f"client uses {firmware.upper()}'s virtio-net driver: give nic: virtio")
        if "ipxe" not in data:
            bad("firmware", f"an {firmware.upper()} guest needs ipxe: a 'netbootsim lab "
                f"build-ipxe --platform {UEFI_FIRMWARE[firmware]}' directory (its ipxe.efi "
                "is the NBP)")
    if "uefi_boot" in data:
        if data["uefi_boot"] not in ("pxe", "http"):
            bad("uefi_boot", f"{data['uefi_boot']!r} is not one of pxe, http")
        elif firmware not in UEFI_FIRMWARE:
            bad("uefi_boot", "only a UEFI guest (firmware: ovmf or aavmf) boots by UEFI "
                "HTTP boot")
        else:
            out["uefi_boot"] = data["uefi_boot"]
    if "ipxe" in data:
        where = _ipxe_build(data["ipxe"], file, out.get("nic", "e1000"), bad, firmware)
        if where is not None:
            out["ipxe"] = where
    if "tls" in data:
        where = _tls_dir(data["tls"], file, bad)
        if where is not None:
            out["tls"] = where
    # the chainload case's files over HTTPS too (transport: https): the chained iPXE's
    chained_https = out.get("case") == "chainload" and out.get("transport") == "https"
    if out.get("case") == "https" or chained_https:
        what = "the https case" if out.get("case") == "https" else "transport: https"
        for need in ("ipxe", "tls"):
            if need not in data:  # at the case's line, which asks for it
                problems.append(Problem(
                    file, lines.get("transport" if chained_https else "case", 0), need,
                    f"{what} needs it: Debian's 2019 iPXE has no HTTPS; make TLS_DIR "
                    "with netbootsim lab tls and build one with netbootsim lab build-ipxe "
                    "--trust TLS_DIR/ca.crt"))
    elif "certificate" in data or ("tls" in data and "verify" not in data):
        bad("tls" if "tls" in data else "certificate", "only the https case (or "
            "transport: https) serves HTTPS")
    if "verify" in data:
        if out.get("case") not in ("http", "https", "chainload"):
            bad("verify", "only the http, https and chainload cases fetch files to verify")
        for need in ("ipxe", "tls"):
            if need not in data:
                bad("verify", f"needs {need}: a build trusting the lab CA (netbootsim lab "
                    "build-ipxe --trust TLS_DIR/ca.crt) and the lab tls directory whose "
                    "code-signing key signs the files")

    if "tcp_cc" in data:
        if data["tcp_cc"] not in TCP_CC:
            bad("tcp_cc", f"{data['tcp_cc']!r}: expected one of {', '.join(TCP_CC)}")
        else:
            out["tcp_cc"] = data["tcp_cc"]

    if out.get("case") == "san":
        if "san" not in data:
            problems.append(Problem(file, lines.get("case", 0), "san", "the san case needs "
                                    "it: {protocol: iscsi | aoe, disk: DIR} (DIR made by "
                                    "netbootsim lab san-disk)"))
        elif (san := _san(data["san"], file, bad)) is not None:
            out["san"] = san
        if firmware != "seabios":
            bad("firmware", "the san case boots a BIOS disk: seabios only")
        if out.get("snaplen"):
            bad("snaplen", "the san case decodes the whole capture (iSCSI's TCP streams): "
                "leave snaplen at 0; lab matrix cuts the capture after decoding it")
    elif "san" in data:
        bad("san", "only the san case boots from a SAN target")

    if problems:
        raise InputError(problems)
    return LabConfig(file=file, **out)


def _san(data: Any, file: str, bad: Any) -> SanOptions | None:
    """Validate the ``san`` section; report through ``bad(field, message)``."""
    from .san import read_disk

    if not isinstance(data, dict):
        bad("san", "expected a mapping: {protocol: iscsi | aoe, disk: DIR, vanish_after: T}")
        return None
    ok, out = True, {}
    for key, v in data.items():
        fld = f"san.{key}"
        if key == "protocol":
            if v not in ("iscsi", "aoe"):
                bad(fld, f"{v!r} is not one of iscsi, aoe")
                ok = False
            else:
                out["protocol"] = v
        elif key == "disk":
            where = _beside(v, file, fld, "lab san-disk", bad)
            if where is None:
                ok = False
                continue
            try:
                read_disk(where)
            except InputError as e:
                bad(fld, f"{v}: {e.problems[0].message}")
                ok = False
                continue
            out["disk"] = str(where)
        elif key == "vanish_after":
            try:
                out["vanish_after"] = parse_time(v)
            except UnitError as e:
                bad(fld, str(e))
                ok = False
                continue
            if out["vanish_after"] < 0:
                bad(fld, f"{v!r} is before the hand-over; give 0s or more")
                ok = False
        else:
            bad(fld, "unknown field; known: disk, protocol, vanish_after")
            ok = False
    for need in ("protocol", "disk"):
        if need not in data:
            bad(f"san.{need}" if data else "san", "required")
            ok = False
    return SanOptions(**out) if ok else None


def _beside(value: Any, file: str, fld: str, command: str, bad: Any) -> Path | None:
    """The directory ``value`` names, relative to the config ``file``'s own directory."""
    if not isinstance(value, str) or not value:
        bad(fld, f"expected the path of a 'netbootsim {command}' directory")
        return None
    where = Path(value)
    return where if where.is_absolute() else (Path(file).resolve().parent / where).resolve()


def _tls_dir(value: Any, file: str, bad: Any) -> str | None:
    """The absolute ``lab tls`` directory ``value`` names, if it holds every file."""
    from .tls import FILES

    where = _beside(value, file, "tls", "lab tls", bad)
    if where is None:
        return None
    missing = [f for f in FILES if not (where / f).is_file()]
    if missing:
        bad("tls", f"{value}: not a 'netbootsim lab tls' directory (no {', '.join(missing)})")
        return None
    return str(where)


def _ipxe_build(value: Any, file: str, nic: str, bad: Any,
                firmware: str = "seabios") -> str | None:
    """The absolute build directory ``value`` names, if it holds what the guests boot.

    SeaBIOS guests: a BIOS build's e1000 ROM; OVMF guests: an efi-x86_64 build's
    ``ipxe.efi``.
    """
    from .build import read_build

    where = _beside(value, file, "ipxe", "lab build-ipxe", bad)
    if where is None:
        return None
    try:
        rec = read_build(where)
    except InputError as e:
        bad("ipxe", e.problems[0].message)
        return None
    platform, binary = (UEFI_FIRMWARE[firmware], "ipxe.efi") if firmware in UEFI_FIRMWARE \
        else ("bios", "8086100e.rom")
    if rec["platform"] != platform or binary not in rec["binaries"]:
        label, want = (firmware.upper(), UEFI_FIRMWARE[firmware]) \
            if firmware in UEFI_FIRMWARE else ("SeaBIOS", "BIOS")
        bad("ipxe", f"{value}: built for {rec['platform']}; {label} guests boot a {want} "
            f"build's {binary}")
        return None
    if not (where / binary).is_file():
        bad("ipxe", f"{value}: its {binary} is missing")
        return None
    if firmware not in UEFI_FIRMWARE and nic != "e1000":
        bad("ipxe", f"a build's ROM is the e1000's (8086100e.rom); nic is {nic!r}")
        return None
    return str(where)


def _path(data: Any, bad: Any) -> PathOptions | None:
    """Validate the ``path`` section; report through ``bad(field, message)``."""
    if not isinstance(data, dict) or not data:
        bad("path", "expected a mapping with delay and/or loss, e.g. {delay: 5ms, loss: 0.01}")
        return None
    ok, out = True, {}
    for key, v in data.items():
        fld = f"path.{key}"
        if key == "delay":
            try:
                out["delay"] = parse_time(v)
            except UnitError as e:
                bad(fld, str(e))
                ok = False
                continue
            if not 0.0 <= out["delay"] <= 10.0:
                bad(fld, f"{v!r} must be between 0s and 10s (one way, each direction)")
                ok = False
        elif key == "loss":
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v < 1.0:
                bad(fld, f"{v!r} is not a probability in [0, 1), e.g. 0.01")
                ok = False
            else:
                out["loss"] = float(v)
        else:
            bad(fld, "unknown field; known: delay, loss")
            ok = False
    return PathOptions(**out) if ok else None


def load_config(path: str | Path) -> LabConfig:
    """Read and validate a lab config file.

    Raises:
        InputError: the file is missing or unreadable, not YAML, or invalid.
    """
    file = str(path)
    if not Path(path).exists():
        raise InputError.single(file, 0, "", "no such file")
    try:
        text = read_text_capped(path, MAX_YAML_BYTES, "lab config")
    except ValueError as e:
        raise InputError.single(file, 0, "", str(e)) from None
    try:
        data = safe_yaml().load(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        what = getattr(e, "problem", None) or str(e)
        raise InputError.single(file, line, "", f"YAML error: {what}") from None
    lines: dict[str, int] = {}
    if isinstance(data, dict):
        for key in data:
            lines[str(key)] = _line(data, key)
            sub = data[key]
            if isinstance(sub, dict):
                for k2 in sub:
                    lines[f"{key}.{k2}"] = _line(sub, k2)
    plain = _plain(data)
    return parse_config(plain, file, lines)


def _plain(node: Any) -> Any:
    """The ruamel round-trip data as plain dict/list/str/int/float/bool."""
    if isinstance(node, dict):
        return {_plain(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if type(node).__name__ == "ScalarBoolean" or isinstance(node, bool):
        return bool(node)
    for t in (int, float, str):
        if isinstance(node, t):
            return t(node)
    return node
