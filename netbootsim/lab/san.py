"""SAN boot in the lab (issue 17, item 4): a small bootable disk, its iSCSI and AoE targets.

``netbootsim lab san-disk`` writes a disk image a BIOS boots from: an MBR partition table,
one FAT16 partition with SYSLINUX (Debian's ``syslinux``: its MBR code, its boot sector
and ``ldlinux.sys``), a Linux kernel (``vmlinuz``: by default Debian's current
``linux-image-amd64``, taken from its package without installing it) and an ``initrd``
of seeded random bytes (only its size matters: the guest is stopped when the kernel
prints its first line, before it would unpack it). SYSLINUX writes through the BIOS,
which SeaBIOS copies to the serial console, and the kernel writes to it
(``console=ttyS0``), so the console shows each stage: iPXE hands over to the disk's MBR
(``Booting from SAN device``), SYSLINUX starts (``SYSLINUX``), loads both files through
the BIOS disk calls that iPXE answers over the SAN (``Loading vmlinuz``, ``Loading
initrd``), the kernel's setup code starts (``Probing EDD``, each character twice: the
hand-over), and the kernel proper runs (``Linux version``: the guest is done).

The case ``san`` of ``lab run`` serves that image from the lab namespace, as one iSCSI
target (Debian's ``tgt``: ``tgtd`` in the foreground, its LUN 1; LUN 0 is tgt's
controller) or one AoE target (Debian's ``vblade``, shelf 0 slot 0, on the servers'
bridge), and the guest's script is ``sanboot`` with its URI. ``vanish_after`` kills the
target (SIGKILL) that long after the console shows ``Booting from SAN``: what iPXE does
when its target disappears mid-boot.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .payload import sha256_of, write_files

__all__ = ["AOE_URI", "DISK_FILES", "IQN", "ISCSI_PORT", "KERNEL_MARK", "SanOptions",
           "Target", "debian_kernel", "make_disk", "read_disk", "san_script", "san_uri",
           "start_target"]

#: The lab target's iSCSI name, in the ``iqn.`` form (RFC 7143 [rfc7143]).
IQN = "iqn.2026-12.org.netbootsim:lab-disk"
#: The iSCSI well-known port, 3260 (RFC 7143 [rfc7143]).
ISCSI_PORT = 3260
#: tgt's first LUN that is a disk (LUN 0 is its controller).
ISCSI_LUN = 1
#: The AoE target's address: shelf 0, slot 0 (vblade's arguments, iPXE's ``aoe:e0.0``).
AOE_URI = "aoe:e0.0"
#: What ``lab san-disk`` writes into its directory.
DISK_FILES = ("disk.img", "disk.json")
#: The partition's first sector (1 MiB aligned, as fdisk does).
PART_START = 2048
SECTOR = 512
#: The console line that ends a san guest: the kernel read from the SAN disk runs.
KERNEL_MARK = "Linux version"
#: The console line after which ``vanish_after`` counts (iPXE hands over to the MBR).
VANISH_FROM = "Booting from SAN"
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")
SYSLINUX_CFG = """DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  INITRD initrd
  APPEND console=ttyS0,115200 earlyprintk=serial,ttyS0,115200
"""


@dataclass(frozen=True)
class SanOptions:
    """The ``san`` section of a lab config (case ``san``).

    Attributes:
        protocol: ``iscsi`` (tgt) or ``aoe`` (vblade).
        disk: a ``netbootsim lab san-disk`` directory (absolute).
        vanish_after: kill the target this many seconds after the console shows
            ``Booting from SAN``; ``None``: it stays.
    """

    protocol: str
    disk: str
    vanish_after: float | None = None


def san_uri(protocol: str, server_ip: str) -> str:
    """IPXE's SAN URI of the lab target (``iscsi:<server>:<proto>:<port>:<lun>:<iqn>``)."""
    if protocol == "iscsi":
        return f"iscsi:{server_ip}:::{ISCSI_LUN}:{IQN}"
    return AOE_URI


def san_script(protocol: str, server_ip: str) -> str:
    """The guest's ``boot.ipxe``: ``sanboot`` the lab disk, or say why it could not."""
    return "\n".join(["#!ipxe", "echo NBS-SCRIPT", f"sanboot {san_uri(protocol, server_ip)}"
                      " || goto nbs_fail", ":nbs_fail", "echo NBS-FAIL ${errno}",
                      "exit 1"]) + "\n"


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"{' '.join(argv)} failed ({e.returncode}): "
                           f"{(e.stderr or e.stdout).strip()[-500:]}") from None



