r"""L2 frame relay with per-direction one-way delay and Bernoulli loss (a user-space netem).

This kernel has no ``sch_netem``, so the calibration lab imposes delay and loss with
this relay: a process that reads every Ethernet frame from one interface with an
``AF_PACKET`` socket and writes it to the other interface after a fixed delay, unless
the frame is lost.

Topology it is meant for (all inside the lab namespace)::

    guests' taps --- br-g --- vg0 ==veth== vg1 \
                                                relay  (vg1 <-> vs1)
    servers ------- br-s --- vs0 ==veth== vs1 /

Guests' taps sit on bridge ``br-g``, servers (dnsmasq, HTTP) on bridge ``br-s``; the
two bridges are connected *only* through the relay, started as
``ip netns exec NS python -m netbootsim.lab.relay --a vg1 --b vs1 ...``
(see :class:`RelaySpec` and :func:`relay_command`). Direction ``ab`` is a -> b
(guests -> servers with the names above), ``ba`` the reverse.

Behaviour:
    * Both interfaces are promiscuous; frames the relay sent (``PACKET_OUTGOING``) are
      ignored. Each direction is a FIFO with a fixed delay (order is preserved).
    * Loss: one uniform draw per frame per direction, in arrival order, from one
      ``numpy.random.Generator`` per direction (spawned from ``--seed``), so each
      direction's decisions do not depend on the other direction's traffic.
    * Offloads: a veth with TSO/GSO/checksum offload hands over frames larger than the
      MTU and with unfinished checksums. The relay turns off TX checksum, SG, TSO, GSO
      and GRO (``SIOCETHTOOL`` ioctl; ``ethtool`` is not installed) on its interfaces
      and on their veth peers when these are in the same namespace, so the frames it
      sees are wire-sized and loss applies per wire frame. As a safety net the sockets
      use ``PACKET_VNET_HDR``: a frame that still arrives as a GSO super-frame or with a
      partial checksum is forwarded intact with its metadata (and counted in ``gso``).
    * Timing: a frame is due ``delay`` after the kernel received it (``SO_TIMESTAMPNS``),
      not after the relay read it, so a relay that wakes late does not add its lag to
      the delay. The relay asks for ``SCHED_FIFO`` (priority 10; the lab runs as root)
      so that QEMU's TCG thread and the simulator, which keep both cores of a small
      machine busy, cannot hold it off the CPU for a scheduler slice: before this, a lab
      boot under a full test run saw a 10.6 ms handshake RTT on a 5 ms path. The stats
      record the policy obtained (``scheduler``) and, per direction, how late frames
      were read (``read_lag_max_s``) and sent (``late_max_s``, ``late_over_1ms``).
    * SIGTERM/SIGINT: stop reading, send the frames already queued at their due times
      (at most :data:`DRAIN_LIMIT` ahead), write the stats JSON (``--stats``), exit 0.

Limits:
    * Pure Python, one thread, two system calls per frame. Measured here (6.18 kernel
      VM): saturates at ~75-80 kpps whatever the frame size (~960 Mbit/s with
      1514-byte frames, ~36 Mbit/s with 64-byte ones); one TCP stream with 2 ms each
      way got 410-680 Mbit/s goodput (47-87 kpps both directions). Beyond that frames
      wait in the 8 MiB socket buffers (extra delay) and the kernel drops the rest
      (``kernel_drops`` in the stats).
    * ``select`` wakes up late by tens of microseconds: the added delay is ~0.1 ms
      long at low load and grows when the relay falls behind (``late_max_s``). A kernel
      without ``SO_TIMESTAMPNS`` on packet sockets falls back to the read time.
    * No rate limiting, jitter, reordering or correlated loss.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import ctypes
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from netbootsim.units import UnitError, parse_time

__all__ = ["RelaySpec", "DelayLine", "relay_command", "parse_args", "run", "main"]

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_OUTGOING = 4
PACKET_STATISTICS = 6
PACKET_VNET_HDR = 15
PACKET_IGNORE_OUTGOING = 23
VNET_HDR_LEN = 10  # struct virtio_net_hdr
MAX_FRAME = 65536 + VNET_HDR_LEN
SIOCETHTOOL = 0x8946
# Legacy ethtool "set" commands (struct ethtool_value): tx csum, SG, TSO, GSO, GRO.
_ETHTOOL_OFF = {"tx-csum": 0x17, "sg": 0x19, "tso": 0x1F, "gso": 0x24, "gro": 0x2C}
_SOCKBUF = 8 << 20
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33
SO_TIMESTAMPNS = 35  # asm-generic/socket.h (SO_TIMESTAMPNS_OLD); also the cmsg type
_TIMESPEC = struct.Struct("qq")  # struct timespec on 64-bit Linux
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)
#: SCHED_FIFO priority of the relay: above every normal task, far below the kernel's
#: own real-time threads (priority 50 for threaded IRQs, 99 for watchdogs).
RT_PRIORITY = 10
LATE = 0.001  # a frame sent more than 1 ms after its due time is counted as late
#: On SIGTERM the frames already in the delay lines still go out at their due times, for
#: at most this long (the lab's paths add milliseconds), so a boot's last FIN or ACK is
#: not counted as lost by a relay stopped the moment the guest is done.
DRAIN_LIMIT = 1.0


@dataclass(frozen=True)
class RelaySpec:
    """Arguments of one relay process (times in seconds, losses as probabilities).

    Attributes:
        a: first interface (e.g. ``vg1``, guest side).
        b: second interface (e.g. ``vs1``, server side).
        delay_ab: one-way delay added to frames from ``a`` to ``b``.
        delay_ba: one-way delay added to frames from ``b`` to ``a``.
        loss_ab: probability that a frame from ``a`` to ``b`` is dropped.
        loss_ba: probability that a frame from ``b`` to ``a`` is dropped.
        seed: seed of the loss generators.
        stats: path of the stats JSON written on exit, or None.
        keep_offloads: leave the interfaces' offload settings alone.
    """

    a: str
    b: str
    delay_ab: float = 0.0
    delay_ba: float = 0.0
    loss_ab: float = 0.0
    loss_ba: float = 0.0
    seed: int = 1
    stats: str | None = None
    keep_offloads: bool = False

    def __post_init__(self):
        if not self.a or not self.b or self.a == self.b:
            raise ValueError(f"need two different interfaces, got {self.a!r} and {self.b!r}")
        for name in ("delay_ab", "delay_ba", "loss_ab", "loss_ba"):
            value, top = getattr(self, name), (1.0 if name.startswith("loss") else 3600.0)
            if not 0.0 <= value <= top:
                what = "a probability in [0, 1]" if top == 1.0 else "in [0, 3600] seconds"
                raise ValueError(f"{name} must be {what}, got {value!r}")


def relay_command(spec: RelaySpec, python: str | None = None) -> list[str]:
    """Build the argv that runs the relay described by ``spec``.

    Args:
        spec: the relay arguments.
        python: interpreter to use; default ``sys.executable``.

    Returns:
        The argv, to be prefixed with ``ip netns exec NS`` by the caller.
    """
    argv = [python or sys.executable, "-m", "netbootsim.lab.relay", "--a", spec.a,
            "--b", spec.b, "--delay-ab", f"{spec.delay_ab!r}s", "--delay-ba",
            f"{spec.delay_ba!r}s", "--loss-ab", repr(spec.loss_ab), "--loss-ba",
            repr(spec.loss_ba), "--seed", str(spec.seed)]
    if spec.stats is not None:
        argv += ["--stats", spec.stats]
    if spec.keep_offloads:
        argv.append("--keep-offloads")
    return argv


class DelayLine:
    """One direction of the relay: Bernoulli loss, then a fixed delay (FIFO).

    Pure logic, no I/O: :meth:`push` takes a frame at time ``now``;
    :meth:`pop_due` returns the frames whose due time has come, in arrival order.

    Args:
        delay: added one-way delay in seconds.
        loss: drop probability per frame.
        rng: the direction's generator; exactly one uniform is drawn per pushed frame.
        header: bytes at the start of each frame not counted in ``bytes`` statistics.
        batch: uniforms drawn from ``rng`` at a time (same sequence as one by one).
    """

    def __init__(self, delay: float, loss: float, rng: np.random.Generator,
                 header: int = 0, batch: int = 4096):
        self.delay = float(delay)
        self.loss = float(loss)
        self._rng = rng
        self._header = header
        self._batch = batch
        self._draws: list[float] = []
        self._queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.stats = {"frames_in": 0, "bytes_in": 0, "frames_dropped": 0, "bytes_dropped": 0,
                      "frames_released": 0, "bytes_released": 0, "max_queue": 0,
                      "late_max_s": 0.0, "late_over_1ms": 0}

    def push(self, frame: bytes, now: float) -> bool:
        """Offer ``frame`` arriving at ``now``; return False if it is lost."""
        size = len(frame) - self._header
        st = self.stats
        st["frames_in"] += 1
        st["bytes_in"] += size
        if not self._draws:  # reversed batch: pop() yields the draws in generator order
            self._draws = self._rng.random(self._batch)[::-1].tolist()
        if self._draws.pop() < self.loss:
            st["frames_dropped"] += 1
            st["bytes_dropped"] += size
            return False
        self._queue.append((now + self.delay, frame))
        if len(self._queue) > st["max_queue"]:
            st["max_queue"] = len(self._queue)
        return True

    def next_due(self) -> float | None:
        """Due time of the oldest queued frame, or None if the line is empty."""
        return self._queue[0][0] if self._queue else None

    def pop_due(self, now: float) -> list[bytes]:
        """Remove and return the frames due at or before ``now``, oldest first.

        Each frame's lateness, ``now`` minus its due time, goes into ``late_max_s`` and,
        beyond :data:`LATE`, into the ``late_over_1ms`` count.
        """
        out, queue, st = [], self._queue, self.stats
        while queue and queue[0][0] <= now:
            due, frame = queue.popleft()
            out.append(frame)
            late = now - due
            if late > st["late_max_s"]:
                st["late_max_s"] = late
            if late > LATE:
                st["late_over_1ms"] += 1
        self.stats["frames_released"] += len(out)
        self.stats["bytes_released"] += sum(len(f) for f in out) - self._header * len(out)
        return out

    def __len__(self) -> int:
        """Number of frames waiting."""
        return len(self._queue)


def _ethtool_off(sock: socket.socket, ifname: str) -> list[str]:
    """Turn off the offloads in ``_ETHTOOL_OFF`` on ``ifname``; return those that failed."""
    failed = []
    for feature, cmd in _ETHTOOL_OFF.items():
        value = ctypes.create_string_buffer(struct.pack("II", cmd, 0))
        ifreq = bytearray(struct.pack("16sP", ifname.encode(), ctypes.addressof(value)))
        ifreq += bytes(40 - len(ifreq))
        try:
            fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
        except OSError:
            failed.append(feature)
    return failed


def _veth_peer(ifname: str) -> str | None:
    """Name of ``ifname``'s veth peer if it lives in this namespace, else None."""
    def iflink(name: str) -> int:
        with open(f"/sys/class/net/{name}/iflink") as fh:
            return int(fh.read())

    with contextlib.suppress(OSError, ValueError):
        ours = socket.if_nametoindex(ifname)
        peer = socket.if_indextoname(iflink(ifname))
        if peer != ifname and iflink(peer) == ours:  # else: a device of another namespace
            return peer
    return None


