"""How many TFTP read requests fit in an unread UDP socket's default receive buffer.

A lab measurement (root, Linux): a UDP socket bound to port 69 with the namespace's
default receive buffer (``net.core.rmem_default``; dnsmasq sets no SO_RCVBUF on its TFTP
socket) is never read, as dnsmasq's is not while all its ``tftp-max`` transfers are busy.
N copies of an iPXE read request (RRQ ``<file> octet blksize 1432 tsize 0``,
iPXE net/udp/tftp.c) are sent to it, then the kernel's own accounting is read:
``/proc/net/udp`` rx_queue (bytes charged to the socket, ``sk_rmem_alloc``: each
datagram's skb *truesize*, not its length) and drops; then the socket is drained to count
the datagrams it held. Two paths:

- ``tap``: Ethernet frames written to a tap device on a bridge that holds the socket's
  address, as QEMU writes a guest's frames in ``netbootsim lab`` (the lab's namespace
  layout: bridge ``nbs-br0`` 192.168.77.1/24, tap ``nbs-tap0``). Each frame comes from a
  different client address and port, as a storm's clients.
- ``loopback``: datagrams sent from another socket over ``lo``.

Run (root): ``python lab/udp-rcvbuf/probe.py --out lab/udp-rcvbuf/result.json``.
Everything happens inside a namespace ``nbs-lab-<pid>-<hex>`` deleted at the end.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

#: iPXE's RRQ for a file named ``kernel``: opcode 1, then NUL-terminated strings.
RRQ = b"\x00\x01" + b"".join(x + b"\x00" for x in (b"kernel", b"octet", b"blksize", b"1432",
                                                   b"tsize", b"0"))
SERVER = "192.168.77.1"
PORT = 69
TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _frame(dst_mac: bytes, i: int) -> bytes:
    """An Ethernet frame carrying the RRQ from client ``i`` (its own MAC, IP and port)."""
    src_mac = bytes([0x52, 0x54, 0x00, 0x77, i >> 8 & 0xFF, i & 0xFF])
    src_ip = socket.inet_aton(f"192.168.77.{10 + i % 200}")
    dst_ip = socket.inet_aton(SERVER)
    udp = struct.pack("!HHHH", 1024 + i, PORT, 8 + len(RRQ), 0) + RRQ  # checksum 0: none
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                     src_ip, dst_ip)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + udp


def _proc_udp(port: int) -> tuple[int, int]:
    """(rx_queue bytes, drops) of the socket bound to ``port`` in /proc/net/udp."""
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port:
            return int(f[4].split(":")[1], 16), int(f[-1])
    raise RuntimeError(f"no UDP socket on port {port}")


def inner(mode: str, n: int, so_rcvbuf: int | None = None, size: int | None = None) -> dict:
    """Inside the namespace: fill an unread socket with ``n`` RRQs, measure, drain.

    ``so_rcvbuf``: set SO_RCVBUF first (the kernel doubles it), to check that the count
    scales as buffer / truesize; ``None``: the default buffer, as dnsmasq's socket has.
    ``size``: send datagrams of this many bytes instead (loopback only; e.g. 300, the
    size of a small DHCPDISCOVER, padded as BOOTP messages are).
    """
    data = RRQ if size is None else bytes(size)
    addr = SERVER if mode == "tap" else "127.0.0.1"
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if so_rcvbuf is not None:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, so_rcvbuf)
    srv.bind((addr, PORT))
    rcvbuf = srv.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if mode == "tap":
        mac = bytes.fromhex(Path("/sys/class/net/nbs-br0/address").read_text().strip()
                            .replace(":", ""))
        fd = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"nbs-tap0", IFF_TAP | IFF_NO_PI))
        for i in range(n):
            os.write(fd, _frame(mac, i))
            if i % 32 == 31:
                time.sleep(0.002)  # stay under the per-CPU backlog (netdev_max_backlog)
    else:
        cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(n):
            cli.sendto(data, (addr, PORT))
            if i % 32 == 31:
                time.sleep(0.002)
    time.sleep(0.5)
    rx_queue, drops = _proc_udp(PORT)
    srv.setblocking(False)
    held = 0
    while True:
        try:
            srv.recv(2048)
        except BlockingIOError:
            break
        held += 1
    return {"path": mode, "sent": n, "so_rcvbuf_set": so_rcvbuf, "rcvbuf": rcvbuf,
            "held": held,
            "rmem_alloc_full": rx_queue, "drops": drops,
            "truesize": rx_queue / held if held else None,
            "datagram_bytes": len(data), "sysctl_rmem_default":
                int(Path("/proc/sys/net/core/rmem_default").read_text())}


def main() -> int:
    """Measure both paths in a fresh namespace; print (and write) the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("-n", type=int, default=1000, help="RRQs sent per path (default 1000)")
    ap.add_argument("--inner", choices=("tap", "loopback"), help=argparse.SUPPRESS)
    ap.add_argument("--so-rcvbuf", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        print(json.dumps(inner(args.inner, args.n, args.so_rcvbuf, args.size)))
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from netbootsim.lab.netns import Netns

    results = []
    with Netns() as ns:
        ns.create("nbs-br0", f"{SERVER}/24", ["nbs-tap0"])
        for mode, so_rcvbuf, size in (("tap", None, None), ("loopback", None, None),
                                      ("tap", 65536, None), ("loopback", None, 300)):
            extra = [] if so_rcvbuf is None else ["--so-rcvbuf", str(so_rcvbuf)]
            extra += [] if size is None else ["--size", str(size)]
            out = subprocess.run(["ip", "netns", "exec", ns.name, sys.executable, __file__,
                                  "--inner", mode, "-n", str(args.n), *extra],
                                 check=True, capture_output=True, text=True)
            results.append(json.loads(out.stdout))
    doc = {"what": "iPXE RRQs held by an unread UDP socket with the default receive buffer",
           "command": "python lab/udp-rcvbuf/probe.py --out lab/udp-rcvbuf/result.json",
           "kernel": platform.release(), "machine": platform.machine(),
           "python": platform.python_version(), "results": results}
    text = json.dumps(doc, indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
