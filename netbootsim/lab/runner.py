"""One lab run: network, servers, guests, watch the consoles, tear everything down.

Order of work (the boot log of the harness itself):

1. write the synthetic files, the boot script and the dnsmasq config into the run dir;
2. create the namespace, bridge and one tap per guest (:mod:`.netns`); with a
   ``path`` section two bridges joined by the delay/loss relay (:mod:`.split`),
   the relay started and waited for;
3. start tcpdump on the (guests') bridge, dnsmasq (DHCP + TFTP) and the HTTP server, each
   waited for until it is listening;
4. start the QEMU guests (``stagger`` apart) and read their consoles;
5. stop each guest as soon as its console shows ``NBS-DONE`` (or ``NBS-FAIL``, a
   SeaBIOS "No bootable device", QEMU exiting, or the timeout);
6. always — also on Ctrl-C, SIGTERM, SIGHUP or any error — stop every process and
   delete the namespace, then write ``run.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .config import LabConfig
from .console import ConsoleReader
from .dnsmasq import IPV6_PREFIX, dnsmasq_conf, lease_hook, mac_of
from .install import host_facts, package_versions
from .netns import Netns, stop_process
from .payload import DONE_MARK, FAIL_MARK, boot_script, sha256_of, write_files
from .san import KERNEL_MARK, Target, san_script, start_target
from .split import capture_interface, relay_summary, server_bridge, setup_network
from .tls import sign

__all__ = ["GuestResult", "LabError", "Markers", "run_lab", "qemu_argv"]

UNDIONLY = Path("/usr/lib/ipxe/undionly.kpxe")
_QEMU_DEVICE = {"e1000": "e1000", "e1000e": "e1000e", "rtl8139": "rtl8139",
                "virtio": "virtio-net-pci", "pcnet": "pcnet", "eepro100": "i82557b",
                "ne2k_pci": "ne2k_pci", "vmxnet3": "vmxnet3"}
#: Console text → milestone name (first occurrence, seconds since the guest started).
_MILESTONES = {"iPXE initialising devices": "rom_init", "Configuring (": "dhcp_start",
               "NBS-SCRIPT": "script", "Start PXE over IPv4": "firmware_pxe",
               # the san case's stages (netbootsim.lab.san)
               "Registered SAN device": "san_registered", "Booting from SAN": "san_boot",
               "SYSLINUX": "loader", "Loading vmlinuz": "loader_kernel",
               "Loading initrd": "loader_initrd", "Probing EDD": "handover",
               # the kernel's setup code writes through the BIOS, which SeaBIOS copies to
               # the serial port, and to the port itself: each character twice
               "PPrroobbiinngg  EEDDDD": "handover",
               "Linux version": "kernel"}
_BIOS_FAIL = "No bootable device"


@dataclass(frozen=True)
class Markers:
    """Console text that ends a guest.

    Attributes:
        done: the guest succeeded (milestone ``done``).
        fail: any of these means it failed.
    """

    done: str = DONE_MARK
    fail: tuple[str, ...] = (FAIL_MARK, _BIOS_FAIL)


#: The san case ends when the kernel from the SAN disk prints its first line; SYSLINUX's
#: own failures end it too.
SAN_MARKERS = Markers(done=KERNEL_MARK, fail=(FAIL_MARK, _BIOS_FAIL, "Boot error",
                                               "Could not find kernel image"))


class LabError(RuntimeError):
    """The lab could not be set up or run (a server failed to start, no KVM, ...)."""


@dataclass
class GuestResult:
    """Outcome of one guest.

    Attributes:
        guest: 0-based guest number.
        mac: its MAC address.
        outcome: ``done``, ``failed``, ``timeout`` or ``interrupted``.
        reason: why it did not finish, or empty.
        start_s: QEMU start, seconds since the run start.
        end_s: when the harness saw the end (marker, failure or timeout).
        wall_s: ``end_s - start_s``.
        milestones: first time (seconds since ``start_s``) of known console lines.
    """

    guest: int
    mac: str
    outcome: str = "running"
    reason: str = ""
    start_s: float = 0.0
    end_s: float | None = None
    wall_s: float | None = None
    milestones: dict[str, float] = field(default_factory=dict)


class _Interrupted(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread like KeyboardInterrupt."""


