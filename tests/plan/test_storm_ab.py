"""benchmarks/storm_ab.py: two trees of netbootsim measured in turn, and their ratios."""

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "storm_ab.py"
_spec = importlib.util.spec_from_file_location("storm_ab", _PATH)
ab = importlib.util.module_from_spec(_spec)
sys.modules["storm_ab"] = ab
_spec.loader.exec_module(ab)


def _run(cli, sim, cpu):
    return {"cli_wall": cli, "simulation_wall": sim, "cli_cpu": cpu}


def test_table_by_hand():
    # old rounds: CLI 10 and 12 s (median 11); new: 9 and 12.5 (median 10.75):
    # 10.75 / 11 = 0.977; round by round 9/10 = 0.9 and 12.5/12 = 1.042, median 0.971
    runs = {"old": [_run(10, 8, 11), _run(12, 9, 13)],
            "new": [_run(9, 7, 10), _run(12.5, 9, 13)]}
    lines = ab.table(runs, {"old": "`a`", "new": "`b`"})
    assert lines[2] == "| `a` | 2 | 10.00 / 11.00 s | 8.00 / 8.50 s | 11.00 / 12.00 s |"
    assert lines[3] == "| `b` | 2 | 9.00 / 10.75 s | 7.00 / 8.00 s | 10.00 / 11.50 s |"
    assert "CLI wall 0.977 (-2.3 %)" in lines[5]
    assert "CLI wall 0.971 (0.900-1.042; faster in 1 of 2)" in lines[7]
    # simulation 7/8 = 0.875 and 9/9 = 1: not faster in the second round
    assert "simulation wall 0.938 (0.875-1.000; faster in 1 of 2)" in lines[7]


def test_export_unpacks_a_revision_of_the_package(tmp_path):
    if not (Path(ab.ROOT) / ".git").exists():
        pytest.skip("not a git checkout")
    short = ab.export("HEAD", tmp_path)
    assert len(short) >= 7
    assert (tmp_path / "tree" / "netbootsim" / "plan" / "bench_storm.py").is_file()
    assert not (tmp_path / "tree" / "tests").exists()  # the package only
