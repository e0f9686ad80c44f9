"""``netbootsim models``: every model a scenario can name, one line each, with its sources."""

from __future__ import annotations

import argparse

__all__ = ["registry", "profile_values", "add_models_parser", "cmd_models"]


def registry() -> list[tuple[str, str, str, str]]:
    """``(kind, name, what it is, where its defaults come from)`` for every model.

    The service models are their registry's entries
    (:mod:`netbootsim.services.registry`), kind by kind.
    """
    from ..clock import DEFAULT_HORIZON  # here, not at the top: --help stays fast
    from ..fleet import LINUX_RWND
    from ..fleet.link import LINK_WAIT, STP_MAX_DEFERRALS
    from ..fleet.spec import TLS_CLIENT_TIME, TLS_HANDSHAKE_RTTS
    from ..profiles import CHAIN_START, PROFILES
    from ..services.dhcp import IPV6_WAIT
    from ..services.registry import KINDS

    rows = [
        ("engine", "flow", "max-min fair flows, incremental (classes, rate groups, virtual "
         "clocks)", "netbootsim/net/engine.py; checked against full recompute and SimGrid"),
        ("engine", "flow (full_recompute)", "reference: every flow re-solved on every event",
         "netbootsim/net/reference.py"),
        ("engine", "packet", "packets through store-and-forward links: drop-tail switch "
         "ports (run.buffer, 512 KiB), per-flow round-robin host NICs; TFTP lock-step with "
         "iPXE's retry timer; TCP Linux NewReno+SACK sender (IW 10, RTO ≥ 200 ms), iPXE "
         "receiver (fixed window, ACK every segment)", "netbootsim/net/packet*.py; RFC 5681 "
         "[rfc5681], 6582 [rfc6582], 6675 [rfc6675], 6298 [rfc6298], 6928 [rfc6928]; "
         "Broadcom Tomahawk buffer [bcm56960]; iPXE retry.c, tcp.c [ipxe-src]"),
        ("protocol", "tftp", "lock-step law: RTT + blocks × (RTT + ser + client + server); "
         "windows; expected loss with iPXE's retry timer", "RFC 1350 [rfc1350], 2348 "
         "[rfc2348], 7440 [rfc7440]; iPXE tftp.c, retry.c [ipxe-src]"),
        ("protocol", "http", "TCP slow start from IW 10, rwnd/RTT; under loss each transfer's "
         "rounds drawn for the mirror's tcp_cc (CUBIC, Reno, BBR; RFC 9438 [rfc9438], "
         "RFC 8985 [rfc8985], Cardwell 2016 [bbr-2016]), Mathis without draws; warm "
         "keep-alive", "RFC 6928 [rfc6928], 5681 [rfc5681], 2861 [rfc2861]; Mathis et al. "
         "1997 [mathis-1997]; lab traces [lab-traces]"),
        ("protocol", "dhcp", f"iPXE DISCOVERs 0/1/3/7 s, 15 s give-up, 2 s ProxyDHCP wait, "
         f"IPv6 wait {IPV6_WAIT:g} s", "iPXE dhcp.c, config/dhcp.h [ipxe-src]; lab "
         "[lab-validation]"),
        ("protocol", "dhcp (PXE ROM)", "DISCOVERs 0/4/12/28 s, 60 s give-up; needs a boot "
         "file (PXE-E53); ProxyDHCP on port 4011", "PXE spec 2.1 §2.2.1 [pxe-spec]; "
         "raspberrypi/firmware#991 [rpi-firmware-991]"),
    ]
    rows += [(kind.label, m.name, m.line(), "; ".join(m.sources))
             for kind in KINDS.values() for m in kind.models.values()]
    rows += [
        ("client", "chained iPXE start", "the iPXE profile's chain_start: NBP loaded to its "
         f"first DISCOVER ({CHAIN_START:g} s measured for the 2019 undionly.kpxe, the "
         "default; 6.23 s for today's ipxe.efi under OVMF, its try for autoexec.ipxe "
         "included)", "tests/data/lab/traces/chainload, lab/traces3 [lab-traces]; "
         "BANNER_TIMEOUT, config/general.h [ipxe-src]"),
        ("protocol", "https (TLS 1.2)", f"{TLS_HANDSHAKE_RTTS} round trips per new connection "
         "(lab, iPXE 2.0) + the profile's tls_client_time (the client's crypto: "
         f"{TLS_CLIENT_TIME:g} s, uncalibrated, on real hardware; 76.42 ms in "
         "ipxe-current-bios and 81.10 ms in ipxe-current-efi, QEMU TCG's), its bytes "
         "at most at the profile's tls_client_rate (the client's bulk cipher: no limit of "
         "its own on real hardware, uncalibrated; 8.69 and 7.71 MB/s in those two, QEMU "
         "TCG's AES-GCM; docs/calibration.md)",
         "iPXE net/tls.c, config/crypto.h: TLS 1.1-1.2 [ipxe-src]"),
        ("client", "san boot", "sanboot's reads: the boot loader's, one at a time (33.6 MB "
         "in 127-sector reads, the lab disk's; each a round trip, the target's time and "
         "the profile's san_read_time + bytes / san_read_rate), then the OS's at its "
         "demand (150 requests/s of 64 KiB, 65 % reads and the rest writes, a pooled VDI "
         "desktop's boot, one stream through the target), through the "
         "target's IOPS and disks; a target nobody answers fails the attach after 15 s "
         "(SAN_COMMAND_TIMEOUT); a login past a target's sessions is retried 10 times, "
         "5 s apart (SAN_DEFAULT_RETRIES, SAN_REOPEN_DELAY_SECS); a target down: iPXE "
         "retries every 5 s (an AoE or FCoE target after its 15 s command timeout) or "
         "reopens on the next path, the OS finds out in 15 s and fails after 120 s "
         "(open-iscsi; FCoE: at once by the fabric's RSCN, then 60 s, the FC transport's "
         "dev_loss_tmo)",
         "lab/traces4 [lab-traces]; Citrix CTX135986 [citrix-ctx135986]; core/sanboot.c "
         "[ipxe-src]; RFC 4173 [rfc4173]; iscsid.conf [open-iscsi]; "
         "scsi_transport_fc.c [linux-fc]; FC-LS [fc-ls]"),
        ("client", "imgverify", "the profile's imgverify_time + image size / imgverify_rate, "
         "trusted or refused (37.6 ms + size / 19.17 MB/s in ipxe-current-bios, 28.6 ms + "
         "size / 27.55 MB/s in ipxe-current-efi, QEMU TCG's; no time in profiles not "
         "measured)", "lab/traces5, lab/traces11, docs/calibration.md "
         "[lab-traces]; iPXE usr/imgtrust.c, crypto/cms.c [ipxe-src]"),
        ("api service", "inventory + templates", "answers per machine (mac/serial/asset/uuid) "
         "with a sandboxed Jinja2 script per role; unknown machines: discovery script; "
         "render error: HTTP 500", "netbootsim/services/provisioning.py"),
        ("client", "installer (Linux)", f"TCP window {LINUX_RWND // 2**20} MiB, bounded by the "
         "disk's write rate", "Linux ip-sysctl tcp_rmem [linux]"),
        ("link fault", "lacp / stp / link-down", f"frames dropped / iPXE defers DHCP (1 s × "
         f"{STP_MAX_DEFERRALS}) / iPXE waits {LINK_WAIT:g} s for link", "iPXE config/dhcp.h, "
         "usr/ifmgmt.c [ipxe-src]; TritonDataCenter/sdcboot#2 [sdcboot-2]"),
        ("server fault", "server-fail", "the server stops at the fault's time and stays "
         "down: its attempt is interrupted, its transfers cut, it fails with that reason "
         "(a fault scenario, no default value)", "netbootsim/fleet/lifecycle.py"),
        ("run", "horizon (run.until)", f"default {DEFAULT_HORIZON / 86400:g} days: a guard "
         "that stops a run that would never end (servers still booting: unfinished), not a "
         "model of the world; every time a scenario writes is at most 2**22 s (48.5 days), "
         "where the float64 clock still resolves 1 ns", "netbootsim/clock.py"),
    ]
    for p in PROFILES.values():
        state = "calibrated" if p.calibrated else "uncalibrated"
        where = f"; measured on: {p.measured_on}" if p.measured_on else ""
        rows.append(("firmware", p.name, f"{p.description} ({state}){where}",
                     f"netbootsim/profiles/{p.name}.yaml"))
        rows += profile_values(p)
    return rows