#: Debian's OVMF (package ovmf): the firmware code, and the variable store each UEFI
#: guest gets a copy of (its boot options are written there).
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
#: Debian's AAVMF (package qemu-efi-aarch64): the same for ARM64 guests.
AAVMF_CODE = Path("/usr/share/AAVMF/AAVMF_CODE.fd")
AAVMF_VARS = Path("/usr/share/AAVMF/AAVMF_VARS.fd")
#: UEFI firmware → (its code, its variable store template).
_UEFI_FLASH = {"ovmf": (OVMF_CODE, OVMF_VARS), "aavmf": (AAVMF_CODE, AAVMF_VARS)}


def ovmf_vars(out: Path, guest: int) -> Path:
    """Where ``guest`` keeps its copy of OVMF's variable store (dropped from traces)."""
    return out / "firmware" / f"vars-{guest}.fd"


def qemu_argv(cfg: LabConfig, guest: int, tap: str, out: Path | None = None) -> list[str]:
    """The QEMU command line for ``guest`` on ``tap`` (checked on QEMU 7.2).

    A SeaBIOS guest (``pc``) boots the NIC's option ROM; an OVMF guest (``q35``, the
    firmware and its variable store as flash, ``out`` holding the store's copy) has no
    option ROM and boots its own PXE client, which it tries once no disk is found.
    """
    dev = _QEMU_DEVICE[cfg.nic]
    qemu, machine = "qemu-system-x86_64", ["-machine", "pc"]
    if cfg.firmware in _UEFI_FLASH:
        code, _ = _UEFI_FLASH[cfg.firmware]
        store = ovmf_vars(out or Path("."), guest)
        machine = ["-machine", "q35"] if cfg.firmware == "ovmf" else \
            ["-machine", "virt", "-cpu", "cortex-a57"]
        machine += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
                    "-drive", f"if=pflash,format=raw,unit=1,file={store}"]
        if cfg.firmware == "aavmf":
            qemu = "qemu-system-aarch64"
    return [qemu, "-name", f"nbs-guest{guest}", *machine,
            "-accel", cfg.accel, "-m", str(cfg.memory_mib), "-nographic", "-nodefaults",
            "-serial", "stdio", "-monitor", "none",
            "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
            "-device", f"{dev},netdev=n0,mac={mac_of(guest)},romfile={cfg.rom}",
            "-boot", "n"]


def set_boot_uri(template: Path, store: Path, uri: str, logs: Path) -> None:
    """``store``: a copy of the variable store ``template`` whose next boot is ``uri``.

    A ``BootNext`` entry with the URI's device path (virt-firmware's ``virt-fw-vars
    --set-boot-uri``): EDK2's HTTP boot takes it, asks DHCP for an address only, and
    fetches the URI. The tool's log goes to ``logs/set-boot-uri.log``.
    """
    argv = [sys.executable, "-m", "virt.firmware.vars", "-i", str(template), "-o", str(store),
            "--set-boot-uri", uri]
    with open(logs / "set-boot-uri.log", "a") as log:
        done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise LabError(f"virt-fw-vars --set-boot-uri failed ({done.returncode}): "
                           f"see {logs / 'set-boot-uri.log'}")


