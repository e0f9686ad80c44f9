"""Tests of the user-space delay/loss relay (netbootsim.lab.relay)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from netbootsim.lab.relay import (
    SO_TIMESTAMPNS,
    VNET_HDR_LEN,
    DelayLine,
    RelaySpec,
    _arrival,
    _drain,
    parse_args,
    relay_command,
)

# --------------------------------------------------------------------------- unit tests


def test_parse_args_units_and_defaults():
    spec = parse_args(["--a", "vg1", "--b", "vs1", "--delay-ab", "5ms", "--delay-ba", "250us",
                       "--loss-ab", "0.01", "--seed", "7", "--stats", "/tmp/x.json"])
    assert spec == RelaySpec("vg1", "vs1", 0.005, 0.00025, 0.01, 0.0, 7, "/tmp/x.json")
    spec = parse_args(["--a", "x", "--b", "y"])
    assert (spec.delay_ab, spec.delay_ba, spec.loss_ab, spec.loss_ba, spec.seed) == (0, 0, 0, 0, 1)
    assert spec.stats is None and not spec.keep_offloads


@pytest.mark.parametrize("argv, message", [
    (["--a", "x"], "--b"),
    (["--a", "x", "--b", "x"], "two different interfaces"),
    (["--a", "x", "--b", "y", "--delay-ab", "5"], "not a time"),
    (["--a", "x", "--b", "y", "--delay-ba", "5 parsecs"], "delay-ba"),
    (["--a", "x", "--b", "y", "--delay-ab=-1ms"], "delay_ab"),
    (["--a", "x", "--b", "y", "--loss-ab", "1.5"], "loss_ab must be a probability"),
    (["--a", "x", "--b", "y", "--loss-ba", "lots"], "invalid float value"),
    (["--a", "x", "--b", "y", "--seed", "one"], "--seed"),
])
def test_parse_args_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_spec_validation():
    with pytest.raises(ValueError, match="probability"):
        RelaySpec("a", "b", loss_ba=-0.1)
    with pytest.raises(ValueError, match="delay_ba"):
        RelaySpec("a", "b", delay_ba=float("nan"))


def test_main_reports_missing_interfaces(capsys):
    from netbootsim.lab.relay import main

    assert main(["--a", "nbs-nosuch0", "--b", "nbs-nosuch1"]) == 1
    assert "nbs-nosuch0<->nbs-nosuch1" in capsys.readouterr().err


def test_relay_command_round_trips():
    spec = RelaySpec("vg1", "vs1", 0.005, 1e-4, 0.01, 0.2, 3, "/tmp/s.json", True)
    argv = relay_command(spec, python="py")
    assert argv[:3] == ["py", "-m", "netbootsim.lab.relay"]
    assert parse_args(argv[3:]) == spec
    assert "--stats" not in relay_command(RelaySpec("a", "b"))


def test_delay_line_releases_at_due_time_in_order():
    line = DelayLine(0.005, 0.0, np.random.default_rng(0))
    assert line.next_due() is None and line.pop_due(100.0) == []
    for i in range(5):
        assert line.push(bytes([i]) * 10, 1.0 + i * 0.001)
    assert line.next_due() == pytest.approx(1.005)
    assert line.pop_due(1.0049) == []
    assert line.pop_due(1.0065) == [b"\x00" * 10, b"\x01" * 10]
    assert line.pop_due(2.0) == [bytes([i]) * 10 for i in (2, 3, 4)]
    assert line.stats["max_queue"] == 5 and line.stats["frames_released"] == 5
    assert line.stats["bytes_released"] == 50 and line.next_due() is None


def test_delay_line_zero_delay_and_header_accounting():
    line = DelayLine(0.0, 0.0, np.random.default_rng(0), header=10)
    line.push(b"h" * 10 + b"x" * 60, 3.0)
    assert line.pop_due(3.0) == [b"h" * 10 + b"x" * 60]
    assert line.stats["bytes_in"] == 60 and line.stats["bytes_released"] == 60


def test_delay_line_records_how_late_frames_leave():
    # due times 1.005 and 1.006; popped at 1.0055 (first 0.5 ms late, second not due), then
    # at 1.0085 (second 2.5 ms late, counted beyond the 1 ms mark)
    line = DelayLine(0.005, 0.0, np.random.default_rng(0))
    line.push(b"a", 1.0)
    line.push(b"b", 1.001)
    assert line.pop_due(1.0055) == [b"a"]
    assert line.stats["late_max_s"] == pytest.approx(0.0005) and line.stats["late_over_1ms"] == 0
    assert line.pop_due(1.0085) == [b"b"]
    assert line.stats["late_max_s"] == pytest.approx(0.0025) and line.stats["late_over_1ms"] == 1


def test_arrival_is_the_kernel_stamp_in_monotonic_time():
    # kernel stamp 1000.25 s wall; wall - monotonic = 900 s, so 100.25 s monotonic; read at
    # 100.26 s monotonic, 10 ms later
    stamp = struct.pack("qq", 1000, 250_000_000)
    anc = [(socket.SOL_SOCKET, SO_TIMESTAMPNS, stamp)]
    assert _arrival(anc, 900.0, 100.26) == pytest.approx(100.25, abs=1e-9)
    assert _arrival([], 900.0, 100.26) == 100.26  # no stamp: the read time
    assert _arrival(anc, 899.0, 100.26) == 100.26  # never later than the read


class _Wire:
    def __init__(self):
        self.frames = []

    def send(self, frame):
        self.frames.append(frame)


def test_drain_sends_what_is_due_within_the_limit_and_keeps_the_rest():
    # a frame due in 20 ms goes out (about 20 ms later, not before); one due in 5 s is past
    # the 1 s limit and stays queued, as ``unsent_at_exit``
    import time

    start = time.monotonic()
    lines = {"ab": DelayLine(0.02, 0.0, np.random.default_rng(0), header=VNET_HDR_LEN),
             "ba": DelayLine(5.0, 0.0, np.random.default_rng(1), header=VNET_HDR_LEN)}
    lines["ab"].push(b"h" * VNET_HDR_LEN + b"soon", start)
    lines["ba"].push(b"h" * VNET_HDR_LEN + b"late", start)
    wires = {"ab": _Wire(), "ba": _Wire()}
    extra = {d: {"frames_sent": 0, "bytes_sent": 0, "send_errors": 0} for d in lines}
    _drain(lines, wires, extra, 1.0)
    assert time.monotonic() - start >= 0.02
    assert wires["ab"].frames == [b"h" * VNET_HDR_LEN + b"soon"] and wires["ba"].frames == []
    assert extra["ab"]["frames_sent"] == 1 and extra["ab"]["bytes_sent"] == 4
    assert len(lines["ba"]) == 1


def _decisions(seed, loss, n, batch=4096):
    line = DelayLine(0.0, loss, np.random.default_rng(seed), batch=batch)
    return [line.push(b"f", 0.0) for _ in range(n)], line


def test_loss_is_deterministic_and_one_draw_per_frame():
    a, line = _decisions(42, 0.3, 10_000)
    b, _ = _decisions(42, 0.3, 10_000, batch=7)  # batching does not change the sequence
    assert a == b
    expected = (np.random.default_rng(42).random(10_000) >= 0.3).tolist()
    assert a == expected
    assert line.stats["frames_dropped"] == a.count(False)
    assert 0.28 < a.count(False) / len(a) < 0.32
    assert _decisions(43, 0.3, 1000)[0] != a[:1000]
    assert all(_decisions(1, 0.0, 1000)[0]) and not any(_decisions(1, 1.0, 1000)[0])


# --------------------------------------------------------------------------- lab tests

PREFIX = "nbs-relay-test-"
_needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2")

# ICMP echo prober (ping is not installed here): run inside a namespace; prints JSON with
# the RTTs (seconds) of the answered probes.
_PROBE = r"""
import json, os, select, socket, struct, sys, time
dst, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xFFFF
def csum(b):
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xFFFF); t += t >> 16
    return ~t & 0xFFFF
