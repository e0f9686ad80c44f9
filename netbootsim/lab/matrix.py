"""``netbootsim lab matrix MATRIX.yaml --out DIR``: the calibration matrix, run for real.

A matrix file lists lab configs and how many times to run each::

    runs:
      - {config: matrix/tftp-rtt0.yaml, reps: 3}
      - {config: matrix/http-rtt20.yaml, reps: 2}

(config paths are relative to the matrix file). Each repetition goes to
``DIR/<config stem>-r<i>/`` with everything :func:`~.runner.run_lab` writes and its
parsed ``phases.csv`` / ``details.csv``; afterwards the capture is gzipped and the
served files (synthetic, reproducible from the seed) are deleted, so the directory can be
committed as evidence. Runs are sequential:
guests running side by side would measure the emulator's CPU contention.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import time
from pathlib import Path

from ruamel.yaml.error import YAMLError

from ..errors import InputError, Problem
from ..plan.outdir import OutputDir
from ..yamltext import safe_yaml
from .config import load_config
from .parse import parse_run, write_parsed
from .sanread import san_commands, write_san_csv

__all__ = ["load_matrix", "run_matrix", "pack_run"]


def load_matrix(path: Path) -> list[tuple[Path, int]]:
    """``(config path, repetitions)`` entries; every problem reported with its line."""
    try:
        data = safe_yaml().load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, YAMLError) as e:
        raise InputError.single(str(path), 0, "", f"cannot read matrix: {e}") from None
    problems = []
    entries = []
    runs = data.get("runs") if hasattr(data, "get") else None
    if not isinstance(runs, list) or not runs:
        raise InputError.single(str(path), 1, "runs", "expected a non-empty list of runs")
    for i, item in enumerate(runs):
        line = runs.lc.item(i)[0] + 1 if hasattr(runs, "lc") else 0
        cfg = item.get("config") if hasattr(item, "get") else None
        reps = item.get("reps", 1) if hasattr(item, "get") else None
        if not isinstance(cfg, str):
            problems.append(Problem(str(path), line, f"runs[{i}].config", "missing config path"))
            continue
        if not isinstance(reps, int) or isinstance(reps, bool) or reps < 1:
            problems.append(Problem(str(path), line, f"runs[{i}].reps",
                                    f"must be an integer ≥ 1; got {reps!r}"))
            continue
        target = (path.parent / cfg).resolve()
        if not target.is_file():
            problems.append(Problem(str(path), line, f"runs[{i}].config",
                                    f"no such config file: {cfg}"))
            continue
        entries.append((target, reps))
    if problems:
        raise InputError(problems)
    for target, _ in entries:
        load_config(target)  # validate every config before any lab time is spent
    return entries


#: Bytes of each frame a SAN run's committed capture keeps, by protocol: Ethernet, IP and
#: TCP headers (32 B with timestamps) and a 48-byte iSCSI basic header segment; an AoE
#: and ATA header (14 + 22 B). Its 33 MB of disk reads are not kept; ``san.csv.gz``,
#: decoded from the whole capture first, is.
SAN_SNAP = {"iscsi": 114, "aoe": 36}


def pack_run(out: Path, snap: int = 0) -> None:
    """Make a run directory committable: gzip the capture, drop what was served.

    The served files and the UEFI guests' variable stores are dropped. ``snap``: keep
    only the first ``snap`` bytes of each frame (0: whole frames), lengths kept.
    """
    pcap = out / "capture.pcap"
    if pcap.is_file():
        with pcap.open("rb") as src, gzip.GzipFile(out / "capture.pcap.gz", "wb",
                                                    mtime=0) as dst:
            if snap:
                _truncate(src, dst, snap)
            else:
                shutil.copyfileobj(src, dst)
        pcap.unlink()
    for name in ("srv", "tftp", "www", "firmware"):
        if (out / name).is_dir():
            shutil.rmtree(out / name)


def _truncate(src, dst, snap: int) -> None:
    """Copy a classic pcap keeping ``snap`` bytes a frame, each record's wire length kept.

    Reads the records as they are (microsecond or nanosecond, either byte order: each
    frame's original length is copied, not its captured one) and writes libpcap's
    classic little-endian microsecond format, ``snaplen`` = ``snap``, the source's link
    type; :mod:`dpkt` and tcpdump read it.
    """
    head = src.read(24)
    magic = head[:4]
    formats = {b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
               b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1)}
    if magic not in formats:
        raise ValueError("not a classic pcap file")
    order, to_ns = formats[magic]
    linktype = struct.unpack(order + "I", head[20:24])[0]
    dst.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snap, linktype))
    while len(rec := src.read(16)) == 16:
        sec, frac, incl, orig = struct.unpack(order + "IIII", rec)
        data = src.read(incl)
        usec = round(frac * to_ns / 1000)
        sec, usec = sec + usec // 1_000_000, usec % 1_000_000
        cut = data[:snap]
        dst.write(struct.pack("<IIII", sec, usec, len(cut), orig) + cut)


def run_matrix(entries: list[tuple[Path, int]], out: Path, say=print) -> list[Path]:
    """Run every repetition of every config; return the run directories."""
    from .runner import run_lab

    targets = [(cfg_path, (out / f"{cfg_path.stem}-r{i}").resolve())
               for cfg_path, reps in entries for i in range(1, reps + 1)]
    for _, target in targets:  # before any lab time is spent: replace only our own runs
        OutputDir(target, "lab").check()
    done = []
    for cfg_path, target in targets:
        cfg = load_config(cfg_path)
        with OutputDir(target, "lab") as od:
            if target.exists():
                shutil.rmtree(target)  # a previous run of ours (checked)
            t0 = time.monotonic()
            result = run_lab(cfg, target, say=lambda _msg: None)
            write_parsed(parse_run(target), target)
            if cfg.san is not None:  # decoded from the whole capture, then cut
                write_san_csv(san_commands(target), target / "san.csv.gz")
            pack_run(target, SAN_SNAP[cfg.san.protocol] if cfg.san is not None else 0)
            od.mark(os.listdir(target))
        say(f"{target}: {result.get('outcome', '?')} in {time.monotonic() - t0:.1f} s")
        done.append(target)
    return done