def disable_offloads(ifnames: Sequence[str]) -> dict[str, list[str]]:
    """Disable offloads on ``ifnames`` and their same-namespace veth peers.

    Returns:
        For each device touched, the features that could not be turned off.
    """
    devices = [d for name in ifnames for d in (name, _veth_peer(name)) if d is not None]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        return {dev: _ethtool_off(sock, dev) for dev in devices}


def _open(ifname: str) -> socket.socket:
    """A promiscuous ``AF_PACKET`` socket on ``ifname`` with virtio-net headers."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        with contextlib.suppress(OSError):  # without it, arrival is the read time
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        with contextlib.suppress(OSError):  # the pkttype check in run() filters anyway
            sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        for opt in (SO_RCVBUFFORCE, SO_SNDBUFFORCE):
            sock.setsockopt(socket.SOL_SOCKET, opt, _SOCKBUF)
        mreq = struct.pack("iHH8s", socket.if_nametoindex(ifname), PACKET_MR_PROMISC, 0, b"")
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        sock.bind((ifname, ETH_P_ALL))
    except BaseException:
        sock.close()
        raise
    return sock


def _arrival(ancillary, clock_offset: float, read_at: float) -> float:
    """Monotonic time at which the kernel received a frame (``read_at`` if not stamped).

    Args:
        ancillary: the ``recvmsg`` ancillary data.
        clock_offset: ``time.time() - time.monotonic()`` measured at the read.
        read_at: monotonic time of the read; the result is never later.
    """
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            return min(read_at, sec + nsec * 1e-9 - clock_offset)
    return read_at


def go_realtime(priority: int = RT_PRIORITY) -> str:
    """Ask for ``SCHED_FIFO`` at ``priority``; return the policy obtained (``fifo``/``other``)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, AttributeError):  # not root, or RT time not granted to this cgroup
        return "other"
    return "fifo"