sent, rtt = {}, {}
def drain(until):
    while True:
        r, _, _ = select.select([s], [], [], max(0.0, until - time.monotonic()))
        if not r:
            return
        pkt = s.recv(2048)
        ihl = (pkt[0] & 0x0F) * 4
        typ, _, _, pid, seq = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
        if typ == 0 and pid == ident and seq in sent and seq not in rtt:
            rtt[seq] = time.monotonic() - sent[seq]
for seq in range(count):
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"x" * 56
    pkt = struct.pack("!BBHHH", 8, 0, csum(hdr), ident, seq) + b"x" * 56
    sent[seq] = time.monotonic()
    s.sendto(pkt, (dst, 0))
    drain(sent[seq] + interval)
drain(time.monotonic() + 1.0)
print(json.dumps({"sent": count, "rtt": list(rtt.values())}))
"""

_SINK = r"""
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2]))); srv.listen(1)
print("listening", flush=True)
conn, _ = srv.accept(); total = 0
while True:
    data = conn.recv(1 << 16)
    if not data:
        break
    total += len(data)
conn.sendall(str(total).encode()); conn.close()
"""

_SOURCE = r"""
import json, socket, sys, time
n = int(sys.argv[3]); chunk = b"\xa5" * (1 << 16)
t0 = time.monotonic()
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
left = n
while left > 0:
    left -= c.send(chunk[:min(left, len(chunk))])
