"""The lab's SAN case (issue 17, item 4): config, disk, decoding a capture, the section.

The committed traces (lab/traces4, ``netbootsim lab matrix lab/matrix4.yaml``) keep the
decoded ``san.csv.gz`` of each run (the captures are kept cut to their headers), so these
tests need no QEMU, no target and no iPXE build.
"""

from __future__ import annotations

import gzip
import json
import math
import shutil
import socket
import struct
import subprocess
from pathlib import Path

import dpkt
import pytest

from netbootsim.errors import InputError
from netbootsim.lab.config import load_config, parse_config
from netbootsim.lab.matrix import _truncate
from netbootsim.lab.san import IQN, san_script, san_uri
from netbootsim.lab.sanread import (
    aoe_commands,
    iscsi_commands,
    read_san_csv,
    write_san_csv,
)

ROOT = Path(__file__).resolve().parents[2]
TRACES = ROOT / "lab" / "traces4"
SERVER, CLIENT = "192.168.77.1", "192.168.77.129"
SMAC, CMAC = b"\x02\x00\x00\x00\x00\x01", b"\x52\x54\x00\x77\x00\x00"


def _disk_dir(tmp_path: Path) -> Path:
    d = tmp_path / "disk"
    d.mkdir()
    (d / "disk.img").write_bytes(b"\0" * 512)
    (d / "disk.json").write_text("{}")
    return d


def test_a_san_config_and_its_script(tmp_path):
    disk = _disk_dir(tmp_path)
    cfg = parse_config({"case": "san", "san": {"protocol": "iscsi", "disk": str(disk),
                                               "vanish_after": "300ms"}}, "x")
    assert cfg.transport == "http" and cfg.san.protocol == "iscsi"
    assert cfg.san.vanish_after == pytest.approx(0.3) and cfg.san.disk == str(disk)
    # iPXE's URI: iscsi:<server>:<protocol>:<port>:<LUN>:<target name>; tgt's disk is LUN 1
    assert san_uri("iscsi", SERVER) == f"iscsi:{SERVER}:::1:{IQN}"
    assert san_uri("aoe", SERVER) == "aoe:e0.0"
    assert "sanboot aoe:e0.0 || goto nbs_fail" in san_script("aoe", SERVER)


def test_bad_san_configs_name_file_line_and_field(tmp_path):
    disk = _disk_dir(tmp_path)
    p = tmp_path / "bad.yaml"
    p.write_text("case: san\n"
                 f"san: {{protocol: fcoe, disk: {tmp_path}, vanish_after: 3, colour: red}}\n"
                 "firmware: ovmf\n")
    with pytest.raises(InputError) as e:
        load_config(p)
    text = str(e.value)
    for expected in [f"{p}:2: san.protocol: 'fcoe' is not one of iscsi, aoe",
                     f"{p}:2: san.disk: {tmp_path}: not a 'netbootsim lab san-disk' "
                     "directory (no disk.img, disk.json)",
                     f"{p}:2: san.vanish_after: 3 has no unit",
                     f"{p}:2: san.colour: unknown field",
                     f"{p}:3: firmware: the san case boots a BIOS disk"]:
        assert expected in text, (expected, text)
    with pytest.raises(InputError, match="x: san: the san case needs it"):
        parse_config({"case": "san"}, "x")
    with pytest.raises(InputError, match="san: only the san case boots from a SAN target"):
        parse_config({"case": "http", "san": {"protocol": "aoe", "disk": str(disk)}}, "x")
    with pytest.raises(InputError, match="san.disk: required"):
        parse_config({"case": "san", "san": {"protocol": "aoe"}}, "x")


# -- a capture by hand ------------------------------------------------------------------

def _tcp(t, from_client, seq, ack, payload=b"", flags=0x18):
    src, dst = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
    tcp = dpkt.tcp.TCP(sport=40000 if from_client else 3260,
                       dport=3260 if from_client else 40000, seq=seq, ack=ack, flags=flags,
                       win=4096, data=payload)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=6, data=tcp)
    ip.len = len(ip)
    eth = dpkt.ethernet.Ethernet(src=CMAC if from_client else SMAC,
                                 dst=SMAC if from_client else CMAC, data=ip)
    return t, bytes(eth)


def _bhs(opcode, flags=0, dlen=0, itt=b"\0\0\0\0", cdb=b""):
    h = bytearray(48)
    h[0], h[1] = opcode, flags
    h[5:8] = dlen.to_bytes(3, "big")
    h[16:20] = itt
    h[32:32 + len(cdb)] = cdb
    return bytes(h)


