"""Output directories come out with ordinary modes: readable by others, as mkdir makes them.

A staging directory from ``tempfile.mkdtemp`` is 0700 and a file from ``mkstemp`` 0600;
renamed into place they would lock out the people and web servers that read reports.
The outputs must have the modes ``mkdir``/``open`` give under the process's umask.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from small_scenarios import scenario

from netbootsim.cli import main
from netbootsim.plan.outdir import OutputDir, atomic_write, umask


@pytest.fixture(params=[0o022, 0o027], ids=["umask022", "umask027"])
def mask(request):
    """Run the test under this umask (restored after)."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_umask_reads_the_process_mask(mask):
    assert umask() == mask
    assert umask() == mask  # reading it did not change it


def test_published_directory_and_files_have_ordinary_modes(tmp_path, mask):
    # 0777 & ~022 = 0755 (dirs), 0666 & ~022 = 0644 (files); under 027: 0750 and 0640
    target = tmp_path / "out"
    with OutputDir(target, "run") as od:
        tmp = od.staging()
        assert mode(tmp) == 0o777 & ~mask
        atomic_write(tmp / "summary.json", "{}\n")
        (tmp / "report.md").write_text("# r\n")
        od.publish(tmp)
    assert mode(target) == 0o777 & ~mask
    for name in ("summary.json", "report.md", ".netbootsim"):
        assert mode(target / name) == 0o666 & ~mask, name