c.shutdown(socket.SHUT_WR)
echo = int(c.recv(64))
print(json.dumps({"bytes": echo, "seconds": time.monotonic() - t0}))
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _in(ns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def _leftovers() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]


class Lab:
    """Hosts A (10.250.0.1) and B (10.250.0.2) joined only through a relay namespace."""

    def __init__(self):
        tag = f"{PREFIX}{os.getpid()}-"
        self.relay_ns, self.a, self.b = tag + "r", tag + "a", tag + "b"
        self.relay: subprocess.Popen | None = None

    def create(self) -> None:
        r = self.relay_ns
        for ns in (r, self.a, self.b):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        for br in ("br-g", "br-s"):
            _ip("-n", r, "link", "add", br, "type", "bridge", "stp_state", "0")
        _ip("-n", r, "link", "add", "vg0", "type", "veth", "peer", "name", "vg1")
        _ip("-n", r, "link", "add", "vs0", "type", "veth", "peer", "name", "vs1")
        _ip("-n", r, "link", "add", "ha", "type", "veth", "peer", "name", "eth0", "netns", self.a)
        _ip("-n", r, "link", "add", "hb", "type", "veth", "peer", "name", "eth0", "netns", self.b)
        for port, br in (("vg0", "br-g"), ("ha", "br-g"), ("vs0", "br-s"), ("hb", "br-s")):
            _ip("-n", r, "link", "set", port, "master", br)
        for dev in ("br-g", "br-s", "vg0", "vg1", "vs0", "vs1", "ha", "hb"):
            _ip("-n", r, "link", "set", dev, "up")
        for ns, addr in ((self.a, "10.250.0.1/24"), (self.b, "10.250.0.2/24")):
            _ip("-n", ns, "addr", "add", addr, "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")

    def start_relay(self, spec: RelaySpec) -> None:
        self.relay = subprocess.Popen(_in(self.relay_ns, *relay_command(spec)),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.relay.stdout.readline()
        assert line.startswith("relay ready"), (line, self.relay.stderr.read())

    def stop_relay(self) -> dict | None:
        proc, self.relay = self.relay, None
        if proc is None:
            return None
        proc.terminate()
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        assert rc == 0, proc.stderr.read()
        return rc

    def delete(self) -> None:
        with contextlib.suppress(Exception):
            if self.relay is not None:
                self.relay.kill()
                self.relay.wait(timeout=10)
        errors = []
        for ns in (self.relay_ns, self.a, self.b):
            out = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True)
            if out.returncode:
                errors.append(out.stderr.strip())
        return errors

    def probe(self, count: int, interval: float) -> tuple[int, list[float]]:
        out = subprocess.run(_in(self.a, sys.executable, "-c", _PROBE, "10.250.0.2", str(count),
                                 str(interval)), check=True, capture_output=True, text=True,
                             timeout=120)
        result = json.loads(out.stdout)
        return result["sent"], result["rtt"]


@pytest.fixture
def lab():
    lab = Lab()
    try:
        lab.create()
        yield lab
    finally:
        errors = lab.delete()
        assert not _leftovers(), errors


def _run_relay(lab: Lab, spec: RelaySpec, stats_path: Path, body):
    lab.start_relay(spec)
    try:
        result = body()
    finally:
        lab.stop_relay()
    return result, json.loads(stats_path.read_text())