def _write_pcap(path, frames, t0=1000.0):
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f)
        for t, buf in frames:
            w.writepkt(buf, ts=t0 + t)


def test_iscsi_login_and_a_read_decoded_by_hand(tmp_path):
    # Client ISN 999, server ISN 4999: their first data bytes are seq 1000 and 5000.
    login_rsp = _bhs(0x23, 0x83, dlen=5) + b"a=b\0\0" + b"\0\0\0"  # T + NSG 3; 5 -> 8 padded
    read10 = bytes([0x28, 0, 0, 0, 0x08, 0, 0, 0, 8, 0])  # LBA 2048, 8 blocks
    data = bytes(range(256)) * 16  # 4096 bytes
    first = _bhs(0x25, 0x00, dlen=4096, itt=b"\0\0\0\7") + data[:1000]
    rest = data[1000:] + _bhs(0x25, 0x81, dlen=0, itt=b"\0\0\0\7")  # F + S: status with it
    frames = [
        _tcp(1.000, True, 999, 0, flags=0x02),  # SYN
        _tcp(1.001, False, 4999, 1000, flags=0x12),
        _tcp(1.002, True, 1000, 5000, _bhs(0x03, 0x87)),  # Login Request
        _tcp(1.010, False, 5000, 1048, login_rsp),
        _tcp(1.020, True, 1048, 5056, _bhs(0x01, 0xC0, itt=b"\0\0\0\7", cdb=read10)),
        _tcp(1.030, False, 5056, 1096, first),
        _tcp(1.031, False, 5056 + len(first), 1096, rest),
    ]
    pcap = tmp_path / "capture.pcap"
    _write_pcap(pcap, frames)
    login, read = iscsi_commands(pcap, 1000.0, SERVER)
    # the login from the SYN (1.000) to the final Login Response's last byte (1.010)
    assert (login.op, login.t_cmd, login.t_done) == ("login", pytest.approx(1.0),
                                                     pytest.approx(1.010))
    # the READ: its CDB at 1.020; its data cross two segments, the status PDU in the
    # second (1.031): done then, 4096 data bytes, LBA 2048, 8 sectors
    assert (read.op, read.lba, read.sectors, read.data_bytes) == ("read", 2048, 8, 4096)
    assert read.t_cmd == pytest.approx(1.020) and read.t_done == pytest.approx(1.031)


def test_a_refused_iscsi_connection_is_a_connect_attempt(tmp_path):
    # the target gone: SYN at 5.0, the namespace's kernel resets it at 5.0001
    syn = _tcp(5.0, True, 77, 0, flags=0x02)
    t, frame = _tcp(5.0001, False, 0, 78, flags=0x14)  # RST + ACK
    pcap = tmp_path / "capture.pcap"
    _write_pcap(pcap, [syn, (t, frame)])
    (attempt,) = iscsi_commands(pcap, 1000.0, SERVER)
    assert attempt.op == "connect" and attempt.t_cmd == pytest.approx(5.0)
    assert attempt.t_done == pytest.approx(5.0001)


def _aoe(t, response, tag, command=0, ata=b"", data=b""):
    h = bytearray(10)
    h[0] = 0x10 | (0x08 if response else 0)  # version 1, flag R
    h[2:4], h[4], h[5], h[6:10] = b"\0\0", 0, command, tag.to_bytes(4, "big")
    frame = (CMAC if response else SMAC) + (SMAC if response else CMAC) + b"\x88\xa2" + \
        bytes(h) + ata + data
    return t, frame + b"\0" * max(0, 60 - len(frame))  # Ethernet's minimum frame


def _ata(count, cmd, lba):
    return bytes([0x40, 0, count, cmd]) + lba.to_bytes(6, "little") + b"\0\0"