def _send_due(lines: dict[str, DelayLine], outputs: dict[str, socket.socket],
              extra: dict[str, dict], now: float) -> None:
    """Send every frame due at ``now`` out of its direction's socket, counting in ``extra``."""
    for direction, line in lines.items():
        due = line.next_due()
        if due is not None and due <= now:
            out, ex = outputs[direction], extra[direction]
            for frame in line.pop_due(now):
                try:
                    out.send(frame)
                    ex["frames_sent"] += 1
                    ex["bytes_sent"] += len(frame) - VNET_HDR_LEN
                except OSError:
                    ex["send_errors"] += 1


def _drain(lines: dict[str, DelayLine], outputs: dict[str, socket.socket],
           extra: dict[str, dict], limit: float) -> None:
    """After a stop: read nothing more, send the queued frames at their due times.

    Frames due more than ``limit`` seconds from now stay queued (``unsent_at_exit``).
    """
    deadline = time.monotonic() + limit
    while True:
        dues = [d for d in (line.next_due() for line in lines.values()) if d is not None]
        if not dues or min(dues) > deadline:
            return
        time.sleep(max(0.0, min(dues) - time.monotonic()))
        _send_due(lines, outputs, extra, time.monotonic())


class _Stop(Exception):
    """Raised by the SIGTERM/SIGINT handler to leave the relay loop."""


