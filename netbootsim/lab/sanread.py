"""The block commands of a lab SAN boot, decoded from its capture (``san.csv``).

iSCSI (RFC 7143 [rfc7143]): each TCP connection to port 3260 is rebuilt as two byte
streams (:func:`~.pcap.tcp_stream`) and cut into PDUs by their 48-byte basic header
segment (§11.2: opcode, AHS length, data segment length padded to 4 bytes; no digests,
which iPXE does not offer). A login is the Login Request with its final Login Response
(§11.12-13, the transit to full feature phase); a SCSI command (§11.3) is its CDB (READ
(10)/(16): LBA and blocks of 512 bytes, SBC-3), done with the Data-In that carries its
status (§11.7, S bit) or its SCSI Response (§11.4), matched by task tag.

AoE (the AoE protocol r11 [aoe-r11]): frames of EtherType 0x88A2; an ATA command (§3.1:
LBA, sector count, the ATA command byte, e.g. 0x24 READ SECTORS EXT) is matched with its
response (flag R) by tag; a request sent again with the same tag is a retransmission.

Times are seconds since the run start, as the console's.
"""

from __future__ import annotations

import csv
import gzip
import io
import ipaddress
import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path

from .pcap import _frames, byte_time, read_capture, tcp_stream

__all__ = ["AOE_ETHERTYPE", "BlockCommand", "aoe_commands", "iscsi_commands", "read_san_csv",
           "san_commands", "san_csv", "write_san_csv"]

AOE_ETHERTYPE = b"\x88\xa2"
_BHS = 48
_SECTOR = 512
#: SCSI CDB operation codes (SPC-4, SBC-3) → the name ``san.csv`` gives them.
_SCSI_OPS = {0x28: "read", 0x88: "read", 0x2A: "write", 0x8A: "write", 0x25: "capacity",
             0x9E: "capacity", 0x12: "inquiry", 0x00: "test_unit_ready", 0xA0: "report_luns"}
#: ATA command bytes (ACS-3) → name.
_ATA_OPS = {0x20: "read", 0x24: "read", 0x30: "write", 0x34: "write", 0xEC: "identify"}


@dataclass
class BlockCommand:
    """One command of a SAN boot, as the capture saw it.

    Attributes:
        protocol: ``iscsi`` or ``aoe``.
        conn: iSCSI: the connection's number (0, 1, ... by SYN time); AoE: 0.
        op: ``login``, ``connect`` (an iSCSI connection that carried nothing: refused,
            its end the reset), ``read``, ``read-error`` (AoE: answered with flag E),
            ``capacity``, ``inquiry``, ``test_unit_ready``, ``report_luns``,
            ``identify``, ``config`` (AoE query) or ``other``.
        t_cmd: when the command went on the wire (iSCSI login: the SYN).
        t_done: when its last answering byte did (``nan``: never answered).
        lba: first sector (reads and writes), else -1.
        sectors: sectors asked for (512 bytes each), else 0.
        data_bytes: data bytes the target sent back for it.
        sends: times the command was sent (AoE retransmissions; iSCSI: 1).
    """

    protocol: str
    conn: int
    op: str
    t_cmd: float
    t_done: float
    lba: int = -1
    sectors: int = 0
    data_bytes: int = 0
    sends: int = 1


def _pdus(stream: bytes) -> list[tuple[int, bytes, int]]:
    """``(offset, basic header, data length)`` of each whole PDU of an iSCSI stream."""
    out = []
    i = 0
    while i + _BHS <= len(stream):
        bhs = stream[i:i + _BHS]
        ahs = bhs[4] * 4
        dlen = int.from_bytes(bhs[5:8], "big")
        total = _BHS + ahs + ((dlen + 3) & ~3)
        if i + total > len(stream):
            break
        out.append((i, bhs, dlen))
        i += total
    return out


def iscsi_commands(capture_path: Path, t0: float, server_ip: str,
                   port: int = 3260) -> list[BlockCommand]:
    """The logins and SCSI commands of every iSCSI connection in the capture."""
    cap = read_capture(capture_path, t0, server_ip)
    out: list[BlockCommand] = []
    conns = [c for c in cap.tcp if c.server[1] == port]
    for n, conn in enumerate(conns):
        up, up_starts, up_times = tcp_stream(conn, True)
        down, down_starts, down_times = tcp_stream(conn, False)
        syn_t = conn.segments[0].t
        pending: dict[bytes, BlockCommand] = {}
        login: BlockCommand | None = None
        if not up:  # refused or never used: the attempt is what there is to see
            last = conn.segments[-1]
            done = next((s.t for s in conn.segments if s.flags & 0x04), last.t)  # RST
            out.append(BlockCommand("iscsi", n, "connect", syn_t, done))
            continue
        for off, bhs, _ in _pdus(up):
            opcode, itt = bhs[0] & 0x3F, bhs[16:20]
            t = byte_time(up_starts, up_times, off)
            if opcode == 0x03 and login is None:  # Login Request
                login = BlockCommand("iscsi", n, "login", syn_t, float("nan"))
                out.append(login)
            elif opcode == 0x01:  # SCSI Command
                cdb = bhs[32:48]
                op = _SCSI_OPS.get(cdb[0], "other")
                cmd = BlockCommand("iscsi", n, op, t, float("nan"))
                if cdb[0] == 0x28 or cdb[0] == 0x2A:
                    cmd.lba = int.from_bytes(cdb[2:6], "big")
                    cmd.sectors = int.from_bytes(cdb[7:9], "big")
                elif cdb[0] == 0x88 or cdb[0] == 0x8A:
                    cmd.lba = int.from_bytes(cdb[2:10], "big")
                    cmd.sectors = int.from_bytes(cdb[10:14], "big")
                pending[itt] = cmd
                out.append(cmd)
        for off, bhs, dlen in _pdus(down):
            opcode, flags, itt = bhs[0] & 0x3F, bhs[1], bhs[16:20]
            end = byte_time(down_starts, down_times, off + _BHS + bhs[4] * 4 + dlen - 1)
            if opcode == 0x23 and login is not None:  # Login Response
                if flags & 0x80 and flags & 0x03 == 0x03:  # transit to full feature
                    login.t_done = end
            elif opcode == 0x25 and itt in pending:  # Data-In
                pending[itt].data_bytes += dlen
                if flags & 0x01:  # status with it: done
                    pending.pop(itt).t_done = end
            elif opcode == 0x21 and itt in pending:  # SCSI Response
                pending.pop(itt).t_done = end
    return sorted(out, key=lambda c: c.t_cmd)