def test_aoe_reads_retransmissions_and_a_lost_command_by_hand(tmp_path):
    frames = [
        _aoe(1.5, False, 3, command=1),
        _aoe(1.5001, True, 3, command=1),  # a config answer, padded to 60 bytes
        _aoe(2.0, False, 1, ata=_ata(2, 0x24, 100)),
        _aoe(2.25, False, 1, ata=_ata(2, 0x24, 100)),  # the same tag again: a resend
        _aoe(2.26, True, 1, ata=_ata(2, 0x50, 100), data=b"x" * 1024),
        _aoe(3.0, False, 2, ata=_ata(1, 0x24, 7)),  # never answered
    ]
    pcap = tmp_path / "capture.pcap"
    _write_pcap(pcap, frames)
    config, first, lost = aoe_commands(pcap, 1000.0)
    assert config.op == "config" and config.t_done == pytest.approx(1.5001)
    assert (first.lba, first.sectors, first.sends, first.data_bytes) == (100, 2, 2, 1024)
    assert first.t_cmd == pytest.approx(2.0) and first.t_done == pytest.approx(2.26)
    assert lost.lba == 7 and math.isnan(lost.t_done) and lost.sends == 1
    # san.csv (and its gzipped form, which lab matrix keeps) keeps them as they were
    write_san_csv([config, first, lost], tmp_path / "san.csv")
    back = read_san_csv(tmp_path / "san.csv")
    write_san_csv([config, first, lost], tmp_path / "san.csv.gz")
    assert [c.__dict__ for c in read_san_csv(tmp_path / "san.csv.gz")][:2] == \
        [c.__dict__ for c in back][:2]
    assert [(c.op, c.lba, c.sends, c.data_bytes) for c in back] == \
        [("config", -1, 1, 0), ("read", 100, 2, 1024), ("read", 7, 1, 0)]
    assert math.isnan(back[2].t_done)


def test_a_cut_capture_keeps_each_frame_head_and_length(tmp_path):
    frames = [_aoe(2.0, True, 1, ata=_ata(2, 0x50, 100), data=b"y" * 1024),
              _aoe(2.5, False, 2, ata=_ata(1, 0x24, 7))]
    src = tmp_path / "capture.pcap"
    _write_pcap(src, frames)
    with open(src, "rb") as s, gzip.open(tmp_path / "cut.pcap.gz", "wb") as d:
        _truncate(s, d, 40)
    with gzip.open(tmp_path / "cut.pcap.gz", "rb") as f:
        reader = dpkt.pcap.Reader(f)
        got = [(ts, len(buf), hdr_len) for (ts, buf), hdr_len in
               zip(reader, (1060, 60), strict=True)]
    assert [(round(ts - 1000.0, 6), n) for ts, n, _ in got] == [(2.0, 40), (2.5, 40)]
    # the record header keeps each frame's length on the wire
    raw = gzip.decompress((tmp_path / "cut.pcap.gz").read_bytes())
    assert int.from_bytes(raw[24 + 12:24 + 16], "little") == 14 + 22 + 1024


@pytest.mark.skipif(any(shutil.which(t) is None for t in ("sfdisk", "mkfs.fat", "mcopy",
                                                          "syslinux")),
                    reason="needs the lab's disk tools (netbootsim lab install)")
def test_make_disk_writes_a_bootable_fat_disk(tmp_path):
    from netbootsim.lab.san import PART_START, SYSLINUX_MBR, make_disk

    kernel = tmp_path / "bzImage"
    kernel.write_bytes(b"K" * 100_000)  # any file: SYSLINUX is not run here
    rec = make_disk(tmp_path / "d", kernel, 1 << 20, seed=3)
    img = tmp_path / "d" / "disk.img"
    table = json.loads(subprocess.run(["sfdisk", "--json", str(img)], capture_output=True,
                                      text=True, check=True).stdout)["partitiontable"]
    (part,) = table["partitions"]
    assert part["start"] == PART_START and part.get("bootable") and part["type"] == "e"
    assert img.read_bytes()[:440] == SYSLINUX_MBR.read_bytes()[:440]
    listing = subprocess.run(["mdir", "-a", "-b", "-i", f"{img}@@{PART_START * 512}", "::"],
                             capture_output=True, text=True, check=True).stdout
    assert {"::/vmlinuz", "::/initrd", "::/syslinux.cfg", "::/ldlinux.sys"} <= \
        {x.strip() for x in listing.splitlines()}  # -a: SYSLINUX's hidden files too
    assert rec["initrd"]["bytes"] == 1 << 20 and rec["kernel"]["bytes"] == 100_000
    again = make_disk(tmp_path / "e", kernel, 1 << 20, seed=3)
    assert again["initrd"]["sha256"] == rec["initrd"]["sha256"]  # the seed's bytes


