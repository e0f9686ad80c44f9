"""Do K real iPXE guests that start DHCP together get a lease from stock dnsmasq?

A lab measurement (root, Linux, QEMU + Debian's iPXE ROMs + dnsmasq installed; ``netbootsim
lab install``). ``probe.py`` showed that dnsmasq 2.90 with its default ping check answers a
burst of DISCOVERs one every ~3 s. Debian's 2019 iPXE ROM gives up its DHCP discovery 15 s
after its first DISCOVER, so only the first few of K guests booted together should get an
OFFER in time (netbootsim predicts it). This boots K QEMU guests (TCG, ``-m 128``, e1000
with ``pxe-e1000.rom``, one MAC and one tap each on the lab bridge, serial console to a
file) at once with the lab runner (:func:`netbootsim.lab.runner.run_lab`) inside the lab's
private namespace, against dnsmasq with its ping check (stock) and then with
``no-ping`` (control). Router advertisements are on (``dhcp.ipv6_ra``), so iPXE's IPv6
autoconfiguration is not what holds it. DHCP hands iPXE ``http://192.168.77.1/boot.ipxe``,
which only prints ``NBS-DONE``. Guests talk only to the servers in the namespace.

Per guest the result has: its DHCP packets from the bridge capture (first DISCOVER, how
many, OFFER / REQUEST / ACK times, seconds since the run start), the console's verdict
(``Configuring (net0 ...)... ok`` or ``No configuration methods succeeded``; with RAs
IPv6 alone makes it ``ok``), and whether it got a lease: a DHCPACK to its MAC on the wire
and iPXE's ``net0: 192.168.77.x/...`` console line. Also the DISCOVER spacing per guest
(iPXE's timers run on the guest clock; under TCG with K guests on few cores they could
stretch) and the load average.

Run (root; about 30 s per case for K = 8 on 2 cores)::

    python lab/dnsmasq-ping/guests.py -k 8 --repeat 2 --out lab/dnsmasq-ping/guests-result.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from netbootsim.lab.config import DhcpOptions, LabConfig  # noqa: E402
from netbootsim.lab.payload import DONE_MARK, FAIL_MARK  # noqa: E402
from netbootsim.lab.pcap import read_capture  # noqa: E402
from netbootsim.lab.runner import Markers, qemu_argv, run_lab  # noqa: E402

NO_CONFIG = "No configuration methods succeeded"
BOOT = f"#!ipxe\necho {DONE_MARK}\n"
_LOG = re.compile(r"^(\w+\s+\d+ \d\d:\d\d:\d\d) dnsmasq-dhcp\[\d+\]: \d+ "
                  r"(DHCP[A-Z]+)\([^)]*\) (.*)$")


def _console(path: Path, subnet: str) -> tuple[float | None, str, float | None, str]:
    """What a console log says about the guest's network configuration.

    Returns ``(time of 'Configuring (', its verdict, time of the next line, the IPv4 line
    'net0: <address in subnet>/...' or '')``.

    With router advertisements iPXE's IPv6 autoconfiguration succeeds, so 'ok' follows
    'Configuring' also when DHCP failed; only the IPv4 line shows a lease.
    """
    t_conf, verdict, t_next, ipv4 = None, "", None, ""
    for line in path.read_text(errors="replace").splitlines():
        t_s, _, text = line.partition("\t")
        if not ipv4 and text.startswith(f"net0: {subnet}"):
            ipv4 = text.strip()
        if t_conf is None and "Configuring (" in text:
            t_conf = float(t_s)
            if text.rstrip().endswith(" ok"):
                verdict = "ok"
            elif NO_CONFIG in text:
                verdict = NO_CONFIG
            else:
                verdict = text.strip()
        elif t_conf is not None and t_next is None and text.strip():
            t_next = float(t_s)
            if not verdict.endswith(("ok", "succeeded")) and NO_CONFIG in text:
                verdict = NO_CONFIG
    return t_conf, verdict, t_next, ipv4


def _dnsmasq(path: Path) -> tuple[list[str], dict[str, dict[str, list[str]]]]:
    """DHCP message lines of the dnsmasq log, and per MAC: message kind → clock times."""
    lines, per_mac = [], {}
    for line in path.read_text(errors="replace").splitlines():
        m = _LOG.match(line)
        if not m:
            continue
        lines.append(line)
        clock, kind, rest = m.group(1).split()[-1], m.group(2), m.group(3)
        mac = next((w for w in rest.split() if w.count(":") == 5), "")
        per_mac.setdefault(mac, {}).setdefault(kind, []).append(clock)
    return lines, per_mac


def one_run(k: int, ping: bool, timeout: float, out: Path) -> dict:
    """Boot ``k`` guests together against dnsmasq with (``ping``) or without its ping check."""
    cfg = LabConfig(file="lab/dnsmasq-ping/guests.py", case="http", transport="http",
                    guests=k, files={}, timeout=timeout, memory_mib=128,
                    dhcp=DhcpOptions(ping=ping, no_pxedhcp=False, ipv6_ra=True))
    markers = Markers(done=DONE_MARK, fail=(FAIL_MARK, "No bootable device", NO_CONFIG))
    load_before = os.getloadavg()
    rec = run_lab(cfg, out, say=lambda s: print(s, flush=True), boot=BOOT, markers=markers)
    load_after = os.getloadavg()
    start_unix = datetime.fromisoformat(rec["start_utc"]).timestamp()
    cap = read_capture(out / "capture.pcap", start_unix, cfg.server_ip)
    log_lines, log_per_mac = _dnsmasq(out / "dnsmasq.log")
    guests = []
    for g in rec["guests"]:
        mac = g["mac"]
        pk = [p for p in cap.dhcp if p.chaddr == mac]
        times = {kind: [round(p.t, 3) for p in pk if p.kind == kind]
                 for kind in ("DISCOVER", "OFFER", "REQUEST", "ACK", "NAK")}
        disc = times["DISCOVER"]
        t_conf, verdict, t_next, ipv4 = _console(out / f"console-{g['guest']}.log",
                                                  cfg.server_ip.rsplit(".", 1)[0] + ".")
        ack = times["ACK"][0] if times["ACK"] else None
        lease = bool(ipv4) and ack is not None
        guests.append({
            "guest": g["guest"], "mac": mac, "qemu_start_s": round(g["start_s"], 3),
            "console_configuring_s": t_conf, "console_verdict": verdict,
            "console_next_line_s": t_next, "console_ipv4": ipv4,
            "lease": lease,
            "lease_s_since_first_discover": round(ack - disc[0], 3) if lease and disc else None,
            "first_offer_s_since_first_discover":
                round(times["OFFER"][0] - disc[0], 3) if times["OFFER"] and disc else None,
            "first_discover_s": disc[0] if disc else None,
            "discovers": len(disc),
            "discover_gaps_s": [round(b - a, 3) for a, b in zip(disc, disc[1:], strict=False)],
            "dhcp_s": times, "yiaddr": next((p.yiaddr for p in pk if p.kind == "ACK"), None),
            "runner_outcome": g["outcome"], "runner_reason": g["reason"],
            "dnsmasq_log": log_per_mac.get(mac, {}),
        })
    firsts = [g["first_discover_s"] for g in guests if g["first_discover_s"] is not None]
    return {
        "dnsmasq_ping": ping, "guests": k, "leases": sum(g["lease"] for g in guests),
        "first_discover_spread_s": round(max(firsts) - min(firsts), 3) if firsts else None,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "qemu_argv_guest0": qemu_argv(cfg, 0, "nbs-tap0"),
        "dnsmasq_conf": (out / "dnsmasq.conf").read_text().splitlines(),
        "per_guest": guests, "dnsmasq_log": log_lines,
    }


def main() -> int:
    """Run the stock (ping) case, then the ``no-ping`` control; print (and write) the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", type=int, default=8, help="guests booted together (default 8)")
    ap.add_argument("--timeout", type=float, default=60.0, help="per guest, seconds")
    ap.add_argument("--out", type=Path, help="result JSON")
    ap.add_argument("--keep", type=Path, help="keep the run directories here")
    ap.add_argument("--only", choices=("ping", "no-ping"), help="one case only")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each case (default 1)")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="nbs-guests-"))
    runs = []
    for rep in range(args.repeat):
        for ping in (True, False):
            name = "ping" if ping else "no-ping"
            if args.only and args.only != name:
                continue
            runs.append({"repetition": rep + 1,
                         **one_run(args.k, ping, args.timeout, base / f"{name}-{rep + 1}")})
            time.sleep(2.0)
    doc = {"what": "K QEMU iPXE guests (Debian 2019 ROM) booted together against dnsmasq, "
                   "ping check on (stock) and off (control): who gets a DHCP lease, when",
           "command": f"python lab/dnsmasq-ping/guests.py -k {args.k} --repeat {args.repeat} "
                      "--out lab/dnsmasq-ping/guests-result.json",
           "kernel": platform.release(), "cpus": os.cpu_count(),
           "times": "seconds since the run start (QEMU start of guest 0), bridge capture",
           "runs": runs}
    text = json.dumps(doc, indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
    print(json.dumps([{k: r[k] for k in ("repetition", "dnsmasq_ping", "guests", "leases")}
                      for r in runs]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