def test_run_and_sweep_outputs_are_readable_by_others(tmp_path, mask):
    # every directory and file a run and a sweep write (the sweep's points and its
    # summary go through atomic_write, the run's through a staging directory)
    sc = tmp_path / "small.yaml"
    sc.write_text(json.dumps(scenario()))  # JSON is YAML
    assert main(["run", str(sc), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert main(["sweep", str(sc), "--vary", "images.kernel.size=1MiB,2MiB",
                 "--out", str(tmp_path / "sweep")]) == 0
    for top in ("run", "sweep"):
        root = tmp_path / top
        paths = [root, *root.rglob("*")]
        assert len(paths) > 3
        for p in paths:
            want = 0o777 & ~mask if p.is_dir() else 0o666 & ~mask
            assert mode(p) == want, (p, oct(mode(p)))


# -- what is ours, and what --force may replace ---------------------------------------------


def test_a_directory_without_a_marker_is_ours_only_beside_an_outputs_signature(tmp_path):
    # a lone report.html, or a www/ folder, of the user's: not an old output of ours
    # (before 2026-12-07 both were taken for one, and replaced whole without --force)
    from netbootsim.errors import InputError

    for name, make in (("html", lambda d: (d / "report.html").write_text("mine\n")),
                       ("www", lambda d: ((d / "www").mkdir(),
                                          (d / "www" / "index.html").write_text("site\n")))):
        d = tmp_path / name
        d.mkdir()
        make(d)
        with pytest.raises(InputError, match="which netbootsim did not write"):
            OutputDir(d, "run").check()
    # an old output: the run's fixed names with its summary.json
    old = tmp_path / "old"
    old.mkdir()
    for f in ("summary.json", "report.html", "servers.csv"):
        (old / f).write_text("x\n")
    OutputDir(old, "run").check()


def test_force_refuses_before_the_run_and_before_anything_moves(tmp_path):
    from netbootsim.errors import InputError

    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("mine\n")
    (d / "report.md").write_text("my report\n")
    # before the run: an output's fixed name on a file of the user's
    with pytest.raises(InputError, match="'report.md' in the way"):
        OutputDir(d, "run", force=True).check()
    (d / "report.md").unlink()
    # at publish, for a name the check cannot know: nothing of the staging moves
    with OutputDir(d, "run", force=True) as od:
        tmp = od.staging()
        (tmp / "summary.json").write_text("{}\n")
        (tmp / "extra.csv").write_text("ours\n")
        (d / "extra.csv").write_text("theirs\n")  # the user's, made while we ran
        with pytest.raises(InputError, match="'extra.csv' in the way"):
            od.publish(tmp)
    assert sorted(p.name for p in d.iterdir()) == ["extra.csv", "notes.txt"]
    assert (d / "extra.csv").read_text() == "theirs\n"
    # a marker file that is not netbootsim's is in the way too
    (d / "extra.csv").unlink()
    (d / ".netbootsim").write_text("my dotfile\n")
    with OutputDir(d, "run", force=True) as od:
        tmp = od.staging()
        (tmp / "summary.json").write_text("{}\n")
        with pytest.raises(InputError, match="'.netbootsim' is in the way"):
            od.publish(tmp)
    assert (d / ".netbootsim").read_text() == "my dotfile\n"


def test_force_checks_the_names_known_before_the_work(tmp_path):
    from netbootsim.errors import InputError
    from netbootsim.plan.summary import PARQUET_ABOVE_SERVERS, known_outputs

    d = tmp_path / "mine"
    d.mkdir()
    (d / "events.csv").write_text("mine\n")
    OutputDir(d, "run", force=True).check()  # a run without events: not in the way
    with pytest.raises(InputError, match="'events.csv' in the way"):
        OutputDir(d, "run", force=True, names={"events.csv"}).check()
    # a directory of ours (its marker) holding one of the user's files is theirs too
    (d / "a").mkdir()
    (d / "a" / ".netbootsim").write_text('{"written_by": "netbootsim", "files": []}')
    (d / "a" / "notes.txt").write_text("mine\n")
    with pytest.raises(InputError, match="'a' in the way"):
        OutputDir(d, "compare", force=True, names={"a"}).check()
    # what a run writes beyond its fixed names: Parquet by the format (auto: above
    # PARQUET_ABOVE_SERVERS server rows), the events' CSVs with lifecycle events
    assert known_outputs("auto", 10) == set()
    assert known_outputs("auto", PARQUET_ABOVE_SERVERS + 1) == {"servers.parquet",
                                                                "phases.parquet"}
    assert known_outputs("both", 1, events=True) == {
        "servers.parquet", "phases.parquet", "events.csv", "event-phases.csv"}
    assert known_outputs("parquet", 1, only=frozenset({"servers.parquet"})) == {
        "servers.parquet"}


@pytest.mark.parametrize("replications", [None, 2])
def test_force_refuses_a_users_parquet_before_simulating(tmp_path, monkeypatch, replications):
    # --format parquet into a --force directory holding the user's servers.parquet: the
    # refusal comes on entry; the simulation (here made to fail if called) never runs,
    # neither the single run's nor the replications'
    import yaml

    import netbootsim.plan.replicate as replicate
    import netbootsim.plan.run as run
    from netbootsim.errors import InputError

    def never(*a, **k):
        raise AssertionError("simulated before the output directory was checked")

    monkeypatch.setattr(run, "simulate", never)
    monkeypatch.setattr(replicate, "simulate_replicated", never)
    sc = scenario(servers=2)
    if replications:
        sc.setdefault("run", {})["replications"] = replications
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    d = tmp_path / "mine"
    d.mkdir()
    (d / "servers.parquet").write_text("my table\n")
    with pytest.raises(InputError, match="'servers.parquet' in the way"):
        replicate.execute_replicated(str(path), out=str(d), force=True, records="parquet")
    assert sorted(p.name for p in d.iterdir()) == ["servers.parquet"]


def test_a_lab_run_marked_beside_the_users_files_lists_only_its_own(tmp_path):
    d = tmp_path / "lab"
    d.mkdir()
    (d / "notes.txt").write_text("mine\n")
    with OutputDir(d, "lab", force=True) as od:
        (d / "run.json").write_text("{}\n")  # a lab run writes in place
        od.mark(os.listdir(d))
    assert json.loads((d / ".netbootsim").read_text())["files"] == ["run.json"]


def test_force_into_a_directory_an_earlier_force_wrote_without_a_marker(tmp_path):
    # before 2026-12-07 --force wrote no marker: the run's fixed names beside its
    # summary.json are taken for its outputs and replaced; the user's notes stay
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("mine\n")
    for f in ("summary.json", "report.html"):
        (d / f).write_text("old\n")
    with OutputDir(d, "run", force=True) as od:
        tmp = od.staging()
        for f in ("summary.json", "report.html", "report.md"):
            (tmp / f).write_text("new\n")
        od.publish(tmp)
    assert (d / "notes.txt").read_text() == "mine\n"
    assert (d / "report.html").read_text() == "new\n"
    assert json.loads((d / ".netbootsim").read_text())["files"] == [
        "report.html", "report.md", "summary.json"]