def debian_kernel(dest: Path) -> dict:
    """Debian's current ``linux-image-amd64`` kernel, copied to ``dest`` (not installed).

    ``apt-get download`` fetches the package the metapackage depends on; its
    ``/boot/vmlinuz-*`` is extracted with ``dpkg-deb -x``.

    Returns:
        ``{"package": name, "version": version}``.
    """
    deps = _run(["apt-cache", "depends", "linux-image-amd64"]).stdout
    names = [line.split(":", 1)[1].strip() for line in deps.splitlines()
             if line.strip().startswith("Depends:") and "linux-image-" in line]
    if not names:
        raise RuntimeError("apt-cache knows no linux-image-amd64 (run apt-get update)")
    with tempfile.TemporaryDirectory(prefix="nbs-kernel-") as tmp:
        _run(["apt-get", "download", names[0]], cwd=tmp)
        debs = list(Path(tmp).glob("*.deb"))
        if len(debs) != 1:
            raise RuntimeError(f"apt-get download {names[0]} gave {len(debs)} packages")
        deb = debs[0]
        _run(["dpkg-deb", "-x", str(deb), str(Path(tmp) / "x")])
        kernels = list((Path(tmp) / "x" / "boot").glob("vmlinuz-*"))
        if len(kernels) != 1:
            raise RuntimeError(f"{deb.name} holds {len(kernels)} vmlinuz files, not one")
        kernel = kernels[0]
        shutil.copy(kernel, dest)
        version = _run(["dpkg-deb", "-f", str(deb), "Version"]).stdout.strip()
    return {"package": names[0], "version": version}