def test_the_san_section_from_the_committed_traces(tmp_path):
    from netbootsim.lab.sanround import BEGIN, END, main, runs

    rs = {r["dir"]: r for r in runs(TRACES)}
    iscsi = [r for r in rs.values() if r["cell"] == "iscsi"]
    aoe = [r for r in rs.values() if r["cell"] == "aoe"]
    assert len(iscsi) == 3 and len(aoe) == 3 and all(r["ok"] for r in iscsi + aoe)
    for r in iscsi + aoe:
        # the same disk read to the hand-over: 8,247,232 B of kernel + 24 MiB of initrd,
        # with the FAT and SYSLINUX's own reads, 33.6 MB either way
        assert 33.5e6 < r["read_bytes"] < 33.7e6
    # SYSLINUX reads at most 127 sectors a BIOS call (EDD); iPXE sends each as one READ
    assert all(r["sizes"].most_common(1)[0][0] == 127 for r in iscsi)
    # over AoE iPXE splits each call into commands of 2 sectors (1,024 B in a frame)
    assert all(r["sizes"].most_common(1)[0][0] == 2 for r in aoe)
    out = tmp_path / "calibration.md"
    out.write_text("# Calibration\n")
    assert main([str(TRACES), "--out", str(out)]) == 0
    text = out.read_text()
    assert BEGIN in text and END in text and "| iscsi | 3 | 3 |" in text
    vanished = [r for r in rs.values() if r["vanish"] is not None]
    assert {r["cell"] for r in vanished} == {"iscsi-vanish", "aoe-vanish"}
    assert all(not r["ok"] for r in vanished)  # neither boots once its target is gone


# -- imgverify (issue 17, item 3) --------------------------------------------------------

def test_the_verify_script_checks_each_file_between_markers():
    from netbootsim.lab.payload import boot_script

    lines = boot_script("http://10.0.0.1", ["kernel"], verify=True).splitlines()
    assert lines[2:7] == ["imgfetch http://10.0.0.1/kernel || goto nbs_fail",
                          "imgfetch http://10.0.0.1/kernel.sig || goto nbs_fail",
                          "echo NBS-VERIFY-START kernel",
                          "imgverify kernel kernel.sig || goto nbs_fail",
                          "echo NBS-VERIFY-END kernel"]


def test_bad_verify_configs(tmp_path):
    with pytest.raises(InputError) as e:
        parse_config({"case": "tftp", "verify": "maybe"}, "x")
    text = str(e.value)
    assert "verify: 'maybe' is not one of signed, tampered" in text
    assert "verify: only the http, https and chainload cases fetch files to verify" in text
    assert "verify: needs ipxe: a build trusting the lab CA" in text
    assert "verify: needs tls:" in text


def test_imgverify_times_from_a_console_by_hand(tmp_path):
    from netbootsim.lab.verify import checks, fit, section

    runs = tmp_path / "traces"
    for name, console in (
            ("verify-signed-r1", ["1.000000\tNBS-VERIFY-START kernel",
                                  "1.150000\tNBS-VERIFY-END kernel",
                                  "2.000000\tNBS-VERIFY-START initrd",
                                  "3.800000\tNBS-VERIFY-END initrd"]),
            ("verify-tampered-r1", ["1.000000\tNBS-VERIFY-START kernel",
                                    "1.200000\tCould not verify: Permission denied "
                                    "(https://ipxe.org/0216e53c)",
                                    "1.210000\tNBS-FAIL 0x0216e53c"])):
        d = runs / name
        d.mkdir(parents=True)
        (d / "run.json").write_text(json.dumps(
            {"config": {"files": {"kernel": 2 << 20, "initrd": 32 << 20}}}))
        (d / "console-0.log").write_text("\n".join(console) + "\n")
    signed = checks(runs / "verify-signed-r1")
    assert [(r["file"], round(r["seconds"], 6)) for r in signed] == [("kernel", 0.15),
                                                                     ("initrd", 1.8)]
    # two points: per MiB (1.8 - 0.15) / (32 - 2) = 0.055 s; fixed 0.15 - 2 x 0.055 = 0.04
    fixed, per = fit(signed)
    assert per == pytest.approx(0.055) and fixed == pytest.approx(0.04)
    (bad,) = checks(runs / "verify-tampered-r1")
    assert bad["seconds"] is None and bad["error_after"] == pytest.approx(0.2)
    assert bad["error"].startswith("Could not verify: Permission denied")
    text = section(runs, "cmd")
    assert "**40.0 ms + 55.0 ms per MiB**" in text and "refused after 0.200 s" in text