def _wait_for(check: Callable[[], bool], proc: subprocess.Popen, what: str,
              errfile: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = errfile.read_text(errors="replace")[-2000:] if errfile.exists() else ""
    raise LabError(f"{what} did not start (exit {proc.poll()}): {tail.strip()}")


def _spawn(ns: Netns, argv: list[str], errfile: Path, **popen: object) -> subprocess.Popen:
    """Start ``argv`` in ``ns`` with stderr to ``errfile``."""
    with open(errfile, "wb") as err:
        return ns.spawn(argv, stderr=err, **popen)


def _contains(path: Path, text: str) -> Callable[[], bool]:
    return lambda: path.exists() and text in path.read_text(errors="replace")


def _prepare(cfg: LabConfig, out: Path, boot: str | None,
             extra: dict[str, str]) -> tuple[Path, dict]:
    srv = out / "srv"
    digests = write_files(srv, cfg.files, cfg.seed)
    base = f"{cfg.transport}://{cfg.server_ip}"
    if boot is None and cfg.san is not None:
        boot = san_script(cfg.san.protocol, cfg.server_ip)
    script = boot_script(base, list(cfg.files), verify=cfg.verify is not None) \
        if boot is None else boot
    if cfg.verify is not None:  # each file's signature, then (tampered) a byte changed
        for name in cfg.files:
            sign(srv / name, Path(cfg.tls or ""), srv / f"{name}.sig")
        if cfg.verify == "tampered":
            first = srv / next(iter(cfg.files))
            with open(first, "r+b") as f:
                f.seek(first.stat().st_size // 2)
                byte = f.read(1)
                f.seek(-1, 1)
                f.write(bytes([byte[0] ^ 0xFF]))
            digests[first.name] = sha256_of(first)  # run.json: what was served
    for name, text in {"boot.ipxe": script, **extra}.items():
        (srv / name).write_text(text)
        (out / name).write_text(text)
    if cfg.firmware in _UEFI_FLASH:  # each UEFI guest's own variable store
        for guest in range(cfg.guests):
            store = ovmf_vars(out, guest)
            store.parent.mkdir(exist_ok=True)
            if cfg.uefi_boot == "http":  # UEFI HTTP boot: the NBP's URI as the next boot
                set_boot_uri(_UEFI_FLASH[cfg.firmware][1], store,
                             f"http://{cfg.server_ip}/{cfg.nbp}", out / "firmware")
            else:
                shutil.copy(_UEFI_FLASH[cfg.firmware][1], store)
    if cfg.case == "chainload":
        nbp = Path(cfg.ipxe) / "ipxe.efi" if cfg.firmware in _UEFI_FLASH else UNDIONLY
        shutil.copy(nbp, srv / cfg.nbp)
        (out / "dhcp-hosts").mkdir(exist_ok=True)
        hook = out / "lease-hook.sh"
        hook.write_text(lease_hook(out))
        hook.chmod(0o755)
    (out / "dnsmasq.conf").write_text(dnsmasq_conf(cfg, out, srv))
    files = {n: {"bytes": cfg.files[n], "sha256": d} for n, d in digests.items()}
    return srv, files


def _start_servers(ns: Netns, cfg: LabConfig, out: Path, srv: Path, t0: float
                   ) -> Target | None:
    err = out / "tcpdump.stderr"
    # --immediate-mode: without it packets still in the capture buffer are lost when
    # tcpdump is stopped (seen: 15 of 143 packets kept, the whole HTTP transfer lost).
    cmd = ["tcpdump", "-i", capture_interface(cfg), "-n", "-U", "--immediate-mode", "-Z",
           "root", "-w", str(out / "capture.pcap")]
    if cfg.snaplen:
        cmd[1:1] = ["-s", str(cfg.snaplen)]
    proc = _spawn(ns, cmd, err, stdout=subprocess.DEVNULL)
    _wait_for(_contains(err, "listening on"), proc, "tcpdump", err)

    err = out / "dnsmasq.stderr"
    proc = _spawn(ns, ["dnsmasq", "--no-daemon", f"--conf-file={out / 'dnsmasq.conf'}"], err,
                  stdout=subprocess.DEVNULL)
    _wait_for(_contains(out / "dnsmasq.log", "TFTP root is"), proc, "dnsmasq", err)

    base = [sys.executable, "-m", "netbootsim.lab.httpd", "--root", str(srv),
            "--bind", cfg.server_ip, "--t0", repr(t0), "--tcp-cc", cfg.tcp_cc]
    _start_httpd(ns, [*base, "--port", "80", "--log", str(out / "http.csv")],
                 out / "httpd.stderr", "HTTP server")
    target = None
    if cfg.san is not None:  # the disk's target, and its disappearance when asked for
        try:
            target = start_target(ns, cfg.san, cfg.server_ip, server_bridge(cfg), out, t0)
        except RuntimeError as e:
            raise LabError(str(e)) from None
    if cfg.transport == "https":  # the files: HTTPS on 443 with the configured certificate
        leaf = Path(cfg.tls or "") / ("server" if cfg.certificate == "trusted" else "rogue")
        _start_httpd(ns, [*base, "--port", "443", "--log", str(out / "https.csv"),
                          "--tls-cert", f"{leaf}-chain.crt", "--tls-key", f"{leaf}.key"],
                     out / "httpsd.stderr", "HTTPS server")
    return target


def _start_httpd(ns: Netns, argv: list[str], err: Path, what: str) -> None:
    """Start the lab HTTP(S) server ``argv`` in ``ns``; wait for its ``READY`` line."""
    proc = _spawn(ns, argv, err, stdout=subprocess.PIPE)
    ready = threading.Event()

    def read_ready() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith(b"READY"):
                ready.set()

    threading.Thread(target=read_ready, daemon=True).start()
    _wait_for(ready.is_set, proc, what, err)


def server_tcp(ns: Netns, cc: str) -> dict[str, str]:
    """What ``run.json`` keeps of the servers' TCP: ``cc`` for HTTP(S), the namespace's else.

    The lab's HTTP server sets ``cc`` on its sockets (``TCP_CONGESTION``): a new namespace
    starts with the host's default (seen here: ``bbr`` in a fresh namespace on a host
    running ``bbr``) and allows only the host's allowed list, so setting the namespace's
    default is refused, while a root process may choose any algorithm the kernel offers
    for its own sockets. Other TCP servers (tgtd's iSCSI) keep the namespace's default.

    Raises:
        LabError: the kernel does not offer ``cc`` (a module not loaded, e.g. ``tcp_bbr``).
    """
    available = ns.sysctl("net.ipv4.tcp_available_congestion_control").split()
    if cc not in available:
        raise LabError(f"tcp_cc: {cc!r} is not offered by this kernel (available: "
                       f"{' '.join(available)}); load its module (modprobe tcp_{cc}) "
                       "or choose another")
    return {"http_congestion_control": cc,
            "namespace_default": ns.sysctl("net.ipv4.tcp_congestion_control"),
            "available": " ".join(available)}


def run_lab(cfg: LabConfig, out: Path, say: Callable[[str], None] = print, *,
            boot: str | None = None, extra: dict[str, str] | None = None,
            markers: Markers = Markers()) -> dict:
    """Run the lab described by ``cfg``, writing everything into ``out``.

    Args:
        cfg: the validated config.
        out: run directory (created).
        say: where progress lines go.
        boot: text of ``boot.ipxe`` instead of the fetch-the-files script.
        extra: more text files served next to it, name → text (also kept in ``out``).
        markers: console text that ends a guest as done or failed.

    Returns:
        The content of ``run.json``.

    Raises:
        LabError: the lab could not be set up.
        KeyboardInterrupt: on SIGINT, SIGTERM or SIGHUP, after cleaning up.
    """
    if cfg.san is not None and markers == Markers():
        markers = SAN_MARKERS
    if cfg.accel == "kvm" and not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise LabError("accel: kvm asked for but /dev/kvm is not usable")
    out.mkdir(parents=True, exist_ok=True)
    srv, files = _prepare(cfg, out, boot, extra or {})
    taps = [f"nbs-tap{i}" for i in range(cfg.guests)]
    guests = [GuestResult(i, mac_of(i)) for i in range(cfg.guests)]
    ns = Netns()
    readers: list[ConsoleReader] = []
    t0, start_unix = time.monotonic(), time.time()
    record: dict = {"config": cfg.to_dict(), "versions": package_versions(),
                    "host": host_facts(),
                    "namespace": ns.name, "t0_monotonic": t0,
                    "start_utc": datetime.fromtimestamp(start_unix, UTC).isoformat(),
                    "files": files, "qemu_argv": qemu_argv(cfg, 0, taps[0], out),
                    "capture_interface": capture_interface(cfg)}
    if cfg.ipxe is not None:  # the built iPXE booted: its commit, options and hashes
        from .build import read_build

        record["ipxe_build"] = read_build(Path(cfg.ipxe))
    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}

    def interrupted(signum: int, frame: object) -> None:
        raise _Interrupted(signal.Signals(signum).name)

    for s in old:
        signal.signal(s, interrupted)
    status, error = "error", ""
    target: Target | None = None
    try:
        try:
            net = setup_network(ns, cfg, taps, out,
                                f"{IPV6_PREFIX}1/64" if cfg.dhcp.ipv6_ra else None)
        except RuntimeError as e:
            raise LabError(str(e)) from None
        record["server_tcp"] = server_tcp(ns, cfg.tcp_cc)
        say(f"namespace {ns.name}: {net}; HTTP's TCP congestion control {cfg.tcp_cc}")
        target = _start_servers(ns, cfg, out, srv, t0)
        say(f"servers up: dnsmasq (DHCP, TFTP, tftp-max {cfg.tftp_max}), HTTP, tcpdump"
            + (f", {cfg.san.protocol} target" if cfg.san is not None else ""))
        _boot_guests(ns, cfg, out, taps, guests, readers, t0, say, markers,
                     target.seen if target is not None else None)
        status = "ok" if all(g.outcome == "done" for g in guests) else "failed"
    except (KeyboardInterrupt, _Interrupted) as e:
        status, error = "interrupted", f"interrupted ({str(e) or 'SIGINT'})"
        raise KeyboardInterrupt(error) from None
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
        raise
    finally:
        with _signals_ignored():
            if target is not None:
                target.stop()  # no kill during the teardown
            now = time.monotonic() - t0
            for g in guests:
                if g.outcome == "running":
                    g.outcome, g.reason, g.end_s = "interrupted", error or "stopped", now
            ns.delete()
            if target is not None:
                target.forget()
            for reader in readers:
                reader.join(timeout=2.0)
            if cfg.path:
                record["relay"] = relay_summary(out / "relay.json")
            if target is not None:
                record["san_target"] = target.record()
            record.update(outcome=status, error=error, guests=[asdict(g) for g in guests],
                          end_utc=datetime.now(UTC).isoformat(),
                          duration_s=round(time.monotonic() - t0, 6))
            (out / "run.json").write_text(json.dumps(record, indent=2) + "\n")
            shutil.rmtree(srv, ignore_errors=True)
            say(f"torn down {ns.name}; results in {out}")
        for s, h in old.items():
            signal.signal(s, h)
    return record


@contextlib.contextmanager
def _signals_ignored():
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    old = {s: signal.signal(s, signal.SIG_IGN) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _boot_guests(ns: Netns, cfg: LabConfig, out: Path, taps: list[str],
                 guests: list[GuestResult], readers: list[ConsoleReader], t0: float,
                 say: Callable[[str], None], markers: Markers,
                 watch: Callable[[float, str], None] | None = None) -> None:
    events: dict[int, tuple[str, str, float]] = {}
    lock = threading.Lock()
    procs: dict[int, subprocess.Popen] = {}

    def on_line(g: GuestResult) -> Callable[[float, str], None]:
        def seen(t: float, text: str) -> None:
            if watch is not None:
                watch(t, text)
            for key, name in (*_MILESTONES.items(), (markers.done, "done")):
                if key in text and name not in g.milestones:
                    g.milestones[name] = round(t - g.start_s, 6)
            verdict = None
            if markers.done in text:
                verdict = ("done", "")
            elif any(m in text for m in markers.fail):
                verdict = ("failed", text.strip())
            if verdict:
                with lock:
                    events.setdefault(g.guest, (*verdict, t))
        return seen

    for g in guests:
        if g.guest and cfg.stagger:
            time.sleep(cfg.stagger)
        g.start_s = time.monotonic() - t0
        proc = _spawn(ns, qemu_argv(cfg, g.guest, taps[g.guest], out),
                      out / f"qemu-{g.guest}.stderr",
                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        procs[g.guest] = proc
        reader = ConsoleReader(proc.stdout, out / f"console-{g.guest}.log", t0, on_line(g),
                               raw_path=out / f"console-{g.guest}.raw")
        reader.start()
        readers.append(reader)
        say(f"guest {g.guest} ({g.mac}) started on {taps[g.guest]}")

    pending = {g.guest: g for g in guests}
    while pending:
        now = time.monotonic() - t0
        for i, g in list(pending.items()):
            with lock:
                ev = events.get(i)
            if ev is None and procs[i].poll() is not None:
                ev = ("failed", f"qemu exited with status {procs[i].returncode}", now)
            if ev is None and now - g.start_s > cfg.timeout:
                ev = ("timeout", f"no {markers.done} within {cfg.timeout:g}s", now)
            if ev is None:
                continue
            g.outcome, g.reason, g.end_s = ev
            g.wall_s = round(g.end_s - g.start_s, 6)
            g.end_s = round(g.end_s, 6)
            stop_process(procs[i])
            del pending[i]
            say(f"guest {i}: {g.outcome} after {g.wall_s:.2f}s" +
                (f" ({g.reason})" if g.reason else ""))
        time.sleep(0.05)
