"""Records and outputs of a large run: columns against record objects, Parquet against CSV.

Runs the bench storm (``storm_scenario`` of ``netbootsim/plan/bench_storm.py``: the
shipped storm scaled to N servers, every server ready) once per ``--servers N``, then
times on that run's records, best of ``--repeat``, each inside ``relaxed_gc()`` (after
one full ``gc.collect()``, whose time is reported apart: the first full collection after
a run walks the simulation's whole heap, and would otherwise be billed to whichever part
came first):

- **frames**: ``PhaseLog.frame()`` and ``ServerLog.frame()`` (what ``summarize`` does),
  against the reference measured in the same run: the same records as ``PhaseRecord`` /
  ``ServerRecord`` objects (how a run kept them before issue 15) made into frames row by
  row (``pd.DataFrame`` of ``dataclasses.astuple`` per record, as ``to_frame`` did);
- **summarize**: the whole ``summary.json`` dict, frames included;
- **records files**: phases and servers written as CSV (``to_csv``, ``%.9g``) and as
  Parquet (``to_parquet``), and ``phases`` read back (``pd.read_csv`` /
  ``pd.read_parquet``);
- **write_outputs**: every file and the report, ``--format auto``;
- **memory** (``tracemalloc``): a ``PhaseLog`` filled with the run's records against a
  list of ``PhaseRecord`` objects holding the same values.

Usage (the table of docs/performance.md, "Records and outputs at scale")::

    python benchmarks/records_outputs.py --servers 10000 50000 --repeat 3

Prints one JSON object and the Markdown rows.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
import tracemalloc
from dataclasses import astuple, fields
from pathlib import Path

import pandas as pd
from _measure import best_wall, machine

from netbootsim.plan.assemble import engine_mode, run_built, scope_notes
from netbootsim.plan.bench_storm import storm_scenario
from netbootsim.plan.summary import summarize, write_outputs
from netbootsim.records import (
    PHASE_COLUMNS,
    SERVER_COLUMNS,
    PhaseLog,
    PhaseRecord,
    ServerRecord,
)
from netbootsim.scenario import Scenario, build

ROOT = Path(__file__).resolve().parent.parent


def rows_frames(records: list[PhaseRecord], servers: list[ServerRecord]) -> None:
    """The reference: frames made row by row from record objects (``to_frame`` before)."""
    phases = pd.DataFrame([astuple(r) for r in records], columns=PHASE_COLUMNS)
    phases["seconds"] = phases["end"] - phases["start"]
    pd.DataFrame([(r.server, r.group, r.rack, r.power_on, r.ready, r.seconds, r.outcome,
                   r.reason, r.bytes) for r in servers], columns=SERVER_COLUMNS)


def memory(records: list[PhaseRecord]) -> tuple[float, float]:
    """Bytes a phase row takes: ``(in a PhaseLog, as a PhaseRecord in a list)``."""
    names = [f.name for f in fields(PhaseRecord)]
    values = [tuple(getattr(r, n) for n in names) for r in records]
    tracemalloc.start()
    a = tracemalloc.get_traced_memory()[0]
    log = PhaseLog()
    for v in values:
        log.add(*v)
    b = tracemalloc.get_traced_memory()[0]
    # new float objects, as the simulation made one per time and size
    objs = [PhaseRecord(*(float(x) if isinstance(x, float) else x for x in v)) for v in values]
    c = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del log, objs
    return (b - a) / len(values), (c - b) / len(values)


def measure(n: int, repeat: int) -> dict:
    """One run of the storm at ``n`` servers, and its parts timed."""
    sc = Scenario.from_dict(storm_scenario(n, False, ROOT / "scenarios"), name=f"storm-{n}")
    built = build(sc)
    t = time.perf_counter()
    run, inputs, _ = run_built(built, name=sc.name)
    out = {"servers": n, "simulation": time.perf_counter() - t}
    t = time.perf_counter()
    gc.collect()
    out["first_full_gc"] = time.perf_counter() - t
    records, servers = list(run.records), list(run.servers)
    out["phase_rows"] = len(records)
    out["ready"] = sum(1 for s in servers if s.outcome == "ok")
    out["frames"] = best_wall(lambda: (run.records.frame(), run.servers.frame()), repeat)
    out["frames_rows_reference"] = best_wall(lambda: rows_frames(records, servers), repeat)

    def summary():
        return summarize(run, scenario=sc.name, question="", seed=built.seed,
                         mode=engine_mode(built.run), notes=scope_notes(inputs))

    out["summarize"] = best_wall(summary, repeat)
    s, srv, ph, tl = summary()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        out["csv_write"] = best_wall(lambda: (ph.to_csv(d / "p.csv", index=False,
                                                        float_format="%.9g"),
                                              srv.to_csv(d / "s.csv", index=False,
                                                         float_format="%.9g")), repeat)
        out["parquet_write"] = best_wall(lambda: (ph.to_parquet(d / "p.parquet", index=False),
                                                  srv.to_parquet(d / "s.parquet",
                                                                 index=False)), repeat)
        out["csv_bytes"] = (d / "p.csv").stat().st_size + (d / "s.csv").stat().st_size
        out["parquet_bytes"] = ((d / "p.parquet").stat().st_size
                                + (d / "s.parquet").stat().st_size)
        out["csv_read"] = best_wall(lambda: pd.read_csv(d / "p.csv", low_memory=False), repeat)
        out["parquet_read"] = best_wall(lambda: pd.read_parquet(d / "p.parquet"), repeat)
        out["write_outputs"] = best_wall(lambda: write_outputs(d / "out", s, srv, ph, tl),
                                         repeat)
        out["files"] = sorted(p.name for p in (d / "out").iterdir()
                              if p.suffix in (".csv", ".parquet"))
        out["summary_json_bytes"] = (d / "out" / "summary.json").stat().st_size
    out["log_bytes_per_row"], out["objects_bytes_per_row"] = memory(records)
    return out


def rows(results: list[dict]) -> list[str]:
    """The Markdown table."""
    lines = ["| servers | phase rows | frames: columns / row objects (ratio) | summarize | "
             "phases + servers: CSV / Parquet write | phases read: CSV / Parquet | "
             "write_outputs (auto) | bytes a phase row: log / objects | first full GC "
             "after the run | simulation |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        ratio = r["frames_rows_reference"] / r["frames"]
        lines.append(
            f"| {r['servers']:,} | {r['phase_rows']:,} | {r['frames']:.3f} s / "
            f"{r['frames_rows_reference']:.3f} s (**{ratio:.1f}×**)"
            f" | {r['summarize']:.3f} s | {r['csv_write']:.3f} s "
            f"({r['csv_bytes'] / 1e6:.1f} MB) / {r['parquet_write']:.3f} s "
            f"({r['parquet_bytes'] / 1e6:.1f} MB) | {r['csv_read']:.3f} s / "
            f"{r['parquet_read']:.3f} s | {r['write_outputs']:.3f} s "
            f"({', '.join(r['files'])}) | {r['log_bytes_per_row']:.0f} / "
            f"{r['objects_bytes_per_row']:.0f} | {r['first_full_gc']:.3f} s | "
            f"{r['simulation']:.1f} s |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", type=int, nargs="+", default=[10000, 50000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    results = [measure(n, args.repeat) for n in args.servers]
    print(json.dumps({"machine": machine(), "repeat": args.repeat, "results": results},
                     indent=1))
    print(f"\n`python benchmarks/records_outputs.py --servers "
          f"{' '.join(map(str, args.servers))} --repeat {args.repeat}` (best of "
          f"{args.repeat}; {machine()}).\n")
    print("\n".join(rows(results)))


if __name__ == "__main__":
    main()