def test_the_imgverify_section_from_the_committed_traces(tmp_path):
    from netbootsim.lab.verify import BEGIN, checks, fit, main

    traces = ROOT / "lab" / "traces5"
    rows = [r for d in sorted(traces.iterdir()) if d.is_dir() for r in checks(d)]
    trusted = [r for r in rows if r["seconds"] is not None]
    refused = [r for r in rows if r["seconds"] is None]
    assert len(trusted) == 6 and len(refused) == 1
    # the tampered kernel is refused with iPXE's EACCES text, after hashing all of it
    assert refused[0]["file"] == "kernel" and "Permission denied" in refused[0]["error"]
    fixed, per = fit(trusted)
    assert 0.0 < fixed < 0.1 and 0.03 < per < 0.08  # s, s per MiB under the emulator
    out = tmp_path / "calibration.md"
    out.write_text("# Calibration\n")
    assert main([str(traces), "--out", str(out)]) == 0 and BEGIN in out.read_text()


def test_the_efi_builds_imgverify_from_the_committed_traces():
    # lab/traces11: the EFI build under OVMF, 3 signed runs and a tampered one; the fit
    # is ipxe-current-efi's imgverify (28.6 ms + 38.1 ms per MiB), and each run held out
    # of a fit on the other two is within 5 % (docs/calibration.md says 4.1 %)
    from netbootsim.lab.verify import checks, fit, section
    from netbootsim.profiles import get_profile

    traces = ROOT / "lab" / "traces11"
    runs = {d.name: checks(d) for d in sorted(traces.iterdir()) if d.is_dir()}
    refused = [r for rows in runs.values() for r in rows if r["seconds"] is None]
    assert len(refused) == 1 and "Permission denied" in refused[0]["error"]
    signed = {n: rows for n, rows in runs.items() if "signed" in n}
    fixed, per = fit([r for rows in signed.values() for r in rows])
    efi = get_profile("ipxe-current-efi")
    assert efi.imgverify_time == pytest.approx(fixed, abs=1e-4)
    assert efi.imgverify_rate == pytest.approx((1 << 20) / per, rel=1e-3)
    for name, rows in signed.items():
        f2, p2 = fit([r for n, rr in signed.items() if n != name for r in rr])
        for r in rows:
            assert f2 + r["bytes"] / (1 << 20) * p2 == pytest.approx(r["seconds"], rel=0.05)
    text = section([ROOT / "lab" / "traces5", traces], "cmd")
    assert "**efi-x86_64**" in text and "`ipxe-current-efi`, the emulated client's" in text