def _raise_stop(signum, frame):
    raise _Stop


def direction_rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The loss generators of directions ``a -> b`` and ``b -> a`` for ``--seed seed``.

    Each draws one uniform per frame offered, in arrival order (:class:`DelayLine`), so
    the frames a run lost can be told again from its seed alone
    (:mod:`netbootsim.lab.lossround` gives the TCP law the same losses).
    """
    ab, ba = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    return ab, ba


def run(spec: RelaySpec, announce=None) -> dict:
    """Relay frames between ``spec.a`` and ``spec.b`` until SIGTERM or SIGINT.

    Args:
        spec: what to relay and how.
        announce: file to print a ``relay ready`` line to once the sockets are open.

    Returns:
        The statistics (also written to ``spec.stats`` if set).
    """
    offloads = {} if spec.keep_offloads else disable_offloads([spec.a, spec.b])
    scheduler = go_realtime()
    rng_ab, rng_ba = direction_rngs(spec.seed)
    lines = {"ab": DelayLine(spec.delay_ab, spec.loss_ab, rng_ab, VNET_HDR_LEN),
             "ba": DelayLine(spec.delay_ba, spec.loss_ba, rng_ba, VNET_HDR_LEN)}
    extra = {d: {"frames_sent": 0, "bytes_sent": 0, "send_errors": 0, "gso": 0,
                 "kernel_drops": 0, "read_lag_max_s": 0.0} for d in lines}
    sa, sb = _open(spec.a), _open(spec.b)
    started_all = time.monotonic()
    inputs, outputs = {sa: "ab", sb: "ba"}, {"ab": sb, "ba": sa}
    old = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, _raise_stop)
        if announce is not None:
            print(f"relay ready {spec.a}<->{spec.b}", file=announce, flush=True)
        while True:
            _send_due(lines, outputs, extra, time.monotonic())
            dues = [d for d in (lines["ab"].next_due(), lines["ba"].next_due()) if d is not None]
            timeout = max(0.0, min(dues) - time.monotonic()) if dues else None
            ready, _, _ = select.select((sa, sb), [], [], timeout)
            now = time.monotonic()
            offset = time.time() - now
            for sock in ready:
                line, ex = lines[inputs[sock]], extra[inputs[sock]]
                for _ in range(256):
                    try:
                        frame, ancillary, _, addr = sock.recvmsg(MAX_FRAME, _ANCILLARY,
                                                                 socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        break
                    if addr[2] == PACKET_OUTGOING:
                        continue
                    if frame[1]:  # virtio_net_hdr.gso_type: a GSO super-frame
                        ex["gso"] += 1
                    arrived = _arrival(ancillary, offset, now)
                    if now - arrived > ex["read_lag_max_s"]:
                        ex["read_lag_max_s"] = now - arrived
                    line.push(frame, arrived)
    except _Stop:
        with contextlib.suppress(_Stop):  # a second signal gives up the drain
            _drain(lines, outputs, extra, DRAIN_LIMIT)
    finally:
        for sock, direction in inputs.items():  # frames the kernel dropped: buffer full
            with contextlib.suppress(OSError):
                kstats = sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
                extra[direction]["kernel_drops"] = struct.unpack("II", kstats)[1]
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for sock in (sa, sb):
            sock.close()
    stats = {"spec": asdict(spec), "elapsed_s": time.monotonic() - started_all,
             "offload_failures": offloads, "scheduler": scheduler,
             **{d: {**lines[d].stats, **extra[d], "unsent_at_exit": len(lines[d])}
                for d in lines}}
    if spec.stats is not None:
        tmp = f"{spec.stats}.tmp"
        with open(tmp, "w") as fh:
            json.dump(stats, fh, indent=2)
        os.replace(tmp, spec.stats)
    return stats


def _time(text: str) -> float:
    try:
        return parse_time(text)
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: Sequence[str] | None = None) -> RelaySpec:
    """Parse the command line into a :class:`RelaySpec` (exits 2 on errors)."""
    p = argparse.ArgumentParser(prog="python -m netbootsim.lab.relay",
                                description="L2 relay with per-direction delay and loss.")
    p.add_argument("--a", required=True, help="first interface (a)")
    p.add_argument("--b", required=True, help="second interface (b)")
    p.add_argument("--delay-ab", type=_time, default=0.0, help="one-way delay a->b, e.g. 5ms")
    p.add_argument("--delay-ba", type=_time, default=0.0, help="one-way delay b->a, e.g. 5ms")
    p.add_argument("--loss-ab", type=float, default=0.0, help="loss probability a->b")
    p.add_argument("--loss-ba", type=float, default=0.0, help="loss probability b->a")
    p.add_argument("--seed", type=int, default=1, help="seed of the loss draws")
    p.add_argument("--stats", default=None, help="write stats JSON here on exit")
    p.add_argument("--keep-offloads", action="store_true",
                   help="do not turn off offloads on the interfaces and their veth peers")
    ns = p.parse_args(argv)
    try:
        return RelaySpec(ns.a, ns.b, ns.delay_ab, ns.delay_ba, ns.loss_ab, ns.loss_ba,
                         ns.seed, ns.stats, ns.keep_offloads)
    except ValueError as exc:
        p.error(str(exc))
        raise  # unreachable: p.error exits


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    spec = parse_args(argv)
    try:
        run(spec, announce=sys.stdout)
    except OSError as exc:
        print(f"relay {spec.a}<->{spec.b}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