def make_disk(out: Path, kernel: Path | None, initrd_bytes: int, seed: int = 1) -> dict:
    """Write ``disk.img`` and ``disk.json`` into ``out`` (see the module docstring).

    Args:
        out: the directory (created; must not hold a disk already).
        kernel: a bzImage; ``None``: Debian's (:func:`debian_kernel`).
        initrd_bytes: size of the random ``initrd``.
        seed: seed of the numpy Generator that writes it.

    Returns:
        What ``disk.json`` holds: the files' sizes and SHA-256, the layout, the kernel's
        origin.
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nbs-disk-") as tmp:
        work = Path(tmp)
        vmlinuz = work / "vmlinuz"
        if kernel is None:
            origin = {"debian": debian_kernel(vmlinuz)}
        else:
            shutil.copy(kernel, vmlinuz)
            origin = {"file": str(kernel)}
        initrd = work / "initrd"
        initrd_sha = write_files(work, {"initrd": initrd_bytes}, seed)["initrd"]
        cfg = work / "syslinux.cfg"
        cfg.write_text(SYSLINUX_CFG)
        payload = vmlinuz.stat().st_size + initrd_bytes
        part_mib = max(32, -(-(payload + (8 << 20)) // (1 << 20)))  # FAT16 wants >= 16 MiB
        img = work / "disk.img"
        with open(img, "wb") as f:
            f.truncate((PART_START * SECTOR) + (part_mib << 20))
        _run(["sfdisk", "--no-reread", "--no-tell-kernel", str(img)],
             input=f"label: dos\nlabel-id: 0x4e425344\nstart={PART_START}, type=e, bootable\n")
        offset = PART_START * SECTOR
        _run(["mkfs.fat", "-F", "16", "-n", "NBSDISK", "-i", "4e425344",
              f"--offset={PART_START}", str(img), str(part_mib * 1024)])
        _run(["mcopy", "-i", f"{img}@@{offset}", str(cfg), str(vmlinuz), str(initrd), "::"])
        _run(["syslinux", "--install", f"--offset={offset}", str(img)])
        with open(img, "r+b") as f:  # SYSLINUX's MBR code, the partition table kept
            f.write(SYSLINUX_MBR.read_bytes()[:440])
        record = {
            "disk_bytes": img.stat().st_size, "partition_start_sector": PART_START,
            "partition_mib": part_mib, "filesystem": "FAT16",
            "boot_loader": _run(["dpkg-query", "-W", "-f=${Version}", "syslinux"]).stdout,
            "kernel": {**origin, "bytes": vmlinuz.stat().st_size,
                       "sha256": sha256_of(vmlinuz)},
            "initrd": {"bytes": initrd_bytes, "seed": seed, "sha256": initrd_sha},
            "syslinux_cfg": SYSLINUX_CFG,
        }
        record["sha256"] = sha256_of(img)
        shutil.move(str(img), out / "disk.img")
    (out / "disk.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def read_disk(where: Path) -> dict:
    """The ``disk.json`` of a ``lab san-disk`` directory.

    Raises:
        InputError: not such a directory.
    """
    missing = [f for f in DISK_FILES if not (where / f).is_file()]
    if missing:
        raise InputError.single(str(where), 0, "san.disk",
                                f"not a 'netbootsim lab san-disk' directory (no "
                                f"{', '.join(missing)})")
    return json.loads((where / "disk.json").read_text())


class Target:
    """A running lab target; kills it ``vanish_after`` after the console's hand-over line.

    Attributes:
        proc: the target's process (tgtd or vblade).
        vanished_s: when it was killed, seconds since the run start (``None``: never).
    """

    def __init__(self, proc: subprocess.Popen, vanish_after: float | None, t0: float,
                 leaves: tuple[Path, ...] = ()):
        self.proc, self.vanish_after, self.t0 = proc, vanish_after, t0
        self.leaves = leaves  # files the daemon leaves behind when it is stopped
        self.vanished_s: float | None = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def seen(self, _t: float, text: str) -> None:
        """A console line of any guest (the runner's hook; the readers' threads call it)."""
        if self.vanish_after is None or VANISH_FROM not in text:
            return
        with self._lock:
            if self._timer is not None or self._stopped:
                return
            self._timer = threading.Timer(self.vanish_after, self.vanish)
            self._timer.daemon = True
            self._timer.start()

    def vanish(self) -> None:
        """Kill the target process now (SIGKILL).

        What the guest then sees is a daemon that died on a host that is up: for iSCSI
        the host's kernel closes the connection (FIN) and refuses new ones (RST), as the
        lab's runs show; not an array that dropped off the network, which would answer
        nothing at all. AoE has no connection: its frames go unanswered either way.
        """
        with self._lock:
            if self._stopped or self.proc.poll() is not None:
                return
            self.proc.kill()
            self.vanished_s = round(time.monotonic() - self.t0, 6)

    def stop(self) -> None:
        """No kill from now on (the run is ending): cancel a pending one."""
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()

    def forget(self) -> None:
        """Once its process is gone: delete what it left (tgtd's control socket, lock)."""
        for path in self.leaves:
            path.unlink(missing_ok=True)

    def record(self) -> dict[str, Any]:
        """What ``run.json`` keeps of it."""
        return {"vanish_after_s": self.vanish_after, "vanished_s": self.vanished_s}


def control_port(pid: int | None = None) -> int:
    """A lab run's tgtd control port: 1000 + its process id modulo 30,000.

    ``pid``: the run's process (default: this one). Port 0 is a host tgtd's; ``lab
    cleanup`` finds a crashed run's port from the process named in its namespace.
    """
    return 1000 + (os.getpid() if pid is None else pid) % 30000


def start_target(ns: Any, opts: SanOptions, server_ip: str, bridge: str, out: Path,
                 t0: float) -> Target:
    """Serve ``opts.disk``'s image in the namespace ``ns`` as its protocol's target.

    iSCSI: ``tgtd`` in the foreground on its own control port (its control socket is a
    file, ``/var/run/tgtd/socket.<port>``, shared by every namespace: the port keeps this
    run's daemon apart from any other tgtd on the host), then ``tgtadm`` on that port
    makes the target, LUN 1 read-only on the image, open to every initiator. AoE:
    ``vblade -r 0 0 BRIDGE IMAGE`` (read-only). Waits until the target answers (tgtadm)
    or says it serves (vblade).

    Raises:
        RuntimeError: it did not start.
    """
    image = str(Path(opts.disk) / "disk.img")
    if opts.protocol == "iscsi":
        err = open(out / "tgtd.stderr", "wb")  # noqa: SIM115 - kept for the process
        port = control_port()
        proc = ns.spawn(["tgtd", "-f", "-C", str(port), "--iscsi",
                         f"portal={server_ip}:{ISCSI_PORT}"], stdout=err, stderr=err)
        err.close()

        def adm(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(["ip", "netns", "exec", ns.name, "tgtadm", "-C", str(port),
                                   "--lld", "iscsi", *args], capture_output=True, text=True,
                                  check=False)

        deadline = time.monotonic() + 10.0
        while adm("--op", "show", "--mode", "sys").returncode != 0 or proc.poll() is not None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tgtd did not start: "
                                   f"{(out / 'tgtd.stderr').read_text()[-500:]}")
            time.sleep(0.05)
        for args in (("--op", "new", "--mode", "target", "--tid", "1", "-T", IQN),
                     ("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun",
                      str(ISCSI_LUN), "-b", image),
                     ("--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun",
                      str(ISCSI_LUN), "--params", "readonly=1"),
                     ("--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL")):
            res = adm(*args)
            if res.returncode != 0:
                raise RuntimeError(f"tgtadm {' '.join(args)}: {res.stderr.strip()}")
        sock = Path("/var/run/tgtd") / f"socket.{port}"
        return Target(proc, opts.vanish_after, t0, (sock, sock.with_name(f"{sock.name}.lock")))
    else:
        err = open(out / "vblade.stderr", "wb")  # noqa: SIM115
        proc = ns.spawn(["vblade", "-r", "0", "0", bridge, image], stdout=err, stderr=err)
        err.close()
        deadline = time.monotonic() + 10.0
        while "e0.0" not in (out / "vblade.stderr").read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"vblade did not start: "
                                   f"{(out / 'vblade.stderr').read_text()[-500:]}")
            time.sleep(0.05)
    return Target(proc, opts.vanish_after, t0)
