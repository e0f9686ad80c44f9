"""Firmware profiles: what a client's boot firmware fixes about its transfers.

A profile names the TFTP and TCP behaviour of one firmware build. Values the source
code fixes carry their source line; values only measurement can give (per-block
client delay) are marked ``calibrated=False`` until the calibration lab (issue 3)
fits them, and reports say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .protocols import TcpParams, TftpParams

__all__ = ["Profile", "PROFILES", "get_profile"]


@dataclass(frozen=True)
class Profile:
    """One client firmware build.

    Attributes:
        name: the name scenarios use.
        description: one line for ``netbootsim models`` and reports.
        tftp: TFTP client parameters.
        tcp: TCP receive-side parameters (the sender is the mirror's Linux).
        https: whether the build can fetch ``https://`` at all.
        calibrated: whether the measured parameters (per-block delay) were fitted.
        sources: where each default comes from.
    """

    name: str
    description: str
    tftp: TftpParams
    tcp: TcpParams
    https: bool
    calibrated: bool
    sources: tuple[str, ...] = field(default=())


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "ipxe-2019-qemu",
            "iPXE snapshot 36a4c85 (2019-01-25) in Debian 12's ipxe-qemu ROMs",
            TftpParams(blksize=1432, windowsize=1, client_block_delay=0.0),
            TcpParams(rwnd=256 * 1024),
            https=False,
            calibrated=False,
            sources=(
                "blksize 1432, no windowsize: iPXE tftp.c:368-370, tftp.h:17",
                "TCP window 256 KiB, no HTTPS: IPXE-FACTS §10 (git diff of that snapshot)",
                "per-block client delay: not yet measured (calibration lab, issue 3)",
            ),
        ),
        Profile(
            "ipxe-current",
            "iPXE master (2026): 2 MiB TCP window, HTTPS in EFI builds",
            TftpParams(blksize=1432, windowsize=1, client_block_delay=0.0),
            TcpParams(rwnd=2 * 1024 * 1024),
            https=True,
            calibrated=False,
            sources=(
                "TCP_MAX_WINDOW_SIZE 2 MiB since commit 2d180ce2: tcp.h:363",
                "HTTPS by default in EFI builds since commit 05cb9304: config/general.h:42-66",
                "per-block client delay: not yet measured (calibration lab, issue 3)",
            ),
        ),
        Profile(
            "pxe-rom",
            "a vendor PXE ROM: TFTP only, lock-step, no HTTP",
            TftpParams(blksize=1432, windowsize=1, client_block_delay=0.0),
            TcpParams(rwnd=64 * 1024),
            https=False,
            calibrated=False,
            sources=(
                "blksize assumed as iPXE's 1432 (RFC 2348 example); vendor ROMs vary, not "
                "measurable here (QEMU has no vendor PXE ROM)",
                "TCP unused: PXE ROMs fetch over TFTP only",
            ),
        ),
    )
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; ``KeyError`` names the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(
            f"unknown firmware profile {name!r}; known: {', '.join(PROFILES)}") from None
