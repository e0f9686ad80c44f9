"""Hostile and absurd input: no scenario, script or flag can hang the machine, exhaust its
memory, reach the host or delete a user's file (docs/limits.md).

Every case runs the command line in a subprocess under a 1 GiB address-space limit
(``RLIMIT_AS``) and a 10 s time limit, and ends with exit 2 and one line naming the file
(and line), or with the documented warning — never a traceback, a hang or a lost file.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from netbootsim import memguard
from netbootsim.cli import main

simulate_module = importlib.import_module("netbootsim.fleet.simulate")  # the module

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
STORM = ROOT / "scenarios" / "dc-boot-storm-2000.yaml"
MEMORY = 1 << 30  # 1 GiB of address space per case
SECONDS = 10  # per case, wall clock


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def cli(*args: str, cwd: Path, timeout: float = SECONDS) -> subprocess.CompletedProcess:
    """``netbootsim ARGS`` in a subprocess under the memory and time limits."""
    return subprocess.run([sys.executable, "-m", "netbootsim", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_limit)


def refused(r: subprocess.CompletedProcess, prefix: str, n: int = 1) -> str:
    """Exit 2, no traceback, nothing on stdout, ``n`` stderr lines starting ``prefix``.

    Returns the problem lines, joined.
    """
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == n, r.stderr
    assert all(x.startswith(prefix) for x in lines), (prefix, lines)
    return "\n".join(lines)


def files(d: Path) -> list[str]:
    """Every path under ``d``, relative, sorted (hidden ones too)."""
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def quickstart(tmp_path: Path, name: str = "q.yaml", text: str | None = None) -> Path:
    """The quickstart (or ``text``) written as ``tmp_path/name``."""
    body = text if text is not None else QUICKSTART.read_text()
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


def line_of(path: Path, text: str) -> int:
    """The 1-based line of ``path`` that holds ``text`` first."""
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return i
    raise AssertionError(f"{text!r} not in {path}")


# -- output directories -------------------------------------------------------------------


def test_out_on_a_directory_with_a_users_file_refuses_and_keeps_it(tmp_path):
    sc = quickstart(tmp_path)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    r = cli("run", str(sc), "--out", str(out), cwd=tmp_path)
    msg = refused(r, f"command line: --out: {out}: holds 'notes.txt'")
    assert "--force" in msg
    assert files(out) == ["notes.txt"] and (out / "notes.txt").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "q.yaml"]


def test_out_dot_refuses_and_deletes_nothing(tmp_path):
    # the user's working directory: their scenario and a canary file
    sc = quickstart(tmp_path)
    (tmp_path / "canary").write_text("alive\n")
    r = cli("run", "q.yaml", "--out", ".", cwd=tmp_path)
    refused(r, "command line: --out: .: holds 'canary' and 1 more")
    assert files(tmp_path) == ["canary", "q.yaml"]
    assert sc.read_text() == QUICKSTART.read_text()


def test_out_on_a_file_or_under_a_file_refuses(tmp_path):
    quickstart(tmp_path)
    (tmp_path / "report.txt").write_text("mine\n")
    refused(cli("run", "q.yaml", "--out", "report.txt", cwd=tmp_path),
            "command line: --out: report.txt: is a file")
    refused(cli("run", "q.yaml", "--out", "report.txt/sub", cwd=tmp_path),
            "command line: --out: report.txt/sub: report.txt is a file")
    assert files(tmp_path) == ["q.yaml", "report.txt"]


def users_dir(tmp_path: Path, file: str, text: str) -> Path:
    """The quickstart as ``q.yaml`` beside ``mine/``, a directory holding one file of the
    user's."""
    quickstart(tmp_path)
    out = tmp_path / "mine"
    out.mkdir()
    (out / file).write_text(text)
    return out


