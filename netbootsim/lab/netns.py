"""The lab network: one namespace with a bridge and tap devices, and the processes in it.

Everything the lab starts runs inside a namespace named ``nbs-lab-<pid>-<hex>``
(``<pid>`` = the ``netbootsim`` process that owns it), so its addresses, bridge
and taps never touch the host's interfaces or settings. Deleting the namespace
deletes its devices. Each process gets its own process group (killed as a group)
and ``PR_SET_PDEATHSIG`` so it gets SIGTERM if its owner dies without cleaning up.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["PREFIX", "Netns", "cleanup_leftovers", "lab_namespaces", "stop_process"]

#: Name prefix of every lab namespace.
PREFIX = "nbs-lab-"


def _run(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), check=check, capture_output=True, text=True)


def _pdeathsig() -> None:  # pragma: no cover - runs in the child
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def stop_process(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """SIGTERM the process group of ``proc``, then SIGKILL it after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class Netns:
    """A lab namespace: created on :meth:`create`, removed with all its processes on :meth:`delete`.

    Args:
        name: namespace name; by default ``nbs-lab-<our pid>-<4 hex digits>``.
    """

    def __init__(self, name: str | None = None):
        self.name = name or f"{PREFIX}{os.getpid()}-{secrets.token_hex(2)}"
        self.procs: list[subprocess.Popen] = []
        self.created = False

    def ip(self, *args: str) -> None:
        """Run ``ip ARGS`` inside the namespace."""
        _run(["ip", "netns", "exec", self.name, "ip", *args])

    def create(self, bridge: str, address: str, taps: Sequence[str],
               address6: str | None = None) -> None:
        """Create the namespace, ``lo``, the bridge with ``address`` and the taps on it.

        Args:
            bridge: bridge name.
            address: IPv4 address with prefix, e.g. ``192.168.77.1/24``.
            taps: tap device names to create and enslave.
            address6: optional IPv6 address with prefix for the bridge.
        """
        _run(["ip", "netns", "add", self.name])
        self.created = True
        self.ip("link", "set", "lo", "up")
        self.ip("link", "add", bridge, "type", "bridge", "stp_state", "0")
        self.ip("addr", "add", address, "dev", bridge)
        if address6:
            self.ip("-6", "addr", "add", address6, "dev", bridge, "nodad")
        self.ip("link", "set", bridge, "up")
        for tap in taps:
            self.ip("tuntap", "add", "dev", tap, "mode", "tap")
            self.ip("link", "set", tap, "master", bridge, "up")

    def sysctl(self, key: str, value: str | None = None) -> str:
        """Read ``key`` inside the namespace, after setting it to ``value`` if given."""
        if value is not None:
            _run(["ip", "netns", "exec", self.name, "sysctl", "-qw", f"{key}={value}"])
        done = subprocess.run(["ip", "netns", "exec", self.name, "sysctl", "-n", key],
                              check=True, capture_output=True, text=True)
        return done.stdout.strip()

    def spawn(self, argv: Sequence[str], **popen: object) -> subprocess.Popen:
        """Start ``argv`` inside the namespace, in a new process group; remember it."""
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, *argv],
                                start_new_session=True, preexec_fn=_pdeathsig,  # noqa: PLW1509
                                **popen)  # type: ignore[call-overload]
        self.procs.append(proc)
        return proc

    def delete(self) -> None:
        """Stop our processes (newest first) and any other in the namespace, then delete it.

        Deleting the namespace deletes its bridge and taps.
        """
        for proc in reversed(self.procs):
            stop_process(proc)
        if self.created:
            _kill_namespace_pids(self.name)
            _run(["ip", "netns", "del", self.name], check=False)
            self.created = False

    def __enter__(self) -> Netns:
        return self

    def __exit__(self, *exc: object) -> None:
        self.delete()


def _ns_pids(name: str) -> list[int]:
    res = _run(["ip", "netns", "pids", name], check=False)
    return [int(x) for x in res.stdout.split() if x.isdigit()]


def _kill_namespace_pids(name: str, grace: float = 3.0) -> list[int]:
    pids = _ns_pids(name)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _ns_pids(name):
            time.sleep(0.05)
        if not _ns_pids(name):
            break
    return pids


def lab_namespaces() -> list[str]:
    """Names of existing namespaces with the lab prefix."""
    res = _run(["ip", "netns", "list"], check=False)
    names = [line.split()[0] for line in res.stdout.splitlines() if line.strip()]
    return [n for n in names if n.startswith(PREFIX)]


def _owner_alive(name: str) -> bool:
    """Whether the netbootsim process named in the namespace name still runs."""
    try:
        pid = int(name[len(PREFIX):].split("-")[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (ValueError, OSError):
        return False
    return pid != os.getpid() and b"netbootsim" in cmdline


def cleanup_leftovers(everything: bool = False) -> list[str]:
    """Remove lab namespaces of crashed runs with their processes; return what was done.

    Args:
        everything: also remove namespaces whose owning run is still alive.
    """
    done = []
    for name in lab_namespaces():
        if not everything and _owner_alive(name):
            done.append(f"kept {name}: its run is still going (use --all to remove it)")
            continue
        pids = _kill_namespace_pids(name)
        _run(["ip", "netns", "del", name], check=False)
        done.append(f"removed {name}" + (f" and killed pids {pids}" if pids else ""))
        left = _san_leftovers(name)
        if left:
            done.append(f"removed {', '.join(str(p) for p in left)}")
    return done


def _san_leftovers(name: str, run_dir: Path = Path("/var/run/tgtd")) -> list[Path]:
    """Delete the tgtd control socket and lock a crashed ``case: san`` run left.

    The run's tgtd used the control port of the process named in the namespace
    (:func:`netbootsim.lab.san.control_port`); its files are in ``run_dir``.
    """
    from .san import control_port

    try:
        pid = int(name[len(PREFIX):].split("-")[0])
    except ValueError:
        return []
    sock = run_dir / f"socket.{control_port(pid)}"
    gone = []
    for path in (sock, sock.with_name(f"{sock.name}.lock")):
        if path.exists():
            path.unlink()
            gone.append(path)
    return gone
