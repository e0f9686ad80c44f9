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