def _shown(name: str, value: object) -> str:
    """A profile value in the user's units."""
    import math

    from ..dist import Dist
    from ..units import format_rate, format_size, format_time

    if isinstance(value, Dist):
        return value.describe()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none (the group's arch)" if name == "platform" else "none"
    if name in ("tftp_blksize", "tftp_windowsize"):
        return f"{value} B" if name == "tftp_blksize" else \
            f"{value} block{'' if value == 1 else 's'} per ACK"
    if name == "tcp_rwnd":
        return format_size(float(value))
    if name in ("http_client_rate", "tls_client_rate", "imgverify_rate"):
        return (("no time" if name == "imgverify_rate" else "no limit")
                if value == math.inf else format_rate(float(value)))
    if name == "http_watchdog" and value == math.inf:
        return "none (waits for ever)"
    if isinstance(value, float):
        return "0 s" if value == 0 else format_time(value)
    return str(value)


def profile_values(p) -> list[tuple[str, str, str, str]]:
    """One row per value of profile ``p``: ``("  " + basis, value name, value, keys)``.

    The basis is ``measured`` (this project's lab), ``published`` (cited) or
    ``assumed``; a distribution adds what its spread rests on. The last column is the
    value's citation keys (``docs/sources.md``), the lab traces it was fitted from, or
    ``no source key: assumed`` (the profile file says what was assumed).
    """
    from ..profiles import VALUES

    rows = []
    for name in VALUES:
        b = p.basis.get(name)
        if b is None:
            continue
        what = _shown(name, p.value(name))
        if b.spread is not None:
            what += f" (spread {b.spread})"
        if b.keys:
            src = ", ".join(b.keys)
        elif b.fitted_from:
            src = f"lab traces: {len(b.fitted_from)}"
        else:
            src = "no source key: " + ("assumed" if b.basis == "assumed" else b.source)
        rows.append((f"  {b.basis}", name, what, src))
    return rows


def add_models_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``models``."""
    p = sub.add_parser("models", help="list the models scenarios can name, with sources")
    p.set_defaults(func=cmd_models)


def cmd_models(args: argparse.Namespace) -> int:
    """Handle ``netbootsim models``."""
    for kind, name, what, source in registry():
        print(f"{kind:13s} {name:22s} {what}  [{source}]")
    return 0
