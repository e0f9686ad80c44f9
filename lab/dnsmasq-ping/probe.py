"""When does stock dnsmasq offer addresses to many DHCP clients that ask at once?

A lab measurement (root, Linux, dnsmasq installed): dnsmasq with its default ping check
(no ``--no-ping``) serves DHCP on the lab's bridge (``nbs-br0`` 192.168.77.1/24) inside a
private namespace ``nbs-lab-<pid>-<hex>``; N clients, each with its own MAC, broadcast
one DHCPDISCOVER at the same instant, as Ethernet frames written to a tap on the bridge
(as QEMU writes a guest's frames in ``netbootsim lab``). The OFFERs that come back out of
the tap are timed from the DISCOVERs. Nothing answers dnsmasq's pings, as in a fleet that
boots for the first time.

dnsmasq 2.90's source says what to expect (src/dhcp.c ``do_icmp_ping``, src/dnsmasq.c
``delay_dhcp``): before offering a fresh address it pings it and waits up to
``PING_WAIT`` = 3 s, "deaf to ... further DHCP packets" meanwhile; after
0.6 × ``PING_CACHE_TIME`` / ``PING_WAIT`` = 6 such checks within 30 s it stops pinging
("high-load mode"). So OFFERs 3 s apart for the first six, then the rest at once.

Run (root): ``python lab/dnsmasq-ping/probe.py --out lab/dnsmasq-ping/result.json``
(about 25 s).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import select
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
BRIDGE, TAP, SERVER = "nbs-br0", "nbs-tap0", "192.168.77.1"


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _mac(i: int) -> bytes:
    return bytes([0x52, 0x54, 0x00, 0x78, i >> 8 & 0xFF, i & 0xFF])


def discover(i: int) -> bytes:
    """A broadcast DHCPDISCOVER frame from client ``i`` (xid = i + 1, broadcast flag)."""
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, i + 1, 0, 0x8000,
                        b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, _mac(i), b"", b"")
    opts = (b"\x63\x82\x53\x63" + bytes([53, 1, 1]) + bytes([55, 3, 1, 3, 6])
            + bytes([255]))
    payload = (bootp + opts).ljust(300, b"\0")
    udp = struct.pack("!HHHH", 68, 67, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                     b"\0" * 4, b"\xff" * 4)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return b"\xff" * 6 + _mac(i) + b"\x08\x00" + ip + udp


def _offer(frame: bytes) -> tuple[int, str] | None:
    """``(xid, offered address)`` if ``frame`` is a DHCPOFFER, else None."""
    if len(frame) < 14 + 20 + 8 + 240 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    ihl = (frame[14] & 0x0F) * 4
    udp = frame[14 + ihl:]
    if struct.unpack("!H", udp[2:4])[0] != 68:
        return None
    bootp = udp[8:]
    if bootp[0] != 2:
        return None
    xid = struct.unpack("!I", bootp[4:8])[0]
    opts, k = bootp[240:], 0
    while k < len(opts) and opts[k] != 255:
        if opts[k] == 0:
            k += 1
            continue
        if opts[k] == 53 and opts[k + 2] == 2:
            return xid, socket.inet_ntoa(bootp[16:20])
        k += 2 + opts[k + 1]
    return None


def inner(n: int, wait: float) -> dict:
    """Inside the namespace: start dnsmasq, send ``n`` DISCOVERs at once, time the OFFERs."""
    work = Path(tempfile.mkdtemp(prefix="nbs-ping-"))
    log = work / "dnsmasq.log"
    argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
            f"--interface={BRIDGE}", "--bind-interfaces", "--user=root",
            "--dhcp-range=192.168.77.100,192.168.77.250,255.255.255.0,1h",
            "--dhcp-authoritative", "--log-dhcp", f"--log-facility={log}",
            f"--dhcp-leasefile={work / 'leases'}", f"--pid-file={work / 'pid'}"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        fd = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", TAP.encode(), IFF_TAP | IFF_NO_PI))
        time.sleep(1.5)  # dnsmasq up, tap carrier on
        while select.select([fd], [], [], 0)[0]:
            os.read(fd, 4096)  # drop what came out before the test
        t0 = time.monotonic()
        for i in range(n):
            os.write(fd, discover(i))
        offers: dict[int, tuple[float, str]] = {}
        while len(offers) < n and time.monotonic() - t0 < wait:
            if select.select([fd], [], [], 0.05)[0]:
                frame = os.read(fd, 4096)
                got = _offer(frame)
                if got and got[0] not in offers:
                    offers[got[0]] = (time.monotonic() - t0, got[1])
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    times = sorted(t for t, _ in offers.values())
    return {"clients": n, "offers": len(offers),
            "offer_seconds": [round(t, 3) for t in times],
            "dnsmasq_log": [ln for ln in log.read_text(errors="replace").splitlines()
                            if "DHCPDISCOVER" in ln or "DHCPOFFER" in ln]}


def main() -> int:
    """Run the measurement in a fresh namespace; print (and write) the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("-n", type=int, default=10, help="clients (default 10)")
    ap.add_argument("--wait", type=float, default=30.0, help="seconds to wait for OFFERs")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        print(json.dumps(inner(args.n, args.wait)))
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from netbootsim.lab.netns import Netns

    with Netns() as ns:
        ns.create(BRIDGE, f"{SERVER}/24", [TAP])
        out = subprocess.run(["ip", "netns", "exec", ns.name, sys.executable, __file__,
                              "--inner", "-n", str(args.n), "--wait", str(args.wait)],
                             check=True, capture_output=True, text=True)
    version = subprocess.run(["dnsmasq", "--version"], capture_output=True,
                             text=True).stdout.splitlines()[0]
    doc = {"what": "DHCPOFFER times of stock dnsmasq (ping check on) for N clients "
                   "discovering at once",
           "command": "python lab/dnsmasq-ping/probe.py --out lab/dnsmasq-ping/result.json",
           "dnsmasq": version, "kernel": platform.release(), **json.loads(out.stdout)}
    text = json.dumps(doc, indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