def aoe_commands(capture_path: Path, t0: float) -> list[BlockCommand]:
    """The AoE commands of the capture (ATA and config queries), by first send."""
    by_tag: dict[bytes, BlockCommand] = {}
    out: list[BlockCommand] = []
    for ts, buf in _frames(Path(capture_path)):
        if buf[12:14] != AOE_ETHERTYPE or len(buf) < 24:
            continue
        t = float(ts) - t0
        h = buf[14:]
        response, error = bool(h[0] & 0x08), bool(h[0] & 0x04)
        command, tag = h[5], h[6:10]
        if not response:
            cmd = by_tag.get(tag)
            if cmd is not None and cmd.t_done != cmd.t_done:  # unanswered: sent again
                cmd.sends += 1
                continue
            if command == 0 and len(h) >= 22:
                op = _ATA_OPS.get(h[13], "other")
                cmd = BlockCommand("aoe", 0, op, t, float("nan"))
                if op in ("read", "write"):
                    cmd.lba = int.from_bytes(h[14:20], "little")
                    if not h[10] & 0x40:  # not extended: 28 bits (device bits above)
                        cmd.lba &= 0x0FFFFFFF
                    cmd.sectors = h[12] or 256
            else:
                cmd = BlockCommand("aoe", 0, "config" if command == 1 else "other", t,
                                   float("nan"))
            by_tag[tag] = cmd
            out.append(cmd)
        elif (cmd := by_tag.get(tag)) is not None and cmd.t_done != cmd.t_done:
            cmd.t_done = t
            if error:  # answered with an error (flag E): no data
                cmd.op = f"{cmd.op}-error"
            elif command == 0:  # the data after the ATA header, Ethernet padding left out
                asked = cmd.sectors * _SECTOR if cmd.op in ("read", "write") else \
                    _SECTOR if cmd.op == "identify" else 0
                cmd.data_bytes = min(max(0, len(h) - 22), asked)
    return out


def san_commands(run_dir: Path) -> list[BlockCommand]:
    """The commands of a ``case: san`` run directory (its ``run.json`` and capture).

    Raises:
        ValueError: the capture was cut (``lab matrix`` keeps SAN captures cut, with the
            commands already decoded in ``san.csv.gz``: read that instead).
    """
    record = json.loads((run_dir / "run.json").read_text())
    t0 = datetime.fromisoformat(record["start_utc"]).timestamp()
    cfg = record["config"]
    pcap = run_dir / "capture.pcap"
    if not pcap.is_file():
        pcap = run_dir / "capture.pcap.gz"
    with gzip.open(pcap, "rb") if pcap.suffix == ".gz" else open(pcap, "rb") as f:
        snap = int.from_bytes(f.read(24)[16:20], "little")
    if snap < 1514:
        raise ValueError(f"{pcap}: cut at {snap} bytes a frame; its commands are in "
                         f"{san_csv(run_dir)}")
    if cfg["san"]["protocol"] == "iscsi":
        server_ip = str(ipaddress.ip_network(cfg["subnet"])[1])
        return iscsi_commands(pcap, t0, server_ip)
    return aoe_commands(pcap, t0)


def write_san_csv(commands: list[BlockCommand], path: Path) -> None:
    """``san.csv`` (or, for a ``.gz`` path, gzipped): one row per command, times to the µs."""
    names = [f.name for f in fields(BlockCommand)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for c in commands:
        row = asdict(c)
        for k in ("t_cmd", "t_done"):
            row[k] = "" if row[k] != row[k] else f"{row[k]:.6f}"
        w.writerow([row[k] for k in names])
    data = buf.getvalue().encode()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)


def san_csv(run_dir: Path) -> Path:
    """A run's ``san.csv``, or its gzipped ``san.csv.gz`` (what ``lab matrix`` keeps)."""
    plain = run_dir / "san.csv"
    return plain if plain.is_file() else run_dir / "san.csv.gz"


def read_san_csv(path: Path) -> list[BlockCommand]:
    """The commands :func:`write_san_csv` wrote (plain or gzipped)."""
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode()
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        out.append(BlockCommand(
            row["protocol"], int(row["conn"]), row["op"], float(row["t_cmd"]),
            float(row["t_done"]) if row["t_done"] else float("nan"), int(row["lba"]),
            int(row["sectors"]), int(row["data_bytes"]), int(row["sends"])))
    return out