def test_force_writes_beside_the_users_files_and_deletes_none(tmp_path):
    out = users_dir(tmp_path, "notes.txt", "mine\n")
    r = cli("run", "q.yaml", "--out", "mine", "--force", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (out / "notes.txt").read_text() == "mine\n"
    assert (out / "summary.json").is_file() and (out / "report.html").is_file()
    # the marker lists what netbootsim wrote, not the user's notes: still their directory
    marker = json.loads((out / ".netbootsim").read_text())
    assert "notes.txt" not in marker["files"] and "report.html" in marker["files"]
    # run again without --force: still refused (the user's file is still there)
    refused(cli("run", "q.yaml", "--out", "mine", cwd=tmp_path), "command line: --out: mine:")
    # again with --force: its own outputs are replaced, the user's notes kept
    r = cli("run", "q.yaml", "--out", "mine", "--force", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (out / "notes.txt").read_text() == "mine\n"


def test_force_replaces_no_file_of_the_users_with_an_outputs_name(tmp_path):
    # the user's own report.html in the directory: --force refuses before the run (it
    # would have replaced it: before 2026-12-07 it did), and nothing is written
    out = users_dir(tmp_path, "report.html", "my report\n")
    r = cli("run", "q.yaml", "--out", "mine", "--force", "--quiet", cwd=tmp_path)
    msg = refused(r, "command line: --out: mine: 'report.html' in the way: netbootsim did "
                     "not write it")
    assert "--force replaces nothing of yours" in msg
    assert files(out) == ["report.html"] and (out / "report.html").read_text() == "my report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "q.yaml"]


def test_force_refuses_before_the_run_what_the_run_would_write_over(tmp_path):
    # names beyond the fixed ones, known before the run: --format parquet's records
    # (refused before simulating: tests/plan/test_outdir.py), a compare's run
    # directories, refused on entry (exit 2 before any run: no run's headline printed),
    # the user's entries untouched.
    out = users_dir(tmp_path, "servers.parquet", "my table\n")
    r = cli("run", "q.yaml", "--out", "mine", "--force", "--format", "parquet", cwd=tmp_path)
    refused(r, "command line: --out: mine: 'servers.parquet' in the way")
    assert files(out) == ["servers.parquet"]
    # the same directory, CSV records: nothing of the user's is in the way
    r = cli("run", "q.yaml", "--out", "mine", "--force", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (out / "servers.parquet").read_text() == "my table\n"
    quickstart(tmp_path, "a.yaml")
    quickstart(tmp_path, "b.yaml")
    cmp = tmp_path / "cmp"
    (cmp / "a").mkdir(parents=True)
    (cmp / "a" / "notes.txt").write_text("mine\n")
    r = cli("compare", "a.yaml", "b.yaml", "--out", "cmp", "--force", cwd=tmp_path)
    refused(r, "command line: --out: cmp: 'a' in the way")
    assert files(cmp) == ["a", "a/notes.txt"]


def test_a_directory_netbootsim_wrote_is_replaced_whole(tmp_path):
    quickstart(tmp_path)
    assert cli("run", "q.yaml", "--out", "o", "--quiet", cwd=tmp_path).returncode == 0
    before = files(tmp_path / "o")
    assert ".netbootsim" in before and "summary.json" in before
    assert cli("run", "q.yaml", "--out", "o", "--quiet", cwd=tmp_path).returncode == 0
    assert files(tmp_path / "o") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "q.yaml"]  # no lock, no tmp


def test_two_runs_on_the_same_output_at_once_the_second_refuses(tmp_path):
    # The first run holds the output's lock from the moment it has validated its scenario
    # until its files are in place (the 2,000-server storm with --no-ping, so that every
    # server boots: several seconds).
    first = subprocess.Popen([sys.executable, "-m", "netbootsim", "run", str(STORM),
                              "--set", "services.dhcp1.ping=false",
                              "--out", "o", "--quiet"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=_limit)
    lock = tmp_path / ".o.netbootsim-lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lock.exists(), "the first run never took its lock"
    second = cli("run", str(QUICKSTART), "--out", "o", cwd=tmp_path)
    out, err = first.communicate(timeout=120)
    refused(second, "command line: --out: o: another netbootsim command is writing")
    assert first.returncode == 0, err
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["scenario"] == "dc-boot-storm-2000"  # the first run's, not a mix
    assert not lock.exists()


def test_sweep_killed_then_run_again_resumes_and_leaves_nothing_stale(tmp_path):
    sc = quickstart(tmp_path)
    args = [sys.executable, "-m", "netbootsim", "sweep", str(sc), "--vary",
            "fleet[0].count=10,20,30,40", "--out", "sw", "--jobs", "1"]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_limit)
    ledger = tmp_path / "sw" / "runs.jsonl"
    deadline = time.monotonic() + 60
    while (not ledger.exists() or not ledger.read_bytes().count(b"\n")) and \
            proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # kill -9 once the first point is done
    proc.wait()
    assert (tmp_path / "sw" / "10" / "summary.json").is_file()
    first_point = (tmp_path / "sw" / "10" / "summary.json").stat().st_mtime_ns
    # what a kill in the middle of writing a point leaves: its staging directory
    (tmp_path / "sw" / ".20.k1ll3d.netbootsim-tmp").mkdir()
    (tmp_path / "sw" / ".20.k1ll3d.netbootsim-tmp" / "servers.csv").write_text("half")
    r = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                       preexec_fn=_limit)
    assert r.returncode == 0, r.stderr
    names = files(tmp_path / "sw")
    assert not [n for n in names if n.endswith(("-tmp", "-lock")) or "-tmp/" in n], names
    # the ledger stays, one line per point's run (each once)
    assert len(ledger.read_text().splitlines()) == 4
    # the finished point was reused, not run again
    assert (tmp_path / "sw" / "10" / "summary.json").stat().st_mtime_ns == first_point
    result = json.loads((tmp_path / "sw" / "summary.json").read_text())
    assert [p["servers"] for p in result["points"]] == [10, 20, 30, 40]
    assert [p["completed"] for p in result["points"]] == [10, 20, 30, 40]


def test_compare_of_two_files_with_the_same_name_keeps_them_apart(tmp_path):
    a = quickstart(tmp_path, "a/q.yaml")
    b = quickstart(tmp_path, "b/q.yaml", text=QUICKSTART.read_text().replace(
        "servers: 40", "servers: 20").replace("count: 40", "count: 20"))
    r = cli("compare", str(a), str(b), "--out", "cmp", cwd=tmp_path, timeout=30)
    assert r.returncode == 0, r.stderr
    ours = {d: json.loads((tmp_path / "cmp" / d / "summary.json").read_text())
            for d in ("a-q", "b-q")}
    assert (ours["a-q"]["servers"], ours["b-q"]["servers"]) == (40, 20)
    table = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| [a-q](a-q/report.html) | 40/40 |" in table
    assert "| [b-q](b-q/report.html) | 20/20 |" in table


# -- YAML that cannot explode -------------------------------------------------------------

BOMB = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [
    f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]


@pytest.mark.parametrize("where", ["top", "variants"])
def test_alias_bomb_is_refused_before_it_expands(tmp_path, where):
    # nine anchors, each a list of nine aliases to the previous: 9**9 values once expanded
    # (~400 bytes of text); refused at the line of the smallest value over 2 million.
    body = QUICKSTART.read_text()
    if where == "top":
        body += "zzz:\n" + "".join(f"  {line}\n" for line in BOMB)
    else:
        body += "variants:\n  v1:\n" + "".join(f"    {line}\n" for line in BOMB)
    sc = quickstart(tmp_path, text=body)
    line = line_of(sc, "a6: &a6")  # 9**7 = 4.8 M values: the first over 2 M
    for cmd in (["validate", "q.yaml"], ["run", "q.yaml", "--out", "o"]):
        msg = refused(cli(*cmd, cwd=tmp_path), f"q.yaml:{line}: YAML: its aliases expand")
        assert "past the limit of 2,000,000" in msg
    assert files(tmp_path) == ["q.yaml"]


def test_deep_nesting_is_refused_with_its_line(tmp_path):
    sc = quickstart(tmp_path, text=QUICKSTART.read_text() + "zzz: " + "[" * 2000
                    + "]" * 2000 + "\n")
    line = line_of(sc, "zzz:")
    msg = refused(cli("validate", "q.yaml", cwd=tmp_path), f"q.yaml:{line}: nested deeper")
    assert "64 levels" in msg


def test_a_huge_scenario_file_is_refused_by_its_size(tmp_path):
    sc = tmp_path / "q.yaml"
    with open(sc, "w") as f:
        f.write(QUICKSTART.read_text())
        f.write("# " + "x" * (17 * 2**20) + "\n")
    refused(cli("validate", "q.yaml", cwd=tmp_path), "q.yaml: ")


# -- magnitudes, time and memory ----------------------------------------------------------


def test_an_exbibyte_image_is_a_warning_and_an_error_under_strict(tmp_path):
    # 1 EiB = 1,048,576 TiB: above the plausible 1 TiB. A run still ends (servers not ready
    # by the 7-day horizon: 1 EiB over 10 Gbps would take 29 years).
    sc = quickstart(tmp_path, text=QUICKSTART.read_text().replace(
        "kernel: {size: 12MiB}", "kernel: {size: 1048576TiB}"))
    line = line_of(sc, "kernel: {size: 1048576TiB}")
    r = cli("run", "q.yaml", "--out", "o", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    warnings = [x for x in r.stderr.splitlines() if "warning:" in x]
    assert warnings == [x for x in r.stderr.splitlines() if x.startswith("q.yaml:")]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"q.yaml:{line}: images.kernel.size: warning: ")
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["warnings"] == warnings
    assert summary["completed"] == 0 and summary["unfinished"] == 40
    assert "Warnings about the scenario" in (tmp_path / "o" / "report.html").read_text()
    refused(cli("run", "q.yaml", "--out", "o2", "--strict", cwd=tmp_path),
            f"q.yaml:{line}: images.kernel.size: warning: ")
    assert not (tmp_path / "o2").exists()


@pytest.mark.parametrize("at", ["100000000s", "10000000000s", "1000000000000s"])
def test_power_on_at_1e8_to_1e12_s_is_refused(tmp_path, at):
    sc = quickstart(tmp_path, text=QUICKSTART.read_text().replace("at: 0s", f"at: {at}"))
    line = line_of(sc, f"at: {at}")
    for cmd in (["validate", "q.yaml"], ["run", "q.yaml", "--out", "o"]):
        msg = refused(cli(*cmd, cwd=tmp_path), f"q.yaml:{line}: fleet[0].power_on.at: ")
        assert "2**22 s" in msg
    assert files(tmp_path) == ["q.yaml"]


def test_a_power_on_schedule_past_2_22_s_is_refused(tmp_path):
    # 40 servers 200,000 s apart: each value is under the clock's limit, the last server's
    # power-on (39 × 200,000 = 7,800,000 s) is past it
    sc = quickstart(tmp_path, text=QUICKSTART.read_text().replace(
        "power_on: {at: 0s}", "power_on: {policy: stagger, interval: 200000s}"))
    line = line_of(sc, "policy: stagger")
    for cmd in (["validate", "q.yaml"], ["run", "q.yaml", "--out", "o"]):
        msg = refused(cli(*cmd, cwd=tmp_path), f"q.yaml:{line}: fleet[0].power_on.interval: ")
        assert "would power on at 7800000 s, past 2**22 s" in msg
    assert files(tmp_path) == ["q.yaml"]


def test_sleep_for_ever_in_a_script_ends_at_the_horizon(tmp_path):
    body = QUICKSTART.read_text().replace("    power_on: {at: 0s}", textwrap.indent(
        "power_on: {at: 0s}\nscript: |\n  #!ipxe\n  sleep 999999999\n", "    "))
    quickstart(tmp_path, text=body)
    r = cli("run", "q.yaml", "--out", "o", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "o" / "servers.csv") as f:
        rows = list(csv.DictReader(f))
    assert {row["outcome"] for row in rows} == {"unfinished"}
    assert {row["reason"] for row in rows} == {
        "still booting at the run's horizon (run.until = 604800 s, the default: 7 days)"}


def test_a_billion_servers_are_refused_at_once(tmp_path):
    sc = quickstart(tmp_path, text=QUICKSTART.read_text().replace(
        "servers: 40", "servers: 1000000000").replace("count: 40", "count: 1000000000"))
    line = line_of(sc, "count: 1000000000")
    t0 = time.monotonic()
    msg = refused(cli("validate", "q.yaml", cwd=tmp_path), f"q.yaml:{line}: fleet[0].count: ")
    assert "1,000,000,000 servers to boot need an estimated 80,000.16 GB" in msg
    refused(cli("run", "q.yaml", "--out", "o", cwd=tmp_path), f"q.yaml:{line}: fleet[0].count")
    assert time.monotonic() - t0 < 2 * SECONDS
    assert files(tmp_path) == ["q.yaml"]


def test_a_storm_too_large_for_the_memory_is_refused_before_it_runs(tmp_path):
    # 50,000 servers of the shipped storm: 160 MB + 50,000 x 80 KB + 10 KB x 6,257 other
    # topology elements (1,250 ToRs, 4 spines, 5,000 ToR-spine links, 3 hosts) = 4.22 GB
    # estimated, more than the 1 GiB this subprocess may map.
    r = cli("run", str(STORM), "--out", "o", "--set", "topology.racks=1250",
            "--set", "fleet[0].count=50000", cwd=tmp_path)
    msg = refused(r, "--set fleet[0].count=50000: fleet[0].count: 50,000 servers to boot "
                     "need an estimated 4.22 GB")
    assert "address-space limit (RLIMIT_AS)" in msg
    assert files(tmp_path) == []


def test_a_run_that_grows_past_the_memory_limit_stops_and_writes_nothing(
        tmp_path, monkeypatch, capsys):
    # In-process: the estimate is made to pass (no per-server cost), the limit is below
    # what this process already holds, and the watch looks every 100 SimPy steps, so the
    # quickstart (640 steps) is stopped by its first look.
    monkeypatch.setattr(memguard, "BASE_BYTES", 0.0)
    monkeypatch.setattr(memguard, "PER_SERVER_BYTES", {"flow": 0.0, "packet": 0.0})
    monkeypatch.setattr(simulate_module, "WATCH_EVERY", 100)
    limit = memguard.rss() / 2
    rc = main(["run", str(QUICKSTART), "--out", str(tmp_path / "o"),
               "--max-memory", f"{int(limit)}B"])
    err = capsys.readouterr().err.splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith(f"{QUICKSTART}: run stopped at simulated time")
    assert "past the limit" in err[0] and "nothing was written" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_a_billion_replications_are_refused_at_once(tmp_path):
    quickstart(tmp_path)
    t0 = time.monotonic()
    refused(cli("run", "q.yaml", "--out", "o", "--replications", "1000000000", cwd=tmp_path),
            "command line: --replications: 1000000000: must be from 1 to 10,000")
    sc = quickstart(tmp_path, text=QUICKSTART.read_text() + "  replications: 1000000000\n")
    line = line_of(sc, "replications: 1000000000")
    refused(cli("run", "q.yaml", "--out", "o", cwd=tmp_path),
            f"q.yaml:{line}: run.replications: must be ≤ 10000")
    assert time.monotonic() - t0 < 2 * SECONDS
    assert files(tmp_path) == ["q.yaml"]


def test_replications_whose_frames_would_not_fit_are_refused_after_the_first(tmp_path):
    # 10,000 quickstart replications: ~50 KB of frames each (measured on the first run),
    # × 3.2 while pooled and written, × 10,000 = ~1.6 GB, more than the 1 GiB this
    # subprocess may map: refused before the second replication runs, nothing written
    quickstart(tmp_path)
    msg = refused(cli("run", "q.yaml", "--out", "o", "--replications", "10000", "--jobs", "1",
                      cwd=tmp_path), "q.yaml: 10,000 replications would keep frames of an "
                                     "estimated ")
    assert "measured on the first" in msg and "address-space limit (RLIMIT_AS)" in msg
    assert files(tmp_path) == ["q.yaml"]


def test_max_memory_must_be_a_size(tmp_path):
    quickstart(tmp_path)
    refused(cli("run", "q.yaml", "--max-memory", "12", cwd=tmp_path),
            "command line: --max-memory: '12' is not a size")


# -- the environment this file needs ------------------------------------------------------


def test_the_limits_above_bind():
    # A test that cannot fail is a defect: under the same limit, a plain allocation of
    # 2 GiB fails, so the subprocesses above really run within 1 GiB.
    r = subprocess.run([sys.executable, "-c", "b = bytearray(2 << 30)"], capture_output=True,
                       text=True, timeout=SECONDS, preexec_fn=_limit)
    assert r.returncode != 0 and "MemoryError" in r.stderr
    assert os.cpu_count()


def test_lab_matrix_replaces_only_its_own_runs(tmp_path):
    # A matrix target that holds a user's file is refused before any lab time is spent
    # (no root, no QEMU needed: the check comes first); a committed trace is its own.
    from netbootsim.errors import InputError
    from netbootsim.lab.matrix import run_matrix
    from netbootsim.plan.outdir import owned

    cfg = ROOT / "lab" / "tftp.yaml"
    target = tmp_path / f"{cfg.stem}-r1"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    with pytest.raises(InputError) as e:
        run_matrix([(cfg, 1)], tmp_path, say=lambda _m: None)
    assert "holds 'notes.txt'" in str(e.value)
    assert files(tmp_path) == [f"{cfg.stem}-r1", f"{cfg.stem}-r1/notes.txt"]
    traces = sorted(p for p in (ROOT / "lab" / "traces").iterdir() if p.is_dir())
    assert traces and all(owned(p)[0] for p in traces)


# -- templates and scripts stay inside the simulation -------------------------------------

BAD = ROOT / "tests" / "data" / "bad"


@pytest.mark.parametrize("name,field,text,n", [
    ("script-typo.yaml", "fleet[0].script", "unknown command 'kernal'", 1),
    # {{ cycler.__init__.__globals__.os.popen('id').read() }}: both attributes named
    ("api-template-ssti.yaml", "services.api1.templates.compute",
     "attribute '__init__': the sandbox refuses", 2),
])
def test_script_typo_and_template_injection_are_refused_by_validate_and_run(
        tmp_path, name, field, text, n):
    # (the file's first line says where: "# expect: LINE FIELD ...")
    src = BAD / name
    line = int(src.read_text().split()[2])
    sc = tmp_path / name
    sc.write_text(src.read_text())
    for cmd in (["validate", name], ["run", name, "--out", "o"]):
        msg = refused(cli(*cmd, cwd=tmp_path), f"{name}:{line}: {field}: ", n)
        assert text in msg
    assert files(tmp_path) == [name]


def test_a_script_that_chains_a_host_file_fails_inside_the_simulation(tmp_path):
    # chain file:///<canary>: the servers fail with a reason naming the file: URI, and the
    # canary's content reaches no output (the audit-hook proof that no host file is opened
    # is tests/scenario/test_scenario_scripts.py's canary test). iPXE master (an EFI
    # build, which opens file: URIs; the 2019 ROM's build is refused at validation).
    canary = tmp_path / "canary.txt"
    canary.write_text("SECRET-CANARY\n")
    body = QUICKSTART.read_text().replace("    power_on: {at: 0s}", textwrap.indent(
        f"power_on: {{at: 0s}}\nscript: |\n  #!ipxe\n  chain file://{canary}\n", "    "))
    body = body.replace("profile: ipxe-2019-qemu", "profile: ipxe-current")
    quickstart(tmp_path, text=body)
    r = cli("run", "q.yaml", "--out", "o", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "o" / "servers.csv") as f:
        rows = list(csv.DictReader(f))
    assert {row["outcome"] for row in rows} == {"failed"}
    assert all("file: URIs name files of the machine's own EFI volume" in row["reason"]
               for row in rows), rows[0]["reason"]
    for p in (tmp_path / "o").iterdir():
        assert b"SECRET-CANARY" not in p.read_bytes(), p


def test_a_huge_topology_is_refused_even_when_the_fleet_is_invalid(tmp_path):
    # Found by the fuzzer (tests/inputs/test_fuzz_inputs.py): with an invalid fleet the memory
    # check was skipped and validation built a topology of 2**31 servers, until the
    # kernel killed it. The check now counts the topology on its own.
    sc = quickstart(tmp_path, text=QUICKSTART.read_text().replace(
        "servers: 40", "servers: 2147483648").replace("count: 40", "count: {x: 20}"))
    r = cli("validate", "q.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    topo, count = sorted(r.stderr.splitlines(), key=lambda x: int(x.split(":")[1]))
    assert topo.startswith(f"q.yaml:{line_of(sc, 'servers: 2147483648')}: "
                           "topology.servers: 0 servers to boot need an estimated")
    assert count.startswith(f"q.yaml:{line_of(sc, 'count: {x: 20}')}: fleet[0].count: ")


# --------------------------------------------------------------------------------------
# Cases found by a review of the bad-input handling (2026-12-07): each broke the rule
# (a traceback, exit 0 or 1, a silent drop, a half-written result) before its fix.

API = ROOT / "scenarios" / "ipxe-dynamic-api.yaml"
INVENTORY = ROOT / "scenarios" / "inventory" / "ipxe-dynamic-api.csv"


@pytest.mark.parametrize("args,flag", [
    (["bench", "flows", "--flows", "100000000000"], "--flows"),
    (["bench", "storm", "--servers", "100000000000"], "--servers"),
])
def test_a_bench_too_large_for_the_memory_is_refused(tmp_path, args, flag):
    # before: a numpy allocation error's traceback (flows); 15 GB and counting (storm)
    msg = refused(cli(*args, cwd=tmp_path), f"command line: {flag}: 100,000,000,000 ")
    assert "of memory" in msg and "more than the" in msg


@pytest.mark.parametrize("args,flag", [
    (["--vary", "fleet[0].count=10,20", "--vary", "run.seed=1,2"], "--vary"),
    (["--vary", "fleet[0].count=10,20", "--deadline=-5min"], "--deadline"),
    (["--vary", "fleet[0].count=10,20", "--deadline=0s"], "--deadline"),
])
def test_sweep_flags_that_were_taken_silently_are_refused(tmp_path, args, flag):
    quickstart(tmp_path)
    refused(cli("sweep", "q.yaml", "--out", "sw", *args, cwd=tmp_path),
            f"command line: {flag}: ")
    assert not (tmp_path / "sw").exists()


def test_run_checks_every_scenario_before_the_first_runs(tmp_path):
    # before: q.yaml's results were written, then b.yaml was refused
    quickstart(tmp_path)
    bad = quickstart(tmp_path, "b.yaml", QUICKSTART.read_text().replace("count: 40",
                                                                       "count: 0", 1))
    line = line_of(bad, "count: 0")
    refused(cli("run", "q.yaml", "b.yaml", "--quiet", cwd=tmp_path),
            f"b.yaml:{line}: fleet[0].count: must be ≥ 1")
    assert files(tmp_path) == ["b.yaml", "q.yaml"]


def test_run_checks_every_output_directory_before_the_first_runs(tmp_path):
    # b.yaml's directory (results/b) holds a file of the user's: refused before q.yaml
    # runs (before: q.yaml's results were written, then b.yaml was refused)
    quickstart(tmp_path)
    quickstart(tmp_path, "b.yaml")
    (tmp_path / "results" / "b").mkdir(parents=True)
    (tmp_path / "results" / "b" / "notes.txt").write_text("mine\n")
    refused(cli("run", "q.yaml", "b.yaml", "--quiet", cwd=tmp_path),
            "command line: run.out: results/b: holds 'notes.txt'")
    assert files(tmp_path) == ["b.yaml", "q.yaml", "results", "results/b",
                               "results/b/notes.txt"]
    # two scenarios that would write the same directory: the second would replace the
    # first's outputs
    (tmp_path / "other").mkdir()
    quickstart(tmp_path, "other/q.yaml")
    refused(cli("run", "q.yaml", "other/q.yaml", "--quiet", cwd=tmp_path),
            "other/q.yaml: run.out: results/q: q.yaml writes it too")
    assert not (tmp_path / "results" / "q").exists()
    # with --force and Parquet records: b.yaml's directory holds the user's
    # servers.parquet, which its run would write: refused before q.yaml runs
    (tmp_path / "results" / "b" / "servers.parquet").write_text("my table\n")
    refused(cli("run", "q.yaml", "b.yaml", "--force", "--format", "parquet", "--quiet",
                cwd=tmp_path), "command line: run.out: results/b: 'servers.parquet' in the way")
    assert not (tmp_path / "results" / "q").exists()


def test_lab_parse_of_a_directory_that_is_not_a_run(tmp_path):
    # before: exit 1 and Python's own message on stdout
    refused(cli("lab", "parse", "nosuchdir", cwd=tmp_path),
            "nosuchdir: RUN_DIR: not a lab run directory (no run.json)")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "run.json").write_text("{\n")
    refused(cli("lab", "parse", "bad", cwd=tmp_path), "bad/run.json:2: run.json: not JSON")


def test_a_stage_timeout_of_zero_is_refused(tmp_path):
    storm = (ROOT / "scenarios" / "dc-boot-storm-2000-fleet.yaml").read_text()
    assert "timeout: 20min}" in storm
    path = quickstart(tmp_path, "f.yaml", storm.replace("timeout: 20min}", "timeout: 0s}", 1))
    refused(cli("validate", "f.yaml", cwd=tmp_path),
            f"f.yaml:{line_of(path, 'timeout: 0s}')}: fleet[0].stages[0].timeout: '0s' must "
            "be > 0")


def test_a_broken_variant_is_refused_by_validate_at_its_line(tmp_path):
    # before: validate said OK; compare ran the good variants, then named only "--set"
    text = QUICKSTART.read_text() + textwrap.dedent("""\
        variants:
          a: {"run.seed": 2}
          b: {"topology.hosts[0].lnk.bandwidth": 1Gbps}
        """)
    path = quickstart(tmp_path, "v.yaml", text)
    b = line_of(path, "  b: ")
    msg = refused(cli("validate", "v.yaml", cwd=tmp_path), f"v.yaml:{b}: variants.b")
    assert "unknown field 'lnk'" in msg
    refused(cli("compare", "v.yaml", "--out", "cmp", cwd=tmp_path), f"v.yaml:{b}: variants.b")
    assert not (tmp_path / "cmp").exists()


def _api(tmp_path: Path, text: str | None = None, inventory: str | None = None) -> Path:
    (tmp_path / "inventory").mkdir(exist_ok=True)
    (tmp_path / "inventory" / INVENTORY.name).write_text(
        inventory if inventory is not None else INVENTORY.read_text())
    return quickstart(tmp_path, "a.yaml", text if text is not None else API.read_text())


def test_an_unknown_command_in_an_api_template_is_refused(tmp_path):
    # before: validate --strict said OK and the run failed most servers at run time
    text = API.read_text()
    assert "\n        boot\n" in text
    path = _api(tmp_path, text.replace("\n        boot\n", "\n        bootz\n"))
    r = cli("validate", "a.yaml", cwd=tmp_path)
    msg = refused(r, "a.yaml:", n=len(r.stderr.splitlines()))
    assert "rendered for serial R01S001: script line" in msg
    assert "unknown command 'bootz'" in msg
    assert f"a.yaml:{line_of(path, 'templates:') + 1}: services.api1.templates." in msg


@pytest.mark.parametrize("edit,words", [
    (lambda t: t.replace("R01S002,compute,console=ttyS0 quiet", "R01S002,compute", 1),
     "line 3: 2 fields, the header has 3"),
    (lambda t: t.replace("R01S002,", "R01S001,", 1),
     "serial 'R01S001' is on rows 1 and 2 (counted from the first machine): each "
     "machine once"),
])
def test_a_malformed_inventory_is_refused(tmp_path, edit, words):
    # before: a short row rendered without its value; a second row of one serial was
    # dropped (that machine booted the discovery image)
    text = INVENTORY.read_text()
    _api(tmp_path, inventory=edit(text))
    r = cli("validate", "a.yaml", cwd=tmp_path)
    msg = refused(r, "a.yaml:", n=2)  # both APIs read the inventory
    assert words in msg and "services.api1.inventory" in msg


def test_a_full_disk_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    # before: OSError's traceback from the report writer (a 120 KiB tmpfs)
    import errno

    from netbootsim.plan import run as run_module

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_module, "write_outputs", full)
    quickstart(tmp_path)
    assert main(["run", str(tmp_path / "q.yaml"), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err == "netbootsim: cannot write the outputs: No space left on device\n"
    assert not (tmp_path / "o").exists()


def test_a_variants_problem_keeps_its_whole_field(tmp_path):
    text = QUICKSTART.read_text() + 'variants:\n  b: {"run": {"seed": -1}}\n'
    path = quickstart(tmp_path, "v.yaml", text)
    refused(cli("validate", "v.yaml", cwd=tmp_path),
            f"v.yaml:{line_of(path, '  b: ')}: variants.b.run.seed: ")


def test_compare_of_two_files_does_not_check_variants_it_will_not_run():
    import tempfile

    from netbootsim.plan.compare import variants_of
    with tempfile.TemporaryDirectory() as d:
        path = quickstart(Path(d), "v.yaml", QUICKSTART.read_text()
                          + 'variants:\n  b: {"fleet[0].count": 0}\n')
        assert variants_of(str(path), check=False) == {"b": ["fleet[0].count=0"]}
        with pytest.raises(Exception, match="variants.b.fleet"):
            variants_of(str(path))


def test_a_fault_of_no_length_is_refused(tmp_path):
    # a fixed 0 s window does nothing (its author meant another length, or none: until
    # the end); a distribution may still draw 0 for some ports (a group's STP hold)
    text = QUICKSTART.read_text() + (
        "faults:\n  - {kind: service-down, target: http1, at: 10s, duration: 0s}\n")
    path = quickstart(tmp_path, "f.yaml", text)
    msg = refused(cli("validate", "f.yaml", cwd=tmp_path),
                  f"f.yaml:{line_of(path, 'duration: 0s')}: faults[0].duration: ")
    assert "must be > 0" in msg
    ok = QUICKSTART.read_text() + (
        "faults:\n  - {kind: stp, target: compute, duration: {dist: uniform, low: 0s, "
        "high: 2s}}\n")
    quickstart(tmp_path, "g.yaml", ok)
    r = cli("validate", "g.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("escape, what", [
    ("\\e[31m", "control character '\\x1b' (U+001B)"),      # a C0 control: ANSI colour
    ("\\x85", "control character '\\x85' (U+0085)"),         # a C1 control (NEL)
    ("\\u202E", "invisible format character '\\u202e' (U+202E)"),  # right-to-left override
    ("\\u200B", "invisible format character '\\u200b' (U+200B)"),  # zero-width space
    ("\\u2028", "line separator '\\u2028' (U+2028)"),
])
def test_a_name_with_an_unprintable_character_is_refused(tmp_path, escape, what):
    # YAML's double-quoted escapes put the character in the group's name; it would reach
    # the terminal, the CSVs and the report as it is
    text = QUICKSTART.read_text().replace("  - name: compute", f'  - name: "comp{escape}ute"')
    assert text != QUICKSTART.read_text()
    path = quickstart(tmp_path, "n.yaml", text)
    msg = refused(cli("validate", "n.yaml", cwd=tmp_path),
                  f"n.yaml:{line_of(path, '  - name: ')}: fleet[0].name: ")
    assert what in msg and "use printable text" in msg


def test_an_unprintable_image_or_service_key_is_refused_and_shown_escaped(tmp_path):
    # a key names an image or a service too; the message shows it escaped, so a
    # right-to-left override in it does not reorder the line on the user's terminal
    text = QUICKSTART.read_text().replace(
        "images:\n", 'images:\n  "ker\\u202Enel2": {size: 1MiB}\n')
    path = quickstart(tmp_path, "k.yaml", text)
    msg = refused(cli("validate", "k.yaml", cwd=tmp_path),
                  f"k.yaml:{line_of(path, 'nel2')}: images.ker\\u202enel2: ")
    assert "\u202e" not in msg.split(": ", 2)[1]
    # a zero-width joiner (U+200D), which some scripts need inside words, is a name's
    text = QUICKSTART.read_text().replace(
        "images:\n", 'images:\n  "ker\\u200Dnel2": {size: 1MiB}\n')
    quickstart(tmp_path, "j.yaml", text)
    assert cli("validate", "j.yaml", cwd=tmp_path).returncode == 0
