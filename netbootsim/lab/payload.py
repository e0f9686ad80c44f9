"""What the guests fetch: seeded synthetic files and the iPXE boot script.

The files are random bytes from one ``numpy.random.Generator`` seeded by the config,
written in config order, so a seed always gives byte-identical files. Random bytes
cannot be booted, so the script only ``imgfetch``es them and then prints the marker
the harness waits for (image/script.c:164-167 [ipxe-src]: any failing line ends the script, so each
fetch has ``|| goto nbs_fail`` to report the failure at once).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

__all__ = ["DONE_MARK", "FAIL_MARK", "VERIFY_END", "VERIFY_START", "boot_script",
           "sha256_of", "write_files"]

#: Printed by the script when every file is fetched.
DONE_MARK = "NBS-DONE"
#: Printed by the script when a fetch fails.
FAIL_MARK = "NBS-FAIL"

#: Printed by the script just before and just after it verifies a file (``verify``).
VERIFY_START = "NBS-VERIFY-START"
VERIFY_END = "NBS-VERIFY-END"

_CHUNK = 1 << 22


def sha256_of(path: Path) -> str:
    """The SHA-256 hex digest of a file, read 1 MiB at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_files(directory: Path, files: dict[str, int], seed: int) -> dict[str, str]:
    """Write the synthetic files; return name → SHA-256 hex digest.

    Args:
        directory: where to write them (created if missing).
        files: name → size in bytes, in the order the bytes are drawn.
        seed: seed of the ``numpy.random.Generator``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    digests: dict[str, str] = {}
    for name, size in files.items():
        h = hashlib.sha256()
        with open(directory / name, "wb") as f:
            left = size
            while left:
                n = min(left, _CHUNK)
                block = rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()
                f.write(block)
                h.update(block)
                left -= n
        digests[name] = h.hexdigest()
    return digests


def boot_script(base_url: str, files: list[str], verify: bool = False) -> str:
    """The ``#!ipxe`` script that fetches ``files`` from ``base_url`` and says it is done.

    Args:
        base_url: ``tftp://10.0.0.1`` or ``http://10.0.0.1``, no trailing slash.
        files: file names, fetched in this order.
        verify: also fetch each file's detached signature ``<name>.sig`` and check it
            with ``imgverify`` between two marker lines (:data:`VERIFY_START`,
            :data:`VERIFY_END`), whose console times bracket the check.
    """
    lines = ["#!ipxe", "echo NBS-SCRIPT"]
    for name in files:
        lines.append(f"imgfetch {base_url}/{name} || goto nbs_fail")
        if verify:
            lines += [f"imgfetch {base_url}/{name}.sig || goto nbs_fail",
                      f"echo {VERIFY_START} {name}",
                      f"imgverify {name} {name}.sig || goto nbs_fail",
                      f"echo {VERIFY_END} {name}"]
    lines += ["imgstat", f"echo {DONE_MARK}", "exit",
              ":nbs_fail", f"echo {FAIL_MARK} ${{errno}}", "exit 1"]
    return "\n".join(lines) + "\n"