@pytest.mark.lab
@_needs_root
def test_relay_adds_delay(lab, tmp_path):
    stats = tmp_path / "stats.json"
    # The first probes resolve ARP; measure afterwards.
    (_, (sent, rtt0)), _ = _run_relay(lab, RelaySpec("vg1", "vs1", stats=str(stats)), stats,
                                      lambda: (lab.probe(5, 0.02), lab.probe(50, 0.02)))
    spec = RelaySpec("vg1", "vs1", 0.005, 0.005, stats=str(stats))
    (sent, rtt1), st1 = _run_relay(lab, spec, stats, lambda: lab.probe(50, 0.02))
    _, without = lab.probe(3, 0.05)
    assert not without, "hosts must only be connected through the relay"
    assert len(rtt0) >= 48 and len(rtt1) >= 48
    added = np.median(rtt1) - np.median(rtt0)
    print(f"RTT median without delay {np.median(rtt0) * 1e3:.3f} ms, with 5+5 ms "
          f"{np.median(rtt1) * 1e3:.3f} ms, added {added * 1e3:.3f} ms; "
          f"p95 with delay {np.percentile(rtt1, 95) * 1e3:.3f} ms")
    assert added == pytest.approx(0.010, abs=0.0015)
    assert st1["ab"]["frames_sent"] >= 48 and st1["ba"]["frames_sent"] >= 48
    assert st1["ab"]["send_errors"] == 0 and st1["ba"]["send_errors"] == 0
    assert st1["scheduler"] == "fifo"  # root in the lab: the relay gets SCHED_FIFO
    for d in ("ab", "ba"):  # probes every 20 ms: the relay is not behind, bar a vCPU stall
        assert st1[d]["late_over_1ms"] <= 0.05 * st1[d]["frames_sent"], st1[d]


@pytest.mark.lab
@_needs_root
def test_relay_loss(lab, tmp_path):
    stats = tmp_path / "stats.json"
    spec = RelaySpec("vg1", "vs1", loss_ab=0.2, loss_ba=0.2, seed=1, stats=str(stats))
    # Warm the ARP caches first, so that ARP frames do not take part in the loss draws much.
    (_, (sent, rtt)), st = _run_relay(
        lab, spec, stats, lambda: (lab.probe(20, 0.01), lab.probe(200, 0.01)))
    lost = 1 - len(rtt) / sent
    print(f"loss 0.2 each way: {sent - len(rtt)}/{sent} probes lost = {lost:.1%} "
          f"(expected 36%); relay dropped ab {st['ab']['frames_dropped']}"
          f"/{st['ab']['frames_in']}, ba {st['ba']['frames_dropped']}/{st['ba']['frames_in']}")
    assert lost == pytest.approx(0.36, abs=0.10)


@pytest.mark.lab
@_needs_root
def test_relay_tcp_transfer(lab, tmp_path):
    stats = tmp_path / "stats.json"
    size = 20 * 1000 * 1000
    spec = RelaySpec("vg1", "vs1", 0.002, 0.002, stats=str(stats))

    def transfer():
        sink = subprocess.Popen(_in(lab.b, sys.executable, "-c", _SINK, "10.250.0.2", "5001"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert sink.stdout.readline().strip() == "listening"
            out = subprocess.run(_in(lab.a, sys.executable, "-c", _SOURCE, "10.250.0.2", "5001",
                                     str(size)), capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr
            return json.loads(out.stdout)
        finally:
            sink.kill()
            sink.wait()

    result, st = _run_relay(lab, spec, stats, transfer)
    assert result["bytes"] == size
    frames = st["ab"]["frames_sent"] + st["ba"]["frames_sent"]
    mbit = size * 8 / result["seconds"] / 1e6
    print(f"TCP 20 MB through relay (2 ms each way): {result['seconds']:.2f} s = {mbit:.0f} Mbit/s "
          f"goodput; {st['ab']['frames_sent']} data-side frames "
          f"({st['ab']['frames_sent'] / result['seconds']:.0f}/s), {frames} frames total "
          f"({frames / result['seconds']:.0f} pkt/s); max queue ab {st['ab']['max_queue']}; "
          f"gso frames {st['ab']['gso']}; kernel drops {st['ab']['kernel_drops']}; "
          f"offload failures {st['offload_failures']}")
    assert st["ab"]["send_errors"] == 0 and st["ba"]["send_errors"] == 0
    assert st["ab"]["gso"] == 0  # offloads were turned off: wire-sized frames only
