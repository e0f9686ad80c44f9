"""The Debian packages the lab needs: check, install when missing, report versions.

``netbootsim lab install`` (and ``lab run`` when something is missing and it runs
as root) runs ``apt-get update`` then ``apt-get install -y`` for the missing
packages only, so a second call does nothing.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

__all__ = ["PACKAGES", "ensure_packages", "missing_packages", "package_versions"]

#: Debian package → a file it provides that the lab uses.
PACKAGES: dict[str, str] = {
    "qemu-system-x86": "/usr/bin/qemu-system-x86_64",
    "ipxe-qemu": "/usr/lib/ipxe/qemu/pxe-e1000.rom",
    "ipxe": "/usr/lib/ipxe/undionly.kpxe",
    "dnsmasq-base": "/usr/sbin/dnsmasq",
    "tcpdump": "/usr/bin/tcpdump",
}


def package_versions(packages: list[str] | None = None) -> dict[str, str | None]:
    """Installed version of each package from dpkg (``None`` when not installed)."""
    out: dict[str, str | None] = {}
    for pkg in packages or list(PACKAGES):
        res = subprocess.run(["dpkg-query", "-W", "-f=${Status}\t${Version}", pkg],
                             capture_output=True, text=True, check=False)
        status, _, version = res.stdout.partition("\t")
        out[pkg] = version if res.returncode == 0 and status.endswith(" installed") else None
    return out


def missing_packages() -> list[str]:
    """Packages not installed, or whose file the lab uses is absent."""
    versions = package_versions()
    return [p for p, f in PACKAGES.items() if versions[p] is None or not Path(f).exists()]


def ensure_packages(say: Callable[[str], None] = print) -> list[str]:
    """Install the missing packages; return the ones installed.

    Args:
        say: where progress lines go.

    Raises:
        PermissionError: something is missing and we are not root.
        subprocess.CalledProcessError: apt-get failed.
    """
    missing = missing_packages()
    if not missing:
        say("lab packages present: " + ", ".join(
            f"{p} {v}" for p, v in package_versions().items()))
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
