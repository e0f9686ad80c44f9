"""The project's Debian packages: check, install when missing, report versions.

The lab boots real iPXE under QEMU (qemu-system-x86, the iPXE ROMs, OVMF for UEFI
guests, dnsmasq, tcpdump);
the report's browser test renders HTML reports in headless Chromium (chromium,
chromium-driver; ``tests/report/test_report_browser.py``).

``netbootsim lab install`` (and ``lab run`` when something is missing and it runs
as root) runs ``apt-get update`` then ``apt-get install -y`` for the missing
packages only, so a second call does nothing.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["BROWSER_PACKAGES", "LAB_PACKAGES", "PACKAGES", "ensure_packages", "host_facts",
           "missing_packages", "package_versions"]

#: Debian package → a file it provides that the lab uses.
LAB_PACKAGES: dict[str, str] = {
    "qemu-system-x86": "/usr/bin/qemu-system-x86_64",
    "ipxe-qemu": "/usr/lib/ipxe/qemu/pxe-e1000.rom",
    "ipxe": "/usr/lib/ipxe/undionly.kpxe",
    "dnsmasq-base": "/usr/sbin/dnsmasq",
    "tcpdump": "/usr/bin/tcpdump",
    "openssl": "/usr/bin/openssl",  # the HTTPS case's certificates (netbootsim.lab.tls)
    "ovmf": "/usr/share/OVMF/OVMF_CODE_4M.fd",  # UEFI guests (firmware: ovmf)
    # ARM64 UEFI guests (firmware: aavmf)
    "qemu-system-arm": "/usr/bin/qemu-system-aarch64",
    "qemu-efi-aarch64": "/usr/share/AAVMF/AAVMF_CODE.fd",
    # the san case (netbootsim.lab.san): its targets and the disk lab san-disk writes
    "tgt": "/usr/sbin/tgtd",
    "vblade": "/usr/sbin/vblade",
    "syslinux": "/usr/bin/syslinux",
    "syslinux-common": "/usr/lib/syslinux/mbr/mbr.bin",
    "mtools": "/usr/bin/mcopy",
    "dosfstools": "/usr/sbin/mkfs.fat",
    "fdisk": "/usr/sbin/sfdisk",
}
#: Debian package → a file it provides that the report's browser test uses.
BROWSER_PACKAGES: dict[str, str] = {
    "chromium": "/usr/bin/chromium",
    "chromium-driver": "/usr/bin/chromedriver",
}
#: everything ``netbootsim lab install`` installs
PACKAGES: dict[str, str] = {**LAB_PACKAGES, **BROWSER_PACKAGES}


def package_versions(packages: list[str] | None = None) -> dict[str, str | None]:
    """Installed version of each package from dpkg (``None`` when not installed)."""
    out: dict[str, str | None] = {}
    for pkg in packages or list(LAB_PACKAGES):
        res = subprocess.run(["dpkg-query", "-W", "-f=${Status}\t${Version}", pkg],
                             capture_output=True, text=True, check=False)
        status, _, version = res.stdout.partition("\t")
        out[pkg] = version if res.returncode == 0 and status.endswith(" installed") else None
    return out


def host_facts() -> dict[str, object]:
    """The machine a lab run is on: what an emulated client's speeds depend on.

    Under QEMU's TCG every CPU-bound rate (a TFTP block's turnaround, HTTP's receive
    rate, TLS and imgverify crypto) is the host's; a profile fitted from runs names it
    (``measured_on``).
    """
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") or line.startswith("Model"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model or platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "kernel": platform.release(),
            "machine": platform.machine()}


def missing_packages(packages: Mapping[str, str] = LAB_PACKAGES) -> list[str]:
    """Of ``packages``, those not installed, or whose file we use is absent."""
    versions = package_versions(list(packages))
    return [p for p, f in packages.items() if versions[p] is None or not Path(f).exists()]


def ensure_packages(say: Callable[[str], None] = print,
                    packages: Mapping[str, str] = PACKAGES) -> list[str]:
    """Install the missing ones of ``packages``; return the ones installed.

    Args:
        say: where progress lines go.
        packages: package → a file it provides (default: the lab's and the browser's).

    Raises:
        PermissionError: something is missing and we are not root.
        subprocess.CalledProcessError: apt-get failed.
    """
    missing = missing_packages(packages)
    if not missing:
        say("packages present: " + ", ".join(
            f"{p} {v}" for p, v in package_versions(list(packages)).items()))
        return []
    if os.geteuid() != 0:
        raise PermissionError("missing Debian packages " + " ".join(missing) +
                              "; run 'netbootsim lab install' as root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    say("apt-get update")
    subprocess.run(["apt-get", "update"], check=True, env=env)
    say("apt-get install -y --no-install-recommends " + " ".join(missing))
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing],
                   check=True, env=env)
    say("installed: " + ", ".join(missing))
    return missing