@pytest.mark.parametrize("argv, message", [
    (["--initrd-size", "lots"], "--initrd-size: "),
    (["--initrd-size", "2GiB"], "--initrd-size: '2GiB': a whole number of bytes, 1B to 1GiB"),
    (["--kernel", "{tmp}/nothing"], "--kernel: {tmp}/nothing: no such file"),
])
def test_san_disk_bad_input_exits_2_with_one_line_and_writes_nothing(capsys, tmp_path, argv,
                                                                      message):
    from netbootsim.cli import main

    out = tmp_path / "out"
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(["lab", "san-disk", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message.format(tmp=tmp_path) in err
    assert not out.exists()


# -- review mends --------------------------------------------------------------------------

def test_a_retransmission_after_later_segments_fills_its_gap():
    from netbootsim.lab.pcap import TcpConn, TcpSegment, tcp_stream

    # ISN 99: bytes from seq 100. Segment [100, 104) is lost at first (never captured),
    # [104, 108) arrives at t=1, the retransmitted [100, 104) at t=2: the stream is whole,
    # its first bytes timed by the retransmission
    conn = TcpConn(("c", 1), ("s", 2), "m", [
        TcpSegment(0.0, True, 0x02, 99, 0, 0, 0, b"", {}),
        TcpSegment(1.0, True, 0x18, 104, 0, 0, 4, b"EFGH", {}),
        TcpSegment(2.0, True, 0x18, 100, 0, 0, 4, b"ABCD", {}),
    ])
    stream, starts, times = tcp_stream(conn, True)
    assert stream == b"ABCDEFGH" and starts == [0, 4] and times == [2.0, 1.0]


def test_a_cut_source_keeps_its_wire_lengths(tmp_path):
    # a source already cut at 64 bytes: its records say 64 captured of 1060 on the wire
    frame = _aoe(2.0, True, 1, ata=_ata(2, 0x50, 100), data=b"y" * 1024)[1]
    src = tmp_path / "cut64.pcap"
    with open(src, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 64, 1))
        f.write(struct.pack("<IIII", 1002, 500000, 64, len(frame)) + frame[:64])
    with open(src, "rb") as s, open(tmp_path / "out.pcap", "wb") as d:
        _truncate(s, d, 36)
    raw = (tmp_path / "out.pcap").read_bytes()
    assert struct.unpack("<IIII", raw[24:40]) == (1002, 500000, 36, len(frame))


def test_aoe_error_answers_and_28_bit_addresses(tmp_path):
    h28 = bytes([0x00, 0, 1, 0x20]) + (0xE0000010).to_bytes(4, "little") + b"\0\0\0\0"
    err = _aoe(2.1, True, 5, ata=_ata(1, 0x51, 16))
    err = (err[0], err[1][:14] + bytes([err[1][14] | 0x04]) + err[1][15:])  # flag E
    frames = [_aoe(2.0, False, 5, ata=h28), err]
    pcap = tmp_path / "capture.pcap"
    _write_pcap(pcap, frames)
    (cmd,) = aoe_commands(pcap, 1000.0)
    # READ SECTORS (0x20, not extended): the device bits above LBA bit 27 are not the LBA
    assert cmd.lba == 0x10 and cmd.op == "read-error" and cmd.data_bytes == 0


def test_a_cut_capture_is_not_decoded_again(tmp_path):
    from netbootsim.lab.sanread import san_commands

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({
        "start_utc": "2026-12-05T00:00:00+00:00",
        "config": {"san": {"protocol": "aoe"}, "subnet": "192.168.77.0/24"}}))
    with open(run / "capture.pcap", "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 36, 1))
    with pytest.raises(ValueError, match="cut at 36 bytes a frame"):
        san_commands(run)


def test_a_stopped_target_is_never_killed():
    import threading
    import time

    from netbootsim.lab.san import Target

    class Proc:
        killed = 0

        def poll(self):
            return None

        def kill(self):
            Proc.killed += 1

    t = Target(Proc(), 0.05, time.monotonic())
    seen = [threading.Thread(target=t.seen, args=(0.0, "Booting from SAN device 0x80"))
            for _ in range(4)]  # four guests' readers at once: one timer
    for th in seen:
        th.start()
    for th in seen:
        th.join()
    t.stop()
    time.sleep(0.15)
    assert Proc.killed == 0 and t.record()["vanished_s"] is None


def test_san_runs_keep_whole_frames_and_vanish_after_the_hand_over(tmp_path):
    disk = _disk_dir(tmp_path)
    with pytest.raises(InputError) as e:
        parse_config({"case": "san", "snaplen": 300,
                      "san": {"protocol": "iscsi", "disk": str(disk),
                              "vanish_after": "-1s"}}, "x")
    text = str(e.value)
    assert "snaplen: the san case decodes the whole capture" in text
    assert "san.vanish_after: '-1s' is before the hand-over" in text


def test_a_check_with_no_answer_on_the_console(tmp_path):
    from netbootsim.lab.verify import section

    d = tmp_path / "t" / "verify-signed-r1"
    d.mkdir(parents=True)
    (d / "run.json").write_text(json.dumps({"config": {"files": {"kernel": 2 << 20}}}))
    (d / "console-0.log").write_text("1.000000\tNBS-VERIFY-START kernel\n")
    assert "no answer on the console (the run ended first)" in section(tmp_path / "t", "c")


def test_cleanup_deletes_a_crashed_san_runs_tgtd_files(tmp_path):
    from netbootsim.lab.netns import PREFIX, _san_leftovers
    from netbootsim.lab.san import control_port

    # a run of process 4242 crashed: its tgtd used port 1000 + 4242 % 30000 = 5242
    assert control_port(4242) == 5242
    for f in ("socket.5242", "socket.5242.lock", "socket.0", "socket.0.lock"):
        (tmp_path / f).write_text("")
    gone = _san_leftovers(f"{PREFIX}4242-ab12", tmp_path)
    assert sorted(p.name for p in gone) == ["socket.5242", "socket.5242.lock"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["socket.0", "socket.0.lock"]
    assert _san_leftovers(f"{PREFIX}x-ab12", tmp_path) == []  # not a lab run's name
